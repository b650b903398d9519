package properties

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/leanovate/gopter"
	"github.com/leanovate/gopter/commands"
	"github.com/leanovate/gopter/gen"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/model"
)

// The stateful test drives the engine directly, one gopter command at a
// time, on a kfake cluster in a synctest bubble, and checks after every
// command that a read_committed reader sees exactly what the model
// predicts: for each input partition p, the outputs of input records
// 0..visible[p]-1, each once, in order, with the right counts — nothing
// more, nothing less.
//
// The model of the correct protocol (parallelism 1):
//   - processed records go into the open transaction; nothing is visible;
//   - a checkpoint pre-commits and stores; nothing becomes visible until
//     its notification commits every pending transaction up to it;
//   - a crash loses the process; a restart restores the last stored
//     checkpoint and commits its pending transactions, so visible becomes
//     that checkpoint's positions, and processing resumes there;
//   - crash points cut these steps where the protocol is most fragile
//     (after the store, in the middle of committing two pending
//     transactions, during recovery after the resume-commits).

const (
	statefulInput  = "input"
	statefulOutput = "output"
	statefulJob    = "eosim-job"
	statefulPort   = 9092
	// maxBacklog bounds the records produced per partition in a sequence.
	maxBacklog = 60
	// maxPending is how many completed checkpoints may wait for their
	// notification: more would exhaust the sink's pool of transactional
	// ids (5), a documented limit, not the behaviour under test.
	maxPending = 2
	// readIdle is how long (virtual) the reader waits for more output.
	readIdle = time.Second
)

// mcheckpoint is a completed checkpoint in the model.
type mcheckpoint struct {
	pos      []int64
	nonEmpty bool // its transaction holds records
}

// mstate is the model's state.
type mstate struct {
	partitions, keys int
	produced         []int64
	up               bool
	pos              []int64 // the job's next offset per partition (when up)
	dirty            bool    // records in the open transaction
	pending          []mcheckpoint
	stored           *mcheckpoint
	visible          []int64
}

func (s *mstate) clone() *mstate {
	c := *s
	c.produced, c.pos, c.visible = slices.Clone(s.produced), slices.Clone(s.pos), slices.Clone(s.visible)
	c.pending = slices.Clone(s.pending)
	return &c
}

func (s *mstate) String() string {
	return fmt.Sprintf("partitions=%d keys=%d", s.partitions, s.keys)
}

func (s *mstate) storedPos() []int64 {
	if s.stored == nil {
		return make([]int64, s.partitions)
	}
	return slices.Clone(s.stored.pos)
}

func maxInto(dst, src []int64) {
	for i := range dst {
		dst[i] = max(dst[i], src[i])
	}
}

func (s *mstate) nonEmptyPending() int {
	n := 0
	for _, cp := range s.pending {
		if cp.nonEmpty {
			n++
		}
	}
	return n
}

// Command kinds.
const (
	cmdProduce    = "produce"
	cmdProcess    = "process"
	cmdCheckpoint = "checkpoint"
	cmdNotify     = "notify"
	cmdCrash      = "crash" // at a crash point on the checkpoint or notify path
	cmdKill       = "kill"  // process death between steps
	cmdRestart    = "restart"
	cmdRecovery   = "crash-during-recovery"
	cmdHeal       = "heal"
)

// command is one step of a sequence.
type command struct {
	kind      string
	partition int32
	n         int
	point     engine.CrashPoint
}

func (c command) String() string {
	switch c.kind {
	case cmdProduce, cmdProcess:
		return fmt.Sprintf("%s(p%d,%d)", c.kind, c.partition, c.n)
	case cmdCrash:
		return string(c.point)
	}
	return c.kind
}

// checkpointPath are the crash points a checkpoint passes.
var checkpointPath = []engine.CrashPoint{engine.CrashBeforeSnapshot, engine.CrashAfterSourceSnapshot,
	engine.CrashAfterPrecommit, engine.CrashAfterAck, engine.CrashAfterCheckpointStored}

func (c command) PreCondition(st commands.State) bool {
	s := st.(*mstate)
	switch c.kind {
	case cmdProduce:
		return int(c.partition) < s.partitions && c.n >= 1 && s.produced[c.partition]+int64(c.n) <= maxBacklog
	case cmdProcess:
		return s.up && int(c.partition) < s.partitions && c.n >= 1 && s.produced[c.partition]-s.pos[c.partition] >= int64(c.n)
	case cmdCheckpoint:
		return s.up && len(s.pending) < maxPending
	case cmdNotify:
		return s.up && len(s.pending) > 0
	case cmdCrash:
		switch c.point {
		case engine.CrashMidCommit:
			return s.up && s.nonEmptyPending() >= 2
		case engine.CrashAfterCommit:
			return s.up && len(s.pending) > 0
		}
		return s.up && len(s.pending) < maxPending && slices.Contains(checkpointPath, c.point)
	case cmdKill:
		return s.up
	case cmdRestart, cmdRecovery:
		return !s.up
	case cmdHeal:
		return true
	}
	return false
}

func (c command) NextState(st commands.State) commands.State {
	s := st.(*mstate).clone()
	checkpoint := func() {
		cp := mcheckpoint{pos: slices.Clone(s.pos), nonEmpty: s.dirty}
		s.pending = append(s.pending, cp)
		s.stored = &cp
		s.dirty = false
	}
	notify := func() {
		maxInto(s.visible, s.pending[len(s.pending)-1].pos)
		s.pending = nil
	}
	restart := func() {
		s.up, s.pos, s.dirty, s.pending = true, s.storedPos(), false, nil
		maxInto(s.visible, s.storedPos())
	}
	switch c.kind {
	case cmdProduce:
		s.produced[c.partition] += int64(c.n)
	case cmdProcess:
		s.pos[c.partition] += int64(c.n)
		s.dirty = true
	case cmdCheckpoint:
		checkpoint()
	case cmdNotify:
		notify()
	case cmdCrash:
		switch c.point {
		case engine.CrashAfterCheckpointStored:
			checkpoint()
		case engine.CrashMidCommit:
			for _, cp := range s.pending {
				if cp.nonEmpty {
					maxInto(s.visible, cp.pos) // the first pending transaction is committed
					break
				}
			}
		case engine.CrashAfterCommit:
			notify()
		}
		s.up = false
	case cmdKill:
		s.up = false
	case cmdRestart:
		restart()
	case cmdRecovery:
		// The resume-commits happen before the crash point.
		maxInto(s.visible, s.storedPos())
	case cmdHeal:
		if !s.up {
			restart()
		}
		if len(s.pending) > 0 {
			notify()
		}
		s.pos = slices.Clone(s.produced)
		s.dirty = true
		checkpoint()
		notify()
	}
	return s
}

// outcome is what a command observed.
type outcome struct {
	err    error
	input  []model.InputRecord
	output []model.OutputRecord
}

func (c command) Run(sut commands.SystemUnderTest) commands.Result {
	sys := sut.(*system)
	if sys.err != nil {
		return outcome{err: fmt.Errorf("setup: %w", sys.err)}
	}
	err := sys.apply(c)
	// Let every goroutine of kgo and kfake settle before observing, so
	// what the reader sees does not depend on their timing.
	synctest.Wait()
	out, rerr := sys.read()
	return outcome{err: errors.Join(err, rerr), input: slices.Clone(sys.input), output: out}
}

func (c command) PostCondition(st commands.State, result commands.Result) *gopter.PropResult {
	s, o := st.(*mstate), result.(outcome)
	if o.err != nil {
		return &gopter.PropResult{Status: gopter.PropFalse, Labels: []string{fmt.Sprintf("%s: %v", c, o.err)}}
	}
	var prefix []model.InputRecord
	for _, r := range o.input {
		if r.Offset < s.visible[r.Partition] {
			prefix = append(prefix, r)
		}
	}
	res := model.Check(model.Observation{Input: prefix, Output: o.output})
	if len(res.Anomalies) == 0 {
		return &gopter.PropResult{Status: gopter.PropTrue}
	}
	labels := []string{fmt.Sprintf("after %s the model expects visible=%v, a read_committed reader sees %d outputs: %s",
		c, s.visible, len(o.output), model.Summary(res.Counts))}
	for i, a := range res.Anomalies {
		if i == 3 {
			labels = append(labels, fmt.Sprintf("... %d more", len(res.Anomalies)-3))
			break
		}
		labels = append(labels, a.Kind+": "+a.Detail)
	}
	return &gopter.PropResult{Status: gopter.PropFalse, Labels: labels}
}

// system is the system under test: a kfake cluster and the job.
type system struct {
	protocol engine.Protocol
	ctx      context.Context
	cancel   context.CancelFunc
	cluster  *kfake.Cluster
	opts     []kgo.Opt
	producer *kgo.Client
	cfg      engine.Config
	store    *engine.MemoryStore
	crasher  *armedCrasher
	job      *engine.Job
	pending  []int64 // completed checkpoints not yet notified
	input    []model.InputRecord
	nkeys    int
	err      error
}

// armedCrasher crashes the process the next time it reaches its point.
type armedCrasher struct{ point engine.CrashPoint }

func (c *armedCrasher) ShouldCrash(site engine.CrashSite) bool {
	if c.point == "" || site.Point != c.point {
		return false
	}
	c.point = ""
	// Let in-flight requests settle, as the simulator does, so what the
	// dead process left on the broker does not depend on goroutine timing.
	synctest.Wait()
	return true
}

type bubbleClock struct{}

func (bubbleClock) Now() time.Time { return time.Now() }

func newSystem(protocol engine.Protocol, s *mstate) *system {
	sys := &system{protocol: protocol, store: &engine.MemoryStore{}, crasher: &armedCrasher{}}
	sys.ctx, sys.cancel = context.WithTimeout(context.Background(), time.Hour)
	vnet := &kfake.VirtualNetwork{}
	sys.cluster, sys.err = kfake.NewCluster(kfake.ListenFn(vnet.Listen), kfake.Ports(statefulPort), kfake.NumBrokers(1))
	if sys.err != nil {
		return sys
	}
	sys.opts = []kgo.Opt{
		kgo.SeedBrokers(fmt.Sprintf("localhost:%d", statefulPort)),
		kgo.Dialer(vnet.DialContext),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.DisableClientMetrics(),
	}
	for _, topic := range []string{statefulInput, statefulOutput} {
		if sys.err = sys.cluster.CreateTopic(topic, int32(s.partitions), nil); sys.err != nil {
			return sys
		}
	}
	sys.producer, sys.err = kgo.NewClient(append(slices.Clone(sys.opts), kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	sys.cfg = engine.Config{Protocol: protocol, JobName: statefulJob, InputTopic: statefulInput, OutputTopic: statefulOutput,
		Partitions: int32(s.partitions), OutputPartitions: int32(s.partitions), Parallelism: 1, ClientOpts: sys.opts,
		TransactionTimeout: 10 * time.Minute}
	return sys
}

func (sys *system) destroy() {
	if sys.job != nil {
		sys.job.Abandon()
	}
	if sys.producer != nil {
		sys.producer.Close()
	}
	if sys.cluster != nil {
		sys.cluster.Close()
	}
	sys.cancel()
}

// apply performs one command on the engine.
func (sys *system) apply(c command) error {
	switch c.kind {
	case cmdProduce:
		return sys.produce(c.partition, c.n)
	case cmdProcess:
		return sys.process(c.partition, c.n)
	case cmdCheckpoint:
		return sys.checkpoint()
	case cmdNotify:
		return sys.notify()
	case cmdCrash:
		sys.crasher.point = c.point
		var err error
		switch c.point {
		case engine.CrashMidCommit, engine.CrashAfterCommit:
			err = sys.notify()
		default:
			err = sys.checkpoint()
		}
		return sys.crashed(c.point, err)
	case cmdKill:
		synctest.Wait()
		sys.abandon()
		return nil
	case cmdRestart:
		return sys.start()
	case cmdRecovery:
		sys.crasher.point = engine.CrashDuringRecovery
		return sys.crashed(engine.CrashDuringRecovery, sys.start())
	case cmdHeal:
		return sys.heal()
	}
	return fmt.Errorf("unknown command %q", c.kind)
}

// crashed checks that an armed crash fired and kills the process.
func (sys *system) crashed(point engine.CrashPoint, err error) error {
	sys.crasher.point = ""
	if !errors.Is(err, engine.ErrCrashed) {
		sys.abandon()
		return fmt.Errorf("%s was armed but not reached (step returned %v)", point, err)
	}
	sys.abandon()
	return nil
}

func (sys *system) abandon() {
	if sys.job != nil {
		sys.job.Abandon()
		sys.job = nil
	}
	sys.pending = nil
}

func (sys *system) start() error {
	job, err := engine.StartJob(sys.ctx, sys.cfg, engine.Deps{Clock: bubbleClock{}, Crasher: sys.crasher, Store: sys.store}, time.Second)
	if err != nil {
		return err
	}
	sys.job, sys.pending = job, nil
	return nil
}

// sourceOf returns the source subtask that reads partition p.
func (sys *system) sourceOf(p int32) *engine.SourceTask {
	for _, src := range sys.job.Sources() {
		if slices.Contains(src.Partitions(), p) {
			return src
		}
	}
	return nil
}

// process emits n records of partition p and runs them through the
// operator and sink subtasks.
func (sys *system) process(p int32, n int) error {
	src := sys.sourceOf(p)
	if src == nil {
		return fmt.Errorf("no source subtask reads partition %d", p)
	}
	for range n {
		if err := src.EmitNext(sys.ctx, p); err != nil {
			return err
		}
	}
	_, err := sys.drain(0)
	return err
}

// drain lets every operator-and-sink subtask take whatever its inputs
// hold. During checkpoint id it returns the subtasks' acknowledgements.
func (sys *system) drain(id int64) ([]engine.SinkSnapshot, error) {
	var acks []engine.SinkSnapshot
	for _, st := range sys.job.Sinks() {
		for progress := true; progress; {
			progress = false
			for i := range sys.job.Parallelism() {
				if !st.Ready(i) {
					continue
				}
				ack, err := st.ProcessInput(sys.ctx, i)
				if err != nil {
					return nil, err
				}
				if ack != nil {
					if id == 0 {
						return nil, fmt.Errorf("operator %d acknowledged a checkpoint outside one", st.Index())
					}
					acks = append(acks, *ack)
				}
				progress = true
			}
		}
	}
	return acks, nil
}

// checkpoint triggers a checkpoint, lets the barriers flow through every
// subtask, and completes it.
func (sys *system) checkpoint() error {
	coord := sys.job.Coordinator()
	id, err := coord.Trigger()
	if err != nil {
		return err
	}
	for _, src := range sys.job.Sources() {
		snap, err := src.Checkpoint(sys.ctx, id)
		if err != nil {
			return err
		}
		if _, err := coord.AcknowledgeSource(id, snap); err != nil {
			return err
		}
	}
	acks, err := sys.drain(id)
	if err != nil {
		return err
	}
	if len(acks) != sys.job.Parallelism() {
		return fmt.Errorf("checkpoint %d: %d of %d operator subtasks acknowledged", id, len(acks), sys.job.Parallelism())
	}
	for _, ack := range acks {
		if _, err := coord.AcknowledgeSink(id, ack); err != nil {
			return err
		}
	}
	if _, err := coord.Complete(sys.ctx); err != nil {
		return err
	}
	sys.pending = append(sys.pending, id)
	return nil
}

// notify delivers the notification of the latest completed checkpoint to
// every subtask: the sinks commit, the sources commit their offsets to the
// group.
func (sys *system) notify() error {
	if len(sys.pending) == 0 {
		return errors.New("notify without a completed checkpoint")
	}
	id := sys.pending[len(sys.pending)-1]
	sys.pending = nil
	for _, st := range sys.job.Sinks() {
		if err := st.NotifyCheckpointComplete(sys.ctx, id); err != nil {
			return err
		}
	}
	for _, src := range sys.job.Sources() {
		if err := src.NotifyCheckpointComplete(sys.ctx, id); err != nil {
			return err
		}
	}
	return nil
}

func (sys *system) heal() error {
	if sys.job == nil {
		if err := sys.start(); err != nil {
			return err
		}
	}
	if len(sys.pending) > 0 {
		if err := sys.notify(); err != nil {
			return err
		}
	}
	ends := map[int32]int64{}
	for _, r := range sys.input {
		ends[r.Partition] = max(ends[r.Partition], r.Offset+1)
	}
	for _, src := range sys.job.Sources() {
		for _, p := range src.Partitions() {
			if n := ends[p] - src.Position(p); n > 0 {
				if err := sys.process(p, int(n)); err != nil {
					return err
				}
			}
		}
	}
	if err := sys.checkpoint(); err != nil {
		return err
	}
	return sys.notify()
}

func (sys *system) produce(p int32, n int) error {
	var recs []*kgo.Record
	for i := range n {
		k := len(sys.input) + i
		recs = append(recs, &kgo.Record{Topic: statefulInput, Partition: p,
			Key:   []byte(fmt.Sprintf("k%d-%d", p, (k*7+3)%sys.nkeys)),
			Value: []byte(fmt.Sprintf("value-%d", k))})
	}
	if err := sys.producer.ProduceSync(sys.ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("produce input: %w", err)
	}
	for _, r := range recs {
		sys.input = append(sys.input, model.InputRecord{Partition: r.Partition, Offset: r.Offset, Key: string(r.Key), Value: string(r.Value)})
	}
	slices.SortFunc(sys.input, func(a, b model.InputRecord) int {
		if a.Partition != b.Partition {
			return int(a.Partition - b.Partition)
		}
		return int(a.Offset - b.Offset)
	})
	return nil
}

// read reads the whole output topic as a read_committed reader. It stops
// after readIdle of virtual time without a record. The fetch long poll is
// kept far below that: with kgo's default (5 s) a fetch answered empty now
// and then left the next one waiting past the idle window, and the reader
// saw less than was committed (about one sequence in 150 lost a partition).
func (sys *system) read() ([]model.OutputRecord, error) {
	start := map[int32]kgo.Offset{}
	for p := range sys.cfg.Partitions {
		start[p] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(append(slices.Clone(sys.opts),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{statefulOutput: start}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(50*time.Millisecond))...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	var out []model.OutputRecord
	for {
		ctx, cancel := context.WithTimeout(sys.ctx, readIdle)
		fs := cl.PollFetches(ctx)
		cancel()
		var ferr error
		fs.EachError(func(topic string, p int32, err error) {
			if ferr == nil && !errors.Is(err, context.DeadlineExceeded) {
				ferr = fmt.Errorf("read %s/%d: %w", topic, p, err)
			}
		})
		if ferr != nil {
			return nil, ferr
		}
		n := 0
		fs.EachRecord(func(r *kgo.Record) {
			out = append(out, model.OutputRecord{Partition: r.Partition, Offset: r.Offset, Key: string(r.Key), Value: string(r.Value)})
			n++
		})
		if n == 0 {
			break
		}
	}
	slices.SortFunc(out, func(a, b model.OutputRecord) int {
		if a.Partition != b.Partition {
			return int(a.Partition - b.Partition)
		}
		return int(a.Offset - b.Offset)
	})
	return out, nil
}

// engineCommands is the gopter commands definition for one protocol.
func engineCommands(protocol engine.Protocol) commands.Commands {
	return &commands.ProtoCommands{
		NewSystemUnderTestFunc: func(initial commands.State) commands.SystemUnderTest {
			s := initial.(*mstate)
			sys := newSystem(protocol, s)
			sys.nkeys = s.keys
			if sys.err == nil {
				sys.err = sys.start()
			}
			return sys
		},
		DestroySystemUnderTestFunc: func(sut commands.SystemUnderTest) { sut.(*system).destroy() },
		InitialStateGen: gopter.CombineGens(gen.IntRange(1, 3), gen.IntRange(1, 3)).Map(func(v []interface{}) *mstate {
			p := v[0].(int)
			return &mstate{partitions: p, keys: v[1].(int), up: true,
				produced: make([]int64, p), pos: make([]int64, p), visible: make([]int64, p)}
		}),
		GenCommandFunc: genCommand,
	}
}

// genCommand draws a command that applies in state st.
func genCommand(st commands.State) gopter.Gen {
	s := st.(*mstate)
	cmd := func(c command) gopter.Gen { return gen.Const(commands.Command(c)) }
	var gens []gen.WeightedGen
	add := func(weight int, g gopter.Gen) { gens = append(gens, gen.WeightedGen{Weight: weight, Gen: g}) }
	add(4, gopter.CombineGens(gen.IntRange(0, s.partitions-1), gen.IntRange(1, 12)).Map(func(v []interface{}) commands.Command {
		return command{kind: cmdProduce, partition: int32(v[0].(int)), n: v[1].(int)}
	}))
	if s.up {
		var lanes []interface{}
		for p := range s.partitions {
			if s.produced[p] > s.pos[p] {
				lanes = append(lanes, p)
			}
		}
		if len(lanes) > 0 {
			add(6, gen.OneConstOf(lanes...).FlatMap(func(v interface{}) gopter.Gen {
				p := v.(int)
				return gen.IntRange(1, int(min(s.produced[p]-s.pos[p], 12))).Map(func(n int) commands.Command {
					return command{kind: cmdProcess, partition: int32(p), n: n}
				})
			}, reflect.TypeOf((*commands.Command)(nil)).Elem()))
		}
		if len(s.pending) < maxPending {
			add(3, cmd(command{kind: cmdCheckpoint}))
			points := make([]interface{}, len(checkpointPath))
			for i, p := range checkpointPath {
				points[i] = commands.Command(command{kind: cmdCrash, point: p})
			}
			add(2, gen.OneConstOf(points...))
		}
		if len(s.pending) > 0 {
			add(3, cmd(command{kind: cmdNotify}))
			add(1, cmd(command{kind: cmdCrash, point: engine.CrashAfterCommit}))
		}
		if s.nonEmptyPending() >= 2 {
			add(2, cmd(command{kind: cmdCrash, point: engine.CrashMidCommit}))
		}
		add(1, cmd(command{kind: cmdKill}))
	} else {
		add(4, cmd(command{kind: cmdRestart}))
		add(1, cmd(command{kind: cmdRecovery}))
	}
	add(1, cmd(command{kind: cmdHeal}))
	return gen.Weighted(gens)
}

// checkStateful runs the command property of protocol inside one synctest
// bubble: every sequence builds and tears down its own cluster there.
func checkStateful(t *testing.T, protocol engine.Protocol, sequences int) (res *gopter.TestResult) {
	t.Helper()
	defer func() {
		// A sequence that leaves a client open makes synctest panic when
		// the bubble ends; report it as this property's failure instead
		// of killing the test binary.
		if r := recover(); r != nil {
			t.Errorf("stateful run of %s: %v (a kgo client or the cluster was left open)", protocol.Name, r)
			res = &gopter.TestResult{Status: gopter.TestError}
		}
	}()
	synctest.Test(t, func(t *testing.T) {
		res = checkProperty(t, fmt.Sprintf("read_committed matches the model(%s)", protocol.Name),
			commands.Prop(engineCommands(protocol)), sequences)
	})
	return res
}

// Every correct protocol matches the model after every command of every
// generated sequence.
func TestStatefulCorrectProtocols(t *testing.T) {
	for _, name := range protocolsOfKind(engine.KindCorrect) {
		t.Run(name, func(t *testing.T) {
			p, err := engine.ProtocolByName(name)
			require.NoError(t, err)
			res := checkStateful(t, p, *casesFlag)
			requireHolds(t, "stateful "+name, res)
		})
	}
}

// The model is sensitive: the original bug zoo falsifies it. The search
// stops at the first catch, so its sequences stay at least
// statefulCatchSequences when -properties.cases is smaller: gopter sizes
// the sequences by their number, and fewer ones are shorter.
func TestStatefulModelCatchesKnownBadVariants(t *testing.T) {
	for _, name := range []string{"commit-on-snapshot", "abort-on-recovery", "init-before-resume"} {
		t.Run(name, func(t *testing.T) {
			p, err := engine.ProtocolByName(name)
			require.NoError(t, err)
			res := checkStateful(t, p, max(*casesFlag, statefulCatchSequences))
			require.Equal(t, gopter.TestFailed, res.Status, "the stateful model did not catch %s (gopter seed %d)", name, gopterSeed())
			if len(res.Args) > 0 {
				t.Logf("minimal sequence: %s", strings.TrimSpace(res.Args[0].ArgFormatted))
			}
		})
	}
}

// statefulCatchSequences is the least number of sequences the stateful
// model gets to catch a known-bad variant in (-properties.cases' default
// before it was 25; at gopter seed 1 the catches come after 12, 17
// and 17 passed sequences, as before).
const statefulCatchSequences = 50
