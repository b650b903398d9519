package sim

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/faults"
)

// TestAbortedInputPlacement: every aborted record goes into the partition
// of the committed record its transaction precedes, among the records
// there before the job starts; the count is the workload's; the committed
// input does not depend on it; none is drawn when every record is late.
func TestAbortedInputPlacement(t *testing.T) {
	for _, tc := range []struct {
		name string
		w    faults.Workload
		want int
	}{
		{"default", faults.Workload{Partitions: 4, Records: 1000, LateRecords: 200, KeysPerPartition: 3, AbortedInput: 125}, 125},
		{"one record", faults.Workload{Partitions: 1, Records: 1, KeysPerPartition: 1, AbortedInput: 1}, 1},
		{"all late", faults.Workload{Partitions: 2, Records: 10, LateRecords: 10, KeysPerPartition: 1, AbortedInput: 5}, 0},
		{"none", faults.Workload{Partitions: 2, Records: 10, KeysPerPartition: 1}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for seed := range uint64(20) {
				recs, initial := workloadInput(seed, tc.w)
				plain := tc.w
				plain.AbortedInput = 0
				same, _ := workloadInput(seed, plain)
				require.Equal(t, same, recs, "the committed input is drawn without the aborted input")
				got := 0
				placed := abortedInput(seed, tc.w, recs, initial)
				require.LessOrEqual(t, len(placed), 3)
				for at, txns := range placed {
					require.Less(t, at, initial, "placed before a record there at the start")
					for _, txn := range txns {
						require.NotEmpty(t, txn)
						for _, r := range txn {
							require.Equal(t, recs[at].Partition, r.Partition, "in the partition of the record it precedes")
							require.True(t, strings.HasPrefix(string(r.Value), "aborted"), string(r.Value))
							got++
						}
					}
				}
				require.Equal(t, tc.want, got, "seed %d", seed)
			}
		})
	}
}

// TestReadUncommittedSourceIsCaughtByAbortedInputAlone: with no fault, the
// source that reads read_uncommitted is caught by the aborted input and
// only by it; the correct protocol reads past it cleanly.
func TestReadUncommittedSourceIsCaughtByAbortedInputAlone(t *testing.T) {
	w := faults.Workload{Partitions: 2, Parallelism: 2, Records: 40, LateRecords: 8, KeysPerPartition: 2, CheckpointIntervalMS: 10, AbortedInput: 5}
	plan := func(protocol string, w faults.Workload) faults.Plan {
		return faults.Plan{Version: faults.PlanVersion, Protocol: protocol, Seed: 7, Workload: w}
	}
	bad := RunPlan(t, plan("source-read-uncommitted", w))
	require.True(t, bad.Failed(), "%v", bad.Check.Counts)
	require.Positive(t, bad.Check.Counts["unexpected"])
	good := RunPlan(t, plan("two-phase-commit", w))
	require.False(t, good.Failed(), "%v", good.Check.Counts)
	none := w
	none.AbortedInput = 0
	require.False(t, RunPlan(t, plan("source-read-uncommitted", none)).Failed(), "without aborted input the bug cannot show")
}
