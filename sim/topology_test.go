package sim

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/faults"
)

// runKept runs a plan and keeps its trace events.
func runKept(t *testing.T, p faults.Plan) Result {
	t.Helper()
	q := p
	q.Faults = slices.Clone(p.Faults)
	return Run(t, Options{Protocol: p.Protocol, Seed: p.Seed, Workload: p.Workload, Plan: &q, KeepEvents: true})
}

func corpusPlan(t *testing.T, name string) faults.Plan {
	t.Helper()
	p, err := faults.ReadPlan(filepath.Join("..", "testdata", "corpus", name))
	require.NoError(t, err)
	return p
}

// More source subtasks than partitions (KafkaSourceITCase
// testRedundantParallelism): the idle subtasks take every checkpoint's
// barrier and acknowledge it, the correct protocol stays clean through
// crashes, and the empty transactions the idle sinks pre-commit still
// catch FLINK-31363.
func TestIdleSourceSubtasksTakePartInCheckpoints(t *testing.T) {
	p := corpusPlan(t, "clean-2pc-idle-subtasks.json")
	require.Greater(t, p.Workload.Parallelism, p.Workload.Partitions, "the plan must have idle source subtasks")
	res := runKept(t, p)
	require.Empty(t, res.HarnessError)
	require.False(t, res.Failed(), "violations: %v", res.Violations)
	require.Empty(t, res.Unfired)
	acks := map[int]int{}
	for _, e := range res.Events {
		if e.Kind == "ack-source" {
			acks[e.Subtask]++
		}
	}
	for idle := p.Workload.Partitions; idle < p.Workload.Parallelism; idle++ {
		require.Positive(t, acks[idle], "idle source subtask %d never acknowledged a checkpoint (acks %v)", idle, acks)
	}
	require.Positive(t, res.Checkpoints)

	p.Protocol = "flink-31363-empty-txn-commit"
	bad := RunPlan(t, p)
	require.True(t, bad.Failed(), "FLINK-31363 must be caught where idle sinks pre-commit empty transactions")
}

// The output topic has its own partition count: the output of input
// partition p lands in output partition p % output_partitions, fewer or
// more partitions than the input has, and the oracle judges it the same.
func TestOutputPartitionsDifferFromInput(t *testing.T) {
	for _, out := range []int{1, 2, 7} {
		t.Run(fmt.Sprint(out), func(t *testing.T) {
			p := faults.Plan{Version: faults.PlanVersion, Protocol: "two-phase-commit", Seed: 5,
				Workload: faults.Workload{Partitions: 3, Parallelism: 2, Records: 150, KeysPerPartition: 2, CheckpointIntervalMS: 20, OutputPartitions: out},
				Faults:   []faults.Op{{Fault: "crash-after-checkpoint-stored", Hit: 2, RestartDelayMS: 100}}}
			res := runKept(t, p)
			require.Empty(t, res.HarnessError)
			require.False(t, res.Failed(), "violations: %v", res.Violations)
			var per []string
			for _, e := range res.Events {
				if e.Kind == "read-output" {
					_, list, ok := strings.Cut(e.Detail, "per_output_partition=")
					require.True(t, ok, "read-output detail %q", e.Detail)
					per = strings.Split(list, ",")
				}
			}
			require.Len(t, per, out)
			for i, n := range per {
				// Input partitions 0..2 write to i = p % out.
				require.Equal(t, i < 3, n != "0", "output partition %d of %d has %s records", i, out, n)
			}
		})
	}
}

// Swarm runs draw the topology a workload leaves open: idle source
// subtasks in some runs (at most two), an output partition count other
// than the input's in others; a fixed value is never redrawn.
func TestDrawnTopology(t *testing.T) {
	idle, otherOutput := 0, 0
	for k := range 400 {
		w := faults.DefaultWorkload()
		w.Parallelism = 0
		drawTopology(&w, RunSeed(11, k))
		require.NoError(t, w.Validate())
		if w.Parallelism > w.Partitions {
			idle++
			require.LessOrEqual(t, w.Parallelism, w.Partitions+2)
		}
		if w.OutputPartitions != 0 {
			otherOutput++
			require.NotEqual(t, w.Partitions, w.OutputPartitions)
		}
	}
	require.InDelta(t, 50, idle, 25, "about 1 run in 8 has idle subtasks")
	require.InDelta(t, 100, otherOutput, 35, "about 1 run in 4 has its own output partition count")

	w := faults.Workload{Partitions: 2, Parallelism: 3, OutputPartitions: 5}
	drawTopology(&w, 1)
	require.Equal(t, faults.Workload{Partitions: 2, Parallelism: 3, OutputPartitions: 5}, w)
}
