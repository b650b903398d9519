package sim

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/faults"
)

// A stop-with-savepoint (Flink's `flink stop`) is a graceful stop: the
// checkpoint triggered when the op fires is the savepoint. Each source
// stops reading once it took the savepoint's barrier, so everything in
// flight is before the barrier and drains into the savepoint's
// transactions; no checkpoint is triggered after it; its notifications are
// never lost (the stop waits for them); once every subtask was notified the
// job stops in order (Job.Stop: finish, then close) and, after the op's
// restart_delay_ms, a new job restores from the savepoint. A failure before
// the stop completed cancels it: the job restores from the latest
// checkpoint as after any failure and runs on.

// stopRequest is a stop-with-savepoint in progress.
type stopRequest struct {
	savepoint int64
	op        faults.Op
}

// errStopped ends the job attempt after a completed stop-with-savepoint.
var errStopped = errors.New("stopped with savepoint")

// beginStop makes checkpoint id the savepoint of op.
func (s *scheduler) beginStop(op faults.Op, id int64) error {
	if err := s.job.Coordinator().MarkSavepoint(id); err != nil {
		return fmt.Errorf("%w: %w", errHarness, err)
	}
	s.stopping = &stopRequest{savepoint: id, op: op}
	s.crasher.armStop(id)
	return nil
}

// stopped reports whether source subtask i has taken the savepoint's
// barrier and so reads no more.
func (s *scheduler) stopped(i int) bool {
	if s.stopping == nil || s.inZombie {
		return false
	}
	return !slices.ContainsFunc(s.barrier, func(b pendingBarrier) bool { return b.source == i && b.id == s.stopping.savepoint })
}

// stopFailed cancels the stop when its savepoint will never complete: the
// job keeps running, as Flink's does when stop-with-savepoint fails.
func (s *scheduler) stopFailed(id int64, why string) {
	if s.stopping == nil || s.inZombie || s.stopping.savepoint != id {
		return
	}
	s.tr.Observe(engine.Event{Kind: "stop-with-savepoint-failed", Subtask: -1, Checkpoint: id, Detail: why})
	s.stopping = nil
}

// stopComplete reports whether notification n completed the stop: every
// subtask has been notified of the savepoint.
func (s *scheduler) stopComplete(n notification) bool {
	return s.stopping != nil && !s.inZombie && !n.aborted && n.id == s.stopping.savepoint && !s.notificationPending(n.id)
}

// finishStop stops the job in order and waits out the op's downtime; the
// next attempt restores from the savepoint. Where the savepoint was kept
// apart from the checkpoints (the flink-26783 variant), restoring from it
// is the user's explicit choice: it is put where the next attempt
// restores from.
func (s *scheduler) finishStop() {
	req := s.stopping
	if err := s.job.Stop(s.ctx); err != nil {
		s.tr.Observe(engine.Event{Kind: "stop-failed", Subtask: -1, Detail: err.Error()})
	}
	settle()
	s.job = nil
	if cp, ok, err := s.savepoints.Latest(context.Background()); err == nil && ok && cp.ID == req.savepoint {
		if err := s.store.MemoryStore.Store(s.ctx, cp); err != nil {
			s.harnessErr = fmt.Errorf("%w: restore from savepoint: %w", errHarness, err)
		}
		s.store.retain(s.ctx)
	}
	s.newJobCheckpointIDs()
	s.res.Restarts++
	s.tr.Observe(engine.Event{Kind: "stop-with-savepoint", Subtask: -1, Checkpoint: req.savepoint, Detail: fmt.Sprintf("down=%dms", req.op.RestartDelayMS)})
	s.sleep(time.Duration(req.op.RestartDelayMS) * time.Millisecond)
}

// newJobCheckpointIDs starts the checkpoint-id counter of a new job (an
// operator's restart, a restore from a savepoint) at the checkpoint it
// restores, as Flink's does; a failover of the same job goes on from the
// highest id triggered.
func (s *scheduler) newJobCheckpointIDs() {
	cp, _, _ := s.store.Latest(s.ctx)
	s.store.ResetCheckpointIDs(cp.ID)
}
