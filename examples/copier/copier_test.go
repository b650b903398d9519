package copier_test

import (
	"testing"
	"time"

	"github.com/eosim/eosim/app"
	"github.com/eosim/eosim/examples/copier"
	"github.com/eosim/eosim/examples/internal/loopback"
)

// TestCopierCopiesExactlyOnceOnLoopback runs the copier and every twin for
// real (kfake on loopback TCP, real time, no faults): without a fault each
// of them copies exactly once, so a twin the simulator catches is caught for
// its mistake, not for a broken loop.
func TestCopierCopiesExactlyOnceOnLoopback(t *testing.T) {
	for _, a := range append([]app.App{copier.App()}, copier.Twins()...) {
		t.Run(a.Name, func(t *testing.T) {
			res := loopback.Run(t, a, 300, 60*time.Second)
			loopback.RequireExactlyOnce(t, a.Spec, res)
		})
	}
}
