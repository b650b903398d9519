package sim

import (
	"errors"
	"fmt"
	"slices"
	"testing/synctest"
	"time"

	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/faults"
)

// loop steps the job until all input is processed and covered by a
// completed, notified checkpoint, or the run ends in a loud failure or
// misses the liveness bound.
func (s *scheduler) loop() {
	deadline := s.tr.start.Add(livenessBound - time.Minute)
	for !s.finalDone && s.loud == "" && s.harnessErr == nil {
		if s.now.After(deadline) {
			s.stalled = fmt.Sprintf("no completion within %v of virtual time", livenessBound-time.Minute)
			return
		}
		if s.job == nil {
			s.start()
			continue
		}
		if s.region != nil && !s.now.Before(s.region.until) {
			if err := s.restoreRegion(); err != nil {
				s.fail(err)
			}
			synctest.Wait()
			continue
		}
		if s.zombie != nil && s.rng.IntN(3) == 0 {
			s.zombieStep()
		} else if err := s.step(); err != nil {
			s.fail(err)
		}
		// Let what the step set off (asynchronous sends of one sink
		// subtask) reach the broker before another subtask sends: several
		// producers write each output partition, and the order of their
		// batches decides what a last stable offset pins.
		synctest.Wait()
	}
}

// start restores a new job attempt from the store.
func (s *scheduler) start() {
	s.cfg.Parallelism = s.parallelism
	if s.startOffsets == nil {
		// No input arrives while the job is down, so every attempt
		// until the first that starts sees these ends.
		s.startOffsets = s.expectedStart()
	}
	if s.res.Restarts > 0 {
		s.injector.onPhase(faults.PhaseRecovery, 0)
	}
	s.aimRecovery()
	job, err := engine.StartJob(s.ctx, s.cfg, engine.Deps{
		Clock: s, Crasher: s.crasher, Observer: zombieMarker{s}, Store: attemptStore{s, s.attempt},
		Savepoints: &s.savepoints, Settle: synctest.Wait,
	}, time.Duration(s.plan.Workload.CheckpointIntervalMS)*time.Millisecond)
	if err != nil {
		s.fail(err)
		return
	}
	s.job = job
	s.barrier, s.notifies = nil, nil
}

// fail handles an error of a step: a crash kills the process, a lost
// transaction ends the run loudly, anything else restarts the job.
func (s *scheduler) fail(err error) {
	if errors.Is(err, errStopped) && s.job != nil {
		s.finishStop()
		s.barrier, s.notifies, s.finalID, s.stopping = nil, nil, 0, nil
		return
	}
	s.stopping = nil // a failure cancels a stop-with-savepoint in progress
	var z errZombie
	if errors.As(err, &z) && s.job != nil {
		s.becomeZombie(z.steps)
		return
	}
	var rf errRegionFailover
	isRegion := errors.As(err, &rf)
	if isRegion && s.job != nil && s.regional() {
		s.failRegion(rf)
		return
	}
	s.region = nil
	if s.job != nil {
		// What the failing step already sent reaches the broker before the
		// process is gone (a crash point settles the same way).
		synctest.Wait()
		s.job.Abandon()
		s.job = nil
	}
	s.barrier, s.notifies, s.finalID = nil, nil, 0
	s.aimLost = nil // the restore resume-commits what aimed losses left pending
	switch {
	case errors.Is(err, errHarness):
		s.harnessErr = err
	case isRegion:
		// The region is the whole job (keyBy topology, or offsets-in-txn).
		s.res.Restarts++
		s.tr.Observe(engine.Event{Kind: "region-failover", Subtask: -1, Detail: fmt.Sprintf("whole job down=%dms", rf.down.Milliseconds())})
		s.sleep(rf.down)
	case errors.As(err, new(errOperator)):
		var op errOperator
		errors.As(err, &op)
		s.res.Restarts++
		s.newJobCheckpointIDs()
		s.tr.Observe(engine.Event{Kind: "operator", Subtask: -1, Detail: op.action + ": " + op.detail})
	case errors.Is(err, errRescale):
		s.res.Restarts++
		s.tr.Observe(engine.Event{Kind: "rescale", Subtask: -1, Detail: fmt.Sprintf("parallelism %d", s.parallelism)})
	case errors.Is(err, engine.ErrCrashed):
		op := s.crasher.last
		if info, _ := faults.Lookup(op.Fault); info.IsCrash() {
			s.res.Crashes[op.Fault]++
		}
		s.res.Restarts++
		s.tr.Observe(engine.Event{Kind: "crash", Subtask: -1, Detail: fmt.Sprintf("%s hit=%d down=%dms", op.Fault, op.Hit, op.RestartDelayMS)})
		s.sleep(time.Duration(op.RestartDelayMS) * time.Millisecond)
	case errors.Is(err, engine.ErrTransactionLost), errors.Is(err, engine.ErrPoolExhausted):
		s.loud = err.Error()
		s.tr.Observe(engine.Event{Kind: "loud-failure", Subtask: -1, Detail: err.Error()})
		if errors.Is(err, engine.ErrPoolExhausted) {
			// The job stays down: the broker aborts its open transactions
			// after transaction.timeout.ms, so the verdict is the loud loss
			// of their records, not a reader pinned by them.
			s.sleep(engineTxnTimeout + 10*time.Second)
		}
	default:
		s.failures++
		s.res.Restarts++
		s.tr.Observe(engine.Event{Kind: "job-failure", Subtask: -1, Detail: failureClass(err)})
		if s.failures > maxFailures {
			s.stalled = fmt.Sprintf("job failed %d times in a row without completing a checkpoint; last: %v", s.failures, err)
			s.loud = "restart loop"
			return
		}
		s.sleep(failureRestartDelay)
	}
}

// errHarness marks a failure of the harness itself (verdict unknown).
var errHarness = errors.New("harness")

// allProcessed: all input has arrived, every source is at the end of its partitions and no record
// waits between the tasks.
func (s *scheduler) allProcessed() bool {
	if len(s.late) > 0 || s.region != nil {
		return false
	}
	for _, src := range s.job.Sources() {
		for _, p := range src.Partitions() {
			if src.Position(p) < s.ends[p] {
				return false
			}
		}
	}
	for _, st := range s.job.Sinks() {
		if st.Buffered() > 0 {
			return false
		}
	}
	return true
}

// step takes one scheduling decision.
func (s *scheduler) step() error {
	coord := s.job.Coordinator()
	done := s.allProcessed()
	if coord.Due() && s.region == nil && s.stopping == nil {
		id, err := coord.Trigger()
		if err != nil {
			return err
		}
		if done && s.finalID == 0 && !s.rearmUnfired() {
			s.finalID = id
		}
		s.aimMidCommit()
		for i := range s.job.Sources() {
			s.barrier = append(s.barrier, pendingBarrier{source: i, id: id})
		}
		return s.injector.onTrigger(id)
	}
	type action struct {
		weight int
		do     func() error
	}
	var actions []action
	if len(s.barrier) > 0 {
		actions = append(actions, action{3, s.deliverBarrier})
	}
	if len(s.notifies) > 0 {
		actions = append(actions, action{3, s.deliverNotification})
	}
	if s.sourcesLeft() {
		actions = append(actions, action{6, s.emit})
	}
	if len(s.late) > 0 {
		actions = append(actions, action{1, s.arrive})
	}
	if s.readyInputs() != nil {
		actions = append(actions, action{6, s.processInputs})
	}
	if len(actions) == 0 {
		d := time.Duration(s.plan.Workload.CheckpointIntervalMS) * time.Millisecond
		if s.region != nil {
			d = s.region.until.Sub(s.now) // nothing to do until the region restores
		}
		s.sleep(d)
		return nil
	}
	total := 0
	for _, a := range actions {
		total += a.weight
	}
	x := s.rng.IntN(total)
	for _, a := range actions {
		if x < a.weight {
			return a.do()
		}
		x -= a.weight
	}
	panic("unreachable")
}

func (s *scheduler) sourcesLeft() bool {
	for _, src := range s.job.Sources() {
		if !src.Running() || s.stopped(src.Index()) {
			continue
		}
		for _, p := range src.Partitions() {
			if src.Position(p) < s.ends[p] {
				return true
			}
		}
	}
	return false
}

// emit lets one source subtask read a small batch of one partition and send
// it downstream.
func (s *scheduler) emit() error {
	type lane struct {
		src       *engine.SourceTask
		partition int32
	}
	var lanes []lane
	for _, src := range s.job.Sources() {
		if !src.Running() || s.stopped(src.Index()) {
			continue // down, or took the savepoint's barrier: reads no more
		}
		for _, p := range src.Partitions() {
			if src.Position(p) < s.ends[p] {
				lanes = append(lanes, lane{src, p})
			}
		}
	}
	l := lanes[s.rng.IntN(len(lanes))]
	n := 1 + s.rng.Int64N(min(s.recordsLeft(l.partition, l.src.Position(l.partition)), 16))
	from := l.src.Position(l.partition)
	for range n {
		if err := l.src.EmitNext(s.ctx, l.partition); err != nil {
			return err
		}
	}
	s.tr.Observe(engine.Event{Kind: "process", Subtask: l.src.Index(), Partition: l.partition, Offset: from, Detail: fmt.Sprintf("n=%d", n)})
	s.sleep(time.Duration(n) * recordCost)
	return nil
}

// recordsLeft is how many committed input records partition p holds at or
// after offset from: what a read_committed source can still emit there
// (aborted records and transaction markers take offsets too).
func (s *scheduler) recordsLeft(p int32, from int64) int64 {
	offs := s.offsets[p]
	i, _ := slices.BinarySearch(offs, from)
	return int64(len(offs) - i)
}

type input struct{ sink, input int }

// readyInputs lists the (operator, input) pairs that have an item to take.
func (s *scheduler) readyInputs() []input {
	var ready []input
	for _, st := range s.job.Sinks() {
		if !st.Running() {
			continue
		}
		for i := range st.Inputs() {
			if st.Ready(i) {
				ready = append(ready, input{st.Index(), i})
			}
		}
	}
	return ready
}

// processInputs lets one operator subtask take a small batch from one of
// its inputs; aligned barriers acknowledge the checkpoint.
func (s *scheduler) processInputs() error {
	ready := s.readyInputs()
	in := ready[s.rng.IntN(len(ready))]
	st := s.job.Sinks()[in.sink]
	n := 1 + s.rng.IntN(16)
	for k := 0; k < n && st.Ready(in.input); k++ {
		id := st.HeadBarrier(in.input)
		ack, err := st.ProcessInput(s.ctx, in.input)
		if err != nil {
			return err
		}
		if ack != nil {
			if !slices.Contains(s.job.Coordinator().InFlightIDs(), id) {
				// A barrier of a checkpoint a region failover aborted: the
				// coordinator discards the late acknowledgement; the
				// transaction it pre-committed stays pending until a later
				// checkpoint completes.
				s.tr.Observe(engine.Event{Kind: "late-ack", Subtask: st.Index(), Checkpoint: id})
				return nil
			}
			return s.acknowledge(id, func() (bool, error) { return s.job.Coordinator().AcknowledgeSink(id, *ack) })
		}
	}
	return nil
}

// pendingBarrier is a checkpoint's barrier that a source subtask has not
// taken yet.
type pendingBarrier struct {
	source int
	id     int64
}

// deliverBarrier lets one source subtask take its oldest pending barrier:
// it snapshots its offsets and sends the barrier downstream. With several
// checkpoints in flight a subtask takes their barriers in trigger order.
func (s *scheduler) deliverBarrier() error {
	i := s.rng.IntN(len(s.barrier))
	i = slices.IndexFunc(s.barrier, func(b pendingBarrier) bool { return b.source == s.barrier[i].source })
	b := s.barrier[i]
	src := s.job.Sources()[b.source]
	s.barrier = slices.Delete(s.barrier, i, i+1)
	snap, err := src.Checkpoint(s.ctx, b.id)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(s.barrier, func(p pendingBarrier) bool { return p.id == b.id }) {
		s.injector.onPhase(faults.PhasePrecommit, b.id)
	}
	return s.acknowledge(b.id, func() (bool, error) { return s.job.Coordinator().AcknowledgeSource(b.id, snap) })
}

// acknowledge delivers one task's acknowledgement of checkpoint id; the
// last one completes the checkpoint, unless a fault makes it time out.
func (s *scheduler) acknowledge(id int64, ack func() (bool, error)) error {
	coord := s.job.Coordinator()
	all, err := ack()
	if err != nil || !all {
		return err
	}
	if id == s.injector.doomed {
		coord.Abort(id, "timed out (injected)")
		s.stopFailed(id, "savepoint timed out")
		s.notifyAborted(id)
		return nil
	}
	if _, err := coord.Complete(s.ctx); err != nil {
		if s.inZombie {
			return err // fenced: the zombie's checkpoint never completes
		}
		if errors.Is(err, engine.ErrCheckpointAborted) && !errors.Is(err, engine.ErrCrashed) {
			s.tr.Observe(engine.Event{Kind: "checkpoint-failed", Subtask: -1, Checkpoint: id, Detail: "store write failed"})
			s.stopFailed(id, "savepoint write failed")
			s.notifyAborted(id)
			return nil
		}
		return err
	}
	s.res.Checkpoints++
	s.failures = 0 // progress: the job is not in a restart loop
	for i := range s.job.Sinks() {
		s.notifies = append(s.notifies, notification{sink: true, subtask: i, id: id})
	}
	for i := range s.job.Sources() {
		s.notifies = append(s.notifies, notification{subtask: i, id: id})
	}
	return nil
}

// notifyAborted queues notifyCheckpointAborted of checkpoint id for every
// sink subtask (the sources do nothing with it, as Flink's Kafka source).
func (s *scheduler) notifyAborted(id int64) {
	for i := range s.job.Sinks() {
		s.notifies = append(s.notifies, notification{sink: true, subtask: i, id: id, aborted: true})
	}
}

// deliverNotification sends the oldest notification of a random task.
// While planned faults remain, a sink's notification is sometimes lost: the
// protocol must commit everything up to the next one.
func (s *scheduler) deliverNotification() error {
	i := s.rng.IntN(len(s.notifies))
	n := s.notifies[i]
	// Notifications of one task are delivered in order.
	for j := range i {
		if s.notifies[j].subtask == n.subtask && s.notifies[j].sink == n.sink {
			i, n = j, s.notifies[j]
			break
		}
	}
	s.notifies = append(s.notifies[:i], s.notifies[i+1:]...)
	var err error
	// The draw is taken whatever happens next, so that the schedule does
	// not depend on whether faults remain (EnumerateCrashes relies on it).
	lose := s.rng.IntN(8) == 0 && s.finalID == 0 && (s.opts.LoseNotifications || s.plan.LoseNotifications || !s.faultsExhausted())
	if n.sink && !n.aborted {
		lose = s.aimLoss(n.subtask, lose)
	}
	if s.stopping != nil && n.id == s.stopping.savepoint {
		lose = false // the stop waits for the savepoint's notifications
	}
	switch {
	case n.aborted && lose:
		s.tr.Observe(engine.Event{Kind: "notification-lost", Subtask: n.subtask, Checkpoint: n.id, Detail: "aborted"})
	case n.aborted:
		s.tr.Observe(engine.Event{Kind: "notify-aborted", Subtask: n.subtask, Checkpoint: n.id})
		err = s.job.Sinks()[n.subtask].NotifyCheckpointAborted(s.ctx, n.id)
	case !n.sink:
		err = s.job.Sources()[n.subtask].NotifyCheckpointComplete(s.ctx, n.id)
	case lose:
		s.tr.Observe(engine.Event{Kind: "notification-lost", Subtask: n.subtask, Checkpoint: n.id})
	default:
		s.injector.onPhase(faults.PhaseNotify, n.id)
		err = s.job.Sinks()[n.subtask].NotifyCheckpointComplete(s.ctx, n.id)
	}
	if err != nil {
		return err
	}
	if s.stopComplete(n) {
		return errStopped
	}
	// Done once a completed checkpoint triggered after all input was
	// processed has every notification delivered (the first such
	// checkpoint may have been aborted).
	if !s.inZombie && !n.aborted && s.finalID != 0 && n.id >= s.finalID && !s.notificationPending(n.id) {
		s.finalDone = true
	}
	return nil
}

func (s *scheduler) faultsExhausted() bool {
	return s.crasher.exhausted() && s.injector.exhausted()
}

func (s *scheduler) notificationPending(id int64) bool {
	for _, n := range s.notifies {
		if n.id <= id && !n.aborted {
			return true
		}
	}
	return false
}

// Now is the engine's clock: the scheduler's logical time.
func (s *scheduler) Now() time.Time { return s.now }

// sleep lets d of virtual time pass, for the bubble and the logical clock.
// Timers of kgo and kfake that fire at the same instant as the scheduler's
// wake-up race with it; synctest.Wait lets them all settle first, so what
// the scheduler does next never depends on which goroutine ran first.
func (s *scheduler) sleep(d time.Duration) {
	time.Sleep(d)
	synctest.Wait()
	s.now = s.now.Add(d)
}

// planCrasher fires the plan's crash ops at their hit counts.
type planCrasher struct {
	ops    []faults.Op
	fired  []bool
	hits   map[engine.CrashPoint]int
	last   *faults.Op
	outage *faults.Op // an armed outage fault, fired at the next stored checkpoint
	sites  *[]Site    // when set, every arrival is recorded
	// triggers counts the checkpoint triggers so far (recorded with sites).
	triggers func() int
	// catchUp (RearmUnfired plans): an op whose hit was taken by another
	// op at the same point fires at the next arrival.
	catchUp bool
	muted   func() bool
	// stopArmed: a crash op with phase stop counts only the arrivals at
	// the savepoint of a stop-with-savepoint (stopID, set by armStop), in
	// stopHits.
	stopArmed []bool
	stopID    int64
	stopHits  map[engine.CrashPoint]int
}

func (c *planCrasher) ShouldCrash(site engine.CrashSite) bool {
	if c.muted() {
		return false // a zombie's arrivals neither count nor crash
	}
	c.hits[site.Point]++
	c.recordSite(site)
	if c.stopID != 0 && site.Checkpoint == c.stopID {
		c.stopHits[site.Point]++
	}
	if c.outage != nil && site.Point == engine.CrashAfterCheckpointStored {
		c.last, c.outage = c.outage, nil
		synctest.Wait()
		return true
	}
	for i, op := range c.ops {
		if op.Phase == faults.PhaseStop {
			if !c.fired[i] && c.stopArmed[i] && op.Fault == string(site.Point) && site.Checkpoint == c.stopID && op.Hit == c.stopHits[site.Point] {
				c.fired[i] = true
				c.last = &c.ops[i]
				synctest.Wait()
				return true
			}
			continue
		}
		if !c.fired[i] && op.Fault == string(site.Point) && (op.Hit == c.hits[site.Point] || c.catchUp && op.Hit < c.hits[site.Point]) {
			c.fired[i] = true
			c.last = &c.ops[i]
			// Let every in-flight request settle so what the dead process
			// left on the broker does not depend on goroutine timing.
			synctest.Wait()
			return true
		}
	}
	return false
}

func (c *planCrasher) exhausted() bool {
	return c.outage == nil && !slices.Contains(c.fired, false)
}

// armStop aims the crash ops with phase stop at savepoint id: each fires
// at the Hit-th arrival at its point for that checkpoint (its snapshot,
// store, commits, or a restore from it).
func (c *planCrasher) armStop(id int64) {
	c.stopID, c.stopHits = id, map[engine.CrashPoint]int{}
	for i, op := range c.ops {
		if op.Phase == faults.PhaseStop && !c.fired[i] {
			c.stopArmed[i] = true
		}
	}
}
