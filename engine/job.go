package engine

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Job is one running attempt of the job graph
//
//	Kafka source (P subtasks) ──keyBy──▶ transform → keyed counter → Kafka sink (P subtasks)
//
// Source subtask i reads the input partitions p with p % P == i and sends
// each record to the operator subtask that owns its key; barriers flow with
// the records and are aligned at the operators, which have P inputs. A
// process crash ends the attempt (Abandon); recovery is a new Job restored
// from the store, at the same or another parallelism.
type Job struct {
	cfg         Config
	deps        Deps
	coordinator *Coordinator
	sources     []*SourceTask
	sinks       []*SinkTask
	restoredID  int64
	// admin is the job's non-transactional client for raw requests: group
	// offsets, resume-commits, lingering aborts.
	admin *kgo.Client
}

// SourceTask is one subtask of the Kafka source. Its methods are step
// functions; none starts a goroutine.
type SourceTask struct {
	index   int
	job     *Job
	source  *kafkaSource
	outputs []*channel // one per operator subtask
}

// SinkTask is one subtask of the chain transform → keyed counter → sink,
// with one input channel per source subtask.
type SinkTask struct {
	index    int
	job      *Job
	inputs   []*channel
	blocked  []bool // input has delivered the barrier being aligned
	aligning int64  // the checkpoint whose barriers are being aligned
	// aligned are the source offsets the aligned barriers carried.
	aligned []PartitionOffset
	counter *keyedCounter
	sink    sink
}

// KeyOwner returns the operator subtask that owns key at parallelism p:
// keys hash to one of 128 key groups, assigned to subtasks in ranges, as
// Flink does, so rescaling moves whole key groups.
func KeyOwner(key string, parallelism int) int {
	h := fnv.New32a()
	h.Write([]byte(key))
	group := int(h.Sum32() % 128)
	return group * parallelism / 128
}

// StartJob restores a new job attempt from the latest stored checkpoint
// (initializeState of every subtask), or starts it fresh when there is none.
// The checkpoint's parallelism may differ from cfg.Parallelism: source
// offsets, keyed state and transactional-id ranges are redistributed.
func StartJob(ctx context.Context, cfg Config, deps Deps, checkpointInterval time.Duration) (*Job, error) {
	cfg.checkpointInterval = checkpointInterval
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if deps.Clock == nil {
		deps.Clock = SystemClock{}
	}
	if deps.Crasher == nil {
		deps.Crasher = NoCrashes{}
	}
	if deps.Observer == nil {
		deps.Observer = nopObserver{}
	}
	if deps.Settle == nil {
		deps.Settle = func() {}
	}
	if deps.Store == nil {
		return nil, fmt.Errorf("start job: a checkpoint store is required")
	}
	cp, ok, err := deps.Store.Latest(ctx)
	if err != nil {
		return nil, fmt.Errorf("start job: %w", err)
	}
	j := &Job{cfg: cfg, deps: deps, restoredID: cp.ID}
	lastID := cp.ID
	if counter, isCounter := deps.Store.(CheckpointIDCounter); isCounter {
		highest, err := counter.HighestCheckpointID(ctx)
		if err != nil {
			return nil, fmt.Errorf("start job: %w", err)
		}
		lastID = max(lastID, highest)
	}
	if j.admin, err = kgo.NewClient(cfg.ClientOpts...); err != nil {
		return nil, fmt.Errorf("start job: %w", err)
	}
	if j.cfg.inputTopicID, err = topicID(ctx, j.admin, cfg.InputTopic); err != nil {
		j.Abandon()
		return nil, fmt.Errorf("start job: %w", err)
	}
	detail := ""
	if ok && cp.Parallelism != cfg.Parallelism {
		detail = fmt.Sprintf("rescale %d -> %d", cp.Parallelism, cfg.Parallelism)
	}
	deps.Observer.Observe(Event{Kind: "restore", Subtask: -1, Checkpoint: cp.ID, Detail: detail})
	P := cfg.Parallelism
	channels := make([][]*channel, P) // [source][sink]
	for i := range channels {
		channels[i] = make([]*channel, P)
		for k := range channels[i] {
			if !cfg.Forward || i == k {
				channels[i][k] = &channel{}
			}
		}
	}
	for k := range P {
		st := &SinkTask{index: k, job: j}
		for i := range P {
			if channels[i][k] != nil {
				st.inputs = append(st.inputs, channels[i][k])
			}
		}
		st.blocked = make([]bool, len(st.inputs))
		j.sinks = append(j.sinks, st)
	}
	for i := range P {
		src := &SourceTask{index: i, job: j}
		for _, c := range channels[i] {
			if c != nil {
				src.outputs = append(src.outputs, c)
			}
		}
		j.sources = append(j.sources, src)
	}
	// Sinks recover first: pending transactions must be committed before
	// anything new is written.
	for k := range P {
		if err := j.sinks[k].open(ctx, cp, ok, lastID-cp.ID); err != nil {
			j.Abandon()
			return nil, err
		}
	}
	for i := range P {
		if err := j.sources[i].open(ctx, cp, ok); err != nil {
			j.Abandon()
			return nil, err
		}
	}
	if !ok && cfg.StartupMode.resolvedOnce() {
		if err := j.storeStartup(ctx); err != nil {
			j.Abandon()
			return nil, err
		}
	}
	j.coordinator = newCoordinator(deps, cfg.Protocol, P, checkpointInterval, cfg.MaxConcurrentCheckpoints, lastID)
	return j, nil
}

// open is the sink subtask's initializeState from checkpoint cp (ok false:
// none): its keyed state, then the sink's recovery. skipped checkpoint ids
// were triggered after cp by an earlier attempt that may live on.
func (st *SinkTask) open(ctx context.Context, cp Checkpoint, ok bool, skipped int64) error {
	j := st.job
	counts, restored := redistributeSink(cp, st.index, j.cfg.Parallelism, j.cfg.Forward)
	restored.checkpointPending = pendingIDs(cp)
	restored.checkpoint, restored.skipped = cp.ID, skipped
	st.counter = newKeyedCounter(counts)
	for i := range st.blocked {
		st.blocked[i] = false
	}
	st.aligning, st.aligned = 0, nil
	// The startup record (checkpoint 0) is no checkpoint for a sink.
	sk, err := openSink(ctx, &j.cfg, st.index, j.admin, restored, ok && cp.ID > 0, j.deps)
	if err != nil {
		return err // openSink closed what it opened
	}
	st.sink = sk
	return nil
}

// open is the source subtask's initializeState from checkpoint cp.
func (src *SourceTask) open(ctx context.Context, cp Checkpoint, ok bool) error {
	var offsets []PartitionOffset
	for _, s := range cp.Sources {
		offsets = append(offsets, s.Offsets...)
	}
	inGroup := offsetsInGroup(cp, ok)
	if cp.ID > 0 && cp.ID == src.job.cfg.RetainedCheckpoint && !src.job.cfg.Protocol.Has(BugGroupOffsetsOnRetainedRestore) {
		inGroup = false // the group holds the offsets of the job that went on past cp
	}
	source, err := openSource(ctx, &src.job.cfg, src.index, src.job.admin, offsets, ok, inGroup, src.job.deps)
	if err != nil {
		return err
	}
	src.source = source
	return nil
}

// offsetsInGroup reports whether the group's committed offsets are the
// sources' state in cp: with no checkpoint or the startup record
// (checkpoint 0, written before any sink transaction), and in a checkpoint
// whose every source snapshot says so (written under offsets-in-txn, not
// after a switch to at-least-once). A retained checkpoint older than the
// latest that an operator started the job from (Config.RetainedCheckpoint)
// is the exception, decided by the caller: the group holds the offsets of
// the job that went on past it, so the checkpoint's own offsets are the
// state until the new job restores from a checkpoint of its own.
func offsetsInGroup(cp Checkpoint, ok bool) bool {
	if !ok || cp.ID == 0 {
		return true
	}
	if len(cp.Sources) == 0 {
		return false
	}
	for _, s := range cp.Sources {
		if !s.OffsetsInGroup {
			return false
		}
	}
	return true
}

// pendingIDs are the transactional ids every sink subtask of cp holds
// pending (the abort-prefix-lingering variant spares only these).
func pendingIDs(cp Checkpoint) []string {
	var ids []string
	for _, s := range cp.Sinks {
		for _, h := range s.Pending {
			ids = append(ids, h.TransactionalID)
		}
	}
	return ids
}

// storeStartup keeps where the first start's startup mode put the sources
// as checkpoint 0, a startup record: sources restore from it like from a
// checkpoint, sinks see no checkpoint. Only the first start applies the
// startup mode, so a restart before the first checkpoint does not resolve
// LATEST (or a timestamp, or offsets past the end) again, later.
func (j *Job) storeStartup(ctx context.Context) error {
	rec := Checkpoint{ID: 0, Parallelism: j.cfg.Parallelism}
	for _, src := range j.sources {
		rec.Sources = append(rec.Sources, SourceSnapshot{Subtask: src.index, Offsets: src.source.positions()})
	}
	if err := j.deps.Store.Store(ctx, rec); err != nil {
		return fmt.Errorf("start job: store the startup positions: %w", err)
	}
	j.deps.Observer.Observe(Event{Kind: "startup-stored", Subtask: -1, Detail: string(j.cfg.StartupMode)})
	return nil
}

// redistributeSink gives operator subtask k of p the keyed state of the
// keys it owns (by key group, or under the forward topology by the
// partition the key is read from), the pending transactions of the id
// ranges it is responsible for (range q goes to q % p), those ranges'
// next ids, and every transactional-id prefix of the state.

func redistributeSink(cp Checkpoint, k, p int, forward bool) ([]KeyCount, sinkState) {
	var counts []KeyCount
	var pending []TransactionHolder
	var prefixes []string
	next := map[int]int64{}
	for _, s := range cp.Sinks {
		for _, prefix := range s.TransactionalIDPrefixes {
			if !slices.Contains(prefixes, prefix) {
				prefixes = append(prefixes, prefix)
			}
		}
		for _, kc := range s.Counts {
			owner := KeyOwner(kc.Key, p)
			if forward {
				owner = int(kc.Partition) % p
			}
			if owner == k {
				counts = append(counts, kc)
			}
		}
		for _, h := range s.Pending {
			if h.Owner%p == k {
				pending = append(pending, h)
			}
		}
		for q, n := range s.NextTransactions {
			if q%p == k {
				next[q] = max(next[q], n)
			}
		}
	}
	slices.SortFunc(pending, func(a, b TransactionHolder) int {
		if a.Checkpoint != b.Checkpoint {
			return int(a.Checkpoint - b.Checkpoint)
		}
		return a.Owner - b.Owner
	})
	return counts, sinkState{pending: pending, next: next, prefixes: prefixes}
}

// Coordinator returns the job's checkpoint coordinator.
func (j *Job) Coordinator() *Coordinator { return j.coordinator }

// Sources returns the source subtasks in index order.
func (j *Job) Sources() []*SourceTask { return j.sources }

// Sinks returns the operator-and-sink subtasks in index order.
func (j *Job) Sinks() []*SinkTask { return j.sinks }

// Parallelism is the job's parallelism.
func (j *Job) Parallelism() int { return j.cfg.Parallelism }

// RestoredCheckpoint is the id of the checkpoint this attempt restored, 0
// for a fresh start.
func (j *Job) RestoredCheckpoint() int64 { return j.restoredID }

// Abandon is process death: every client is closed without ending its
// transaction and all task memory, channels included, is dropped.
func (j *Job) Abandon() {
	for _, st := range j.sinks {
		if st.sink != nil {
			st.sink.abandon()
		}
	}
	for _, src := range j.sources {
		if src.source != nil {
			src.source.close()
		}
	}
	j.sinks, j.sources = nil, nil
	if j.admin != nil {
		j.admin.Close()
		j.admin = nil
	}
}

// Regional reports whether a task failure can be handled by restarting its
// failover region alone: under the forward topology, where region i is
// source subtask i and the sink subtask it feeds. Under the keyBy exchange
// every task is connected to every other, and Flink's region is the whole
// job.
func (j *Job) Regional() bool { return j.cfg.Forward }

// FailRegion is the failure of region r (Regional must hold): its source
// and sink subtasks die as in Abandon (clients closed without ending any
// transaction, memory and the channel between them dropped) while every
// other subtask keeps running. The caller must abort the checkpoints in
// flight, which include the failed tasks and cannot complete.
func (j *Job) FailRegion(r int) {
	st, src := j.sinks[r], j.sources[r]
	if st.sink != nil {
		st.sink.abandon()
		st.sink = nil
	}
	if src.source != nil {
		src.source.close()
		src.source = nil
	}
	for _, in := range st.inputs {
		in.clear()
	}
	j.deps.Observer.Observe(Event{Kind: "region-failed", Subtask: r})
}

// RestoreRegion restores failed region r from the latest completed
// checkpoint (the last one any subtask acknowledged, or a fresh start when
// there is none): the sink subtask first (its keyed state, the
// resume-commit of its own pending transactions and the abort of the
// lingering ones in its own id ranges; never another subtask's), then the
// source subtask from the checkpoint's offsets of its partitions.
func (j *Job) RestoreRegion(ctx context.Context, r int) error {
	cp, ok, err := j.deps.Store.Latest(ctx)
	if err != nil {
		return fmt.Errorf("restore region %d: %w", r, err)
	}
	j.deps.Observer.Observe(Event{Kind: "restore-region", Subtask: r, Checkpoint: cp.ID})
	if err := j.sinks[r].open(ctx, cp, ok, 0); err != nil {
		return err
	}
	return j.sources[r].open(ctx, cp, ok)
}

// Stop ends the job in order after its last checkpoint: Finish, then
// every client closes.
func (j *Job) Stop(ctx context.Context) error {
	err := j.Finish(ctx)
	j.Abandon()
	return err
}

// Finish flushes every sink so an orderly stop loses nothing; it refuses
// when output is not covered by a completed checkpoint.
func (j *Job) Finish(ctx context.Context) error {
	var first error
	for _, st := range j.sinks {
		if err := st.sink.finish(ctx); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Index is the subtask's index.
func (s *SourceTask) Index() int { return s.index }

// Running reports whether the subtask runs (false while its region is
// failed).
func (s *SourceTask) Running() bool { return s.source != nil }

// Partitions returns the input partitions this subtask reads.
func (s *SourceTask) Partitions() []int32 { return s.source.partitions }

// Position returns the offset of the next record the subtask will emit from
// partition p.
func (s *SourceTask) Position(p int32) int64 { return s.source.lastEmitted[p] + 1 }

// EmitNext reads the next record of partition p and sends it to the
// operator subtask that owns its key. It fetches until the record is there,
// so the caller must know partition p has one (or bound ctx).
func (s *SourceTask) EmitNext(ctx context.Context, p int32) error {
	r, err := s.source.next(ctx, p)
	if err != nil {
		return err
	}
	s.emit(r)
	return nil
}

func (s *SourceTask) emit(r *kgo.Record) {
	rec := inputRecord{partition: r.Partition, offset: r.Offset, key: r.Key, value: r.Value}
	s.outputs[KeyOwner(string(r.Key), len(s.outputs))].push(item{record: rec})
}

// Target is the operator subtask a record with key goes to: the key's
// owner, or under the forward topology the subtask's own.
func (s *SourceTask) Target(key []byte) int {
	if s.job.cfg.Forward {
		return s.index
	}
	return KeyOwner(string(key), len(s.outputs))
}

// Checkpoint is the source's snapshotState for checkpoint id: snapshot the
// offsets of the records emitted so far, then send the barrier downstream on
// every output. The snapshot is the source's acknowledgement.
func (s *SourceTask) Checkpoint(_ context.Context, id int64) (SourceSnapshot, error) {
	site := func(p CrashPoint) CrashSite { return CrashSite{Point: p, Checkpoint: id, Subtask: s.index} }
	if s.job.deps.Crasher.ShouldCrash(site(CrashBeforeSnapshot)) {
		return SourceSnapshot{}, crashErr(site(CrashBeforeSnapshot))
	}
	snap := SourceSnapshot{Subtask: s.index, Offsets: s.source.snapshot(id), OffsetsInGroup: s.job.cfg.Protocol.OffsetsInSinkTransaction()}
	s.job.deps.Observer.Observe(Event{Kind: "source-snapshot", Subtask: s.index, Checkpoint: id})
	if s.job.deps.Crasher.ShouldCrash(site(CrashAfterSourceSnapshot)) {
		return SourceSnapshot{}, crashErr(site(CrashAfterSourceSnapshot))
	}
	for _, out := range s.outputs {
		out.push(item{barrier: id, offsets: snap.Offsets})
	}
	return snap, nil
}

// NotifyCheckpointComplete commits the offsets of checkpoint id to the
// consumer group (monitoring only).
func (s *SourceTask) NotifyCheckpointComplete(ctx context.Context, id int64) error {
	s.source.commitOffsets(ctx, id)
	return nil
}

// Index is the subtask's index.
func (s *SinkTask) Index() int { return s.index }

// Inputs is how many input channels the task has: the parallelism, or one
// under the forward topology.
func (s *SinkTask) Inputs() int { return len(s.inputs) }

// Running reports whether the subtask runs (false while its region is
// failed).
func (s *SinkTask) Running() bool { return s.sink != nil }

// Counts returns the keyed operator's current state, sorted by key.
func (s *SinkTask) Counts() []KeyCount { return s.counter.snapshot() }

// Ready reports whether input i has an item the task may take now: it is
// non-empty and not blocked by barrier alignment.
func (s *SinkTask) Ready(i int) bool { return !s.blocked[i] && s.inputs[i].len() > 0 }

// HeadBarrier is the checkpoint id of the barrier at the head of input i,
// 0 for a record or an empty input: the checkpoint a ProcessInput of i
// that returns an acknowledgement acknowledges.
func (s *SinkTask) HeadBarrier(i int) int64 { return headBarrier(s.inputs[i]) }

// Buffered is how many items wait on the task's inputs.
func (s *SinkTask) Buffered() int {
	n := 0
	for _, in := range s.inputs {
		n += in.len()
	}
	return n
}

// ProcessInput takes the next item of input i. A record goes through the
// chain: transform, count, write to the sink. A barrier blocks the input
// until the barrier of the same checkpoint arrived on every input; then the
// task snapshots its keyed state, pre-commits the sink, and returns its
// acknowledgement (ack is nil otherwise).
func (s *SinkTask) ProcessInput(ctx context.Context, i int) (ack *SinkSnapshot, err error) {
	if s.blocked[i] {
		return nil, fmt.Errorf("operator %d: input %d is blocked by barrier alignment", s.index, i)
	}
	it, ok := s.inputs[i].pop()
	if !ok {
		return nil, fmt.Errorf("operator %d: input %d is empty", s.index, i)
	}
	if it.barrier == 0 {
		s.process(ctx, it.record)
		return nil, nil
	}
	if s.aligning != 0 && s.aligning != it.barrier {
		return nil, fmt.Errorf("operator %d: barrier %d while aligning %d", s.index, it.barrier, s.aligning)
	}
	s.aligning = it.barrier
	s.blocked[i] = true
	s.aligned = append(s.aligned, it.offsets...)
	if slices.Contains(s.blocked, false) {
		return nil, nil
	}
	snap, err := s.checkpoint(ctx, it.barrier)
	if err != nil {
		return nil, err
	}
	for k := range s.blocked {
		s.blocked[k] = false
	}
	s.aligning, s.aligned = 0, nil
	return &snap, nil
}

func (s *SinkTask) process(ctx context.Context, r inputRecord) {
	key := string(r.key)
	count := s.counter.process(key, r.partition)
	s.sink.write(ctx, &kgo.Record{
		Topic:     s.job.cfg.OutputTopic,
		Partition: r.partition % s.job.cfg.OutputPartitions,
		Key:       r.key,
		Value:     []byte(FormatOutput(r.partition, r.offset, key, count, transform(string(r.value)))),
	})
}

// checkpoint snapshots the keyed state and pre-commits the sink once the
// barriers of checkpoint id are aligned.
func (s *SinkTask) checkpoint(ctx context.Context, id int64) (SinkSnapshot, error) {
	snap := SinkSnapshot{Subtask: s.index, Counts: s.counter.snapshot()}
	var offsets []PartitionOffset
	if s.job.cfg.Protocol.OffsetsInSinkTransaction() && (s.index == 0 || s.job.cfg.Forward) {
		// One subtask carries the offsets of every source in its
		// transaction: they commit with its output, atomically. Under the
		// forward topology each subtask aligns only its own source's
		// barrier and carries that source's offsets.
		offsets = slices.Clone(s.aligned)
		slices.SortFunc(offsets, func(a, b PartitionOffset) int { return int(a.Partition - b.Partition) })
	}
	pending, next, err := s.sink.precommit(ctx, id, offsets)
	if err != nil {
		return SinkSnapshot{}, err
	}
	snap.Pending, snap.NextTransactions = pending, next
	snap.TransactionalIDPrefixes = s.sink.idPrefixes()
	s.job.deps.Observer.Observe(Event{Kind: "snapshot", Subtask: s.index, Checkpoint: id})
	site := CrashSite{Point: CrashAfterPrecommit, Checkpoint: id, Subtask: s.index}
	if s.job.deps.Crasher.ShouldCrash(site) {
		return SinkSnapshot{}, crashErr(site)
	}
	return snap, nil
}

// NotifyCheckpointAborted tells the sink that checkpoint id was aborted
// (declined, timed out or not stored). Flink's TwoPhaseCommitSinkFunction
// keeps the checkpoint's transaction pending: the next completed
// checkpoint covers its records (its source offsets move past them) and
// commits it.
func (s *SinkTask) NotifyCheckpointAborted(ctx context.Context, id int64) error {
	return s.sink.aborted(ctx, id)
}

// NotifyCheckpointComplete commits the sink's pending transactions up to id.
func (s *SinkTask) NotifyCheckpointComplete(ctx context.Context, id int64) error {
	if err := s.sink.commit(ctx, id); err != nil {
		return err
	}
	site := CrashSite{Point: CrashAfterCommit, Checkpoint: id, Subtask: s.index}
	if s.job.deps.Crasher.ShouldCrash(site) {
		return crashErr(site)
	}
	return nil
}
