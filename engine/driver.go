package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// This file is the production driver: the same step functions the simulator
// calls from its seeded scheduler, run here by goroutines and a real clock.
//
// Ownership: Run's goroutine restores the job (StartJob), then hands every
// SourceTask and every SinkTask to its own goroutine and becomes the
// coordinator goroutine, the only one that touches the Coordinator. A task
// goroutine is the only one that touches its task (source client and offsets;
// or operator state, barrier alignment and sink) until it exits; Run touches
// the job again (Stop or Abandon) only after every task goroutine has exited.
//
// Records and barriers go from source to sink goroutines through the job's
// channels (mutex-protected): a source goroutine pushes, then wakes the sink
// goroutine it pushed to; a sink goroutine with nothing to take waits for
// such a wake-up and never spins. A channel holding channelCapacity items
// holds its source back until the sink has drained it to half (barriers are
// never held back, so alignment cannot deadlock on a full channel).
//
// The coordinator and the tasks talk only through messages: barriers (to
// sources), notifications and a halt (to sources) go to a task's mailbox;
// acknowledgements, notification receipts and failures come back on one
// events channel.

// DriverOptions tune Run. The zero value is valid.
type DriverOptions struct {
	// StopWhen, if set, is consulted by the coordinator goroutine on every
	// tick with a copy of the job's progress. Once it returns true the
	// driver stops the job in order, exactly as when ctx is cancelled.
	// UntilProcessed builds the usual "input exhausted" condition.
	StopWhen func(Progress) bool
	// StopTimeout bounds the orderly stop (final checkpoint, its
	// notifications, Job.Stop); past it the job is abandoned and Run fails.
	// Zero means 30 seconds.
	StopTimeout time.Duration
	// CheckpointTimeout fails the job when a checkpoint stays in flight for
	// longer (Flink's checkpoint timeout with no tolerable failures). Zero
	// means 10 minutes.
	CheckpointTimeout time.Duration
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
}

// Progress is what the driver knows about a running job. It is a copy,
// safe to keep.
type Progress struct {
	// Positions maps every input partition to the offset of the next record
	// its source subtask will emit, as last published by that subtask.
	// Records emitted but not yet taken by an operator subtask are still in
	// the channels; the orderly stop drains them before its final
	// checkpoint, so stopping once Positions reach the input's end loses
	// nothing.
	Positions map[int32]int64
	// LastCompleted is the id of the last completed checkpoint (the restored
	// one before this run completes any).
	LastCompleted int64
	// Completed counts the checkpoints this run completed.
	Completed int
}

// UntilProcessed returns a StopWhen condition that holds once every
// partition of ends has been processed up to its end offset (exclusive).
func UntilProcessed(ends map[int32]int64) func(Progress) bool {
	return func(p Progress) bool {
		for part, end := range ends {
			pos, ok := p.Positions[part]
			if !ok || pos < end {
				return false
			}
		}
		return true
	}
}

// ErrCheckpointTimeout is returned (wrapped) when a checkpoint stayed in
// flight longer than DriverOptions.CheckpointTimeout.
var ErrCheckpointTimeout = errors.New("checkpoint timed out")

const (
	defaultStopTimeout       = 30 * time.Second
	defaultCheckpointTimeout = 10 * time.Minute
	// channelCapacity is how many items a channel holds before its source
	// waits; it resumes once the sink has taken half of them.
	channelCapacity = 1024
)

// Run runs one attempt of the job with goroutines and a real clock: it
// restores the job from deps.Store (StartJob) at cfg.Parallelism (the stored
// checkpoint may have another: the job is rescaled), runs every source
// subtask and every operator-and-sink subtask on its own goroutine and the
// checkpoint coordinator on the calling goroutine, which triggers a
// checkpoint every checkpointInterval, completes it once every source and
// every sink subtask has acknowledged and the store has kept it, and only
// then sends the notifications.
//
// A source goroutine polls its Kafka client when nothing is buffered, emits
// buffered records one at a time, round-robin over its partitions in
// ascending order, and between two records takes barriers, notifications
// and the halt from its mailbox in the order they were sent; a barrier
// snapshots its offsets and follows the records already emitted into every
// channel. A blocked poll is interrupted when a message arrives. A sink
// goroutine takes the items of its ready inputs round-robin (an input whose
// barrier arrived waits for the barriers of the others: alignment) and
// acknowledges once a checkpoint's barriers are aligned; between two items
// it takes its notifications.
//
// When ctx is cancelled or opts.StopWhen holds, the driver stops in order:
// every source stops emitting, the checkpoint in flight (if any) completes,
// one final checkpoint, whose barriers follow every record emitted, drains
// the channels and covers everything, its notifications commit every
// pending transaction, and Job.Stop closes the job. Run then returns nil.
// Kafka calls of the orderly stop do not use ctx (it is already cancelled);
// opts.StopTimeout bounds them.
//
// Any error of a task step, of the coordinator or of the store ends the
// attempt like a process death (Job.Abandon: transactions stay as they are,
// the next attempt's restore resolves them) and is returned wrapped, so
// errors.Is finds ErrTransactionLost (a loud failure: do not restart as if
// nothing happened), ErrCrashed and ErrCheckpointTimeout. Run does not restart
// the job; call it again to restore from the last completed checkpoint.
//
// deps.Clock defaults to SystemClock. deps.Observer and deps.Crasher are
// called from several goroutines; Run serialises the calls, so they need
// not be safe for concurrent use.
func Run(ctx context.Context, cfg Config, deps Deps, checkpointInterval time.Duration, opts DriverOptions) error {
	if checkpointInterval <= 0 {
		return fmt.Errorf("engine: run: checkpoint interval must be positive, got %v", checkpointInterval)
	}
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = defaultStopTimeout
	}
	if opts.CheckpointTimeout <= 0 {
		opts.CheckpointTimeout = defaultCheckpointTimeout
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("job", cfg.JobName)
	if deps.Clock == nil {
		deps.Clock = SystemClock{}
	}
	if deps.Observer != nil {
		deps.Observer = &lockedObserver{obs: deps.Observer}
	}
	if deps.Crasher != nil {
		deps.Crasher = &lockedCrasher{c: deps.Crasher}
	}
	job, err := StartJob(ctx, cfg, deps, checkpointInterval)
	if err != nil {
		log.Error("job failed to start", "err", err)
		return fmt.Errorf("engine: job %s: start: %w", cfg.JobName, err)
	}
	log.Info("job started", "restored_checkpoint", job.RestoredCheckpoint(),
		"parallelism", job.Parallelism(), "checkpoint_interval", checkpointInterval)
	d := newDriver(job, deps.Clock, checkpointInterval, opts, log)
	return d.run(ctx)
}

// driver is the state of one Run. Fields below "coordinator goroutine" are
// touched by Run's goroutine only.
type driver struct {
	job      *Job
	clock    Clock
	interval time.Duration
	opts     DriverOptions
	log      *slog.Logger
	sources  []*sourceRunner
	sinks    []*sinkRunner
	events   chan taskEvent
	done     chan struct{} // closed: task goroutines return
	wg       sync.WaitGroup

	// workCtx carries every Kafka and store call. It is not ctx: an orderly
	// stop after ctx is cancelled still has a checkpoint to take. It is
	// cancelled on failure, to unblock the tasks.
	workCtx    context.Context
	cancelWork context.CancelFunc

	// coordinator goroutine
	coord         *Coordinator
	triggeredAt   time.Time
	lastCompleted int64
	completed     int
	stopping      bool
	stopTimer     *time.Timer
	finalID       int64
	finalNotified int
}

func newDriver(job *Job, clock Clock, interval time.Duration, opts DriverOptions, log *slog.Logger) *driver {
	d := &driver{
		job: job, clock: clock, interval: interval, opts: opts, log: log,
		coord:         job.Coordinator(),
		lastCompleted: job.RestoredCheckpoint(),
		events:        make(chan taskEvent),
		done:          make(chan struct{}),
	}
	for _, src := range job.Sources() {
		r := &sourceRunner{d: d, src: src, partitions: src.Partitions(),
			positions: map[int32]*atomic.Int64{}, box: newMailbox()}
		for _, p := range r.partitions {
			r.positions[p] = new(atomic.Int64)
			r.positions[p].Store(src.Position(p))
		}
		d.sources = append(d.sources, r)
	}
	for _, st := range job.Sinks() {
		d.sinks = append(d.sinks, &sinkRunner{d: d, st: st, box: newMailbox()})
	}
	return d
}

func (d *driver) run(ctx context.Context) error {
	d.workCtx, d.cancelWork = context.WithCancel(context.WithoutCancel(ctx))
	defer d.cancelWork()
	for _, r := range d.sources {
		d.wg.Add(1)
		go r.loop()
	}
	for _, r := range d.sinks {
		d.wg.Add(1)
		go r.loop()
	}
	ticker := time.NewTicker(tickPeriod(d.interval))
	defer ticker.Stop()
	defer func() {
		if d.stopTimer != nil {
			d.stopTimer.Stop()
		}
	}()
	ctxDone := ctx.Done()
	var stopDeadline <-chan time.Time
	for {
		var err error
		finished := false
		select {
		case <-ctxDone:
			ctxDone = nil
			err = d.beginStop("context cancelled")
		case <-ticker.C:
			err = d.onTick()
		case ev := <-d.events:
			finished, err = d.onEvent(ev)
		case <-stopDeadline:
			err = fmt.Errorf("orderly stop did not finish within %v", d.opts.StopTimeout)
		}
		if d.stopTimer != nil && stopDeadline == nil {
			stopDeadline = d.stopTimer.C
		}
		if err != nil {
			return d.fail(err)
		}
		if finished {
			return d.finish()
		}
	}
}

// tickPeriod is how often the coordinator looks at the clock: a fraction of
// the interval, so a checkpoint is never a whole interval late.
func tickPeriod(interval time.Duration) time.Duration {
	return min(max(interval/4, time.Millisecond), 100*time.Millisecond)
}

func (d *driver) onTick() error {
	if id := d.coord.InFlight(); id != 0 && d.clock.Now().Sub(d.triggeredAt) > d.opts.CheckpointTimeout {
		return fmt.Errorf("checkpoint %d: %w after %v", id, ErrCheckpointTimeout, d.opts.CheckpointTimeout)
	}
	if d.stopping {
		return nil
	}
	if d.opts.StopWhen != nil && d.opts.StopWhen(d.progress()) {
		return d.beginStop("stop condition met")
	}
	if d.coord.Due() {
		return d.trigger()
	}
	return nil
}

func (d *driver) progress() Progress {
	p := Progress{Positions: map[int32]int64{}, LastCompleted: d.lastCompleted, Completed: d.completed}
	for _, r := range d.sources {
		for part, pos := range r.positions {
			p.Positions[part] = pos.Load()
		}
	}
	return p
}

// trigger starts the next checkpoint and sends its barrier to every source
// subtask; the sources send it on to the sinks.
func (d *driver) trigger() error {
	id, err := d.coord.Trigger()
	if err != nil {
		return err
	}
	d.triggeredAt = d.clock.Now()
	d.log.Debug("checkpoint triggered", "checkpoint", id)
	for _, r := range d.sources {
		r.box.post(control{kind: ctrlBarrier, id: id})
	}
	if d.stopping {
		d.finalID = id
	}
	return nil
}

func (d *driver) onEvent(ev taskEvent) (finished bool, err error) {
	switch ev.kind {
	case evFailed:
		return false, fmt.Errorf("%s: %w", ev.task(), ev.err)
	case evAck:
		var all bool
		if ev.sink {
			all, err = d.coord.AcknowledgeSink(ev.id, ev.sinkSnap)
		} else {
			all, err = d.coord.AcknowledgeSource(ev.id, ev.sourceSnap)
		}
		if err != nil || !all {
			return false, err
		}
		id, err := d.coord.Complete(d.workCtx)
		if err != nil {
			return false, err
		}
		d.lastCompleted = id
		d.completed++
		d.log.Debug("checkpoint completed", "checkpoint", id, "duration", d.clock.Now().Sub(d.triggeredAt))
		// Sinks first: a sink takes its mailbox before its next item, so
		// it commits this checkpoint before it can meet the next barrier.
		for _, r := range d.sinks {
			r.box.post(control{kind: ctrlNotify, id: id})
		}
		for _, r := range d.sources {
			r.box.post(control{kind: ctrlNotify, id: id})
		}
		if d.stopping && d.finalID == 0 {
			// The checkpoint that was in flight when the stop began is
			// done; every source has halted since: take the final one.
			return false, d.trigger()
		}
	case evNotified:
		if d.finalID != 0 && ev.id == d.finalID {
			d.finalNotified++
			return d.finalNotified == len(d.sources)+len(d.sinks), nil
		}
	}
	return false, nil
}

// beginStop halts every source, then takes the final checkpoint, after the
// one in flight if there is one. A source takes its messages in order, so
// the final barrier reaches it after it halted and follows everything it
// emitted into the channels; the sinks align it only once they have
// processed all of that. The final checkpoint covers everything.
func (d *driver) beginStop(reason string) error {
	if d.stopping {
		return nil
	}
	d.stopping = true
	d.stopTimer = time.NewTimer(d.opts.StopTimeout)
	d.log.Info("stopping job", "reason", reason, "last_completed", d.lastCompleted)
	for _, r := range d.sources {
		r.box.post(control{kind: ctrlHalt})
	}
	if d.coord.InFlight() == 0 {
		return d.trigger()
	}
	return nil
}

// finish ends an orderly stop: the final checkpoint is complete and every
// task has been notified of it.
func (d *driver) finish() error {
	close(d.done)
	d.wg.Wait()
	ctx, cancel := context.WithTimeout(d.workCtx, d.opts.StopTimeout)
	defer cancel()
	if err := d.job.Stop(ctx); err != nil {
		d.log.Error("job failed to stop", "err", err)
		return fmt.Errorf("engine: job %s: stop: %w", d.job.cfg.JobName, err)
	}
	d.log.Info("job stopped", "final_checkpoint", d.finalID, "checkpoints", d.completed)
	return nil
}

// fail ends the attempt like a process death and returns err wrapped.
func (d *driver) fail(err error) error {
	d.log.Error("job failed", "err", err, "last_completed", d.lastCompleted)
	d.cancelWork()
	close(d.done)
	d.wg.Wait()
	d.job.Abandon()
	return fmt.Errorf("engine: job %s: %w", d.job.cfg.JobName, err)
}

// send delivers ev to the coordinator; false once the driver is ending.
func (d *driver) send(ev taskEvent) bool {
	select {
	case d.events <- ev:
		return true
	case <-d.done:
		return false
	}
}

type controlKind int

const (
	ctrlBarrier controlKind = iota // sources only
	ctrlNotify
	ctrlHalt // sources only
)

// control is a message from the coordinator to a task.
type control struct {
	kind controlKind
	id   int64
}

type eventKind int

const (
	evAck eventKind = iota
	evNotified
	evFailed
)

// taskEvent is a message from a task to the coordinator.
type taskEvent struct {
	kind       eventKind
	sink       bool // from an operator-and-sink subtask, else from a source
	subtask    int
	id         int64
	sourceSnap SourceSnapshot
	sinkSnap   SinkSnapshot
	err        error
}

func (ev taskEvent) task() string {
	if ev.sink {
		return fmt.Sprintf("sink subtask %d", ev.subtask)
	}
	return fmt.Sprintf("source subtask %d", ev.subtask)
}

// mailbox is a task's inbox: unbounded, so the coordinator never blocks on
// a task. Its signal also carries the wake-ups between tasks.
type mailbox struct {
	mu         sync.Mutex
	queue      []control
	cancelPoll context.CancelFunc // set while a source is blocked in a poll
	signal     chan struct{}      // capacity 1: "there may be something to do"
}

func newMailbox() *mailbox { return &mailbox{signal: make(chan struct{}, 1)} }

// post appends m and wakes the task, interrupting its poll.
func (b *mailbox) post(m control) {
	b.mu.Lock()
	b.queue = append(b.queue, m)
	cancel := b.cancelPoll
	b.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	b.wake()
}

// wake tells the task to look again at its mailbox and its channels. It
// never blocks; a wake-up sent while the task is busy is kept for its next
// wait, so none is lost.
func (b *mailbox) wake() {
	select {
	case b.signal <- struct{}{}:
	default:
	}
}

func (b *mailbox) take() (control, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.queue) == 0 {
		return control{}, false
	}
	m := b.queue[0]
	b.queue = b.queue[1:]
	return m, true
}

// sourceRunner owns one SourceTask on its own goroutine.
type sourceRunner struct {
	d          *driver
	src        *SourceTask
	partitions []int32
	// positions are published by the source goroutine after every record
	// and read by the coordinator; the map itself is never written after
	// newDriver.
	positions map[int32]*atomic.Int64
	cursor    int // round-robin position in partitions
	box       *mailbox
}

func (r *sourceRunner) loop() {
	defer r.d.wg.Done()
	ctx := r.d.workCtx
	halted := false
	for {
		select {
		case <-r.d.done:
			return
		default:
		}
		if m, ok := r.box.take(); ok {
			ev := taskEvent{subtask: r.src.Index(), id: m.id}
			var err error
			switch m.kind {
			case ctrlHalt:
				halted = true
				continue
			case ctrlBarrier:
				ev.kind = evAck
				ev.sourceSnap, err = r.src.Checkpoint(ctx, m.id)
				if err == nil {
					for _, s := range r.d.sinks {
						s.box.wake() // the barrier is in every channel
					}
				}
			case ctrlNotify:
				ev.kind = evNotified
				err = r.src.NotifyCheckpointComplete(ctx, m.id)
			}
			if err != nil {
				ev.kind, ev.err = evFailed, fmt.Errorf("checkpoint %d: %w", m.id, err)
			}
			if !r.d.send(ev) || ev.kind == evFailed {
				return
			}
			continue
		}
		if halted || r.backpressured() {
			select {
			case <-r.box.signal:
			case <-r.d.done:
				return
			}
			continue
		}
		emitted, err := r.emitOne(ctx)
		if err == nil && !emitted {
			err = r.poll(ctx)
		}
		if err != nil {
			r.d.send(taskEvent{kind: evFailed, subtask: r.src.Index(), err: err})
			return
		}
	}
}

// backpressured reports whether an output channel is full: the source
// waits until its sink wakes it.
func (r *sourceRunner) backpressured() bool {
	for _, out := range r.src.outputs {
		if out.len() >= channelCapacity {
			return true
		}
	}
	return false
}

// emitOne emits one buffered record, taking partitions round-robin in
// ascending order, wakes the sink it went to, and reports whether there was
// one.
func (r *sourceRunner) emitOne(ctx context.Context) (bool, error) {
	n := len(r.partitions)
	for i := range n {
		k := (r.cursor + i) % n
		p := r.partitions[k]
		if !r.src.source.hasBuffered(p) {
			continue
		}
		rec, err := r.src.source.next(ctx, p) // buffered: does not fetch
		if err != nil {
			return false, err
		}
		r.src.emit(rec)
		r.d.sinks[r.src.Target(rec.Key)].box.wake() // where emit sent it
		r.positions[p].Store(r.src.Position(p))
		r.cursor = (k + 1) % n
		return true, nil
	}
	return false, nil
}

// poll fetches once; a message posted to the mailbox cancels the poll, so a
// barrier never waits for input to arrive.
func (r *sourceRunner) poll(ctx context.Context) error {
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r.box.mu.Lock()
	if len(r.box.queue) > 0 {
		r.box.mu.Unlock()
		return nil
	}
	r.box.cancelPoll = cancel
	r.box.mu.Unlock()
	err := r.src.source.poll(pctx)
	r.box.mu.Lock()
	r.box.cancelPoll = nil
	r.box.mu.Unlock()
	if err == nil && ctx.Err() != nil {
		// The driver is failing: say so rather than spin.
		err = ctx.Err()
	}
	return err
}

// sinkRunner owns one SinkTask (operator and sink) on its own goroutine.
type sinkRunner struct {
	d      *driver
	st     *SinkTask
	cursor int // round-robin position in the inputs
	box    *mailbox
}

func (r *sinkRunner) loop() {
	defer r.d.wg.Done()
	ctx := r.d.workCtx
	for {
		select {
		case <-r.d.done:
			return
		default:
		}
		if m, ok := r.box.take(); ok {
			ev := taskEvent{kind: evNotified, sink: true, subtask: r.st.Index(), id: m.id}
			if err := r.st.NotifyCheckpointComplete(ctx, m.id); err != nil {
				ev.kind, ev.err = evFailed, fmt.Errorf("checkpoint %d: %w", m.id, err)
			}
			if !r.d.send(ev) || ev.kind == evFailed {
				return
			}
			continue
		}
		took, err := r.processOne(ctx)
		if err != nil {
			r.d.send(taskEvent{kind: evFailed, sink: true, subtask: r.st.Index(), err: err})
			return
		}
		if !took {
			// Nothing to take: wait for a source to push or a message.
			select {
			case <-r.box.signal:
			case <-r.d.done:
				return
			}
		}
	}
}

// processOne takes one item of a ready input, round-robin over the inputs,
// and reports whether there was one. The item that aligns a checkpoint's
// barriers produces the acknowledgement, sent before anything else is
// taken.
func (r *sinkRunner) processOne(ctx context.Context) (bool, error) {
	n := len(r.st.inputs)
	for j := range n {
		i := (r.cursor + j) % n
		if !r.st.Ready(i) {
			continue
		}
		r.cursor = (i + 1) % n
		barrier := headBarrier(r.st.inputs[i])
		ack, err := r.st.ProcessInput(ctx, i)
		if err != nil {
			return false, err
		}
		if r.st.inputs[i].len() <= channelCapacity/2 {
			r.d.sources[i].box.wake() // it may be held back by a full channel
		}
		if ack != nil && !r.d.send(taskEvent{kind: evAck, sink: true, subtask: r.st.Index(), id: barrier, sinkSnap: *ack}) {
			return false, context.Canceled // the driver is ending
		}
		return true, nil
	}
	return false, nil
}

// headBarrier returns the checkpoint id of the barrier at the head of c, 0
// for a record or an empty channel. Called by the channel's only consumer,
// so the head cannot change before that consumer pops it.
func headBarrier(c *channel) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.items) == 0 {
		return 0
	}
	return c.items[0].barrier
}

// lockedObserver serialises calls from the driver's goroutines.
type lockedObserver struct {
	mu  sync.Mutex
	obs Observer
}

func (o *lockedObserver) Observe(e Event) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.obs.Observe(e)
}

// lockedCrasher serialises calls from the driver's goroutines.
type lockedCrasher struct {
	mu sync.Mutex
	c  Crasher
}

func (l *lockedCrasher) ShouldCrash(site CrashSite) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.c.ShouldCrash(site)
}
