package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/internal/cputime"
	"github.com/eosim/eosim/sim"
)

func init() {
	commands["zoo"] = cmdZoo
}

// cmdZoo measures how fast the harness catches each known-bad variant: for
// --seeds base seeds it runs a campaign of the variant until the first
// violating run (at most --runs), and prints the median and the worst
// number of runs to the first catch, and beside them the CPU time (user +
// system of the whole process, so --jobs > 1 counts the runs under way at
// the catch too) that the campaign took up to it.
func cmdZoo(args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("zoo", flag.ContinueOnError)
	var f scenarioFlags
	f.register(fs)
	seeds := fs.Int("seeds", 9, "base seeds per variant (the campaign seeds are --seed, --seed+1, ...)")
	runs := fs.Int("runs", 500, "runs per campaign before a variant counts as not caught")
	jobs := fs.Int("jobs", 1, "scenarios to run at once")
	if err := parseFlags(fs, args, stdout); err != nil {
		return exitUsage, err
	}
	f.protocol = "two-phase-commit" // validated below per variant
	if _, err := f.options(); err != nil {
		return exitUsage, err
	}
	switch {
	case *seeds < 1 || *seeds > 1000:
		return exitUsage, usagef("--seeds must be 1..1000, got %d", *seeds)
	case *runs < 1:
		return exitUsage, usagef("--runs must be at least 1, got %d", *runs)
	case *jobs < 1 || *jobs > 256:
		return exitUsage, usagef("--jobs must be 1..256, got %d", *jobs)
	}
	if err := checkMemory(f.workload.Records, *jobs, stderr); err != nil {
		return exitUsage, err
	}
	useCores(*jobs)
	inTest(func(t *testing.T) int { return runZoo(t, f, *seeds, *runs, *jobs, stdout, stderr) })
	return exitInconclusive, nil
}

func runZoo(t *testing.T, f scenarioFlags, seeds, runs, jobs int, stdout, stderr io.Writer) int {
	started, startedCPU := time.Now(), cputime.Process()
	variants, missed := 0, 0
	var medianCPUs []time.Duration
	total := 0
	for _, p := range engine.Protocols() {
		if p.Kind == engine.KindKnownBad {
			total += seeds
		}
	}
	// Minutes pass between result lines: show progress (a plain line when
	// not on a terminal), per campaign.
	prog := newProgress(stderr, total, progressWords{"campaigns", "not caught"})
	done, notCaughtAll := 0, 0
	for _, p := range engine.Protocols() {
		if p.Kind != engine.KindKnownBad {
			continue
		}
		variants++
		f.protocol = p.Name
		opts, _ := f.options()
		var firsts []int
		var cpus []time.Duration
		notCaught := 0
		for i := range seeds {
			ctx, cancel := context.WithCancel(context.Background())
			first := -1
			cpu0 := cputime.Process()
			c := sim.Campaign{Options: opts, BaseSeed: f.seed + uint64(i), Runs: runs, Jobs: jobs}
			c.Run(ctx, t, func(k int, res sim.Result) {
				if res.Failed() && first < 0 {
					first = k + 1
					cpus = append(cpus, cputime.Process()-cpu0)
					cancel()
				}
			})
			cancel()
			done++
			if first < 0 {
				notCaught++
				notCaughtAll++
			} else {
				firsts = append(firsts, first)
			}
			prog.update(done, notCaughtAll)
		}
		slices.Sort(firsts)
		slices.Sort(cpus)
		line := fmt.Sprintf("%-38s caught with %d of %d seeds", p.Name, len(firsts), seeds)
		if len(firsts) > 0 {
			line += fmt.Sprintf("; runs to first catch: median %d, worst %d; CPU to first catch: median %s, worst %s",
				firsts[len(firsts)/2], firsts[len(firsts)-1], cpuSeconds(cpus[len(cpus)/2]), cpuSeconds(cpus[len(cpus)-1]))
			medianCPUs = append(medianCPUs, cpus[len(cpus)/2])
		}
		if notCaught > 0 {
			missed++
			line = "MISS " + line + fmt.Sprintf("; %d seeds not caught within %d runs", notCaught, runs)
		} else {
			line = "OK   " + line
		}
		prog.clear()
		fmt.Fprintln(stdout, line)
	}
	prog.finish()
	slices.Sort(medianCPUs)
	median := time.Duration(0)
	if len(medianCPUs) > 0 {
		median = medianCPUs[len(medianCPUs)/2]
	}
	fmt.Fprintf(stdout, "zoo variants=%d missed=%d seeds=%d runs=%d wall=%s cpu=%s median_cpu_to_first_catch=%s\n",
		variants, missed, seeds, runs, time.Since(started).Round(time.Millisecond),
		cpuSeconds(cputime.Process()-startedCPU), cpuSeconds(median))
	if missed > 0 {
		return exitViolations
	}
	return exitOK
}

// cpuSeconds formats a CPU time in seconds with millisecond precision.
func cpuSeconds(d time.Duration) string { return fmt.Sprintf("%.3fs", d.Seconds()) }
