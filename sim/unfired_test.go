package sim

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/faults"
)

func planWith(protocol string, rearm bool, ops ...faults.Op) *faults.Plan {
	w := faults.DefaultWorkload()
	return &faults.Plan{Version: faults.PlanVersion, Protocol: protocol, Seed: 7, Workload: w, Faults: ops, RearmUnfired: rearm}
}

// A hand-written plan fires where it says; an op it never reaches is
// reported, in the result and in the trace, never silently "ok".
func TestUnreachableHitIsReportedUnfired(t *testing.T) {
	crash := faults.Op{Fault: "crash-after-ack", Hit: 1_000_000, RestartDelayMS: 10}
	rescale := faults.Op{Fault: "rescale", Hit: 1_000_000, Count: 2}
	timeout := faults.Op{Fault: "checkpoint-timeout", Hit: 2}
	var trace bytes.Buffer
	res := Run(t, Options{Protocol: "two-phase-commit", Seed: 7, Plan: planWith("two-phase-commit", false, timeout, crash, rescale), Trace: &trace})
	require.Empty(t, res.HarnessError)
	require.Equal(t, []faults.Op{crash, rescale}, res.Unfired)
	require.Equal(t, 1, res.Faults["checkpoint-timeout"])
	require.Contains(t, trace.String(), `"kind":"unfired","subtask":-1,"detail":"crash-after-ack hit=1000000"`)
	require.Equal(t, "crash-after-ack@1000000, rescale@1000000", UnfiredText(res.Unfired))
}

// With RearmUnfired (set on every drawn plan) the same ops fire before the
// run ends: a crash at the next arrival at its point, a fault at the next
// trigger.
func TestRearmFiresOpsPastTheEnd(t *testing.T) {
	crash := faults.Op{Fault: "crash-after-ack", Hit: 1_000_000, RestartDelayMS: 10}
	rescale := faults.Op{Fault: "rescale", Hit: 1_000_000, Count: 2}
	midCommit := faults.Op{Fault: "crash-mid-commit", Hit: 2, RestartDelayMS: 10}
	res := Run(t, Options{Protocol: "two-phase-commit", Seed: 7, Plan: planWith("two-phase-commit", true, crash, rescale, midCommit)})
	require.Empty(t, res.HarnessError)
	require.Empty(t, res.Unfired)
	require.Equal(t, 1, res.Crashes["crash-after-ack"])
	require.Equal(t, 1, res.Crashes["crash-mid-commit"])
	require.Equal(t, 1, res.Faults["rescale"])
	require.Empty(t, res.Violations)
}

// A crash-during-recovery past every restore the run makes moves to the
// last one: with one crash, parallelism 2 makes 4 consults at the first
// start and 4 at the restore, so hit 40 is out of reach.
func TestRecoveryCrashAimsAtTheLastRestore(t *testing.T) {
	crash := faults.Op{Fault: "crash-after-checkpoint-stored", Hit: 3, RestartDelayMS: 10}
	recovery := faults.Op{Fault: "crash-during-recovery", Hit: 40, RestartDelayMS: 10}
	for _, rearm := range []bool{false, true} {
		p := planWith("two-phase-commit", rearm, crash, recovery)
		p.Workload.Parallelism = 2
		var trace bytes.Buffer
		res := Run(t, Options{Protocol: "two-phase-commit", Seed: 7, Plan: p, Trace: &trace})
		require.Empty(t, res.HarnessError)
		if !rearm {
			require.Equal(t, []faults.Op{recovery}, res.Unfired, "a hand-written plan fires where it says")
			continue
		}
		require.Empty(t, res.Unfired)
		require.Equal(t, 1, res.Crashes["crash-during-recovery"])
		require.Contains(t, trace.String(), "at the last restore")
		require.Empty(t, res.Violations)
	}
}
