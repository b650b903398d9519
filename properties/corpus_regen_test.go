package properties

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/faults"
	"github.com/eosim/eosim/sim"
)

var regenFlag = flag.Bool("properties.regen", false,
	"rewrite the regression corpus (testdata/corpus) for the current engine instead of testing; review the diff before committing")

// cleanSpecs are the corpus's plans of correct and weaker protocols: crashes
// at the points where exactly-once breaks. A spec is written with the first
// seed on which every planned fault fires (and, for at-least-once, the
// crashes make it duplicate).
var cleanSpecs = []struct {
	name, protocol string
	parallelism    int
	ops            []faults.Op
	// shape, when set, changes the spec's workload (topology, startup).
	shape func(*faults.Workload)
}{
	{"clean-2pc-crash-after-checkpoint-stored", "two-phase-commit", 1, []faults.Op{{Fault: "crash-after-checkpoint-stored", Hit: 2, RestartDelayMS: 300}}, nil},
	{"clean-2pc-crash-mid-commit", "two-phase-commit", 1, []faults.Op{{Fault: "crash-mid-commit", Hit: 1, RestartDelayMS: 100}}, nil},
	{"clean-2pc-crash-during-recovery", "two-phase-commit", 1, []faults.Op{{Fault: "crash-after-checkpoint-stored", Hit: 1, RestartDelayMS: 100}, {Fault: "crash-during-recovery", Hit: 2, RestartDelayMS: 200}}, nil},
	{"clean-2pc-crash-after-ack-then-after-commit", "two-phase-commit", 1, []faults.Op{{Fault: "crash-after-ack", Hit: 2}, {Fault: "crash-after-commit", Hit: 3, RestartDelayMS: 500}}, nil},
	{"clean-2pc-crash-before-first-checkpoint", "two-phase-commit", 1, []faults.Op{{Fault: "crash-before-snapshot", Hit: 1, RestartDelayMS: 1000}}, nil},
	{"clean-2pc-crash-after-precommit", "two-phase-commit", 1, []faults.Op{{Fault: "crash-after-precommit", Hit: 3, RestartDelayMS: 50}}, nil},
	{"clean-2pc-parallel-crash-after-precommit", "two-phase-commit", 3, []faults.Op{{Fault: "crash-after-precommit", Hit: 4, RestartDelayMS: 50}, {Fault: "crash-mid-commit", Hit: 1}}, nil},
	{"clean-offsets-in-txn-crash-after-checkpoint-stored", "offsets-in-txn", 2, []faults.Op{{Fault: "crash-after-checkpoint-stored", Hit: 2, RestartDelayMS: 300}, {Fault: "crash-during-recovery", Hit: 1}}, nil},
	{"clean-at-least-once-crash-after-precommit", "at-least-once", 1, []faults.Op{{Fault: "crash-after-precommit", Hit: 2, RestartDelayMS: 100}, {Fault: "crash-after-commit", Hit: 4, RestartDelayMS: 100}}, nil},
	// KafkaSourceITCase.testRedundantParallelism: more source subtasks than
	// partitions; the idle ones take every barrier, their sinks may
	// pre-commit empty transactions, and a crash restores them.
	{"clean-2pc-idle-subtasks", "two-phase-commit", 5, []faults.Op{{Fault: "crash-after-precommit", Hit: 7, RestartDelayMS: 50}, {Fault: "crash-mid-commit", Hit: 1}},
		func(w *faults.Workload) { w.OutputPartitions = 2 }},
	// A stop-with-savepoint that fails (a crash after a sink committed its
	// part of the savepoint: restore from the savepoint), then one that
	// completes: drain, savepoint, commits, orderly stop, restore from it.
	{"clean-2pc-stop-with-savepoint", "two-phase-commit", 2, stopThenStop, nil},
	{"clean-offsets-in-txn-stop-with-savepoint", "offsets-in-txn", 2, stopThenStop, nil},
	{"clean-offsets-in-txn-idle-subtasks", "offsets-in-txn", 4, []faults.Op{{Fault: "crash-after-checkpoint-stored", Hit: 2, RestartDelayMS: 300}, {Fault: "rescale", Hit: 4, Count: 6}},
		func(w *faults.Workload) { w.OutputPartitions = 5 }},
	// A region fails and restores alone (forward topology) while the
	// others run on; the second one meets the other subtasks' transactions
	// still pending from a timed-out checkpoint (the abort-prefix-lingering
	// variant aborts them there).
	{"clean-2pc-region-failover", "two-phase-commit", 3, []faults.Op{{Fault: "region-failover", Hit: 3, RestartDelayMS: 150, Count: 1}}, forward},
	{"clean-2pc-region-failover-pending", "two-phase-commit", 3, []faults.Op{{Fault: "checkpoint-timeout", Hit: 2}, {Fault: "region-failover", Hit: 3, RestartDelayMS: 150, Count: 1}}, forward},
	// Jepsen's delayed requests (Bufstream 0.1.0) against the correct
	// protocols, with and without KIP-890's versions: a fresh
	// transactional id per transaction leaves a late EndTxn or Produce
	// nothing to end or join.
	{"clean-2pc-delayed-endtxn-pre-kip-890", "two-phase-commit", 1, []faults.Op{{Fault: "delayed-endtxn", Hit: 2}}, preKIP890},
	{"clean-2pc-delayed-produce-pre-kip-890", "two-phase-commit", 1, []faults.Op{{Fault: "delayed-produce", Hit: 2}}, preKIP890},
	{"clean-offsets-in-txn-delayed-endtxn-and-produce", "offsets-in-txn", 2, []faults.Op{{Fault: "delayed-endtxn", Hit: 2}, {Fault: "delayed-produce", Hit: 3}}, nil},
	// KafkaSourceLegacyITCase.testStartFromLatestOffsets: the job reads only
	// what arrives after its first start; a crash before the first
	// checkpoint restarts from the first start's positions (the startup
	// record), a later one from the checkpoint, never from the end again.
	{"clean-2pc-startup-latest", "two-phase-commit", 2, []faults.Op{{Fault: "crash-before-snapshot", Hit: 1, RestartDelayMS: 300}, {Fault: "crash-after-checkpoint-stored", Hit: 2, RestartDelayMS: 200}},
		func(w *faults.Workload) { w.StartupMode, w.LateRecords = "latest", 120 }},
	{"clean-offsets-in-txn-startup-latest", "offsets-in-txn", 2, []faults.Op{{Fault: "crash-before-snapshot", Hit: 1, RestartDelayMS: 300}, {Fault: "crash-after-checkpoint-stored", Hit: 2, RestartDelayMS: 200}},
		func(w *faults.Workload) { w.StartupMode, w.LateRecords = "latest", 120 }},
	// testStartFromSpecificOffsets: partition 0 from offset 19, partition
	// 1 unset and partition 2 past its end, both from the earliest.
	{"clean-2pc-startup-specific-offsets", "two-phase-commit", 2, []faults.Op{{Fault: "crash-after-precommit", Hit: 3, RestartDelayMS: 100}},
		func(w *faults.Workload) {
			w.StartupMode, w.StartupOffsets, w.LateRecords = "specific-offsets", []int64{19, -1, 500}, 40
		}},
	// testStartFromTimestamp: each partition from its first record stamped
	// at or after record 80's time.
	{"clean-2pc-startup-timestamp", "two-phase-commit", 1, []faults.Op{{Fault: "crash-after-checkpoint-stored", Hit: 2, RestartDelayMS: 100}},
		func(w *faults.Workload) { w.StartupMode, w.StartupTimestampMS, w.LateRecords = "timestamp", 80, 40 }},
	// Operator actions (FlinkKafkaProducerITCase
	// testRestoreUsingDifferentTransactionalIdPrefix,
	// testMigrateFromAtExactlyOnceToAtLeastOnce,
	// testMigrateFromAtLeastOnceToExactlyOnce).
	{"clean-2pc-new-txn-prefix", "two-phase-commit", 2, []faults.Op{{Fault: "new-txn-prefix", Hit: 3}, {Fault: "new-txn-prefix", Hit: 6}}, nil},
	{"clean-2pc-new-txn-prefix-crash-during-recovery", "two-phase-commit", 2, []faults.Op{{Fault: "new-txn-prefix", Hit: 3}, {Fault: "crash-during-recovery", Hit: 6, RestartDelayMS: 100}}, nil},
	{"clean-offsets-in-txn-new-txn-prefix", "offsets-in-txn", 2, []faults.Op{{Fault: "new-txn-prefix", Hit: 3}, {Fault: "crash-after-checkpoint-stored", Hit: 5, RestartDelayMS: 100}}, nil},
	{"clean-2pc-switch-guarantee", "two-phase-commit", 2, []faults.Op{{Fault: "switch-guarantee", Hit: 3}, {Fault: "switch-guarantee", Hit: 6}}, nil},
	{"clean-offsets-in-txn-switch-guarantee", "offsets-in-txn", 2, []faults.Op{{Fault: "switch-guarantee", Hit: 3}, {Fault: "crash-after-checkpoint-stored", Hit: 4, RestartDelayMS: 100}, {Fault: "switch-guarantee", Hit: 6}}, nil},
	{"clean-at-least-once-switch-guarantee", "at-least-once", 1, []faults.Op{{Fault: "switch-guarantee", Hit: 3}, {Fault: "crash-after-checkpoint-stored", Hit: 2, RestartDelayMS: 100}}, nil},
	// A new job from a retained checkpoint older than the latest
	// (ResumeCheckpointManuallyITCase; FlinkKafkaProducerITCase
	// testFailAndRecoverSameCheckpointTwice restores one snapshot twice):
	// a crash during its recovery restores the same checkpoint again.
	{"clean-2pc-restore-retained-checkpoint", "two-phase-commit", 2, []faults.Op{{Fault: faults.RestoreRetainedCheckpoint, Hit: 5, Count: 2}, {Fault: "crash-during-recovery", Hit: 6, RestartDelayMS: 100}}, longer},
	{"clean-offsets-in-txn-restore-retained-checkpoint", "offsets-in-txn", 2, []faults.Op{{Fault: faults.RestoreRetainedCheckpoint, Hit: 5, Count: 2}, {Fault: "crash-during-recovery", Hit: 6, RestartDelayMS: 100}}, longer},
	{"clean-2pc-pooled-ids-restore-retained-checkpoint", "two-phase-commit-pooled-ids", 2, []faults.Op{{Fault: faults.RestoreRetainedCheckpoint, Hit: 5, Count: 3}},
		func(w *faults.Workload) { longer(w); w.ProducerPoolSize = 10 }},
}

func forward(w *faults.Workload) { w.Topology = faults.TopologyForward }

// longer triples a spec's records: enough checkpoints to go several back.
func longer(w *faults.Workload) { w.Records = 600 }

// preKIP890 pins a spec's clients below KIP-890 part 2.
func preKIP890(w *faults.Workload) { w.RequestVersions = faults.RequestVersionsPreKIP890 }

var stopThenStop = []faults.Op{
	{Fault: "stop-with-savepoint", Hit: 2, RestartDelayMS: 300},
	{Fault: "crash-after-commit", Hit: 1, RestartDelayMS: 100, Phase: faults.PhaseStop},
	{Fault: "stop-with-savepoint", Hit: 4, RestartDelayMS: 500},
}

var regenOnly = flag.String("properties.regen.only", "",
	"with -properties.regen: rewrite only these comma-separated corpus plans (names without .json)")

// regenerates reports whether -properties.regen.only lets name be rewritten.
func regenerates(name string) bool {
	return *regenOnly == "" || slices.Contains(strings.Split(*regenOnly, ","), name)
}

// TestRegenerateCorpus rewrites the corpus: for every known-bad variant the
// first catch of a default campaign (base seed 1), shrunk against the
// correct protocol, and the clean plans above.
//
//	go test ./properties -run TestRegenerateCorpus -properties.regen -v
func TestRegenerateCorpus(t *testing.T) {
	if !*regenFlag {
		t.Skip("pass -properties.regen to rewrite testdata/corpus")
	}
	all, err := faults.Resolve("all")
	require.NoError(t, err)
	write := func(name string, p faults.Plan) {
		p.Replay = "go run ./cmd/simrun replay --plan testdata/corpus/" + name + ".json"
		require.NoError(t, os.WriteFile(filepath.Join(corpusDir, name+".json"), p.Marshal(), 0o644))
	}
	for _, proto := range engine.Protocols() {
		if proto.Kind != engine.KindKnownBad || !regenerates(proto.Name) {
			continue
		}
		w := faults.DefaultWorkload()
		w.Parallelism = 0 // drawn per run, as campaigns do
		opts := sim.Options{Protocol: proto.Name, Workload: w, Faults: all}
		so := sim.ShrinkOptions{Contrast: sim.DefaultContrast(proto.Name), MaxRuns: 1500}
		done := false
		for k := 0; k < 500 && !done; k++ {
			opts.Seed = sim.RunSeed(1, k)
			if !sim.Run(t, opts).Failed() {
				continue
			}
			res, err := sim.Shrink(t, opts, so)
			if errors.Is(err, sim.ErrContrastFails) || (err == nil && !res.Replayed) {
				continue
			}
			require.NoError(t, err)
			write(proto.Name, res.Plan)
			t.Logf("%s: run %d: %s -> %s (%v)", proto.Name, k, res.Before, res.After, res.Kinds)
			done = true
		}
		if !done {
			t.Errorf("%s: no catch in 500 runs to shrink", proto.Name)
		}
	}
	for _, spec := range cleanSpecs {
		if !regenerates(spec.name) {
			continue
		}
		w := faults.Workload{Partitions: 3, Parallelism: spec.parallelism, Records: 200, KeysPerPartition: 2, CheckpointIntervalMS: 20}
		if spec.shape != nil {
			spec.shape(&w)
		}
		done := false
		for seed := uint64(1); seed < 300 && !done; seed++ {
			p := faults.Plan{Version: faults.PlanVersion, Protocol: spec.protocol, Seed: seed, Workload: w, Faults: spec.ops}
			r := sim.RunPlan(t, p)
			fired := 0
			for _, n := range r.Crashes {
				fired += n
			}
			for _, n := range r.Faults {
				fired += n
			}
			if r.HarnessError != "" || r.Failed() || fired < len(spec.ops) ||
				(spec.protocol == "at-least-once" && r.Check.Counts["duplicate"] == 0) {
				continue
			}
			write(spec.name, p)
			t.Logf("%s: seed %d", spec.name, seed)
			done = true
		}
		if !done {
			t.Errorf("%s: no seed on which every fault fires cleanly", spec.name)
		}
	}
}
