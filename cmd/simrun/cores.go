package main

import (
	"os"
	"runtime"
)

// useCores lets the scenarios of a command run on as many cores as it runs
// scenarios at once (jobs), at most the machine's. A scenario's goroutines
// (the scheduler, kgo's and kfake's) hand each request to one another one
// at a time and the scheduler settles after every step, so a core more
// than the scenarios under way only adds cross-thread wake-ups and idle
// spinning: a 200-run campaign of two-phase-commit with --jobs 1 took 1.5×
// the CPU time at GOMAXPROCS 2 than at 1, and more wall time too (README,
// Speed). Results are the same at any GOMAXPROCS. GOMAXPROCS in the
// environment wins.
func useCores(jobs int) {
	if os.Getenv("GOMAXPROCS") != "" {
		return
	}
	runtime.GOMAXPROCS(max(1, min(jobs, runtime.NumCPU())))
}
