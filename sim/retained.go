package sim

import (
	"context"
	"fmt"

	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/faults"
	"github.com/eosim/eosim/model"
)

// restore-retained-checkpoint (Flink's externalized checkpoints,
// state.checkpoints.num-retained, and `flink run -s` of one that is not
// the latest; ResumeCheckpointManuallyITCase): the job is stopped when a
// checkpoint triggers and a new job starts from the retained checkpoint
// count completed checkpoints before the latest. Its checkpoint ids go on
// from the restored one, its sources rewind to that checkpoint's offsets,
// and the records up to the latest checkpoint's offsets are read again:
// what the old job committed of them stays visible, so each may be seen
// twice (the oracle allows exactly that range, model.RereadRange). The
// new job's store holds the checkpoints up to the restored one, and its
// own after it.

// retain keeps a decoded copy of every completed checkpoint the store
// took (not the startup record): the retained checkpoints, oldest first.
func (f *faultyStore) retain(ctx context.Context) {
	if cp, ok, err := f.MemoryStore.Latest(ctx); err == nil && ok && cp.ID > 0 {
		f.retained = append(f.retained, cp)
	}
}

// canRestoreRetained reports whether op can fire: the store retains count
// completed checkpoints older than the latest. Until it does, the op waits
// for the next trigger.
func (s *scheduler) canRestoreRetained(op faults.Op) bool {
	return len(s.store.retained) > op.Count
}

// restoreRetained makes the checkpoint op.Count back from the latest the one
// the next job restores from, notes the input it reads again for the
// oracle, and tells the new job which checkpoint it was started from.
func (s *scheduler) restoreRetained(op faults.Op) string {
	retained := s.store.retained
	latest := retained[len(retained)-1]
	from := retained[len(retained)-1-op.Count]
	s.store.retained = retained[:len(retained)-op.Count]
	if err := s.store.MemoryStore.Store(s.ctx, from); err != nil {
		s.harnessErr = fmt.Errorf("%w: restore retained checkpoint %d: %w", errHarness, from.ID, err)
	}
	ranges := s.rereadRanges(from, latest)
	s.reread = append(s.reread, ranges...)
	s.cfg.RetainedCheckpoint = from.ID
	return fmt.Sprintf("checkpoint %d, %d back from the latest %d; reread %v", from.ID, op.Count, latest.ID, ranges)
}

// rereadRanges are the input ranges between from's source offsets and
// latest's, per partition: from the first offset from does not cover to
// the first latest does not. A partition from lacks starts where the
// job's first start put it.
func (s *scheduler) rereadRanges(from, latest engine.Checkpoint) []model.RereadRange {
	next := func(cp engine.Checkpoint) map[int32]int64 {
		out := map[int32]int64{}
		for _, src := range cp.Sources {
			for _, po := range src.Offsets {
				if po.Offset >= -1 { // not a placeholder (the flink-28303 variant)
					out[po.Partition] = po.Offset + 1
				}
			}
		}
		return out
	}
	start, end := next(from), next(latest)
	var out []model.RereadRange
	for p := range int32(s.plan.Workload.Partitions) {
		to, ok := end[p]
		if !ok {
			continue
		}
		at, ok := start[p]
		if !ok {
			at = s.startOffsets[p]
		}
		if to > at {
			out = append(out, model.RereadRange{Partition: p, From: at, To: to})
		}
	}
	return out
}
