package gts_test

import (
	"testing"
	"time"

	"github.com/eosim/eosim/examples/gts"
	"github.com/eosim/eosim/examples/internal/loopback"
)

// TestSessionCopiesExactlyOnceOnLoopback runs the session for real (kfake
// on loopback TCP, real time) with one and with three instances.
func TestSessionCopiesExactlyOnceOnLoopback(t *testing.T) {
	for _, a := range []struct {
		name      string
		instances int
	}{{"one instance", 1}, {"three instances", 3}} {
		t.Run(a.name, func(t *testing.T) {
			ex := gts.New(gts.Options{Instances: a.instances})
			res := loopback.Run(t, ex, 300, 60*time.Second)
			loopback.RequireExactlyOnce(t, ex.Spec, res)
		})
	}
}
