package appsim

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDrawAbortedPlacesEveryRecordBeforeACommittedOne(t *testing.T) {
	for seed := range uint64(200) {
		for _, n := range []int{1, 2, 5, 12} {
			m := drawAborted(seed, copySpec, n, 40, 3)
			require.Equal(t, n, abortedCount(m), "seed %d n %d", seed, n)
			txns := 0
			for at, ts := range m {
				require.True(t, at >= 0 && at < 40, "position %d", at)
				for _, recs := range ts {
					require.NotEmpty(t, recs, "an empty aborted transaction")
					txns++
					for _, r := range recs {
						require.True(t, strings.HasPrefix(string(r.Value), "aborted"), "%s", r.Value)
						require.Less(t, r.Partition, copySpec.InputPartitions)
					}
				}
			}
			require.True(t, txns >= 1 && txns <= 3, "%d transactions", txns)
			require.Equal(t, m, drawAborted(seed, copySpec, n, 40, 3), "same seed, same draw")
		}
	}
	require.Nil(t, drawAborted(1, copySpec, 0, 40, 3))
}

// -1 means none, for the aborted and the late input alike, and a plan
// records what ran.
func TestNoneStaysNone(t *testing.T) {
	p, err := PlanFor(txnCopier("copier", nil), Options{Seed: 1, LateRecords: -1, AbortedInput: -1})
	require.NoError(t, err)
	require.Zero(t, p.Workload.LateRecords)
	require.Zero(t, p.Workload.AbortedInput)
	p, err = PlanFor(txnCopier("copier", nil), Options{Seed: 1, Records: 16})
	require.NoError(t, err)
	require.Equal(t, 4, p.Workload.LateRecords)
	require.Equal(t, 2, p.Workload.AbortedInput)
}
