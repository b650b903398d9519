package sim

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/faults"
)

// regionPlan is a forward-topology plan of protocol whose only fault is a
// region failover of region at the hit-th checkpoint trigger.
func regionPlan(protocol string, seed uint64, parallelism, region, hit, downMS int) *faults.Plan {
	return &faults.Plan{Version: faults.PlanVersion, Protocol: protocol, Seed: seed,
		Workload: faults.Workload{Partitions: 4, Parallelism: parallelism, Records: 400, KeysPerPartition: 3,
			CheckpointIntervalMS: 20, LateRecords: 100, Topology: faults.TopologyForward},
		Faults: []faults.Op{{Fault: "region-failover", Hit: hit, Count: region, RestartDelayMS: downMS}}}
}

func runPlan(t *testing.T, p *faults.Plan, trace *bytes.Buffer) Result {
	t.Helper()
	opts := Options{Protocol: p.Protocol, Seed: p.Seed, Plan: p}
	if trace != nil {
		opts.Trace = trace
	}
	res := Run(t, opts)
	require.Empty(t, res.HarnessError)
	return res
}

// The correct protocol survives a region failover: the region restores
// alone (the others keep running: they process records while it is down)
// and the output is exactly once.
func TestRegionFailoverRestoresTheRegionAlone(t *testing.T) {
	for _, tc := range []struct{ parallelism, region, hit, down int }{
		{2, 1, 3, 300}, {3, 0, 5, 0}, {4, 2, 2, 1500}, {1, 0, 4, 100},
	} {
		t.Run(fmt.Sprintf("p%d-r%d-hit%d", tc.parallelism, tc.region, tc.hit), func(t *testing.T) {
			var trace bytes.Buffer
			res := runPlan(t, regionPlan("two-phase-commit", 7, tc.parallelism, tc.region, tc.hit, tc.down), &trace)
			require.Empty(t, res.Violations, "%v", res.Check.Counts)
			require.Empty(t, res.Unfired)
			require.Equal(t, 1, res.Faults["region-failover"])
			require.Zero(t, res.Restarts, "a region failover is no job restart")
			tr := trace.String()
			require.Contains(t, tr, `"kind":"region-failed"`)
			require.Contains(t, tr, `"kind":"restore-region"`)
			if tc.parallelism > 1 && tc.down > 0 {
				// Some other region took a step while this one was down.
				down := tr[strings.Index(tr, `"kind":"region-failed"`):strings.Index(tr, `"kind":"restore-region"`)]
				require.Contains(t, down, `"kind":"process"`, "the other regions keep running")
			}
		})
	}
}

// Under the keyBy topology a region is the whole job.
func TestRegionFailoverUnderKeyByRestartsTheJob(t *testing.T) {
	p := regionPlan("two-phase-commit", 7, 2, 1, 3, 300)
	p.Workload.Topology = ""
	var trace bytes.Buffer
	res := runPlan(t, p, &trace)
	require.Empty(t, res.Violations)
	require.Equal(t, 1, res.Restarts)
	require.NotContains(t, trace.String(), `"kind":"region-failed"`)
}

// The known-bad variant aborts the other subtasks' live transactions at a
// regional restore: it fails where the correct protocol passes.
func TestAbortPrefixLingeringIsCaughtByRegionFailover(t *testing.T) {
	caught := 0
	for seed := uint64(1); seed <= 6; seed++ {
		p := regionPlan("abort-prefix-lingering", seed, 3, int(seed%3), 2+int(seed%5), int(seed*97%1500))
		if runPlan(t, p, nil).Failed() {
			caught++
		}
		p.Protocol = "two-phase-commit"
		require.False(t, runPlan(t, p, nil).Failed(), "seed %d: the correct protocol fails too", seed)
	}
	require.GreaterOrEqual(t, caught, 4, "caught in %d of 6 plans (20 seeds measured: 18)", caught)
	// Under the keyBy topology a region failover restarts the whole job,
	// where sparing the checkpoint's pending transactions is enough.
	p := regionPlan("abort-prefix-lingering", 3, 3, 0, 5, 291)
	p.Workload.Topology = ""
	require.False(t, runPlan(t, p, nil).Failed(), "the variant is wrong only after a regional restore")
}

// Correct protocols over a few seeds, parallelisms, regions and
// concurrent checkpoints (a failover aborts every checkpoint in flight;
// under offsets-in-txn the region is the whole job: see
// scheduler.regional).
func TestRegionFailoverCorrectProtocolsOverSeeds(t *testing.T) {
	aborted := 0
	for _, proto := range []string{"two-phase-commit", "offsets-in-txn", "two-phase-commit-pooled-ids"} {
		for seed := uint64(1); seed <= 8; seed++ {
			p := regionPlan(proto, seed, 1+int(seed%4), int(seed%3), 2+int(seed%5), int(seed*97%1500))
			p.Workload.MaxConcurrentCheckpoints = 1 + int(seed%3)
			if proto == "two-phase-commit-pooled-ids" {
				// A pool the run cannot exhaust, as drawn runs have
				// (exhaustion is a loud failure by design).
				p.Workload.ProducerPoolSize = ProducerPoolSizeFor(p.Workload.MaxConcurrentCheckpoints, 0)
			}
			var trace bytes.Buffer
			res := runPlan(t, p, &trace)
			aborted += strings.Count(trace.String(), `"kind":"abort-checkpoint"`)
			require.False(t, res.Failed(), "%s seed %d: %v loud=%q", proto, seed, res.Check.Counts, res.LoudFailure)
			require.Empty(t, res.Unfired, "%s seed %d", proto, seed)
		}
	}
	require.Positive(t, aborted, "some failover aborted a checkpoint in flight")
}

// A region failover at the trigger where the whole job stops (here an
// operator restores a retained checkpoint) waits for the next trigger: a
// region restoring alone from the checkpoint the store was just rewound
// to would resume transactions the running regions' ids have reused
// since (two-phase-commit-pooled-ids seed 12141136059173790071 reported a
// loud loss so).
func TestRegionFailoverYieldsToAWholeJobStop(t *testing.T) {
	p, err := faults.ReadPlan("../testdata/corpus/clean-2pc-pooled-ids-retained-restore-and-region-failover.json")
	require.NoError(t, err)
	var trace bytes.Buffer
	res := Run(t, Options{Protocol: p.Protocol, Seed: p.Seed, Plan: &p, Trace: &trace})
	require.Empty(t, res.HarnessError)
	require.Empty(t, res.Unfired)
	require.Empty(t, res.Violations)
	require.Contains(t, trace.String(), `"detail":"restore-retained-checkpoint hit=5"`)
	require.Contains(t, trace.String(), `"detail":"region-failover hit=6"`, "postponed one trigger")
}
