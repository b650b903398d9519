package sim

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/faults"
)

func smallWorkload() faults.Workload {
	return faults.Workload{Partitions: 2, Parallelism: 2, Records: 120, KeysPerPartition: 2, CheckpointIntervalMS: 40}
}

// Every crash point at every checkpoint of a small scenario: the correct
// protocols are clean at all of them, and each single-crash plan crashes the
// job exactly once, at its site.
func TestExhaustiveSingleCrashes(t *testing.T) {
	for _, protocol := range []string{"two-phase-commit", "offsets-in-txn"} {
		ex, err := EnumerateCrashes(t, Options{Protocol: protocol, Seed: 21, Workload: smallWorkload()}, false, 50)
		require.NoError(t, err)
		for _, p := range engine.CrashPoints() {
			require.NotEmpty(t, ex.Coverage[string(p)], "%s never reached in the fault-free run", p)
		}
		require.Len(t, ex.Plans, len(ex.Sites))
		for _, plan := range ex.Plans {
			plan := plan
			res := Run(t, Options{Protocol: protocol, Seed: ex.Seed, Workload: plan.Workload, Plan: &plan})
			require.Empty(t, res.HarnessError)
			require.Empty(t, res.Violations, "%s: %+v", protocol, plan.Faults)
			require.Equal(t, 1, res.Crashes[plan.Faults[0].Fault], "%+v", plan.Faults)
		}
	}
}

// The enumeration is sensitive: a known-bad variant fails at some site.
func TestExhaustiveCatchesAKnownBadVariant(t *testing.T) {
	ex, err := EnumerateCrashes(t, Options{Protocol: "commit-on-snapshot", Seed: 21, Workload: smallWorkload()}, false, 50)
	require.NoError(t, err)
	caught := 0
	for _, plan := range ex.Plans {
		plan := plan
		if Run(t, Options{Protocol: "commit-on-snapshot", Seed: ex.Seed, Workload: plan.Workload, Plan: &plan}).Failed() {
			caught++
		}
	}
	require.Positive(t, caught)
}
