package main

import (
	"os"
	"testing"

	"github.com/eosim/eosim/internal/testgc"
)

// TestMain runs the tests with simrun's GOGC (see testgc) and removes the
// binaries the tests built.
func TestMain(m *testing.M) {
	testgc.Set()
	code := m.Run()
	removeBuilt()
	os.Exit(code)
}
