package sim

import (
	"fmt"

	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/faults"
)

// errOperator stops the job for an operator action: a new job starts,
// restored from the last completed checkpoint (restore-retained-checkpoint:
// an older one), with the configuration the action changed.
type errOperator struct{ action, detail string }

func (e errOperator) Error() string { return "operator action " + e.action }

// operatorActions are the operator group's actions (faults.OperatorActions):
// each changes the configuration the next job starts with and returns what
// it changed, for the trace. The job is stopped when the action fires.
var operatorActions = map[string]func(s *scheduler, op faults.Op) string{
	"new-txn-prefix": func(s *scheduler, _ faults.Op) string {
		if s.prefixVersion > 0 && s.res.Checkpoints == s.prefixCheckpoints {
			// No checkpoint records the current prefix yet: a job
			// started under a third one could not know it, and the
			// current job's open transactions would linger until the
			// broker's transaction timeout (Flink has the same limit).
			// An operator changes the prefix of a job that checkpointed
			// under it; this restart keeps it.
			return "transactional-id prefix " + s.cfg.TransactionalIDPrefix + " kept: no checkpoint under it yet"
		}
		s.prefixVersion++
		s.prefixCheckpoints = s.res.Checkpoints
		s.cfg.TransactionalIDPrefix = fmt.Sprintf("%s-v%d", jobName, s.prefixVersion+1)
		return "transactional-id prefix " + s.cfg.TransactionalIDPrefix
	},
	"switch-guarantee": func(s *scheduler, _ faults.Op) string {
		from := s.cfg.Protocol.Guarantee
		switch from {
		case engine.TwoPhaseCommit:
			s.cfg.Protocol.Guarantee = engine.AtLeastOnce
			s.cfg.RanTransactional = true
		case engine.AtLeastOnce:
			s.cfg.Protocol.Guarantee = engine.TwoPhaseCommit
		}
		s.weakest = max(s.weakest, s.cfg.Protocol.Guarantee)
		return from.DeliveryName() + " -> " + s.cfg.Protocol.Guarantee.DeliveryName()
	},
	faults.RestoreRetainedCheckpoint: (*scheduler).restoreRetained,
}
