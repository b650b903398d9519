package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Job is one running attempt of the job: a coordinator and its subtasks,
// each a chain source → transform → keyed counter → sink. A process crash
// ends the attempt (Abandon); recovery is a new Job restored from the store.
type Job struct {
	cfg         Config
	deps        Deps
	coordinator *Coordinator
	subtasks    []*Subtask
	restoredID  int64
	// admin is the job's non-transactional client for raw requests: group
	// offsets, resume-commits, lingering aborts.
	admin *kgo.Client
}

// Subtask is one parallel instance of the chain. Its methods are the step
// functions the driver or the simulator calls; none of them starts a
// goroutine of its own.
type Subtask struct {
	index   int
	job     *Job
	source  *kafkaSource
	counter *keyedCounter
	sink    sink
}

// StartJob restores a new job attempt from the latest stored checkpoint
// (initializeState of every subtask), or starts it fresh when there is none.
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
	if deps.Store == nil {
		return nil, fmt.Errorf("start job: a checkpoint store is required")
	}
	cp, ok, err := deps.Store.Latest(ctx)
	if err != nil {
		return nil, fmt.Errorf("start job: %w", err)
	}
	if ok && cp.Parallelism != cfg.Parallelism {
		return nil, fmt.Errorf("start job: checkpoint %d has parallelism %d, job has %d (rescaling is not supported yet)",
			cp.ID, cp.Parallelism, cfg.Parallelism)
	}
	j := &Job{cfg: cfg, deps: deps, restoredID: cp.ID}
	if j.admin, err = kgo.NewClient(cfg.ClientOpts...); err != nil {
		return nil, fmt.Errorf("start job: %w", err)
	}
	deps.Observer.Observe(Event{Kind: "restore", Subtask: -1, Checkpoint: cp.ID})
	for i := 0; i < cfg.Parallelism; i++ {
		var snap SubtaskSnapshot
		if ok {
			snap = cp.Subtasks[i]
		}
		st, err := j.openSubtask(ctx, i, snap, ok)
		if err != nil {
			j.Abandon()
			return nil, err
		}
		j.subtasks = append(j.subtasks, st)
	}
	j.coordinator = newCoordinator(deps, cfg.Parallelism, checkpointInterval, cp.ID)
	return j, nil
}

func (j *Job) openSubtask(ctx context.Context, i int, snap SubtaskSnapshot, fromCheckpoint bool) (*Subtask, error) {
	st := &Subtask{index: i, job: j, counter: newKeyedCounter(snap.Counts)}
	var err error
	// The sink recovers first: its pending transactions must be committed
	// before anything new is written.
	if st.sink, err = openSink(ctx, &j.cfg, i, j.admin, snap.Pending, snap.NextTransaction, fromCheckpoint, j.deps); err != nil {
		return nil, err
	}
	if st.source, err = openSource(ctx, &j.cfg, i, j.admin, snap.Offsets, fromCheckpoint, j.deps.Observer); err != nil {
		st.sink.abandon()
		return nil, err
	}
	return st, nil
}

// Coordinator returns the job's checkpoint coordinator.
func (j *Job) Coordinator() *Coordinator { return j.coordinator }

// Subtasks returns the job's subtasks in index order.
func (j *Job) Subtasks() []*Subtask { return j.subtasks }

// RestoredCheckpoint is the id of the checkpoint this attempt restored, 0
// for a fresh start.
func (j *Job) RestoredCheckpoint() int64 { return j.restoredID }

// Abandon is process death: every client is closed without ending its
// transaction and all task memory is dropped.
func (j *Job) Abandon() {
	for _, st := range j.subtasks {
		if st.sink != nil {
			st.sink.abandon()
		}
		if st.source != nil {
			st.source.close()
		}
	}
	j.subtasks = nil
	if j.admin != nil {
		j.admin.Close()
		j.admin = nil
	}
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
	for _, st := range j.subtasks {
		if err := st.sink.finish(ctx); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Index is the subtask's index.
func (s *Subtask) Index() int { return s.index }

// Partitions returns the input partitions this subtask reads.
func (s *Subtask) Partitions() []int32 { return s.source.partitions }

// Position returns the offset of the next record the subtask will emit from
// partition p.
func (s *Subtask) Position(p int32) int64 { return s.source.lastEmitted[p] + 1 }

// Counts returns the keyed operator's current state, sorted by key.
func (s *Subtask) Counts() []KeyCount { return s.counter.snapshot() }

// ProcessNext emits the next record of partition p through the chain:
// transform, count, and write to the sink. It fetches until the record is
// there, so the caller must know partition p has one (or bound ctx).
func (s *Subtask) ProcessNext(ctx context.Context, p int32) error {
	r, err := s.source.next(ctx, p)
	if err != nil {
		return err
	}
	s.process(ctx, r)
	return nil
}

func (s *Subtask) process(ctx context.Context, r *kgo.Record) {
	key := string(r.Key)
	count := s.counter.process(key)
	out := &kgo.Record{
		Topic:     s.job.cfg.OutputTopic,
		Partition: r.Partition % s.job.cfg.OutputPartitions,
		Key:       r.Key,
		Value:     []byte(FormatOutput(r.Partition, r.Offset, key, count, transform(string(r.Value)))),
	}
	s.sink.write(ctx, out)
}

// Checkpoint takes the barrier of checkpoint id: snapshot the source, the
// operator state, and pre-commit the sink. The returned snapshot is the
// acknowledgement for the coordinator.
func (s *Subtask) Checkpoint(ctx context.Context, id int64) (SubtaskSnapshot, error) {
	site := func(p CrashPoint) CrashSite { return CrashSite{Point: p, Checkpoint: id, Subtask: s.index} }
	if s.job.deps.Crasher.ShouldCrash(site(CrashBeforeSnapshot)) {
		return SubtaskSnapshot{}, crashErr(site(CrashBeforeSnapshot))
	}
	snap := SubtaskSnapshot{Subtask: s.index, Offsets: s.source.snapshot(id), Counts: s.counter.snapshot()}
	if s.job.deps.Crasher.ShouldCrash(site(CrashAfterSourceSnapshot)) {
		return SubtaskSnapshot{}, crashErr(site(CrashAfterSourceSnapshot))
	}
	pending, next, err := s.sink.precommit(ctx, id)
	if err != nil {
		return SubtaskSnapshot{}, err
	}
	snap.Pending, snap.NextTransaction = pending, next
	s.job.deps.Observer.Observe(Event{Kind: "snapshot", Subtask: s.index, Checkpoint: id})
	if s.job.deps.Crasher.ShouldCrash(site(CrashAfterPrecommit)) {
		return SubtaskSnapshot{}, crashErr(site(CrashAfterPrecommit))
	}
	return snap, nil
}

// NotifyCheckpointComplete commits the sink's pending transactions up to id,
// then commits the source offsets of id to the consumer group.
func (s *Subtask) NotifyCheckpointComplete(ctx context.Context, id int64) error {
	if err := s.sink.commit(ctx, id); err != nil {
		return err
	}
	site := CrashSite{Point: CrashAfterCommit, Checkpoint: id, Subtask: s.index}
	if s.job.deps.Crasher.ShouldCrash(site) {
		return crashErr(site)
	}
	s.source.commitOffsets(ctx, id)
	return nil
}
