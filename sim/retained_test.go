package sim

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/faults"
)

func retainedPlan(protocol string, seed uint64, ops ...faults.Op) faults.Plan {
	w := faults.Workload{Partitions: 3, Parallelism: 2, Records: 600, KeysPerPartition: 2, CheckpointIntervalMS: 20, ProducerPoolSize: 10}
	return faults.Plan{Version: faults.PlanVersion, Protocol: protocol, Seed: seed, Workload: w, Faults: ops}
}

// A new job started from a retained checkpoint older than the latest reads
// the records between again; the correct protocols stay exactly-once but
// for that range, whose second copies the oracle allows (and which the
// runs below do produce), and the known-bad variant diverges.
func TestRestoreRetainedCheckpoint(t *testing.T) {
	back := faults.Op{Fault: faults.RestoreRetainedCheckpoint, Hit: 6, Count: 2}
	for _, tc := range []struct {
		protocol string
		bad      bool
	}{
		{"two-phase-commit", false},
		{"offsets-in-txn", false},
		{"two-phase-commit-pooled-ids", false},
		{"retained-restore-group-offsets", true},
	} {
		t.Run(tc.protocol, func(t *testing.T) {
			reread, failed := 0, 0
			for seed := uint64(1); seed <= 3; seed++ {
				res := RunPlan(t, retainedPlan(tc.protocol, seed, back))
				require.Empty(t, res.HarnessError)
				require.Empty(t, res.Unfired)
				require.Equal(t, 1, res.Faults[faults.RestoreRetainedCheckpoint])
				if res.Failed() {
					failed++
				}
				reread += res.Check.Reread
			}
			if tc.bad {
				require.Positive(t, failed, "never caught")
				return
			}
			require.Zero(t, failed)
			require.Positive(t, reread, "no run showed a record twice: the restores read nothing committed again")
		})
	}
}

// The known-bad variant fails only when a job starts from an older
// retained checkpoint: restored from the latest (a crash, a new job with a
// new prefix) it is the correct protocol, trace for trace.
func TestRetainedRestoreGroupOffsetsCleanFromLatest(t *testing.T) {
	for _, op := range []faults.Op{
		{Fault: "crash-after-checkpoint-stored", Hit: 3, RestartDelayMS: 100},
		{Fault: "new-txn-prefix", Hit: 4},
	} {
		bad := RunPlan(t, retainedPlan("retained-restore-group-offsets", 1, op))
		good := RunPlan(t, retainedPlan("offsets-in-txn", 1, op))
		require.Empty(t, bad.Violations, op.Fault)
		require.Empty(t, bad.Unfired, op.Fault)
		require.Equal(t, good.TraceHash, bad.TraceHash, op.Fault)
	}
}

// The op waits for a trigger at which count older checkpoints are
// retained: hit 1 cannot go two back.
func TestRestoreRetainedWaitsForCheckpoints(t *testing.T) {
	res := RunPlan(t, retainedPlan("two-phase-commit", 1, faults.Op{Fault: faults.RestoreRetainedCheckpoint, Hit: 1, Count: 2}))
	require.Empty(t, res.Violations)
	require.Empty(t, res.Unfired)
	require.Equal(t, 1, res.Faults[faults.RestoreRetainedCheckpoint])
	require.Equal(t, 1, res.Restarts)
}
