// Package properties holds eosim's property suites: gopter generators for
// workloads and fault plans, shrinkers that reduce a failing case to a
// minimal one, and (in its tests) the properties themselves, a stateful
// command test that drives the engine directly, the regression corpus
// replay and a native fuzz target.
//
// The generators and shrinkers are exported so other suites can reuse
// them; the shrink steps themselves live in package sim (ShrinkCandidates,
// WorkloadCandidates, FaultCandidates, OpCandidates) so that `simrun
// shrink` and these suites reduce cases the same way.
package properties

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/leanovate/gopter"
	"github.com/leanovate/gopter/gen"

	"github.com/eosim/eosim/faults"
	"github.com/eosim/eosim/sim"
)

// Case is one generated scenario: a seed for the scheduler and the input
// (the seed's choices), a workload and an explicit fault plan.
type Case struct {
	Seed     uint64
	Workload faults.Workload
	Faults   []faults.Op
}

// Plan is the case as a replayable plan of protocol.
func (c Case) Plan(protocol string) faults.Plan {
	return faults.Plan{Version: faults.PlanVersion, Protocol: protocol, Seed: c.Seed,
		Workload: c.Workload, Faults: append([]faults.Op(nil), c.Faults...)}
}

// CaseOf turns a plan back into a case.
func CaseOf(p faults.Plan) Case {
	return Case{Seed: p.Seed, Workload: p.Workload, Faults: append([]faults.Op(nil), p.Faults...)}
}

// String renders the case on one line, as gopter reports it.
func (c Case) String() string {
	w := c.Workload
	var ops []string
	for _, op := range c.Faults {
		s := fmt.Sprintf("%s@%d", op.Fault, op.Hit)
		if op.RestartDelayMS > 0 {
			s += fmt.Sprintf("(down %dms)", op.RestartDelayMS)
		}
		if op.Count > 0 {
			s += fmt.Sprintf("(count %d)", op.Count)
		}
		if op.Phase != "" {
			s += "(phase " + op.Phase + ")"
		}
		ops = append(ops, s)
	}
	topology := ""
	if w.Topology != "" {
		topology = " topology=" + w.Topology
	}
	if w.OutputPartitions != 0 {
		topology += fmt.Sprintf(" output_partitions=%d", w.OutputPartitions)
	}
	if w.StartupMode != "" {
		topology += " startup=" + w.StartupMode
	}
	if len(w.StartupOffsets) > 0 {
		topology += fmt.Sprintf("%v", w.StartupOffsets)
	}
	if w.StartupTimestampMS != 0 {
		topology += fmt.Sprintf("@%dms", w.StartupTimestampMS)
	}
	return fmt.Sprintf("seed=%d partitions=%d parallelism=%d records=%d late=%d keys=%d interval=%dms concurrent=%d pool=%d%s faults=[%s]",
		c.Seed, w.Partitions, w.Parallelism, w.Records, w.LateRecords, w.KeysPerPartition, w.CheckpointIntervalMS,
		max(1, w.MaxConcurrentCheckpoints), w.ProducerPoolSize, topology, strings.Join(ops, ", "))
}

// GenConfig bounds what the generators produce.
type GenConfig struct {
	MaxPartitions int
	// MaxParallelism bounds the job's parallelism: the generator draws it
	// in 1..min(MaxParallelism, partitions), and a rescale's new
	// parallelism likewise.
	MaxParallelism int
	MaxRecords     int
	MaxKeys        int
	// MinIntervalMS and MaxIntervalMS bound the checkpoint interval.
	MinIntervalMS, MaxIntervalMS int
	// Faults are the fault names ops are drawn from.
	Faults []string
	// MaxFaults bounds the ops of one plan (0..MaxFaults).
	MaxFaults int
	// MaxDelayMS bounds a crash's restart delay.
	MaxDelayMS int
	// Focus, when set, is a fault drawn for about one op in four, the
	// others from Faults (it need not be among them): a search aimed at a
	// variant that only that fault reaches (RevealedBy).
	Focus string
}

// DefaultGenConfig draws small scenarios over every implemented fault of
// the default set ("all": opt-in faults excluded) but
// restore-retained-checkpoint, with checkpoint intervals from 10 to 200 ms
// of virtual time. restore-retained-checkpoint's variant gets it
// (RevealedBy); swarm campaigns draw it.
func DefaultGenConfig() GenConfig {
	all, err := faults.Resolve("all")
	if err != nil {
		panic(err)
	}
	all = slices.DeleteFunc(all, func(f string) bool { return f == faults.RestoreRetainedCheckpoint })
	return GenConfig{MaxPartitions: 4, MaxParallelism: sim.MaxParallelism(4), MaxRecords: 300, MaxKeys: 4,
		MinIntervalMS: 10, MaxIntervalMS: 200, Faults: all, MaxFaults: 3, MaxDelayMS: 2000}
}

// RevealedBy maps a known-bad variant whose bug only one fault reaches
// (an operator action, or a fault left out of DefaultGenConfig) to that
// fault: its sensitivity search focuses on it (GenConfig.Focus). Among the
// 30-odd faults of the default set, drawn evenly, the search's catch
// depended on the one gopter seed: switch-aborts-pending went uncaught in
// 300 cases once delayed-endtxn joined the default set, as it did in 600
// when another fault joined before. recycled-producer-pre-kip-890 is torn
// by delayed-endtxn (its corpus plan has that one fault); otherwise it is
// caught only when a restore resume-commits a recycled id.
var RevealedBy = map[string]string{
	"retained-restore-group-offsets":      faults.RestoreRetainedCheckpoint,
	"recycled-producer-pre-kip-890":       "delayed-endtxn",
	"switch-aborts-pending":               "switch-guarantee",
	"abort-current-prefix-only":           "new-txn-prefix",
	"flink-26783-failover-past-savepoint": "stop-with-savepoint",
}

// checkpointsOf is about how many checkpoints w takes (1 ms a record).
func checkpointsOf(w faults.Workload) int {
	return w.Records / max(1, w.Parallelism) / max(1, w.CheckpointIntervalMS)
}

// GenWorkload generates workloads within cfg, shrinking with ShrinkWorkload.
// Up to half of the records arrive late, while the job runs; up to 3/16
// more are written in transactions the harness aborts. The topology
// and the source's startup mode are drawn as swarm runs draw them (sim's
// drawTopology and drawStartup): one or two idle source subtasks in 1 case
// in 4, another output partition count in about 1 in 3, and a startup mode
// other than group-offsets in half the cases.
func GenWorkload(cfg GenConfig) gopter.Gen {
	return gopter.CombineGens(
		gen.IntRange(1, cfg.MaxPartitions),
		gen.IntRange(1, max(1, cfg.MaxParallelism)),
		gen.IntRange(1, cfg.MaxRecords),
		gen.IntRange(1, cfg.MaxKeys),
		gen.IntRange(cfg.MinIntervalMS, cfg.MaxIntervalMS),
		gen.IntRange(0, 4),
		gen.IntRange(0, 9),
		gen.IntRange(0, 2),
		gen.IntRange(0, 7),                                              // idle source subtasks: 0 one, 1 two
		gen.IntRange(0, 3*(cfg.MaxPartitions+2)),                        // output partitions, beyond partitions+2: as many as the input
		gen.IntRange(0, 7),                                              // startup mode
		gen.SliceOfN(max(1, cfg.MaxPartitions), gen.IntRange(-25, 125)), // specific offsets, % of a partition's records (negative: unset)
		gen.IntRange(0, 75),                                             // startup timestamp, % of the records there at the start
		gen.IntRange(0, 3),                                              // aborted input, sixteenths of the records
	).Map(func(v []interface{}) faults.Workload {
		p, records := v[0].(int), v[2].(int)
		concurrent := sim.ConcurrentCheckpointsOf(v[6].(int))
		w := faults.Workload{Partitions: p, Parallelism: min(p, v[1].(int)), Records: records,
			KeysPerPartition: v[3].(int), CheckpointIntervalMS: v[4].(int),
			LateRecords: records * v[5].(int) / 8, MaxConcurrentCheckpoints: concurrent,
			ProducerPoolSize: sim.ProducerPoolSizeFor(concurrent, v[7].(int)), AbortedInput: records * v[13].(int) / 16}
		if idle := v[8].(int); idle < 2 {
			w.Parallelism = p + 1 + idle
		}
		if out := v[9].(int); out >= 1 && out <= p+2 && out != p {
			w.OutputPartitions = out
		}
		sim.StartupChoice{Mode: v[10].(int), OffsetPercents: v[11].([]int), TimestampPercent: v[12].(int)}.Apply(&w)
		return w
	}).WithShrinker(ShrinkWorkload)
}

// GenOp generates one fault of cfg.Faults for a run of about checkpoints
// checkpoints: a crash point's hit counts the times the job reaches it
// (once per subtask for the per-subtask points), any other fault's hit the
// checkpoints triggered. Only crashes have a restart delay; a rescale's
// count is the new parallelism, a retained restore's how far back.
func GenOp(cfg GenConfig, w faults.Workload) gopter.Gen {
	checkpoints, parallelism := checkpointsOf(w), w.Parallelism
	names := make([]interface{}, 0, len(cfg.Faults)*4/3+1)
	for _, n := range cfg.Faults {
		if n != cfg.Focus {
			names = append(names, n)
		}
	}
	if cfg.Focus != "" {
		for range max(1, len(names)/3) {
			names = append(names, cfg.Focus)
		}
	}
	return gen.OneConstOf(names...).FlatMap(func(v interface{}) gopter.Gen {
		name := v.(string)
		span := max(1, checkpoints+1)
		switch name {
		case "crash-mid-commit":
			span = 3
		case "crash-during-recovery":
			span = 4 // consulted twice per restore
		case "delayed-produce", "delayed-endtxn":
			// As faults.RandomFaults draws them: a Produce or an EndTxn
			// must follow, and the records stop before the last
			// checkpoints.
			span = max(1, span/(1+parallelism))
		case "crash-before-snapshot", "crash-after-source-snapshot", "crash-after-precommit", "crash-after-commit":
			span *= max(1, parallelism)
		}
		info, _ := faults.Lookup(name)
		maxDelay, minCount, maxCount := 0, 0, 0
		if info.Kind == faults.KindCrash || name == "stop-with-savepoint" {
			maxDelay = cfg.MaxDelayMS
		}
		if name == "rescale" {
			minCount, maxCount = 1, max(1, min(cfg.MaxParallelism, w.Partitions))
		}
		if name == "region-failover" {
			maxDelay, maxCount = cfg.MaxDelayMS, max(0, parallelism-1) // the failing region's index
		}
		if name == faults.RestoreRetainedCheckpoint {
			minCount, maxCount = 1, 3 // checkpoints back, as the swarm draws them
		}
		return gopter.CombineGens(gen.IntRange(1, span), gen.IntRange(0, maxDelay), gen.IntRange(minCount, maxCount)).Map(func(v []interface{}) faults.Op {
			return faults.Op{Fault: name, Hit: v[0].(int), RestartDelayMS: v[1].(int), Count: v[2].(int)}
		})
	}, reflect.TypeOf(faults.Op{}))
}

// GenFaults generates 0..cfg.MaxFaults ops for workload w, shrinking with
// ShrinkFaults.
func GenFaults(cfg GenConfig, w faults.Workload) gopter.Gen {
	if len(cfg.Faults) == 0 {
		return gen.Const([]faults.Op{})
	}
	return gen.IntRange(0, cfg.MaxFaults).FlatMap(func(v interface{}) gopter.Gen {
		// The identity Map drops SliceOfN's length sieve, which would
		// reject every shorter list the shrinker proposes.
		return gopter.CombineGens(gen.SliceOfN(v.(int), GenOp(cfg, w)), gen.IntRange(0, 3)).Map(func(v []interface{}) []faults.Op {
			return aimAtStop(cfg, v[0].([]faults.Op), v[1].(int))
		})
	}, reflect.TypeOf([]faults.Op{})).WithShrinker(ShrinkFaults)
}

// aimAtStop adds, to a generated plan that stops the job with a savepoint,
// a crash aimed at the stop (phase stop) in three draws of four: after a
// sink committed its part of the savepoint (two of them) or after the
// savepoint was stored, as the swarm's plans do (faults.RandomFaults). An
// independent crash almost never lands in the stop's few steps.
func aimAtStop(cfg GenConfig, ops []faults.Op, draw int) []faults.Op {
	if draw == 3 || !slices.ContainsFunc(ops, func(op faults.Op) bool { return op.Fault == "stop-with-savepoint" }) {
		return ops
	}
	crash := "crash-after-commit"
	if draw == 2 {
		crash = "crash-after-checkpoint-stored"
	}
	if !slices.Contains(cfg.Faults, crash) {
		return ops
	}
	return append(ops, faults.Op{Fault: crash, Hit: 1, RestartDelayMS: 100, Phase: faults.PhaseStop})
}

// GenCase generates a seed, a workload and a plan whose hits fit the
// workload, shrinking with ShrinkCase. Only cases whose plan validates are
// kept, so a rule the faults package adds never reaches a property as a
// harness error.
func GenCase(cfg GenConfig) gopter.Gen {
	return GenWorkload(cfg).FlatMap(func(v interface{}) gopter.Gen {
		w := v.(faults.Workload)
		return gopter.CombineGens(gen.UInt64(), GenFaults(cfg, w)).Map(func(v []interface{}) Case {
			c := Case{Seed: v[0].(uint64), Workload: w, Faults: v[1].([]faults.Op)}
			if slices.ContainsFunc(c.Faults, func(op faults.Op) bool { return op.Fault == "region-failover" }) {
				// Only the forward topology has regions smaller than the
				// job (as sim.PlanFor draws it).
				c.Workload.Topology = faults.TopologyForward
			}
			return c
		})
	}, reflect.TypeOf(Case{})).SuchThat(func(c Case) bool {
		return c.Plan("").Validate() == nil
	}).WithShrinker(ShrinkCase)
}

// shrinkList streams values in order.
func shrinkList[T any](vs []T) gopter.Shrink {
	i := 0
	return func() (interface{}, bool) {
		if i >= len(vs) {
			return nil, false
		}
		i++
		return vs[i-1], true
	}
}

// ShrinkWorkload streams smaller workloads: fewer records, partitions,
// keys, subtasks and checkpoints (sim.WorkloadCandidates).
func ShrinkWorkload(v interface{}) gopter.Shrink {
	return shrinkList(sim.WorkloadCandidates(v.(faults.Workload)))
}

// ShrinkFaults streams smaller fault lists: faults dropped, then crashes
// moved earlier, downtimes shortened (sim.FaultCandidates, sim.OpCandidates).
func ShrinkFaults(v interface{}) gopter.Shrink {
	ops := v.([]faults.Op)
	return shrinkList(append(sim.FaultCandidates(ops), sim.OpCandidates(ops)...))
}

// ShrinkCase streams smaller cases in the order `simrun shrink` tries
// them (sim.ShrinkCandidates); each is strictly smaller by sim.SizeOf, so
// shrinking ends.
func ShrinkCase(v interface{}) gopter.Shrink {
	c := v.(Case)
	p := c.Plan("")
	var out []Case
	for _, q := range sim.ShrinkCandidates(p) {
		if sim.SizeOf(q).Less(sim.SizeOf(p)) {
			out = append(out, CaseOf(q))
		}
	}
	return shrinkList(out)
}
