package faults_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/faults"
)

// The operator group (stop-with-savepoint and the new-job actions): its actions resolve by group name, are in "all",
// restart the job and round-trip in plans.
func TestOperatorGroup(t *testing.T) {
	names, err := faults.Resolve("operator")
	require.NoError(t, err)
	require.Equal(t, []string{"stop-with-savepoint", "new-txn-prefix", "switch-guarantee", faults.RestoreRetainedCheckpoint}, names)
	all, err := faults.Resolve("all")
	require.NoError(t, err)
	for _, f := range faults.OperatorActions() {
		require.Equal(t, faults.KindOperator, f.Kind)
		require.Contains(t, all, f.Name, "operator actions are in the default set")
		require.True(t, f.RestartsJob(), f.Name)
		require.False(t, f.IsCrash(), f.Name)
		got, ok := faults.Lookup(f.Name)
		require.True(t, ok)
		require.Equal(t, f, got)
	}
	p := faults.Plan{Version: faults.PlanVersion, Protocol: "two-phase-commit", Seed: 3, Workload: faults.DefaultWorkload(),
		Faults: []faults.Op{{Fault: "new-txn-prefix", Hit: 2}, {Fault: "switch-guarantee", Hit: 4}, {Fault: "switch-guarantee", Hit: 6}}}
	got, err := faults.ParsePlan(p.Marshal())
	require.NoError(t, err)
	require.Equal(t, p, got)
	// restore-retained-checkpoint's count is how far back, and bounded.
	p.Faults = []faults.Op{{Fault: faults.RestoreRetainedCheckpoint, Hit: 5, Count: 2}}
	got, err = faults.ParsePlan(p.Marshal())
	require.NoError(t, err)
	require.Equal(t, p, got)
	for _, bad := range []int{0, faults.MaxCheckpointsBack + 1} {
		p.Faults[0].Count = bad
		_, err = faults.ParsePlan(p.Marshal())
		require.ErrorContains(t, err, "plan fault 0 (restore-retained-checkpoint): count must be the completed checkpoints back from the latest to restore from, 1..16, got")
	}
	// An operator action is not a broker fault: no phase.
	p.Faults = []faults.Op{{Fault: "new-txn-prefix", Hit: 1, Phase: "notify"}}
	_, err = faults.ParsePlan(p.Marshal())
	require.ErrorContains(t, err, "phase is for broker faults only")
}
