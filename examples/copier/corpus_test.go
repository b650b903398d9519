package copier_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/appsim"
	"github.com/eosim/eosim/examples/copier"
	"github.com/eosim/eosim/faults"
	"github.com/eosim/eosim/model"
)

// TestPausedPastLivenessBoundPlanReplays replays the copier campaign's one
// violation (testdata/paused-past-liveness-bound.md): the harness paused the
// app past its liveness bound and calls the unprocessed record lost. When
// the harness judges such a run stalled instead, this fails and the note
// goes.
func TestPausedPastLivenessBoundPlanReplays(t *testing.T) {
	plan, err := faults.ReadPlan("testdata/paused-past-liveness-bound.json")
	require.NoError(t, err)
	res := appsim.Run(t, copier.App(), appsim.Options{Seed: plan.Seed, Plan: &plan})
	require.Equal(t, appsim.Violation, res.Verdict, "%s: harness fixed? then drop this corpus entry", res.Inconclusive)
	require.Equal(t, 1, res.Check.Counts[model.Lost])
	require.Zero(t, res.Check.Counts[model.Duplicate])
}
