package engine

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// Coordinator is the checkpoint coordinator (Flink's JobManager side). It
// triggers checkpoints with increasing ids at an interval, collects the
// acknowledgements of every subtask, stores the checkpoint durably, and only
// then tells the caller to notify the subtasks. It keeps at most
// maxConcurrent checkpoints in flight (Flink's setMaxConcurrentCheckpoints):
// a checkpoint may be triggered before the one before it completed.
type Coordinator struct {
	deps          Deps
	parallelism   int
	interval      time.Duration
	maxConcurrent int
	lastID        int64
	lastTrigger   time.Time
	inflight      []*inflightCheckpoint // in trigger order
	// savepointsForFailover: a completed savepoint is stored where a
	// failover restores from (false only in the flink-26783 variant).
	savepointsForFailover bool
}

type inflightCheckpoint struct {
	id      int64
	sources map[int]SourceSnapshot
	sinks   map[int]SinkSnapshot
	began   time.Time
	// savepoint: the final checkpoint of a stop-with-savepoint.
	savepoint bool
}

func (f *inflightCheckpoint) complete(parallelism int) bool {
	return len(f.sources) == parallelism && len(f.sinks) == parallelism
}

// newCoordinator goes on from checkpoint id lastID: the highest id
// triggered before (CheckpointIDCounter), or the restored one.
func newCoordinator(deps Deps, protocol Protocol, parallelism int, interval time.Duration, maxConcurrent int, lastID int64) *Coordinator {
	return &Coordinator{deps: deps, parallelism: parallelism, interval: interval, maxConcurrent: max(1, maxConcurrent),
		lastID: lastID, lastTrigger: deps.Clock.Now(), savepointsForFailover: !protocol.Has(BugSavepointNotForFailover)}
}

// MarkSavepoint makes the in-flight checkpoint id the savepoint of a
// stop-with-savepoint: the caller stops the sources once they took its
// barrier, triggers nothing after it, and stops the job once every
// subtask was notified of its completion.
func (c *Coordinator) MarkSavepoint(id int64) error {
	f := c.find(id)
	if f == nil {
		return fmt.Errorf("coordinator: savepoint %d is not in flight", id)
	}
	f.savepoint = true
	c.deps.Observer.Observe(Event{Kind: "trigger-savepoint", Subtask: -1, Checkpoint: id})
	return nil
}

// Due reports whether the interval has passed and fewer than the maximum
// of concurrent checkpoints are in flight.
func (c *Coordinator) Due() bool {
	return len(c.inflight) < c.maxConcurrent && !c.deps.Clock.Now().Before(c.lastTrigger.Add(c.interval))
}

// InFlight returns the id of the oldest checkpoint in flight, or 0.
func (c *Coordinator) InFlight() int64 {
	if len(c.inflight) == 0 {
		return 0
	}
	return c.inflight[0].id
}

// InFlightIDs returns the ids of every checkpoint in flight, oldest first.
func (c *Coordinator) InFlightIDs() []int64 {
	ids := make([]int64, 0, len(c.inflight))
	for _, f := range c.inflight {
		ids = append(ids, f.id)
	}
	return ids
}

// MaxConcurrent is the most checkpoints the coordinator keeps in flight.
func (c *Coordinator) MaxConcurrent() int { return c.maxConcurrent }

// LastID is the highest checkpoint id triggered (or restored).
func (c *Coordinator) LastID() int64 { return c.lastID }

// Trigger starts the next checkpoint and returns its id. The caller delivers
// the barrier to every subtask.
func (c *Coordinator) Trigger() (int64, error) {
	if len(c.inflight) >= c.maxConcurrent {
		return 0, fmt.Errorf("coordinator: %d checkpoints still in flight (max_concurrent_checkpoints %d)", len(c.inflight), c.maxConcurrent)
	}
	if counter, ok := c.deps.Store.(CheckpointIDCounter); ok {
		if err := counter.ReserveCheckpointID(context.Background(), c.lastID+1); err != nil {
			return 0, fmt.Errorf("coordinator: reserve checkpoint id %d: %w", c.lastID+1, err)
		}
	}
	c.lastID++
	now := c.deps.Clock.Now()
	c.lastTrigger = now
	c.inflight = append(c.inflight, &inflightCheckpoint{id: c.lastID, sources: map[int]SourceSnapshot{}, sinks: map[int]SinkSnapshot{}, began: now})
	c.deps.Observer.Observe(Event{Kind: "trigger-checkpoint", Subtask: -1, Checkpoint: c.lastID})
	return c.lastID, nil
}

func (c *Coordinator) find(id int64) *inflightCheckpoint {
	for _, f := range c.inflight {
		if f.id == id {
			return f
		}
	}
	return nil
}

// AcknowledgeSource records a source subtask's snapshot. It reports whether
// every task has now acknowledged.
func (c *Coordinator) AcknowledgeSource(id int64, snap SourceSnapshot) (bool, error) {
	f := c.find(id)
	if f == nil {
		return false, fmt.Errorf("coordinator: acknowledgement for checkpoint %d, which is not in flight", id)
	}
	f.sources[snap.Subtask] = snap
	c.deps.Observer.Observe(Event{Kind: "ack-source", Subtask: snap.Subtask, Checkpoint: id})
	return f.complete(c.parallelism), nil
}

// AcknowledgeSink records an operator-and-sink subtask's snapshot. It
// reports whether every task has now acknowledged.
func (c *Coordinator) AcknowledgeSink(id int64, snap SinkSnapshot) (bool, error) {
	f := c.find(id)
	if f == nil {
		return false, fmt.Errorf("coordinator: acknowledgement for checkpoint %d, which is not in flight", id)
	}
	f.sinks[snap.Subtask] = snap
	c.deps.Observer.Observe(Event{Kind: "ack", Subtask: snap.Subtask, Checkpoint: id})
	return f.complete(c.parallelism), nil
}

// Abort gives up checkpoint id (declined or timed out). The caller tells
// the subtasks (notifyCheckpointAborted).
func (c *Coordinator) Abort(id int64, reason string) {
	f := c.find(id)
	if f == nil {
		return
	}
	c.deps.Observer.Observe(Event{Kind: "abort-checkpoint", Subtask: -1, Checkpoint: id, Detail: reason})
	c.remove(f)
}

func (c *Coordinator) remove(f *inflightCheckpoint) {
	c.inflight = slices.DeleteFunc(c.inflight, func(g *inflightCheckpoint) bool { return g == f })
}

// Complete stores the oldest fully acknowledged checkpoint. When it returns nil the
// checkpoint is complete and the caller must notify every subtask.
func (c *Coordinator) Complete(ctx context.Context) (int64, error) {
	i := slices.IndexFunc(c.inflight, func(f *inflightCheckpoint) bool { return f.complete(c.parallelism) })
	if i < 0 {
		return 0, fmt.Errorf("coordinator: no fully acknowledged checkpoint")
	}
	f := c.inflight[i]
	if c.deps.Crasher.ShouldCrash(CrashSite{Point: CrashAfterAck, Checkpoint: f.id, Subtask: -1}) {
		return 0, crashErr(CrashSite{Point: CrashAfterAck, Checkpoint: f.id, Subtask: -1})
	}
	cp := Checkpoint{ID: f.id, Parallelism: c.parallelism, Savepoint: f.savepoint}
	for i := range c.parallelism {
		cp.Sources = append(cp.Sources, f.sources[i])
		cp.Sinks = append(cp.Sinks, f.sinks[i])
	}
	c.remove(f)
	store := c.deps.Store
	if f.savepoint && !c.savepointsForFailover && c.deps.Savepoints != nil {
		// The bug: the savepoint is kept apart, and a failure before the
		// job stopped restores the checkpoint before it.
		store = c.deps.Savepoints
	}
	if err := store.Store(ctx, cp); err != nil {
		c.deps.Observer.Observe(Event{Kind: "abort-checkpoint", Subtask: -1, Checkpoint: f.id, Detail: "store failed"})
		return 0, fmt.Errorf("coordinator: store checkpoint %d: %w: %w", f.id, ErrCheckpointAborted, err)
	}
	c.deps.Observer.Observe(Event{Kind: "checkpoint-stored", Subtask: -1, Checkpoint: f.id})
	if c.deps.Crasher.ShouldCrash(CrashSite{Point: CrashAfterCheckpointStored, Checkpoint: f.id, Subtask: -1}) {
		return 0, crashErr(CrashSite{Point: CrashAfterCheckpointStored, Checkpoint: f.id, Subtask: -1})
	}
	return f.id, nil
}
