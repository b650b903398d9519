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
// Both are one class: a zombie whose sink meets a checkpoint barrier that
// was in flight at the cut-off begins its next transaction
// (InitProducerID) after the replacement restored. The restore can fence
// the ids a zombie holds, never one it initialises later: on the
// replacement's own next id it aborts the replacement's transaction there
// (an empty one in these plans: had it held records of a completed
// checkpoint, they would be lost), and in a range no live subtask writes
// nobody aborts it, so it pins read_committed readers until
// transaction.timeout.ms. Flink avoids the collision with transactional
// ids named after checkpoint ids drawn from a counter in its
// high-availability store (a replacement's ids are above any its zombie
// got), and leaves the rest to the transaction timeout.
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
