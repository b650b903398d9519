package realtime_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/eosim/eosim/faults"
	"github.com/eosim/eosim/fidelity"
	"github.com/eosim/eosim/model"
	"github.com/eosim/eosim/realtime"
)

type realCase struct {
	protocol string
	crash    string
	hit      int
	// want is the anomaly kind that must be found; "" means clean.
	want string
	// shape, when set, changes the case's workload.
	shape func(*faults.Workload)
}

// realCases: the correct protocols stay clean through crashes at the
// named crash points, and known-bad variants are caught, on a real broker.
//
// Hits count arrivals over all subtasks (parallelism 2: two a checkpoint
// for the per-subtask points) and sit a few checkpoints into the run, so
// that the transactions a crash leaves behind hold records: at the first
// checkpoint, in real time, little input has arrived yet.
var realCases = []realCase{
	{"two-phase-commit", "crash-after-checkpoint-stored", 3, "", nil},
	{"two-phase-commit", "crash-after-precommit", 5, "", nil},
	{"two-phase-commit", "crash-after-commit", 5, "", nil},
	{"two-phase-commit", "crash-during-recovery", 1, "", nil}, // after a first crash, see ops
	{"offsets-in-txn", "crash-after-checkpoint-stored", 3, "", nil},
	{"offsets-in-txn", "crash-after-ack", 5, "", nil},
	{"two-phase-commit", "zombie", 3, "", nil},
	{"offsets-in-txn", "zombie", 3, "", nil},
	{"abort-on-recovery", "crash-after-checkpoint-stored", 3, "lost", nil},
	{"init-before-resume", "crash-after-checkpoint-stored", 3, "silent-loss", nil},
	{"commit-on-snapshot", "crash-after-precommit", 5, "duplicate", nil},
	{"seek-without-plus-one", "crash-after-commit", 5, "duplicate", nil},
}

// optionCases run with every workload option a real run honours set
// away from its default: the plans run as written there.
var optionCases = []realCase{
	{"two-phase-commit", "crash-after-precommit", 5, "", withOptions},
	{"two-phase-commit-pooled-ids", "crash-after-commit", 5, "", withOptions},
	{"commit-on-snapshot", "crash-after-precommit", 5, "duplicate", withOptions},
}

func withOptions(w *faults.Workload) {
	w.OutputPartitions, w.MaxConcurrentCheckpoints, w.ProducerPoolSize = 2, 2, 12
	w.Topology, w.RequestVersions, w.StartupMode = faults.TopologyForward, faults.RequestVersionsPreKIP890, "earliest"
}

func plan(c realCase, seed uint64) faults.Plan {
	p := faults.Plan{Version: faults.PlanVersion, Protocol: c.protocol, Seed: seed,
		Workload: faults.Workload{Partitions: 3, Parallelism: 2, Records: 300, KeysPerPartition: 2, CheckpointIntervalMS: 20},
		Faults:   ops(c)}
	if c.shape != nil {
		c.shape(&p.Workload)
	}
	return p
}

func ops(c realCase) []faults.Op {
	op := faults.Op{Fault: c.crash, Hit: c.hit, RestartDelayMS: 100}
	if c.crash == "crash-during-recovery" {
		// Recovery runs only after a crash: crash with pending
		// transactions first, then again while resuming them.
		return []faults.Op{{Fault: "crash-after-checkpoint-stored", Hit: 3, RestartDelayMS: 100}, op}
	}
	return []faults.Op{op}
}

func runCase(t *testing.T, brokers []string, c realCase) realtime.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	res := realtime.Run(ctx, realtime.Options{Brokers: brokers, Plan: plan(c, 7), Dir: t.TempDir()})
	t.Logf("%s %s hit=%d: verdict %s, violations %d, zombies %d, crashes %d, unfired %v, loud %q, interval %v, wall %v",
		c.protocol, c.crash, c.hit, res.Check.Verdict, len(res.Violations), res.Zombies, res.Crashes, res.Unfired, res.LoudFailure, res.Interval, res.Wall)
	if res.HarnessError != "" {
		t.Fatalf("harness error: %s", res.HarnessError)
	}
	if len(res.Unfired) > 0 {
		t.Fatalf("the planned crash never fired: %v", res.Unfired)
	}
	if c.want == "" {
		if res.Failed() {
			t.Fatalf("violations on a correct protocol: %+v", res.Violations)
		}
	} else if !slices.ContainsFunc(res.Violations, func(a model.Anomaly) bool { return a.Kind == c.want }) {
		t.Fatalf("%s not caught: want a %s anomaly, got %+v", c.protocol, c.want, res.Violations)
	}
	return res
}

// TestRealBroker runs realCases on the real Kafka broker (EOSIM_KAFKA).
func TestRealBroker(t *testing.T) {
	brokers := fidelity.RealBrokers(t)
	for _, c := range realCases {
		t.Run(c.protocol+"/"+c.crash, func(t *testing.T) { runCase(t, brokers, c) })
	}
	for _, c := range optionCases {
		t.Run("options/"+c.protocol+"/"+c.crash, func(t *testing.T) { runCase(t, brokers, c) })
	}
}

// TestOnFakeOverTCP runs a clean and a known-bad case on kfake over
// loopback TCP: the package's own check, without a real broker.
func TestOnFakeOverTCP(t *testing.T) {
	for _, c := range []realCase{realCases[0], realCases[6], realCases[8], optionCases[0]} {
		t.Run(c.protocol, func(t *testing.T) { runCase(t, fidelity.StartFake(t), c) })
	}
}

func TestRejectsSimulationOnlyFaults(t *testing.T) {
	p := plan(realCases[0], 1)
	p.Faults = []faults.Op{{Fault: "leader-move", Hit: 1}}
	if err := realtime.Supported(p); err == nil {
		t.Fatal("leader-move accepted on a real broker")
	}
}
