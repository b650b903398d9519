package copier_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/appsim"
	"github.com/eosim/eosim/examples/copier"
	"github.com/eosim/eosim/faults"
	"github.com/eosim/eosim/model"
)

// TestPausedPastLivenessBoundPlanIsClean keeps a fixed harness
// misjudgement fixed (testdata/paused-past-liveness-bound.md): the harness
// paused the copier until just past the end of its idle bound and called
// the unprocessed record lost. Idle now counts from the last healed fault
// and never while a process is paused, so the copier gets its network back
// and copies the record: clean.
func TestPausedPastLivenessBoundPlanIsClean(t *testing.T) {
	plan, err := faults.ReadPlan("testdata/paused-past-liveness-bound.json")
	require.NoError(t, err)
	res := appsim.Run(t, copier.App(), appsim.Options{Seed: plan.Seed, Plan: &plan})
	require.Equal(t, appsim.Clean, res.Verdict, "%s %v", res.Inconclusive, res.Violations)
	require.Zero(t, res.Check.Counts[model.Lost])
}
