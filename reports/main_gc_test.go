package reports_test

import (
	"testing"

	"github.com/eosim/eosim/internal/testgc"
)

// TestMain runs the tests with simrun's GOGC (see testgc).
func TestMain(m *testing.M) { testgc.Main(m) }
