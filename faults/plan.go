package faults

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
)

// PlanVersion is the version of the plan file format.
const PlanVersion = 1

// Workload is the scenario's shape: what input exists and how the job runs.
type Workload struct {
	Partitions           int `json:"partitions"`
	Parallelism          int `json:"parallelism"`
	Records              int `json:"records"`
	KeysPerPartition     int `json:"keys_per_partition"`
	CheckpointIntervalMS int `json:"checkpoint_interval_ms"`
	// LateRecords of the Records arrive while the job runs (a producer in
	// virtual time); the last partition then starts empty.
	LateRecords int `json:"late_records,omitempty"`
}

// DefaultWorkload is the default scenario: 1,000 records over 4 partitions,
// 200 of them arriving while the job runs, a checkpoint every 100 ms of
// virtual time (1 ms a record).
func DefaultWorkload() Workload {
	return Workload{Partitions: 4, Parallelism: 1, Records: 1000, KeysPerPartition: 3, CheckpointIntervalMS: 100, LateRecords: 200}
}

// Validate reports the first field out of range, naming it.
func (w Workload) Validate() error {
	switch {
	case w.Partitions < 1 || w.Partitions > 64:
		return fmt.Errorf("partitions must be 1..64, got %d", w.Partitions)
	case w.Parallelism < 1 || w.Parallelism > w.Partitions:
		return fmt.Errorf("parallelism must be 1..partitions (%d), got %d", w.Partitions, w.Parallelism)
	case w.Records < 0 || w.Records > 1_000_000:
		return fmt.Errorf("records must be 0..1000000, got %d", w.Records)
	case w.KeysPerPartition < 1 || w.KeysPerPartition > 1000:
		return fmt.Errorf("keys_per_partition must be 1..1000, got %d", w.KeysPerPartition)
	case w.CheckpointIntervalMS < 1 || w.CheckpointIntervalMS > 600_000:
		return fmt.Errorf("checkpoint_interval_ms must be 1..600000, got %d", w.CheckpointIntervalMS)
	case w.LateRecords < 0 || w.LateRecords > w.Records:
		return fmt.Errorf("late_records must be 0..records (%d), got %d", w.Records, w.LateRecords)
	}
	return nil
}

// Op is one planned fault. A crash point fires the Hit-th time (1-based,
// counted over the whole run) the job reaches that point; the job then stays
// down for RestartDelayMS of virtual time. Every other fault fires at the
// Hit-th checkpoint the run triggers; Count is how many requests a broker
// fault affects (0: the fault's default).
type Op struct {
	Fault          string `json:"fault"`
	Hit            int    `json:"hit"`
	RestartDelayMS int    `json:"restart_delay_ms"`
	Count          int    `json:"count,omitempty"`
	// Phase aims a broker fault at a protocol step (see Phases): armed at
	// the Hit-th trigger, it fires when the run next reaches the phase.
	Phase string `json:"phase,omitempty"`
}

// Plan is a replayable scenario: protocol, seed, workload and faults.
type Plan struct {
	Version  int      `json:"version"`
	Protocol string   `json:"protocol"`
	Seed     uint64   `json:"seed"`
	Workload Workload `json:"workload"`
	Faults   []Op     `json:"faults"`
	// LoseNotifications: the scheduler loses notifications now and then even
	// when no fault remains (exhaustive plans, to reach crash-mid-commit).
	LoseNotifications bool `json:"lose_notifications,omitempty"`
	// RearmUnfired: an op that has not fired by the first checkpoint
	// triggered after all input was processed is re-armed for its next
	// chance (a crash at the next arrival at its point, any other fault at
	// that trigger), up to MaxRearms times, before the run may end. Drawn
	// plans set it, so that a drawn fault is not wasted on a hit past the
	// end of the run; a hand-written plan fires exactly where it says.
	RearmUnfired bool `json:"rearm_unfired,omitempty"`
	// Replay is the command that replays this plan (informational).
	Replay string `json:"replay,omitempty"`
}

// MaxRearms bounds how many extra checkpoint rounds RearmUnfired may add.
const MaxRearms = 3

// Validate checks the plan's fields and fault names.
func (p Plan) Validate() error {
	if p.Version != PlanVersion {
		return fmt.Errorf("plan version %d is not supported (want %d)", p.Version, PlanVersion)
	}
	if err := p.Workload.Validate(); err != nil {
		return fmt.Errorf("plan workload: %w", err)
	}
	for i, op := range p.Faults {
		_, ok := Lookup(op.Fault)
		switch {
		case !ok:
			return fmt.Errorf("plan fault %d: unknown fault %q", i, op.Fault)
		case op.Hit < 1:
			return fmt.Errorf("plan fault %d (%s): hit must be at least 1, got %d", i, op.Fault, op.Hit)
		case op.RestartDelayMS < 0:
			return fmt.Errorf("plan fault %d (%s): restart_delay_ms must not be negative", i, op.Fault)
		case op.Count < 0 || op.Count > 1000:
			return fmt.Errorf("plan fault %d (%s): count must be 0..1000, got %d", i, op.Fault, op.Count)
		case op.Fault == "rescale" && (op.Count < 1 || op.Count > p.Workload.Partitions):
			return fmt.Errorf("plan fault %d (rescale): count is the new parallelism, 1..partitions (%d), got %d", i, p.Workload.Partitions, op.Count)
		}
		if err := validatePhase(i, op); err != nil {
			return err
		}
	}
	return nil
}

// Marshal renders the plan as indented JSON.
func (p Plan) Marshal() []byte {
	b, _ := json.MarshalIndent(p, "", "  ")
	return append(b, '\n')
}

// ParsePlan decodes and validates a plan; unknown fields are errors so a
// typo in a hand-edited plan is not silently ignored.
func ParsePlan(data []byte) (Plan, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var p Plan
	if err := dec.Decode(&p); err != nil {
		return Plan{}, fmt.Errorf("parse plan: %w", err)
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); err != io.EOF {
		return Plan{}, fmt.Errorf("parse plan: unexpected data after the plan object")
	}
	if err := p.Validate(); err != nil {
		return Plan{}, err
	}
	return p, nil
}

// ReadPlan reads and parses a plan file.
func ReadPlan(path string) (Plan, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Plan{}, fmt.Errorf("read plan: %w", err)
	}
	p, err := ParsePlan(data)
	if err != nil {
		return Plan{}, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// weights favour the window between a checkpoint's snapshot and its commit,
// where exactly-once protocols break; other faults are rarer.
var weights = map[string]int{
	"crash-before-snapshot":         2,
	"crash-after-source-snapshot":   4,
	"crash-after-precommit":         8,
	"crash-after-ack":               6,
	"crash-after-checkpoint-stored": 8,
	"crash-mid-commit":              4,
	"crash-after-commit":            6,
	"crash-during-recovery":         4,
	"lost-ack-produce":              2,
	"lost-ack-endtxn":               3,
	"lost-ack-txn-offset-commit":    2,
	"not-coordinator":               2,
	"coordinator-loading":           2,
	"concurrent-transactions":       2,
	"endtxn-rejected":               3,
	"produce-rejected":              3,
	"outage-beyond-txn-timeout":     4,
	"outage-beyond-txn-id-expiry":   4,
	"checkpoint-timeout":            3,
	"checkpoint-write-lost":         3,
	"rescale":                       10,
	"zombie":                        6,
	"leader-move":                   3,
	"coordinator-move":              3,
}

// RandomFaults draws 1 to 3 faults from the enabled set. checkpoints is
// about how many checkpoints the workload takes, which bounds the hit counts;
// maxParallelism bounds a rescale.
//
// Swarm testing, as in FoundationDB's and TigerBeetle's simulators: each
// plan first draws which of the enabled faults it may use (each with
// probability 1/2, at least one), so that rare combinations are reached and
// a fault is not always diluted by all the others.
func RandomFaults(rng *rand.Rand, enabled []string, checkpoints, parallelism, maxParallelism int) []Op {
	var candidates []string
	for _, name := range enabled {
		if _, ok := weights[name]; ok {
			candidates = append(candidates, name)
		}
	}
	if len(candidates) == 0 {
		return nil
	}
	var pool []string
	total := 0
	for _, name := range candidates {
		if rng.IntN(2) == 0 {
			pool = append(pool, name)
			total += weights[name]
		}
	}
	if len(pool) == 0 {
		pool = []string{candidates[rng.IntN(len(candidates))]}
		total = weights[pool[0]]
	}
	if total == 0 {
		return nil
	}
	n := 1 + rng.IntN(3)
	ops := make([]Op, 0, n)
	for range n {
		x := rng.IntN(total)
		name := pool[len(pool)-1]
		for _, c := range pool {
			if x < weights[c] {
				name = c
				break
			}
			x -= weights[c]
		}
		span := max(1, checkpoints)
		switch name {
		case "crash-mid-commit":
			span = 2 // reached only after a lost notification (aimed at in drawn plans)
		case "crash-during-recovery":
			span = 4 // consulted twice per restore
		case "crash-before-snapshot", "crash-after-source-snapshot", "crash-after-precommit", "crash-after-commit":
			span *= parallelism // reached once per subtask
		}
		op := Op{Fault: name, Hit: 1 + rng.IntN(span)}
		if info, _ := Lookup(name); info.IsCrash() {
			op.RestartDelayMS = rng.IntN(2000)
		}
		if name == "rescale" {
			op.Count = 1 + rng.IntN(max(1, maxParallelism))
		}
		ops = append(ops, op)
	}
	// crash-during-recovery is consulted twice per sink subtask and restore:
	// aim it at a restore the plan makes (the first start, and one per op
	// that restarts the job), so that its hit is reachable.
	restarts := 0
	for _, op := range ops {
		if restartsJob(op.Fault) {
			restarts++
		}
	}
	for i := range ops {
		if ops[i].Fault == "crash-during-recovery" {
			ops[i].Hit = 1 + rng.IntN(2*max(1, parallelism)*(1+restarts))
		}
	}
	aimPhases(rng, ops)
	slices.SortStableFunc(ops, func(a, b Op) int { return a.Hit - b.Hit })
	return ops
}

// restartsJob reports whether a fault ends the job attempt, so that a new
// one restores from the store.
func restartsJob(name string) bool {
	info, _ := Lookup(name)
	return (info.IsCrash() && name != "crash-during-recovery") || name == "rescale" || name == "zombie" ||
		name == "outage-beyond-txn-timeout" || name == "outage-beyond-txn-id-expiry"
}
