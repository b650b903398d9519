package sim

import (
	"bytes"
	"slices"
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

// A request fault is armed at its trigger but fires only when it meets a
// request: a two-phase-commit job sends no TxnOffsetCommit, so both faults
// on it stay unfired (they were counted fired once armed), while an
// EndTxn fault armed at the same trigger meets the next commit.
func TestArmedRequestFaultFiresOnlyWhenItMeetsARequest(t *testing.T) {
	rejected := faults.Op{Fault: "txn-offset-commit-rejected", Hit: 2}
	lostAck := faults.Op{Fault: "lost-ack-txn-offset-commit", Hit: 2}
	endTxn := faults.Op{Fault: "endtxn-rejected", Hit: 2}
	lostEndTxn := faults.Op{Fault: "lost-ack-endtxn", Hit: 3}
	res := Run(t, Options{Protocol: "two-phase-commit", Seed: 7, Plan: planWith("two-phase-commit", false, rejected, lostAck, endTxn, lostEndTxn)})
	require.Empty(t, res.HarnessError)
	require.Equal(t, []faults.Op{rejected, lostAck}, res.Unfired)
	res = Run(t, Options{Protocol: "offsets-in-txn", Seed: 7, Plan: planWith("offsets-in-txn", false, rejected, lostAck)})
	require.Empty(t, res.HarnessError)
	require.Empty(t, res.Unfired, "offsets-in-txn sends TxnOffsetCommit at every pre-commit")
}

// Runs draw no fault on a request their job never sends.
func TestFaultsForLeavesOutWhatTheJobNeverSends(t *testing.T) {
	all, err := faults.Resolve("all")
	require.NoError(t, err)
	for _, tc := range []struct {
		protocol string
		without  []string
		with     []string
	}{
		{"two-phase-commit", []string{"lost-ack-txn-offset-commit", "txn-offset-commit-rejected"}, []string{"lost-ack-endtxn", "crash-mid-commit", "zombie", "lost-ack-produce"}},
		{"offsets-in-txn", nil, []string{"lost-ack-txn-offset-commit", "txn-offset-commit-rejected", "delayed-endtxn"}},
		{"two-phase-commit-pooled-ids", []string{"zombie", "txn-offset-commit-rejected"}, []string{"endtxn-rejected"}},
		{"at-least-once", []string{"lost-ack-endtxn", "delayed-endtxn", "endtxn-rejected", "concurrent-transactions", "crash-mid-commit", "crash-during-recovery", "txn-offset-commit-rejected"}, []string{"lost-ack-produce", "produce-rejected", "crash-after-ack", "switch-guarantee"}},
		{"none", []string{"lost-ack-produce", "lost-ack-endtxn"}, []string{"produce-rejected"}},
	} {
		got := FaultsFor(tc.protocol, all)
		for _, f := range tc.without {
			require.NotContains(t, got, f, tc.protocol)
		}
		for _, f := range tc.with {
			require.Contains(t, got, f, tc.protocol)
		}
	}
}

// A drawn transactional fault at or after a switch to at-least-once moves
// before the switch, or is dropped when the switch is at the first
// trigger; other faults and crashes stay.
func TestTransactionalFaultsMoveBeforeTheSwitch(t *testing.T) {
	ops := []faults.Op{
		{Fault: "switch-guarantee", Hit: 4},
		{Fault: "delayed-endtxn", Hit: 6},
		{Fault: "endtxn-rejected", Hit: 2},
		{Fault: "lost-ack-produce", Hit: 9},
		{Fault: "crash-during-recovery", Hit: 5},
	}
	got := beforeTheSwitch("two-phase-commit", slices.Clone(ops))
	require.Equal(t, 3, got[1].Hit, "6 moves to 1 + 5 mod 3")
	require.Equal(t, ops[2:], got[2:])
	require.Equal(t, ops, beforeTheSwitch("at-least-once", slices.Clone(ops)), "only a two-phase job switches away from transactions")
	ops[0].Hit = 1
	got = beforeTheSwitch("offsets-in-txn", slices.Clone(ops))
	require.Equal(t, []faults.Op{ops[0], ops[3], ops[4]}, got)

	// Aimed at a restore: only a restart before the switch makes one the
	// two-phase job meets; the switch's own restore is at-least-once.
	recovery := []faults.Op{{Fault: "endtxn-rejected", Hit: 1, Phase: faults.PhaseRecovery}, {Fault: "switch-guarantee", Hit: 5}}
	got = beforeTheSwitch("two-phase-commit", slices.Clone(recovery))
	require.Empty(t, got[0].Phase, "no restore before the switch: the next EndTxn")
	withCrash := append(slices.Clone(recovery), faults.Op{Fault: "crash-after-ack", Hit: 3})
	got = beforeTheSwitch("two-phase-commit", slices.Clone(withCrash))
	require.Equal(t, faults.PhaseRecovery, got[0].Phase, "the crash at 3 restores the two-phase job")
}

// A switch to at-least-once in a drawn plan waits for a fault on the
// transactional requests drawn before it: with two checkpoints in flight,
// checkpoint 1 completes after the switch's trigger, and its notify-aimed
// EndTxn fault met no commit. A hand-written plan switches where it says
// and reports the fault unfired.
func TestSwitchWaitsForATransactionalFaultBeforeIt(t *testing.T) {
	for _, rearm := range []bool{false, true} {
		p := planWith("offsets-in-txn", rearm,
			faults.Op{Fault: "switch-guarantee", Hit: 2},
			faults.Op{Fault: "endtxn-rejected", Hit: 1, Phase: faults.PhaseNotify})
		p.Seed = 18292141583173416065
		p.Workload.Parallelism, p.Workload.MaxConcurrentCheckpoints = 2, 2
		var trace bytes.Buffer
		res := Run(t, Options{Protocol: "offsets-in-txn", Seed: p.Seed, Plan: p, Trace: &trace})
		require.Empty(t, res.HarnessError)
		require.Empty(t, res.Violations)
		require.Equal(t, 1, res.Faults["switch-guarantee"])
		if !rearm {
			require.Equal(t, []faults.Op{p.Faults[1]}, res.Unfired)
			require.NotContains(t, trace.String(), "switch-guarantee waits")
			continue
		}
		require.Empty(t, res.Unfired)
		require.Contains(t, trace.String(), "switch-guarantee waits for endtxn-rejected hit=1")
	}
}

// A drawn notify-aimed EndTxn fault whose notification a crash preempted
// fires at the restore, which resume-commits in the notification's stead;
// waiting on for a notification, it met no EndTxn once the input ran out.
func TestNotifyAimedEndTxnFaultMeetsTheResumeCommit(t *testing.T) {
	for _, rearm := range []bool{false, true} {
		p := planWith("two-phase-commit", rearm,
			faults.Op{Fault: "lost-ack-endtxn", Hit: 9, Phase: faults.PhaseNotify},
			faults.Op{Fault: "crash-after-checkpoint-stored", Hit: 9, RestartDelayMS: 1602},
			faults.Op{Fault: "crash-after-checkpoint-stored", Hit: 10, RestartDelayMS: 1645})
		p.Seed = 18208702094871944713
		p.Workload.Parallelism = 2
		var trace bytes.Buffer
		res := Run(t, Options{Protocol: "two-phase-commit", Seed: p.Seed, Plan: p, Trace: &trace})
		require.Empty(t, res.HarnessError)
		require.Empty(t, res.Violations)
		if !rearm {
			require.Contains(t, res.Unfired, p.Faults[0], "a hand-written plan waits for its notification")
			continue
		}
		require.Empty(t, res.Unfired)
		require.Contains(t, trace.String(), `"detail":"lost-ack-endtxn hit=9 phase=recovery"`)
	}
}
