package copier_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/app"
	"github.com/eosim/eosim/examples/copier"
	"github.com/eosim/eosim/examples/internal/loopback"
)

// TestTwinsAreCaughtOnLoopback aims one fault at each twin's mistake on
// loopback (real TCP, real time, a kill that cuts the process's
// connections) and shows that the twin breaks exactly once under it while
// the correct copier does not. The simulator's campaigns find the same
// faults by themselves; this pins each twin's mistake down.
func TestTwinsAreCaughtOnLoopback(t *testing.T) {
	tests := []struct {
		name   string
		twin   app.App
		faults loopback.Faults
	}{
		{"kill after the commit", copier.OffsetsOutsideTxn(), loopback.Faults{Crash: map[string]int{copier.CrashAfterCommit: 2}}},
		{"kill after producing", copier.OffsetsBeforeProduce(), loopback.Faults{Crash: map[string]int{copier.CrashAfterProduce: 2}}},
		// The rejected-produce twins (CommitAfterFailedFlush,
		// NoRewindAfterAbort) are caught by the simulator's broker
		// rejections, deterministically (examples TestKnownBadTwinsAreCaught);
		// on loopback, in real time, whether the rejection meets the batch
		// the twin mishandles depends on timing (CI once saw the rewind twin
		// come out right), so they are not asserted here.
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			good := copier.App()
			res := loopback.RunWithFaults(t, good, 200, 60*time.Second, tc.faults)
			require.Empty(t, loopback.Mismatch(good.Spec, res), "the correct copier under %+v", tc.faults)
			res = loopback.RunWithFaults(t, tc.twin, 200, 60*time.Second, tc.faults)
			require.NotEmpty(t, loopback.Mismatch(tc.twin.Spec, res), "%s under %+v", tc.twin.Name, tc.faults)
			t.Logf("%s: %s", tc.twin.Name, loopback.Mismatch(tc.twin.Spec, res))
		})
	}
}
