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
// Subtask to its own goroutine and becomes the coordinator goroutine, the only
// one that touches the Coordinator. A subtask goroutine is the only one that
// touches its Subtask (source, operator state, sink) until it exits; Run
// touches the job again (Stop or Abandon) only after every subtask goroutine
// has exited. The two sides talk only through messages: barriers,
// notifications and a halt go to a subtask's mailbox; acknowledgements,
// notification receipts and failures come back on one events channel.

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
	// its subtask will process, as last published by that subtask.
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
)

// Run runs one attempt of the job with goroutines and a real clock: it
// restores the job from deps.Store (StartJob), runs every subtask on its own
// goroutine and the checkpoint coordinator on the calling goroutine, which
// triggers a checkpoint every checkpointInterval, completes it once every
// subtask has acknowledged and the store has kept it, and only then sends the
// notifications.
//
// A subtask goroutine polls its source when nothing is buffered, processes
// buffered records one at a time, round-robin over its partitions in
// ascending order, and between two records takes barriers and notifications
// from its mailbox in the order they were sent. A blocked poll is interrupted
// when a message arrives.
//
// When ctx is cancelled or opts.StopWhen holds, the driver stops in order:
// every subtask stops processing, the checkpoint in flight (if any)
// completes, one final checkpoint covers everything processed, its
// notifications commit every pending transaction, and Job.Stop closes the
// job. Run then returns nil. Kafka calls of the orderly stop do not use ctx
// (it is already cancelled); opts.StopTimeout bounds them.
//
// Any error of a subtask step, of the coordinator or of the store ends the
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
		"parallelism", len(job.Subtasks()), "checkpoint_interval", checkpointInterval)
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
	runners  []*subtaskRunner
	events   chan subtaskEvent
	done     chan struct{} // closed: subtask goroutines return
	wg       sync.WaitGroup

	// workCtx carries every Kafka and store call. It is not ctx: an orderly
	// stop after ctx is cancelled still has a checkpoint to take. It is
	// cancelled on failure, to unblock the subtasks.
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
		events:        make(chan subtaskEvent),
		done:          make(chan struct{}),
	}
	for _, st := range job.Subtasks() {
		r := &subtaskRunner{d: d, st: st, partitions: st.Partitions(),
			positions: map[int32]*atomic.Int64{}, signal: make(chan struct{}, 1)}
		for _, p := range r.partitions {
			r.positions[p] = new(atomic.Int64)
			r.positions[p].Store(st.Position(p))
		}
		d.runners = append(d.runners, r)
	}
	return d
}

func (d *driver) run(ctx context.Context) error {
	d.workCtx, d.cancelWork = context.WithCancel(context.WithoutCancel(ctx))
	defer d.cancelWork()
	for _, r := range d.runners {
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
	for _, r := range d.runners {
		for part, pos := range r.positions {
			p.Positions[part] = pos.Load()
		}
	}
	return p
}

// trigger starts the next checkpoint and sends its barrier to every subtask.
func (d *driver) trigger() (err error) {
	id, err := d.coord.Trigger()
	if err != nil {
		return err
	}
	d.triggeredAt = d.clock.Now()
	d.log.Debug("checkpoint triggered", "checkpoint", id)
	for _, r := range d.runners {
		r.post(control{kind: ctrlBarrier, id: id})
	}
	if d.stopping {
		d.finalID = id
	}
	return nil
}

func (d *driver) onEvent(ev subtaskEvent) (finished bool, err error) {
	switch ev.kind {
	case evFailed:
		return false, fmt.Errorf("subtask %d: %w", ev.subtask, ev.err)
	case evAck:
		all, err := d.coord.Acknowledge(ev.id, ev.snap)
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
		for _, r := range d.runners {
			r.post(control{kind: ctrlNotify, id: id})
		}
		if d.stopping && d.finalID == 0 {
			// The checkpoint that was in flight when the stop began is
			// done; every subtask has halted since: take the final one.
			return false, d.trigger()
		}
	case evNotified:
		if d.finalID != 0 && ev.id == d.finalID {
			d.finalNotified++
			return d.finalNotified == len(d.runners), nil
		}
	}
	return false, nil
}

// beginStop halts every subtask, then takes the final checkpoint, after the
// one in flight if there is one. A subtask takes its messages in order, so
// the final barrier reaches it after it halted: the final checkpoint covers
// everything it processed.
func (d *driver) beginStop(reason string) error {
	if d.stopping {
		return nil
	}
	d.stopping = true
	d.stopTimer = time.NewTimer(d.opts.StopTimeout)
	d.log.Info("stopping job", "reason", reason, "last_completed", d.lastCompleted)
	for _, r := range d.runners {
		r.post(control{kind: ctrlHalt})
	}
	if d.coord.InFlight() == 0 {
		return d.trigger()
	}
	return nil
}

// finish ends an orderly stop: the final checkpoint is complete and every
// subtask has committed it.
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

type controlKind int

const (
	ctrlBarrier controlKind = iota
	ctrlNotify
	ctrlHalt
)

// control is a message from the coordinator to a subtask.
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

// subtaskEvent is a message from a subtask to the coordinator.
type subtaskEvent struct {
	kind    eventKind
	subtask int
	id      int64
	snap    SubtaskSnapshot
	err     error
}

// subtaskRunner owns one Subtask on its own goroutine.
type subtaskRunner struct {
	d          *driver
	st         *Subtask
	partitions []int32
	// positions are published by the subtask goroutine after every record
	// and read by the coordinator; the map itself is never written after
	// newDriver.
	positions map[int32]*atomic.Int64
	cursor    int // round-robin position in partitions

	// The mailbox: unbounded, so the coordinator never blocks on a subtask.
	mu         sync.Mutex
	queue      []control
	cancelPoll context.CancelFunc // set while the subtask is blocked in a poll
	signal     chan struct{}      // capacity 1: "the queue may be non-empty"
}

// post appends m to the mailbox and wakes the subtask, interrupting its poll.
func (r *subtaskRunner) post(m control) {
	r.mu.Lock()
	r.queue = append(r.queue, m)
	cancel := r.cancelPoll
	r.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	select {
	case r.signal <- struct{}{}:
	default:
	}
}

func (r *subtaskRunner) take() (control, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.queue) == 0 {
		return control{}, false
	}
	m := r.queue[0]
	r.queue = r.queue[1:]
	return m, true
}

func (r *subtaskRunner) send(ev subtaskEvent) bool {
	ev.subtask = r.st.Index()
	select {
	case r.d.events <- ev:
		return true
	case <-r.d.done:
		return false
	}
}

func (r *subtaskRunner) loop() {
	defer r.d.wg.Done()
	ctx := r.d.workCtx
	halted := false
	for {
		select {
		case <-r.d.done:
			return
		default:
		}
		if m, ok := r.take(); ok {
			var ev subtaskEvent
			switch m.kind {
			case ctrlHalt:
				halted = true
				continue
			case ctrlBarrier:
				snap, err := r.st.Checkpoint(ctx, m.id)
				ev = subtaskEvent{kind: evAck, id: m.id, snap: snap, err: err}
			case ctrlNotify:
				err := r.st.NotifyCheckpointComplete(ctx, m.id)
				ev = subtaskEvent{kind: evNotified, id: m.id, err: err}
			}
			if ev.err != nil {
				ev.kind = evFailed
				ev.err = fmt.Errorf("checkpoint %d: %w", m.id, ev.err)
			}
			if !r.send(ev) || ev.kind == evFailed {
				return
			}
			continue
		}
		if halted {
			select {
			case <-r.signal:
			case <-r.d.done:
				return
			}
			continue
		}
		processed, err := r.processOne(ctx)
		if err == nil && !processed {
			err = r.poll(ctx)
		}
		if err != nil {
			r.send(subtaskEvent{kind: evFailed, err: err})
			return
		}
	}
}

// processOne processes one buffered record, taking partitions round-robin
// in ascending order, and reports whether there was one.
func (r *subtaskRunner) processOne(ctx context.Context) (bool, error) {
	n := len(r.partitions)
	for i := range n {
		k := (r.cursor + i) % n
		p := r.partitions[k]
		if !r.st.source.hasBuffered(p) {
			continue
		}
		if err := r.st.ProcessNext(ctx, p); err != nil {
			return false, err
		}
		r.positions[p].Store(r.st.Position(p))
		r.cursor = (k + 1) % n
		return true, nil
	}
	return false, nil
}

// poll fetches once; a message posted to the mailbox cancels the poll, so a
// barrier never waits for input to arrive.
func (r *subtaskRunner) poll(ctx context.Context) error {
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r.mu.Lock()
	if len(r.queue) > 0 {
		r.mu.Unlock()
		return nil
	}
	r.cancelPoll = cancel
	r.mu.Unlock()
	err := r.st.source.poll(pctx)
	r.mu.Lock()
	r.cancelPoll = nil
	r.mu.Unlock()
	if err == nil && ctx.Err() != nil {
		// The driver is failing: say so rather than spin.
		err = ctx.Err()
	}
	return err
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
