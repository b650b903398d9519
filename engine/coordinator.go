package engine

import (
	"context"
	"fmt"
	"time"
)

// Coordinator is the checkpoint coordinator (Flink's JobManager side). It
// triggers checkpoints with increasing ids at an interval, collects the
// acknowledgements of every subtask, stores the checkpoint durably, and only
// then tells the caller to notify the subtasks. It keeps at most one
// checkpoint in flight.
type Coordinator struct {
	deps        Deps
	parallelism int
	interval    time.Duration
	lastID      int64
	lastTrigger time.Time
	inflight    *inflightCheckpoint
}

type inflightCheckpoint struct {
	id      int64
	sources map[int]SourceSnapshot
	sinks   map[int]SinkSnapshot
	began   time.Time
}

func (f *inflightCheckpoint) complete(parallelism int) bool {
	return len(f.sources) == parallelism && len(f.sinks) == parallelism
}

func newCoordinator(deps Deps, parallelism int, interval time.Duration, restoredID int64) *Coordinator {
	return &Coordinator{deps: deps, parallelism: parallelism, interval: interval,
		lastID: restoredID, lastTrigger: deps.Clock.Now()}
}

// Due reports whether the interval has passed and no checkpoint is in flight.
func (c *Coordinator) Due() bool {
	return c.inflight == nil && !c.deps.Clock.Now().Before(c.lastTrigger.Add(c.interval))
}

// InFlight returns the id of the checkpoint in flight, or 0.
func (c *Coordinator) InFlight() int64 {
	if c.inflight == nil {
		return 0
	}
	return c.inflight.id
}

// LastID is the highest checkpoint id triggered (or restored).
func (c *Coordinator) LastID() int64 { return c.lastID }

// Trigger starts the next checkpoint and returns its id. The caller delivers
// the barrier to every subtask.
func (c *Coordinator) Trigger() (int64, error) {
	if c.inflight != nil {
		return 0, fmt.Errorf("coordinator: checkpoint %d still in flight", c.inflight.id)
	}
	c.lastID++
	now := c.deps.Clock.Now()
	c.lastTrigger = now
	c.inflight = &inflightCheckpoint{id: c.lastID, sources: map[int]SourceSnapshot{}, sinks: map[int]SinkSnapshot{}, began: now}
	c.deps.Observer.Observe(Event{Kind: "trigger-checkpoint", Subtask: -1, Checkpoint: c.lastID})
	return c.lastID, nil
}

// AcknowledgeSource records a source subtask's snapshot. It reports whether
// every task has now acknowledged.
func (c *Coordinator) AcknowledgeSource(id int64, snap SourceSnapshot) (bool, error) {
	if c.inflight == nil || c.inflight.id != id {
		return false, fmt.Errorf("coordinator: acknowledgement for checkpoint %d, which is not in flight", id)
	}
	c.inflight.sources[snap.Subtask] = snap
	c.deps.Observer.Observe(Event{Kind: "ack-source", Subtask: snap.Subtask, Checkpoint: id})
	return c.inflight.complete(c.parallelism), nil
}

// AcknowledgeSink records an operator-and-sink subtask's snapshot. It
// reports whether every task has now acknowledged.
func (c *Coordinator) AcknowledgeSink(id int64, snap SinkSnapshot) (bool, error) {
	if c.inflight == nil || c.inflight.id != id {
		return false, fmt.Errorf("coordinator: acknowledgement for checkpoint %d, which is not in flight", id)
	}
	c.inflight.sinks[snap.Subtask] = snap
	c.deps.Observer.Observe(Event{Kind: "ack", Subtask: snap.Subtask, Checkpoint: id})
	return c.inflight.complete(c.parallelism), nil
}

// Abort gives up the checkpoint in flight (declined or timed out).
func (c *Coordinator) Abort(reason string) {
	if c.inflight == nil {
		return
	}
	c.deps.Observer.Observe(Event{Kind: "abort-checkpoint", Subtask: -1, Checkpoint: c.inflight.id, Detail: reason})
	c.inflight = nil
}

// Complete stores the fully acknowledged checkpoint. When it returns nil the
// checkpoint is complete and the caller must notify every subtask.
func (c *Coordinator) Complete(ctx context.Context) (int64, error) {
	f := c.inflight
	if f == nil || !f.complete(c.parallelism) {
		return 0, fmt.Errorf("coordinator: no fully acknowledged checkpoint")
	}
	if c.deps.Crasher.ShouldCrash(CrashSite{Point: CrashAfterAck, Checkpoint: f.id, Subtask: -1}) {
		return 0, crashErr(CrashSite{Point: CrashAfterAck, Checkpoint: f.id, Subtask: -1})
	}
	cp := Checkpoint{ID: f.id, Parallelism: c.parallelism}
	for i := range c.parallelism {
		cp.Sources = append(cp.Sources, f.sources[i])
		cp.Sinks = append(cp.Sinks, f.sinks[i])
	}
	c.inflight = nil
	if err := c.deps.Store.Store(ctx, cp); err != nil {
		c.deps.Observer.Observe(Event{Kind: "abort-checkpoint", Subtask: -1, Checkpoint: f.id, Detail: "store failed"})
		return 0, fmt.Errorf("coordinator: store checkpoint %d: %w: %w", f.id, ErrCheckpointAborted, err)
	}
	c.deps.Observer.Observe(Event{Kind: "checkpoint-stored", Subtask: -1, Checkpoint: f.id})
	if c.deps.Crasher.ShouldCrash(CrashSite{Point: CrashAfterCheckpointStored, Checkpoint: f.id, Subtask: -1}) {
		return 0, crashErr(CrashSite{Point: CrashAfterCheckpointStored, Checkpoint: f.id, Subtask: -1})
	}
	return f.id, nil
}
