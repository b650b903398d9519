// Package testgc gives test binaries the garbage-collector setting simrun
// runs with (cmd/simrun/main.go: GOGC 400 unless GOGC is set), so that
// tests and benchmarks measure what campaigns do and cost no more CPU:
// scenarios allocate briskly and keep little.
//
// It imports nothing of the harness.
package testgc

import (
	"os"
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
