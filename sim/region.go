package sim

import (
	"fmt"
	"slices"
	"testing/synctest"
	"time"

	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/faults"
)

// Region failover (Flink's RestartPipelinedRegionFailoverStrategy): a task
// failure restarts only its failover region. Under the forward topology
// region r is source subtask r with the sink subtask it feeds; the other
// regions keep processing, committing and taking notifications while it is
// down. A checkpoint that includes the failed tasks cannot complete, so
// the ones in flight are aborted and none is triggered until the region
// runs again (Flink declines to trigger while a task is not running).

// errRegionFailover fails one region of the job.
type errRegionFailover struct {
	region int
	down   time.Duration
}

func (e errRegionFailover) Error() string { return fmt.Sprintf("region %d failed", e.region) }

// regionDown is a failed region waiting for its restore.
type regionDown struct {
	region int
	until  time.Time
}

// regional reports whether a region failover restarts the region alone:
// under the forward topology, and not under offsets-in-txn. There the
// restoring source must read its partitions' group offsets with
// RequireStable, and kfake answers UNSTABLE_OFFSET_COMMIT for the whole
// group while any transaction holds offsets of it (Kafka answers per
// partition), so the restore would wait on the live subtasks'
// pre-committed transactions, which cannot commit while a region is down:
// a deadlock of the fake broker, not of the protocol. Its region is then
// the whole job.
func (s *scheduler) regional() bool {
	return s.job.Regional() && !s.proto.OffsetsInTransaction
}

// failRegion kills region r of the running job; it restores after down.
func (s *scheduler) failRegion(e errRegionFailover) {
	r := e.region % s.job.Parallelism()
	// What the region already sent reaches the broker before it dies.
	synctest.Wait()
	coord := s.job.Coordinator()
	for _, id := range coord.InFlightIDs() {
		coord.Abort(id, fmt.Sprintf("region %d failed", r))
		s.notifyAborted(id) // the live sinks keep its transactions pending
	}
	if s.stopping != nil {
		// A failure during a stop-with-savepoint fails the stop, its
		// savepoint stored or not; the job runs on.
		s.stopFailed(s.stopping.savepoint, fmt.Sprintf("region %d failed", r))
	}
	s.barrier = nil
	s.notifies = slices.DeleteFunc(s.notifies, func(n notification) bool { return n.subtask == r })
	s.finalID = 0        // the region replays from the last completed checkpoint
	delete(s.aimLost, r) // its restore resume-commits what the loss left pending
	s.job.FailRegion(r)
	s.region = &regionDown{region: r, until: s.now.Add(e.down)}
	s.tr.Observe(engine.Event{Kind: "region-failover", Subtask: r, Detail: fmt.Sprintf("down=%dms", e.down.Milliseconds())})
}

// restoreRegion restores the failed region once its downtime is over; a
// failure of the restore fails the whole job.
func (s *scheduler) restoreRegion() error {
	r := s.region.region
	s.region = nil
	s.injector.onPhase(faults.PhaseRecovery, 0)
	return s.job.RestoreRegion(s.ctx, r)
}
