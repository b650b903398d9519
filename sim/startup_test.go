package sim

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/faults"
)

// startOffsetsOf collects the source-start events of each job attempt.
func startOffsetsOf(res Result) []map[int32]int64 {
	var attempts []map[int32]int64
	for _, e := range res.Events {
		switch e.Kind {
		case "restore":
			attempts = append(attempts, map[int32]int64{})
		case "source-start":
			attempts[len(attempts)-1][e.Partition] = e.Offset
		}
	}
	return attempts
}

func outputRecords(t *testing.T, res Result) int {
	t.Helper()
	for _, e := range res.Events {
		if e.Kind == "read-output" {
			var n int
			_, err := fmt.Sscanf(e.Detail, "records=%d", &n)
			require.NoError(t, err)
			return n
		}
	}
	t.Fatal("no read-output event")
	return 0
}

// Each startup mode starts the first attempt where KafkaSourceLegacyITCase's
// testStartFrom* say (latest: the ends; timestamp: the first record at or
// after it; specific offsets: as given, unset or past the end from the
// earliest), the correct protocols are exactly-once on the input from
// there, and a restart before the first checkpoint starts where the first
// start did (the startup record), not at the ends again.
func TestStartupModes(t *testing.T) {
	const records, late = 120, 50
	for _, tc := range []struct {
		mode    string
		shape   func(*faults.Workload)
		outputs int // records the job must make visible
	}{
		{"latest", nil, late},
		{"earliest", nil, records},
		{"timestamp", func(w *faults.Workload) { w.StartupTimestampMS = 30 }, records - 30},
		{"specific-offsets", func(w *faults.Workload) { w.StartupOffsets = []int64{10, -1, 500} }, records - 10},
	} {
		for _, protocol := range []string{"two-phase-commit", "offsets-in-txn"} {
			t.Run(tc.mode+"/"+protocol, func(t *testing.T) {
				w := faults.Workload{Partitions: 3, Parallelism: 2, Records: records, LateRecords: late, KeysPerPartition: 2,
					CheckpointIntervalMS: 10, StartupMode: tc.mode}
				if tc.shape != nil {
					tc.shape(&w)
				}
				p := faults.Plan{Version: faults.PlanVersion, Protocol: protocol, Seed: 7, Workload: w,
					Faults: []faults.Op{{Fault: "crash-before-snapshot", Hit: 1, RestartDelayMS: 200}}}
				res := runKept(t, p)
				require.Empty(t, res.HarnessError)
				require.False(t, res.Failed(), "violations: %v", res.Violations)
				require.Empty(t, res.Unfired)
				require.Equal(t, tc.outputs, outputRecords(t, res))
				attempts := startOffsetsOf(res)
				require.GreaterOrEqual(t, len(attempts), 2)
				require.Equal(t, attempts[0], attempts[1], "a restart before the first checkpoint starts where the first start did")
				if tc.mode == "specific-offsets" {
					require.Equal(t, map[int32]int64{0: 10, 1: 0, 2: 0}, attempts[0])
				}
				if tc.mode == "latest" {
					for p, off := range attempts[0] {
						require.Equal(t, p != 2, off > 0, "partition %d starts at %d (the last partition starts empty)", p, off)
					}
				}
			})
		}
	}
}

// startup-mode-on-restore applies LATEST again at a restore: what arrived
// since the checkpoint is skipped, a silent loss; under EARLIEST it replays
// what the checkpoint committed (duplicates).
func TestStartupModeOnRestoreIsCaught(t *testing.T) {
	for _, mode := range []string{"latest", "earliest"} {
		p := faults.Plan{Version: faults.PlanVersion, Protocol: "startup-mode-on-restore", Seed: 3,
			Workload: faults.Workload{Partitions: 3, Parallelism: 1, Records: 60, LateRecords: 40, KeysPerPartition: 1,
				CheckpointIntervalMS: 3, StartupMode: mode},
			Faults: []faults.Op{{Fault: "crash-after-precommit", Hit: 2}}}
		res := RunPlan(t, p)
		require.True(t, res.Failed(), mode)
		kinds := strings.Join(ViolatedKinds(res), ",")
		if mode == "latest" {
			require.Contains(t, kinds, "silent-loss")
		} else {
			require.Contains(t, kinds, "duplicate")
		}
		p.Protocol = "two-phase-commit"
		require.False(t, RunPlan(t, p).Failed(), "the correct protocol passes the same plan (%s)", mode)
	}
}

// Swarm runs draw the startup mode where the workload leaves it open, half
// of them group-offsets; a drawn latest has at least 3/5 of the records late;
// every drawn workload validates; a given mode is kept.
func TestDrawnStartup(t *testing.T) {
	modes := map[string]int{}
	for k := range 400 {
		w := faults.DefaultWorkload()
		drawStartup(&w, RunSeed(13, k))
		require.NoError(t, w.Validate())
		modes[w.StartupMode]++
		if w.StartupMode == "latest" {
			require.GreaterOrEqual(t, w.LateRecords, w.Records*3/5)
		}
	}
	require.InDelta(t, 200, modes[""], 40)
	for _, m := range []string{"earliest", "latest", "specific-offsets", "timestamp"} {
		require.InDelta(t, 50, modes[m], 25, m)
	}
	w := faults.DefaultWorkload()
	w.StartupMode = "latest"
	drawStartup(&w, 1)
	require.Equal(t, faults.DefaultWorkload().LateRecords, w.LateRecords)
}
