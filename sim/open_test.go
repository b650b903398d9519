package sim

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/faults"
)

// testdata/open holds counterexamples that the correct protocol still
// fails: known, shrunk, not fixed yet. Each must still fail, with the
// anomaly its name stands for; once a change makes one clean, this test
// fails, and the plan moves to testdata/corpus as a clean-* plan.
//
// The one left: a zombie during a scale-in before the first checkpoint
// completed. Its replacement restores with no state, so it knows neither
// the removed subtasks' id ranges nor the zombie's open transactions there
// (ListTransactions shows only those that already hold records); the
// zombie's next transaction in such a range is fenced and aborted by
// nobody and pins read_committed readers until transaction.timeout.ms.
// With a completed checkpoint the ranges are in its state, and the
// replacement fences them and aborts what a zombie begins on ids it skips
// (TestZombieBeginsOnAnIDItsReplacementSkips).
func TestOpenZombieCounterexamples(t *testing.T) {
	paths, err := filepath.Glob("../testdata/open/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			p, err := faults.ReadPlan(path)
			require.NoError(t, err)
			res := RunPlan(t, p)
			require.Empty(t, res.HarnessError)
			require.Equal(t, []string{"stalled"}, ViolatedKinds(res),
				"still open? if %s is clean now, move it to testdata/corpus as a clean plan", path)
		})
	}
}
