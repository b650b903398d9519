package sim

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/faults"
	"github.com/eosim/eosim/internal/kfakefix"
	"github.com/eosim/eosim/model"
)

const (
	inputTopic  = "input"
	outputTopic = "output"
	jobName     = "eosim-job"
	brokerPort  = 9092
	// recordCost is the virtual time one record takes to process.
	recordCost = time.Millisecond
	// livenessBound is how long after the start a scenario may take in
	// virtual time before it counts as stalled.
	livenessBound = 30 * time.Minute
	// maxFailures bounds job restarts after non-crash failures in a row,
	// with no checkpoint completed in between: past it the run is a restart
	// loop (stalled). A fault plan fails a correct job at most a few times
	// in a row (one per rejected request); each loop restart costs a restore
	// and new clients, so a bound of 50 in total made a restart loop cost
	// ten ordinary runs.
	maxFailures = 10
	// failureRestartDelay is the fixed-delay restart strategy's delay.
	failureRestartDelay = 200 * time.Millisecond
)

// Options are one scenario: everything that determines its trace.
type Options struct {
	Protocol string
	Seed     uint64
	Workload faults.Workload
	// Faults are the enabled fault names a random plan draws from.
	Faults []string
	// Plan, when set, fixes the faults instead of drawing them.
	Plan *faults.Plan
	// Trace receives the JSON-lines trace; nil keeps only its hash.
	Trace io.Writer
	// KeepEvents keeps the trace events in the Result (for reports).
	KeepEvents bool

	// LoseNotifications lets the scheduler lose notifications even when no
	// planned fault remains (normally they are lost only while faults
	// remain), so that a fault-free run also reaches crash-mid-commit.
	LoseNotifications bool

	recordSites bool // EnumerateCrashes: record every crash-point arrival
}

// Result is what one scenario observed and concluded.
type Result struct {
	Protocol   string          `json:"protocol"`
	Seed       uint64          `json:"seed"`
	Plan       faults.Plan     `json:"plan"`
	Check      model.Result    `json:"check"`
	Violations []model.Anomaly `json:"violations,omitempty"`
	Crashes    map[string]int  `json:"crashes"`
	Faults     map[string]int  `json:"faults"` // non-crash faults fired
	// Unfired are the plan's ops that never fired (a hit the run never
	// reached): the run did not test them.
	Unfired     []faults.Op `json:"unfired,omitempty"`
	Checkpoints int         `json:"checkpoints"`
	Restarts    int         `json:"restarts"`
	// JudgedAs is the weaker guarantee the run was judged by when an
	// operator switched the job to it (switch-guarantee): at-least-once
	// after a switch allows duplicates, never loss.
	JudgedAs    string        `json:"judged_as,omitempty"`
	LoudFailure string        `json:"loud_failure,omitempty"`
	TraceHash   string        `json:"trace_hash"`
	VirtualTime time.Duration `json:"virtual_time_ns"`
	// HarnessError is set when the harness itself failed (verdict unknown).
	HarnessError string       `json:"harness_error,omitempty"`
	Events       []TraceEvent `json:"-"`
	// Records are the input records the anomalies name (with KeepEvents),
	// so that a report can show their keys and values.
	Records map[model.ID]model.InputRecord `json:"-"`

	sites []Site
	// brokerReach is, with recordSites, where the enumerated broker faults
	// meet a request (requestReach).
	brokerReach *requestReach
}

// Failed reports whether the scenario found violations.
func (r Result) Failed() bool { return len(r.Violations) > 0 }

// Run runs one scenario in its own synctest bubble. It must be called from
// a test goroutine (a real test, or simrun's embedded test main).
//
// A scenario that does not finish within wallLimit of real time is wedged
// (for example a goroutine waiting on a mutex held across a timer freezes
// synctest's clock); the process then exits with code 3 and names the
// scenario, rather than hang a campaign or CI forever.
func Run(t *testing.T, opts Options) Result {
	var res Result
	watchdog := time.AfterFunc(wallLimit, func() {
		fmt.Fprintf(os.Stderr, "eosim: scenario protocol=%s seed=%d did not finish within %v of wall time: the harness is wedged; replay it with simrun replay --protocol %s --seed %d and the same options\n",
			opts.Protocol, opts.Seed, wallLimit, opts.Protocol, opts.Seed)
		os.Exit(3)
	})
	defer watchdog.Stop()
	synctest.Test(t, func(t *testing.T) { res = run(opts) })
	return res
}

// wallLimit is the real time one scenario may take (they take
// milliseconds; under the race detector, seconds).
const wallLimit = 3 * time.Minute

// MaxParallelism is the highest parallelism runs draw or rescale to.
func MaxParallelism(partitions int) int { return min(4, partitions) }

// FaultsFor is the enabled faults a protocol's runs draw from. A bounded
// pool of transactional ids is not zombie-safe: a cut-off attempt
// re-initialises pool ids the new attempt uses (Flink's legacy producer
// assumes the old attempt is dead), so its runs draw no zombie. Nor does a
// run draw a fault on a request its job never sends, which could never
// fire (a test that did not run): TxnOffsetCommit faults only where the
// offsets go into the sink's transactions, the transactional requests and
// crash points only for a two-phase sink, and a lost Produce answer not
// where the sink produces with acks=0 (none). An at-least-once job
// switched to exactly-once (switch-guarantee) is therefore drawn without
// them; a plan file may still name them.
func FaultsFor(protocol string, enabled []string) []string {
	proto, err := engine.ProtocolByName(protocol)
	if err != nil {
		return enabled
	}
	return slices.DeleteFunc(slices.Clone(enabled), func(f string) bool {
		switch {
		case f == "zombie":
			return proto.PooledTransactionalIDs
		case f == "lost-ack-txn-offset-commit" || f == "txn-offset-commit-rejected":
			return !proto.OffsetsInSinkTransaction()
		case slices.Contains(twoPhaseOnlyFaults, f):
			return proto.Guarantee != engine.TwoPhaseCommit
		case f == "lost-ack-produce":
			return proto.Guarantee == engine.FireAndForget
		}
		return false
	})
}

// beforeTheSwitch moves a drawn fault on a two-phase sink's requests
// that a switch-guarantee would leave without any (the job runs
// at-least-once from the switch's trigger on) to a trigger before the
// switch, or drops it when the switch is at the first trigger
// (two-phase-commit-pooled-ids seed 8384181590312981616 left
// delayed-endtxn@3 so, aimed at the notify after a switch at 3). Hits
// move by the same rule as the rest of the plan (no new draw), so plans
// without a switch stay as they were.
func beforeTheSwitch(protocol string, ops []faults.Op) []faults.Op {
	proto, err := engine.ProtocolByName(protocol)
	switchAt := slices.IndexFunc(ops, func(op faults.Op) bool { return op.Fault == "switch-guarantee" })
	if err != nil || proto.Guarantee != engine.TwoPhaseCommit || switchAt < 0 {
		return ops
	}
	first := ops[switchAt].Hit
	for _, op := range ops {
		if op.Fault == "switch-guarantee" {
			first = min(first, op.Hit)
		}
	}
	// A restore the two-phase job makes before the switch: the switch's
	// own restore starts the job at-least-once, which sends no EndTxn.
	restoreBefore := slices.ContainsFunc(ops, func(op faults.Op) bool {
		info, _ := faults.Lookup(op.Fault)
		return op.Fault != "switch-guarantee" && info.RestartsJob() && op.Hit < first
	})
	out := ops[:0:0]
	for _, op := range ops {
		info, _ := faults.Lookup(op.Fault)
		if !needsTransactions(op.Fault) || info.IsCrash() {
			out = append(out, op)
			continue
		}
		if op.Hit >= first {
			if first == 1 {
				continue
			}
			op.Hit = 1 + (op.Hit-1)%(first-1)
		}
		if op.Phase == faults.PhaseRecovery && !restoreBefore {
			// Aimed at a restore only the switch makes (two-phase-commit
			// seed 7959383170956389823 left endtxn-rejected@1 so): the
			// next request of its kind instead.
			op.Phase = ""
		}
		out = append(out, op)
	}
	return out
}

// needsTransactions reports whether a fault acts on a request only a
// transactional sink sends (EndTxn, TxnOffsetCommit, ...): a switch to
// at-least-once leaves it nothing to meet.
func needsTransactions(fault string) bool {
	return slices.Contains(twoPhaseOnlyFaults, fault) || fault == "lost-ack-txn-offset-commit" || fault == "txn-offset-commit-rejected"
}

// twoPhaseOnlyFaults act on requests or crash points only a two-phase
// sink reaches: EndTxn, a transactional InitProducerID or
// AddPartitionsToTxn, a commit of two transactions, the resume of pending
// ones at a restore.
var twoPhaseOnlyFaults = []string{
	"lost-ack-endtxn", "delayed-endtxn", "endtxn-rejected", "concurrent-transactions",
	string(engine.CrashMidCommit), string(engine.CrashDuringRecovery),
}

// DrawConcurrentCheckpoints draws max_concurrent_checkpoints for a run:
// 1 (Flink's default) in 7 runs of 10, 2 in 2, 3 in 1.
func DrawConcurrentCheckpoints(rng *rand.Rand) int { return ConcurrentCheckpointsOf(rng.IntN(10)) }

// ConcurrentCheckpointsOf maps a draw of 0..9 to max_concurrent_checkpoints
// (DrawConcurrentCheckpoints; the property generators share it).
func ConcurrentCheckpointsOf(decile int) int {
	switch {
	case decile < 7:
		return 1
	case decile < 9:
		return 2
	}
	return 3
}

// DrawProducerPoolSize draws producer_pool_size for a run of a protocol
// with pooled ids that the run cannot exhaust: an id stays in use while
// its transaction is open, pending or referenced by the latest completed
// checkpoint, so concurrent checkpoints hold up to 1+2c ids, and aborted
// checkpoints and lost notifications (a run under faults loses up to 4 in
// a row) keep more pending: 2c+6 plus 0..2. Exhaustion itself, and
// Flink's default of 5, are tested with explicit plans.
func DrawProducerPoolSize(rng *rand.Rand, concurrent int) int {
	return ProducerPoolSizeFor(concurrent, rng.IntN(3))
}

// ProducerPoolSizeFor is the pool DrawProducerPoolSize draws for extra in
// 0..2.
func ProducerPoolSizeFor(concurrent, extra int) int { return 2*concurrent + 6 + extra }

// PlanFor returns the plan a scenario runs: opts.Plan, or one drawn from the
// seed and the enabled faults.
func PlanFor(opts Options) (faults.Plan, error) {
	if opts.Plan != nil {
		p := *opts.Plan
		p.Protocol, p.Seed = opts.Protocol, opts.Seed
		for i, op := range p.Faults {
			if info, _ := faults.Lookup(op.Fault); info.AppOnly() {
				return p, fmt.Errorf("plan fault %d (%s): applies to applications only (simrun replay --app NAME), not to the engine", i, op.Fault)
			}
		}
		return p, p.Validate()
	}
	p := faults.Plan{Version: faults.PlanVersion, Protocol: opts.Protocol, Seed: opts.Seed, Workload: opts.Workload, RearmUnfired: true}
	drawTopology(&p.Workload, opts.Seed)
	if p.Workload.MaxConcurrentCheckpoints == 0 {
		p.Workload.MaxConcurrentCheckpoints = DrawConcurrentCheckpoints(newRNG(opts.Seed, "concurrent-checkpoints"))
	}
	if proto, err := engine.ProtocolByName(opts.Protocol); err == nil && p.Workload.ProducerPoolSize == 0 && proto.PooledTransactionalIDs {
		p.Workload.ProducerPoolSize = DrawProducerPoolSize(newRNG(opts.Seed, "producer-pool"), p.Workload.MaxConcurrentCheckpoints)
	}
	drawStartup(&p.Workload, opts.Seed)
	if err := p.Workload.Validate(); err != nil {
		return p, err
	}
	w := p.Workload
	checkpoints := max(1, processedRecords(w)*int(recordCost/time.Millisecond)/w.CheckpointIntervalMS)
	p.Faults = faults.RandomFaults(newRNG(opts.Seed, "plan"), FaultsFor(opts.Protocol, opts.Faults), checkpoints, w.Parallelism, max(w.Parallelism, MaxParallelism(w.Partitions)))
	p.Faults = beforeTheSwitch(opts.Protocol, p.Faults)
	if slices.ContainsFunc(p.Faults, func(op faults.Op) bool { return op.Fault == "region-failover" }) {
		// Only the forward topology has regions smaller than the job.
		p.Workload.Topology = faults.TopologyForward
	}
	return p, p.Validate()
}

// drawTopology draws, per run (swarm testing), what the workload leaves
// open: a parallelism of 0 becomes 1..MaxParallelism, and in one run in 8
// one or two more than the partitions (idle source subtasks); an output
// partition count of 0 stays as many as the input in three runs in 4,
// otherwise 1..partitions+2 other than that.
func drawTopology(w *faults.Workload, seed uint64) {
	partitions := max(1, w.Partitions)
	if w.Parallelism == 0 {
		rng := newRNG(seed, "parallelism")
		w.Parallelism = 1 + rng.IntN(MaxParallelism(partitions))
		if rng.IntN(8) == 0 {
			w.Parallelism = partitions + 1 + rng.IntN(2)
		}
	}
	if w.OutputPartitions == 0 {
		if rng := newRNG(seed, "output-partitions"); rng.IntN(4) == 0 {
			n := 1 + rng.IntN(partitions+1)
			if n >= partitions {
				n++ // anything but the input's count
			}
			w.OutputPartitions = n
		}
	}
}

// drawStartup draws the startup mode when the workload leaves it open
// (StartupChoice.Apply): group-offsets (left "") in half the runs, each of
// earliest, latest, specific-offsets and timestamp in 1 in 8; a specific
// offset is unset in a quarter of the partitions.
func drawStartup(w *faults.Workload, seed uint64) {
	if w.StartupMode != "" {
		return
	}
	rng := newRNG(seed, "startup")
	c := StartupChoice{Mode: rng.IntN(8)}
	switch c.Mode {
	case 2:
		for range w.Partitions {
			pct := rng.IntN(126)
			if rng.IntN(4) == 0 {
				pct = -1
			}
			c.OffsetPercents = append(c.OffsetPercents, pct)
		}
	case 3:
		c.TimestampPercent = rng.IntN(76)
	}
	c.Apply(w)
}

// StartupChoice is one draw of the source's startup mode, as swarm runs
// and the property generators make it.
type StartupChoice struct {
	// Mode 0..3 is earliest, latest, specific-offsets, timestamp; any
	// other value leaves group-offsets.
	Mode int
	// OffsetPercents are specific-offsets' offsets by partition, in
	// percent of a partition's share of the records there at the start
	// (up to 125: past the end, so from the earliest); negative: unset.
	OffsetPercents []int
	// TimestampPercent places the timestamp among the records there at
	// the start (at most 75, so some are read).
	TimestampPercent int
}

// Apply sets the choice's startup fields on w. A latest start makes at
// least 3/5 of the records late, so that the run still spans enough
// non-empty checkpoints for its faults to fire.
func (c StartupChoice) Apply(w *faults.Workload) {
	initial := max(0, w.Records-w.LateRecords)
	switch c.Mode {
	case 0:
		w.StartupMode = "earliest"
	case 1:
		w.StartupMode = "latest"
		w.LateRecords = max(w.LateRecords, w.Records*3/5)
	case 2:
		w.StartupMode = "specific-offsets"
		per := initial / max(1, w.Partitions)
		w.StartupOffsets = nil
		for _, pct := range c.OffsetPercents[:min(len(c.OffsetPercents), w.Partitions)] {
			w.StartupOffsets = append(w.StartupOffsets, max(-1, int64(pct*per/100)))
			if pct < 0 {
				w.StartupOffsets[len(w.StartupOffsets)-1] = -1
			}
		}
	case 3:
		w.StartupMode = "timestamp"
		w.StartupTimestampMS = min(c.TimestampPercent, 75) * initial / 100
	}
}

// processedRecords estimates how many records the job processes: the
// startup mode skips some of those there at the first start.
func processedRecords(w faults.Workload) int {
	initial := max(0, w.Records-w.LateRecords)
	skipped := 0
	switch w.StartupMode {
	case "latest":
		skipped = initial
	case "timestamp":
		skipped = min(w.StartupTimestampMS, initial)
	case "specific-offsets":
		per := initial / max(1, w.Partitions)
		for _, off := range w.StartupOffsets {
			if off <= int64(per) {
				skipped += int(max(0, off))
			}
		}
	}
	return max(1, w.Records-skipped)
}

// inputEpoch is the timestamp of input record 0; record i is stamped i ms
// later, so a startup timestamp of T ms starts each partition at its first
// record numbered T or above. It is a minute after the bubble's clock
// starts (synctest: midnight UTC, 2000-01-01): the markers of the aborted
// input's transactions carry the broker's time, and Kafka's ListOffsets by
// timestamp answers the first offset whose timestamp is at or above T,
// control batches included, so a marker stamped after the records that
// follow it would start the job before them. Written at setup, before the
// epoch (produceInitial checks), the markers predate every input record.
// Not more: Kafka 4 refuses records stamped more than an hour ahead of
// its clock (log.message.timestamp.after.max.ms).
var inputEpoch = time.Date(2000, 1, 1, 0, 1, 0, 0, time.UTC)

// expectedStart is where the job's first start must put the source, by the
// workload's startup mode, computed from the input the harness produced
// (s.input, in record order) and the partitions' ends at that moment: the
// oracle's own answer, not the engine's.
func (s *scheduler) expectedStart() map[int32]int64 {
	w := s.plan.Workload
	start := map[int32]int64{}
	for p := range int32(w.Partitions) {
		end := s.ends[p]
		switch w.StartupMode {
		case "latest":
			start[p] = end
		case "specific-offsets":
			if off := w.StartupOffset(p); off >= 0 && off <= end {
				start[p] = off
			}
		case "timestamp":
			start[p] = end
			for i, r := range s.input {
				if r.Partition == p && i >= w.StartupTimestampMS {
					start[p] = min(start[p], r.Offset)
				}
			}
		}
	}
	return start
}

// engineStartup maps the workload's startup fields to the engine's.
func engineStartup(w faults.Workload, cfg *engine.Config) {
	cfg.StartupMode = engine.StartupMode(w.StartupMode)
	if w.StartupMode == "" {
		cfg.StartupMode = engine.StartGroupOffsets
	}
	for p, off := range w.StartupOffsets {
		if off >= 0 {
			if cfg.StartupOffsets == nil {
				cfg.StartupOffsets = map[int32]int64{}
			}
			cfg.StartupOffsets[int32(p)] = off
		}
	}
	if w.StartupMode == "timestamp" {
		cfg.StartupTimestamp = inputEpoch.Add(time.Duration(w.StartupTimestampMS) * time.Millisecond)
	}
}

func run(opts Options) (res Result) {
	tr := newTrace(opts.Trace, opts.KeepEvents)
	res = Result{Protocol: opts.Protocol, Seed: opts.Seed, Crashes: map[string]int{}, Faults: map[string]int{}}
	defer func() {
		res.TraceHash = tr.hash()
		res.VirtualTime = tr.now().Sub(tr.start)
		res.Events = tr.events
	}()
	proto, err := engine.ProtocolByName(opts.Protocol)
	if err != nil {
		res.HarnessError = err.Error()
		return res
	}
	plan, err := PlanFor(opts)
	if err != nil {
		res.HarnessError = err.Error()
		return res
	}
	res.Plan = plan

	s := &scheduler{
		opts: opts, plan: plan, proto: proto, tr: tr,
		rng:   newRNG(opts.Seed, "schedule"),
		store: &faultyStore{},
		res:   &res,
	}
	s.injector = newInjector(s, plan.Faults)
	s.weakest = proto.Guarantee
	s.now = tr.start
	s.parallelism = plan.Workload.Parallelism
	tr.now = func() time.Time { return s.now }
	s.crasher = &planCrasher{ops: slices.Clone(plan.Faults), fired: make([]bool, len(plan.Faults)), hits: map[engine.CrashPoint]int{},
		muted: func() bool { return s.inZombie }}
	s.crasher.catchUp = plan.RearmUnfired
	s.crasher.stopArmed = make([]bool, len(plan.Faults))
	if opts.recordSites {
		s.crasher.sites = &res.sites
		s.crasher.triggers = func() int { return s.injector.triggers }
	}
	obs := s.runCluster()
	res.Unfired = s.unfired()
	s.traceUnfired(res.Unfired)
	res.LoudFailure = obs.LoudFailure
	res.Check = model.Check(obs)
	if s.weakest != proto.Guarantee {
		res.JudgedAs = s.weakest.DeliveryName()
	}
	res.Violations = res.Check.Violations(model.Allowed(s.weakest.DeliveryName()))
	if obs.HarnessError != "" {
		res.HarnessError = obs.HarnessError
	}
	if opts.KeepEvents {
		res.Records = namedRecords(obs.Input, res.Check.Anomalies)
	}
	tr.Observe(engine.Event{Kind: "verdict", Subtask: -1, Detail: string(res.Check.Verdict) + " " + model.Summary(res.Check.Counts)})
	return res
}

// scheduler owns one scenario's state. It runs on the bubble's main
// goroutine and is the only caller of the engine's step functions.
type scheduler struct {
	opts     Options
	plan     faults.Plan
	proto    engine.Protocol
	tr       *trace
	rng      *rand.Rand
	store    *faultyStore
	crasher  *planCrasher
	injector *injector
	res      *Result

	// now is the scheduler's logical clock: the bubble's start plus every
	// sleep the scheduler took. Goroutines inside kgo and kfake may let the
	// bubble's clock drift by fractions of a millisecond depending on
	// scheduling; the engine and the trace read only this clock.
	now time.Time

	ctx        context.Context
	clientOpts []kgo.Opt
	cfg        engine.Config
	ends       map[int32]int64 // input end offset per partition, so far
	// inputClient produces the input; late records are produced by the
	// scheduler while the job runs.
	inputClient *kgo.Client
	// offsets are the committed input records' offsets by partition, in
	// order: with aborted input, offsets and records differ in number.
	offsets map[int32][]int64
	input   []model.InputRecord
	// startOffsets are where the first start must put the source
	// (expectedStart), set when the job first starts.
	startOffsets map[int32]int64
	late         []*kgo.Record
	harnessErr   error

	job     *engine.Job
	barrier []pendingBarrier // barriers of checkpoints in flight not yet taken, in trigger order
	// parallelism is the job's current parallelism; a rescale changes it.
	parallelism int
	// attempt numbers job attempts; the store refuses older ones' writes.
	attempt      int
	zombie       *zombie
	inZombie     bool
	region       *regionDown // a failed region waiting for its restore
	notifies     []notification
	failures     int   // non-crash failures since the last completed checkpoint
	finalID      int64 // first checkpoint triggered after all input was processed
	rearms       int   // rounds the plan's unfired ops were re-armed (RearmUnfired)
	switchWaited int   // triggers a switch-guarantee waited for transactional faults (switchWaits)
	// loseNextNotification: an unfired crash-mid-commit needs the next
	// sink notification lost.
	loseNextNotification bool
	aimLost              map[int]bool // sink subtasks whose last notification was lost (aimLoss)
	// stopping is the stop-with-savepoint in progress, if any.
	stopping *stopRequest
	// savepoints is the savepoint directory: savepoints not registered for
	// failover (the flink-26783 variant) are written here.
	savepoints engine.MemoryStore
	finalDone  bool
	loud       string
	stalled    string
	// prefixVersion counts new-txn-prefix actions: the prefix is
	// <job>-v<prefixVersion+1> after the first.
	prefixVersion int
	// prefixCheckpoints is the count of completed checkpoints when the
	// prefix last changed.
	prefixCheckpoints int
	// weakest is the weakest guarantee in force during the run
	// (switch-guarantee): the run is judged by it. Guarantees are declared
	// strongest first, so the weakest is the largest.
	weakest engine.Guarantee
	// reread are the input ranges new jobs started from older retained
	// checkpoints read again (restore-retained-checkpoint).
	reread []model.RereadRange
}

type notification struct {
	sink    bool // an operator-and-sink subtask, else a source subtask
	subtask int
	id      int64
	aborted bool // notifyCheckpointAborted, else notifyCheckpointComplete
}

// runCluster starts kfake, runs the job to completion and returns what the
// checker needs.
func (s *scheduler) runCluster() model.Observation {
	var obs model.Observation
	vnet := &memNetwork{}
	// One broker, unless the plan moves leaders or coordinators: then
	// three, with every partition's leader pinned (kfake places leaders
	// with the global math/rand).
	brokers := 1
	if slices.ContainsFunc(s.plan.Faults, func(op faults.Op) bool { return op.Fault == "leader-move" || op.Fault == "coordinator-move" }) {
		brokers = 3
	}
	ports := make([]int, brokers)
	seeds := make([]string, brokers)
	for i := range ports {
		ports[i] = brokerPort + i
		seeds[i] = fmt.Sprintf("localhost:%d", ports[i])
	}
	clusterOpts := []kfake.Opt{kfake.ListenFn(vnet.Listen), kfake.Ports(ports...), kfake.NumBrokers(brokers),
		kfake.BrokerConfigs(map[string]string{"transactional.id.expiration.ms": fmt.Sprint(txnIDExpiration.Milliseconds())})}
	if slices.ContainsFunc(s.plan.Faults, func(op faults.Op) bool { return op.Fault == "broker-restart" }) {
		// Only runs that restart the broker keep its data on disk.
		dir, err := os.MkdirTemp(dataDirRoot(), "eosim-kfake-")
		if err != nil {
			obs.HarnessError = fmt.Sprintf("kfake data dir: %v", err)
			return obs
		}
		defer os.RemoveAll(dir)
		clusterOpts = append(clusterOpts, kfake.DataDir(dir))
	}
	cluster, err := kfake.NewCluster(clusterOpts...)
	if err != nil {
		obs.HarnessError = fmt.Sprintf("start kfake: %v", err)
		return obs
	}
	s.injector.clusterOpts = clusterOpts
	s.injector.epochGuard = kfakefix.NewStaleEpochGuard()
	s.injector.epochGuard.Install(cluster)
	if s.opts.recordSites {
		s.injector.reach = newRequestReach(cluster)
		s.res.brokerReach = s.injector.reach
	}
	defer func() { s.injector.cluster.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), livenessBound)
	defer cancel()
	s.ctx = ctx
	s.injector.store = s.store
	// The lost-ack dialer follows the framing of every byte on every
	// connection: only runs that plan a lost ack pay for it.
	dial := vnet.DialContext
	// Held requests are delivered on connections of their own, straight
	// to the broker (not through the lost-ack dialer).
	if slices.ContainsFunc(s.plan.Faults, func(op faults.Op) bool { _, ok := delayedKey(op.Fault); return ok }) {
		s.injector.delayed = faults.NewDelayedRequests(vnet.DialContext)
		dial = s.injector.delayed.DialContext
	}
	if slices.ContainsFunc(s.plan.Faults, func(op faults.Op) bool { return strings.HasPrefix(op.Fault, "lost-ack-") }) {
		s.injector.lostAcks = faults.NewLostAcks(dial)
		dial = s.injector.lostAcks.DialContext
	}
	clients := newClientTracker()
	defer func() {
		if n := clients.closeAll(); n > 0 {
			s.tr.Observe(engine.Event{Kind: "clients-leaked", Subtask: -1, Detail: fmt.Sprintf("closed %d clients the engine left open", n)})
		}
	}()
	s.clientOpts = []kgo.Opt{
		kgo.WithHooks(clients),
		kgo.SeedBrokers(seeds...),
		kgo.Dialer(dial),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		// Telemetry requests come from the client's own goroutine and race
		// the job's requests for a connection: keep them out.
		kgo.DisableClientMetrics(),
		// A consumer that closes with a fetch session open sends a fetch
		// that kills it (MaxWait 1 ms), answered at once or after 1 ms of
		// virtual time. Closing a job's four sources took 3 ms in some
		// replays of one flink-7784 run and 4 ms in others (goroutine
		// order), and the drift moved every later kfake timer against
		// the scheduler's clock: a transaction timeout then expired
		// before a restore's ListTransactions or not, and about 1 replay
		// in 20 under load differed (TestBugZooIsCaught). Without
		// sessions every fetch is a full fetch and closing sends nothing.
		kgo.DisableFetchSessions(),
		// kgo's default retry backoff has random jitter: the virtual time a
		// retry takes would differ from run to run, and with it everything
		// the broker times (transaction timeouts).
		kgo.RetryBackoffFn(deterministicBackoff),
	}
	if engine.RequestVersionsFor(s.proto, s.plan.Workload.RequestVersions) == engine.RequestVersionsPreKIP890 {
		s.clientOpts = append(s.clientOpts, kgo.MaxVersions(engine.PreKIP890Versions()))
	}
	w := s.plan.Workload
	s.injector.cluster = cluster
	for _, t := range []struct {
		name       string
		partitions int
	}{{inputTopic, w.Partitions}, {outputTopic, w.OutputPartitionCount()}} {
		topic, partitions := t.name, t.partitions
		if err := cluster.CreateTopic(topic, int32(partitions), nil); err != nil {
			obs.HarnessError = fmt.Sprintf("create topic %s: %v", topic, err)
			return obs
		}
		for p := range int32(partitions) {
			if err := cluster.MoveTopicPartition(topic, p, p%int32(brokers)); err != nil {
				obs.HarnessError = fmt.Sprintf("place leader of %s/%d: %v", topic, p, err)
				return obs
			}
		}
	}
	s.injector.brokers = int32(brokers)
	s.injector.partitions = map[string]int32{inputTopic: int32(w.Partitions), outputTopic: int32(w.OutputPartitionCount())}
	if err := s.produceInput(); err != nil {
		obs.HarnessError = err.Error()
		return obs
	}
	defer s.inputClient.Close()
	s.cfg = engine.Config{
		Protocol: s.proto, JobName: jobName, InputTopic: inputTopic, OutputTopic: outputTopic,
		Partitions: int32(w.Partitions), OutputPartitions: int32(w.OutputPartitionCount()),
		ClientOpts:               s.clientOpts,
		MaxConcurrentCheckpoints: w.MaxConcurrentCheckpoints, ProducerPoolSize: w.ProducerPoolSize,
		Forward: w.Topology == faults.TopologyForward,
	}
	engineStartup(w, &s.cfg)
	s.loop()
	obs.LoudFailure, obs.StalledReason = s.loud, s.stalled
	if s.harnessErr != nil {
		obs.HarnessError = s.harnessErr.Error()
	}
	obs.Input = slices.Clone(s.input)
	obs.StartOffsets = s.startOffsets
	obs.Reread = s.reread
	slices.SortFunc(obs.Input, func(a, b model.InputRecord) int {
		if a.Partition != b.Partition {
			return int(a.Partition - b.Partition)
		}
		return int(a.Offset - b.Offset)
	})
	if s.zombie != nil {
		// Killed before the job's final stop, which aborts what it left
		// open on ids the job never writes (as the job's next checkpoint
		// would).
		s.killZombie("the run ended")
	}
	if s.job != nil && s.finalDone {
		obs.Completed = true
		obs.FinalCounts = map[string]int64{}
		for _, st := range s.job.Sinks() {
			for _, kc := range st.Counts() {
				obs.FinalCounts[kc.Key] = kc.Count
			}
		}
		if err := s.job.Finish(ctx); err != nil {
			s.tr.Observe(engine.Event{Kind: "stop-failed", Subtask: -1, Detail: err.Error()})
		}
		synctest.Wait() // let the broker take what the flush sent before the clients close
		s.job.Abandon()
		s.job = nil
	}
	if s.job != nil {
		s.job.Abandon()
	}
	// Requests still held are delivered before the output is read: the
	// broker applies them late, but it applies them.
	s.injector.releaseDelayed(true)
	// The reader has its own bound: the job's may be spent.
	rctx, rcancel := context.WithTimeout(context.Background(), readBound)
	defer rcancel()
	out, abortedVisible, stalled, err := readOutput(rctx, s.clientOpts, int32(w.OutputPartitionCount()))
	if err != nil {
		obs.HarnessError = err.Error()
		return obs
	}
	obs.Output, obs.AbortedVisible = out, abortedVisible
	if stalled != "" && obs.StalledReason == "" {
		obs.StalledReason = stalled
	}
	detail := fmt.Sprintf("records=%d", len(out))
	if w.OutputPartitions != 0 {
		// The output topic has its own partition count: say where the
		// records went (traces of the default topology are unchanged).
		per := make([]string, w.OutputPartitions)
		for i := range per {
			per[i] = fmt.Sprint(countPartition(out, int32(i)))
		}
		detail += " per_output_partition=" + strings.Join(per, ",")
	}
	s.tr.Observe(engine.Event{Kind: "read-output", Subtask: -1, Detail: detail})
	return obs
}

func countPartition(out []model.OutputRecord, p int32) int {
	n := 0
	for _, r := range out {
		if r.Partition == p {
			n++
		}
	}
	return n
}

// dataDirRoot is where a restarting broker keeps its data: in memory
// (/dev/shm) where the system has it, since kfake writes every batch and
// renames and syncs files at a restart, and the data only has to outlive
// one scenario; otherwise the temporary directory.
func dataDirRoot() string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		return "/dev/shm"
	}
	return ""
}

// produceInput writes the workload's input: records spread over partitions
// by the workload PRNG, keys that never span partitions.
func (s *scheduler) produceInput() error {
	cl, err := kgo.NewClient(append(slices.Clone(s.clientOpts), kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		return fmt.Errorf("input producer: %w", err)
	}
	s.inputClient = cl
	s.ends, s.offsets = map[int32]int64{}, map[int32][]int64{}
	recs, initial := workloadInput(s.opts.Seed, s.plan.Workload)
	s.late = recs[initial:]
	aborted, err := s.produceInitial(recs[:initial], abortedInput(s.opts.Seed, s.plan.Workload, recs, initial))
	if err != nil {
		return err
	}
	detail := fmt.Sprintf("records=%d partitions=%d late=%d", initial, s.plan.Workload.Partitions, len(s.late))
	if aborted > 0 {
		detail += fmt.Sprintf(" aborted=%d", aborted)
	}
	s.tr.Observe(engine.Event{Kind: "input", Subtask: -1, Detail: detail})
	return nil
}

// workloadInput draws a scenario's input records from the workload PRNG:
// the first initial are there before the job starts, the rest arrive late.
// The last partition starts empty and gets half the late records: a
// partition that comes alive after the job started.
func workloadInput(seed uint64, w faults.Workload) (recs []*kgo.Record, initial int) {
	rng := newRNG(seed, "workload")
	initial = w.Records - w.LateRecords
	recs = make([]*kgo.Record, 0, w.Records)
	for i := range w.Records {
		p := int32(rng.IntN(w.Partitions))
		if w.LateRecords > 0 && w.Partitions > 1 {
			if i < initial {
				p = int32(rng.IntN(w.Partitions - 1))
			} else if rng.IntN(2) == 0 {
				p = int32(w.Partitions - 1)
			}
		}
		key := fmt.Sprintf("k%d-%d", p, rng.IntN(w.KeysPerPartition))
		recs = append(recs, &kgo.Record{Topic: inputTopic, Partition: p, Key: []byte(key), Value: []byte(payload(rng, i)),
			Timestamp: inputEpoch.Add(time.Duration(i) * time.Millisecond)})
	}
	return recs, initial
}

// appendInput produces records to the input topic and notes them.
func (s *scheduler) appendInput(recs []*kgo.Record) error {
	if len(recs) == 0 {
		return nil
	}
	if err := s.inputClient.ProduceSync(s.ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("produce input: %w", err)
	}
	for _, r := range recs {
		s.input = append(s.input, model.InputRecord{Partition: r.Partition, Offset: r.Offset, Key: string(r.Key), Value: string(r.Value)})
		s.ends[r.Partition] = max(s.ends[r.Partition], r.Offset+1)
		s.offsets[r.Partition] = append(s.offsets[r.Partition], r.Offset)
	}
	return nil
}

// arrive produces the next small burst of late input.
func (s *scheduler) arrive() error {
	n := min(len(s.late), 1+s.rng.IntN(8))
	burst := s.late[:n]
	s.late = s.late[n:]
	if err := s.appendInput(burst); err != nil {
		return fmt.Errorf("%w: %w", errHarness, err)
	}
	s.tr.Observe(engine.Event{Kind: "arrive", Subtask: -1, Detail: fmt.Sprintf("n=%d", n)})
	return nil
}

// deterministicBackoff doubles from 50 ms up to 1 s, without jitter.
func deterministicBackoff(fails int) time.Duration {
	return min(time.Second, 50*time.Millisecond<<min(max(fails-1, 0), 5))
}

// payload makes a record value; now and then it carries markup, which
// reports must show as text.
func payload(rng *rand.Rand, i int) string {
	const letters = "abcdefghijklmnopqrstuvwxyz"
	b := make([]byte, 6)
	for j := range b {
		b[j] = letters[rng.IntN(len(letters))]
	}
	if rng.IntN(50) == 0 {
		return fmt.Sprintf("<b>%s</b>&%d", b, i)
	}
	return fmt.Sprintf("%s-%d", b, i)
}

// namedRecords picks the input records (sorted by partition and offset)
// that anomalies name.
func namedRecords(input []model.InputRecord, anomalies []model.Anomaly) map[model.ID]model.InputRecord {
	out := map[model.ID]model.InputRecord{}
	for _, a := range anomalies {
		if a.Input == nil {
			continue
		}
		if r, ok := model.FindInput(input, *a.Input); ok {
			out[*a.Input] = r
		}
	}
	return out
}
