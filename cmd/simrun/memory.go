package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Memory a scenario needs, measured with /usr/bin/time on replay of
// two-phase-commit (GOGC 400, as simrun sets it) on this 2-core machine:
// 35 MB peak RSS at 1,000 records, 128 MB at 20,000, 406 MB at 100,000,
// i.e. about 3.8 KB a record on top of the process's base.
const (
	bytesPerRecord = 4 << 10
	baseBytes      = 40 << 20
)

// memoryNeed is the peak memory of jobs scenarios of records records run
// at once.
func memoryNeed(records, jobs int) int64 {
	return baseBytes + int64(jobs)*int64(records)*bytesPerRecord
}

// checkMemory refuses --records × --jobs that cannot fit the memory
// available (when /proc/meminfo says), and states the need before a large
// campaign starts.
func checkMemory(records, jobs int, stderr io.Writer) error {
	need := memoryNeed(records, jobs)
	avail, ok := availableMemory("/proc/meminfo")
	if ok && need > avail {
		return usagef("--records %d with --jobs %d needs about %s of memory (about 4 KB a record per job, measured), more than the %s available: lower --jobs or --records",
			records, jobs, gib(need), gib(avail))
	}
	if need > 1<<30 {
		fmt.Fprintf(stderr, "simrun: memory: this campaign needs about %s (--records %d × --jobs %d, about 4 KB a record per job)\n", gib(need), records, jobs)
	}
	return nil
}

func gib(b int64) string { return fmt.Sprintf("%.1f GB", float64(b)/(1<<30)) }

// availableMemory reads MemAvailable from a meminfo file.
func availableMemory(path string) (int64, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemAvailable:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0, false
		}
		return kb << 10, true
	}
	return 0, false
}
