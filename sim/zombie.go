package sim

import (
	"context"
	"errors"
	"fmt"
	"testing/synctest"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eosim/eosim/engine"
)

// A zombie is the job attempt that keeps running after its replacement has
// started (its process was declared dead, but it was only cut off). It goes
// on emitting and processing records into its open transactions and
// delivers the notifications its coordinator had already sent; its
// coordinator can no longer store checkpoints (the store is fenced, as a
// real job manager's high-availability store is). The replacement's
// recovery must fence it: the zombie dies at its first fenced request, or
// after zombieSteps steps.

// zombie is the cut-off attempt's scheduling state.
type zombie struct {
	job      *engine.Job
	barrier  []pendingBarrier
	notifies []notification
	steps    int
}

// becomeZombie cuts the running job off: a new attempt starts next, the old
// one lives on for a number of steps.
func (s *scheduler) becomeZombie(steps int) {
	if s.zombie != nil {
		s.killZombie("replaced by a newer zombie")
	}
	s.zombie = &zombie{job: s.job, barrier: s.barrier, notifies: s.notifies, steps: steps}
	s.job, s.barrier, s.notifies, s.finalID, s.region = nil, nil, nil, 0, nil
	s.aimLost = nil  // the new attempt's sinks have lost no notification yet
	s.stopping = nil // the stop was the cut-off attempt's
	s.attempt++      // fences the zombie's store handle
	s.res.Restarts++
	s.tr.Observe(engine.Event{Kind: "zombie", Subtask: -1, Detail: fmt.Sprintf("steps=%d", steps)})
}

func (s *scheduler) killZombie(reason string) {
	synctest.Wait() // what its last step sent reaches the broker first
	s.zombie.job.Abandon()
	s.zombie = nil
	s.tr.Observe(engine.Event{Kind: "zombie-dead", Subtask: -1, Detail: reason})
}

// zombieStep lets the zombie take one step with the scheduler's own step
// functions, on the zombie's state. Its crash-point arrivals do not count
// and never crash; its events are marked in the trace.
func (s *scheduler) zombieStep() {
	z := s.zombie
	s.job, z.job = z.job, s.job
	s.barrier, z.barrier = z.barrier, s.barrier
	s.notifies, z.notifies = z.notifies, s.notifies
	s.inZombie = true
	err := s.zombieAction()
	s.inZombie = false
	s.job, z.job = z.job, s.job
	s.barrier, z.barrier = z.barrier, s.barrier
	s.notifies, z.notifies = z.notifies, s.notifies
	z.steps--
	switch {
	case err != nil:
		s.killZombie("failed: " + failureClass(err))
	case z.steps <= 0:
		s.killZombie("killed")
	}
}

func (s *scheduler) zombieAction() error {
	var actions []func() error
	if len(s.barrier) > 0 && s.job.Coordinator().InFlight() != 0 {
		actions = append(actions, s.deliverBarrier)
	}
	if len(s.notifies) > 0 {
		actions = append(actions, s.deliverNotification)
	}
	if s.sourcesLeft() {
		actions = append(actions, s.emit)
	}
	if s.readyInputs() != nil {
		actions = append(actions, s.processInputs)
	}
	if len(actions) == 0 {
		return nil
	}
	return actions[s.rng.IntN(len(actions))]()
}

// failureClass names an error for the trace by its kind only: with several
// brokers, which partition's fetch error arrives first is goroutine order,
// and messages carry partitions and offsets.
func failureClass(err error) string {
	var ke *kerr.Error
	switch {
	case errors.Is(err, engine.ErrCheckpointAborted):
		return "checkpoint aborted"
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline"
	case errors.As(err, &ke):
		return ke.Message
	}
	var loss *kgo.ErrDataLoss
	if errors.As(err, &loss) {
		return "consumer detected data loss"
	}
	return "error"
}

// attemptStore is one job attempt's handle on the checkpoint store: once a
// newer attempt exists, its writes are refused (fencing).
type attemptStore struct {
	s       *scheduler
	attempt int
}

var errFenced = errors.New("checkpoint store: a newer job attempt exists (fenced)")

func (a attemptStore) Store(ctx context.Context, cp engine.Checkpoint) error {
	if a.attempt != a.s.attempt {
		return errFenced
	}
	return a.s.store.Store(ctx, cp)
}

func (a attemptStore) Latest(ctx context.Context) (engine.Checkpoint, bool, error) {
	return a.s.store.Latest(ctx)
}

// The store keeps the job's checkpoint-id counter (engine.CheckpointIDCounter),
// as a job manager's high-availability services do.
func (a attemptStore) HighestCheckpointID(ctx context.Context) (int64, error) {
	return a.s.store.HighestCheckpointID(ctx)
}

func (a attemptStore) ReserveCheckpointID(ctx context.Context, id int64) error {
	if a.attempt != a.s.attempt {
		return errFenced
	}
	return a.s.store.ReserveCheckpointID(ctx, id)
}

// zombieMarker marks the zombie's events in the trace.
type zombieMarker struct{ s *scheduler }

func (m zombieMarker) Observe(e engine.Event) {
	if m.s.inZombie {
		e.Kind = "zombie:" + e.Kind
	}
	m.s.tr.Observe(e)
}
