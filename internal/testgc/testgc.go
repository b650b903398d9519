// Package testgc gives test binaries the garbage-collector setting simrun
// runs with (cmd/simrun/main.go: GOGC 400 unless GOGC is set), so that
// tests and benchmarks measure what campaigns do and cost no more CPU:
// scenarios allocate briskly and keep little. MainOneProc also runs a
// package's tests at GOMAXPROCS 1.
//
// It imports nothing of the harness.
package testgc

import (
	"os"
	"runtime"
	"runtime/debug"
	"testing"
)

// Percent is simrun's GOGC.
const Percent = 400

// Main sets GOGC to Percent unless the environment sets GOGC, then runs
// the tests and exits with their code. Call it from a package's TestMain.
func Main(m *testing.M) {
	Set()
	os.Exit(m.Run())
}

// Set sets GOGC to Percent unless the environment sets GOGC, for a
// TestMain that does more than Main.
func Set() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(Percent)
	}
}

// MainOneProc is Main at GOMAXPROCS 1 unless the environment sets
// GOMAXPROCS: for the packages whose tests run simulated scenarios (each
// in a synctest bubble, one after another). A scenario gains nothing from
// a second P, only its scheduling: measured on two cores, package sim's
// tests 46.0 -> 32.1 CPU-s and properties' 31.0 -> 23.7, wall time lower
// too. The traces do not depend on it (sim's TestSameSeedSameTrace and
// TestBugZooIsCaught's replays compare runs at GOMAXPROCS 1 and 2);
// GOMAXPROCS=2 go test runs them as before.
func MainOneProc(m *testing.M) {
	Set()
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	os.Exit(m.Run())
}

// AtProcs runs fn at GOMAXPROCS n and restores the setting.
func AtProcs(n int, fn func()) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(n))
	fn()
}
