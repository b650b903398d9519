package sim

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/faults"
)

func stopPlan(protocol string, ops ...faults.Op) faults.Plan {
	return faults.Plan{Version: faults.PlanVersion, Protocol: protocol, Seed: 20261210,
		Workload: faults.Workload{Partitions: 4, Parallelism: 2, Records: 400, KeysPerPartition: 3, CheckpointIntervalMS: 50, LateRecords: 80},
		Faults:   ops}
}

func kinds(r Result) map[string][]TraceEvent {
	out := map[string][]TraceEvent{}
	for _, e := range r.Events {
		out[e.Kind] = append(out[e.Kind], e)
	}
	return out
}

// A completed stop-with-savepoint: the sources stop at the savepoint's
// barrier, the savepoint's notifications all arrive, the job stops in
// order (no stop-failed: the open transaction is empty) and the next
// attempt restores the savepoint itself; nothing is lost or duplicated.
func TestStopWithSavepointDrainsStopsAndRestores(t *testing.T) {
	for _, protocol := range []string{"two-phase-commit", "offsets-in-txn", "two-phase-commit-pooled-ids"} {
		t.Run(protocol, func(t *testing.T) {
			p := stopPlan(protocol, faults.Op{Fault: "stop-with-savepoint", Hit: 3, RestartDelayMS: 500})
			r := Run(t, Options{Protocol: protocol, Seed: p.Seed, Workload: p.Workload, Plan: &p, KeepEvents: true})
			require.Empty(t, r.HarnessError)
			require.False(t, r.Failed(), "%v", r.Violations)
			require.Empty(t, r.Unfired)
			ev := kinds(r)
			require.Len(t, ev["trigger-savepoint"], 1)
			require.Len(t, ev["stop-with-savepoint"], 1)
			require.Empty(t, ev["stop-failed"], "the open transaction after the savepoint is empty")
			sp := ev["trigger-savepoint"][0].Checkpoint
			for _, e := range ev["notification-lost"] {
				require.NotEqual(t, sp, e.Checkpoint, "the stop waits for the savepoint's notifications: none is lost")
			}
			restored := false
			for _, e := range ev["restore"] {
				restored = restored || e.Checkpoint == sp
			}
			require.True(t, restored, "an attempt restored the savepoint %d", sp)
			// A source that took the savepoint's barrier reads nothing more
			// before the stop.
			took := map[int]bool{}
			for _, e := range r.Events {
				if e.Kind == "stop-with-savepoint" {
					break
				}
				if e.Kind == "source-snapshot" && e.Checkpoint == sp {
					took[e.Subtask] = true
				}
				require.False(t, e.Kind == "process" && took[e.Subtask], "source %d read after the savepoint's barrier: %+v", e.Subtask, e)
			}
			require.Len(t, took, 2)
		})
	}
}

// A failure while the stop commits the savepoint's transactions (a crash
// after a sink committed its part): the correct protocols restore from the
// savepoint and resume-commit what is left; flink-26783 restores the
// checkpoint before it and replays what the savepoint already committed.
func TestCrashDuringStopRestoresTheSavepoint(t *testing.T) {
	ops := []faults.Op{{Fault: "stop-with-savepoint", Hit: 3, RestartDelayMS: 500},
		{Fault: "crash-after-commit", Hit: 1, RestartDelayMS: 100, Phase: faults.PhaseStop}}
	for _, protocol := range []string{"two-phase-commit", "offsets-in-txn"} {
		p := stopPlan(protocol, ops...)
		r := RunPlan(t, p)
		require.Empty(t, r.HarnessError)
		require.False(t, r.Failed(), "%s: %v", protocol, r.Violations)
		require.Empty(t, r.Unfired, protocol)
	}
	p := stopPlan("flink-26783-failover-past-savepoint", ops...)
	r := RunPlan(t, p)
	require.True(t, r.Failed())
	require.Positive(t, r.Check.Counts["duplicate"], "what the savepoint committed is replayed")
	require.Zero(t, r.Check.Counts["lost"])
	// Without the crash the variant's stop and restore are the correct one's.
	clean := stopPlan("flink-26783-failover-past-savepoint", ops[0])
	require.False(t, RunPlan(t, clean).Failed())
}

// A savepoint that times out cancels the stop: the job keeps running and
// finishes exactly once.
func TestFailedSavepointCancelsTheStop(t *testing.T) {
	p := stopPlan("two-phase-commit", faults.Op{Fault: "stop-with-savepoint", Hit: 3, RestartDelayMS: 500}, faults.Op{Fault: "checkpoint-timeout", Hit: 3})
	r := Run(t, Options{Protocol: p.Protocol, Seed: p.Seed, Workload: p.Workload, Plan: &p, KeepEvents: true})
	require.Empty(t, r.HarnessError)
	require.False(t, r.Failed(), "%v", r.Violations)
	ev := kinds(r)
	require.Len(t, ev["stop-with-savepoint-failed"], 1)
	require.Empty(t, ev["stop-with-savepoint"])
}
