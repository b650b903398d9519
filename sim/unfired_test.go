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

// A zombie and a rescale at one trigger are a zombie during a rescale, in
// either order in the plan: the replacement restores at the rescale's
// parallelism while the old attempt lives on. (The zombie came second
// once and was counted fired without being made.)
func TestZombieAndRescaleAtOneTriggerInEitherOrder(t *testing.T) {
	zombie := faults.Op{Fault: "zombie", Hit: 2}
	rescale := faults.Op{Fault: "rescale", Hit: 2, Count: 1}
	for _, tc := range []struct {
		name string
		ops  []faults.Op
	}{{"zombie first", []faults.Op{zombie, rescale}}, {"rescale first", []faults.Op{rescale, zombie}}} {
		t.Run(tc.name, func(t *testing.T) {
			p := planWith("two-phase-commit", false, tc.ops...)
			p.Workload.Parallelism = 3
			var trace bytes.Buffer
			res := Run(t, Options{Protocol: "two-phase-commit", Seed: 7, Plan: p, Trace: &trace})
			require.Empty(t, res.HarnessError)
			require.Empty(t, res.Unfired)
			require.Contains(t, trace.String(), `"kind":"zombie","subtask":-1`)
			require.Contains(t, trace.String(), `"detail":"rescale 3 -\u003e 1"`)
			require.NotContains(t, trace.String(), `"kind":"rescale"`, "a plain rescale stops the job; here it was cut off")
		})
	}
}

// A broker fault aimed at a restore (phase recovery) whose restore never
// comes, because the stop-with-savepoint that would restart the job timed
// out, fires at the next request of its kind once re-armed; a hand-written
// plan keeps it unfired.
func TestRecoveryAimedFaultWithoutARestoreIsReaimed(t *testing.T) {
	notCoordinator := faults.Op{Fault: "not-coordinator", Hit: 1, Phase: faults.PhaseRecovery}
	stop := faults.Op{Fault: "stop-with-savepoint", Hit: 2, RestartDelayMS: 100}
	timeout := faults.Op{Fault: "checkpoint-timeout", Hit: 2}
	for _, rearm := range []bool{false, true} {
		var trace bytes.Buffer
		res := Run(t, Options{Protocol: "two-phase-commit", Seed: 7, Plan: planWith("two-phase-commit", rearm, notCoordinator, stop, timeout), Trace: &trace})
		require.Empty(t, res.HarnessError)
		require.Contains(t, trace.String(), `"stop-with-savepoint-failed"`, "the savepoint must time out: no restore follows")
		require.Zero(t, res.Restarts)
		if !rearm {
			require.Equal(t, []faults.Op{notCoordinator}, res.Unfired, "a hand-written plan fires where it says")
			continue
		}
		require.Empty(t, res.Unfired)
		require.Equal(t, 1, res.Faults["not-coordinator"])
		require.Empty(t, res.Violations)
	}
}
