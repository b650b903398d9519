package sim

import (
	"testing"

	"github.com/eosim/eosim/internal/testgc"
)

// TestMain runs the tests with simrun's GOGC, at GOMAXPROCS 1 (see
// testgc.MainOneProc).
func TestMain(m *testing.M) { testgc.MainOneProc(m) }
