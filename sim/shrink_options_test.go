package sim

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/faults"
)

func optionsPlan() faults.Plan {
	return faults.Plan{Version: faults.PlanVersion, Protocol: "commit-on-snapshot", Seed: 3,
		Workload: faults.Workload{Partitions: 2, Parallelism: 1, Records: 60, KeysPerPartition: 1, CheckpointIntervalMS: 5,
			OutputPartitions: 3, Topology: faults.TopologyForward, RequestVersions: faults.RequestVersionsPreKIP890,
			StartupMode: "timestamp", StartupTimestampMS: 4},
		Faults: []faults.Op{{Fault: "crash-after-precommit", Hit: 3, RestartDelayMS: 10}}}
}

// TestOptionCandidates: each option goes back to the default on its own,
// valid and smaller; forward stays while an op needs it.
func TestOptionCandidates(t *testing.T) {
	p := optionsPlan()
	cands := OptionCandidates(p)
	require.Len(t, cands, 4)
	for _, w := range cands {
		q := p
		q.Workload = w
		require.NoError(t, q.Validate())
		require.Equal(t, workloadOptions(p.Workload)-1, workloadOptions(w))
		require.True(t, SizeOf(q).Less(SizeOf(p)))
	}
	require.Empty(t, cands[0].StartupMode)
	require.Zero(t, cands[0].StartupTimestampMS, "the timestamp goes with its mode")

	p.Faults = append(p.Faults, faults.Op{Fault: "region-failover", Hit: 2})
	for _, w := range OptionCandidates(p) {
		require.Equal(t, faults.TopologyForward, w.Topology, "region-failover needs the forward topology")
	}
}

// TestShrinkDropsOptions: a plan that fails whatever its startup mode,
// output partitions, topology and request versions shrinks to the
// default ones.
func TestShrinkDropsOptions(t *testing.T) {
	p := optionsPlan()
	plain := p
	plain.Workload.StartupMode, plain.Workload.StartupTimestampMS = "", 0
	plain.Workload.OutputPartitions, plain.Workload.Topology, plain.Workload.RequestVersions = 0, "", ""
	orig, bare := RunPlan(t, p), RunPlan(t, plain)
	require.True(t, orig.Failed(), "the plan must fail: %s", orig.Check.Verdict)
	require.Equal(t, ViolatedKinds(orig), ViolatedKinds(bare), "precondition: it fails the same way without its options")

	res, err := Shrink(t, Options{Protocol: p.Protocol, Seed: p.Seed, Plan: &p}, ShrinkOptions{MaxRuns: 300})
	require.NoError(t, err)
	w := res.Plan.Workload
	require.Zero(t, res.After.Options, "options left: %+v", w)
	require.Empty(t, w.StartupMode)
	require.Zero(t, w.OutputPartitions)
	require.Empty(t, w.Topology)
	require.Empty(t, w.RequestVersions)
	require.Equal(t, res.Kinds, ViolatedKinds(res.Shrunk))
}
