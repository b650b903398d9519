package sim

import (
	"fmt"
	"slices"

	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/faults"
)

// errOperator stops the job for an operator action: a new job starts,
// restored from the last completed checkpoint (restore-retained-checkpoint:
// an older one), with the configuration the action changed.
type errOperator struct{ action, detail string }

func (e errOperator) Error() string { return "operator action " + e.action }

// nextRestoreRecords reports whether the checkpoint the job started after
// this trigger restores (the latest completed one, or the retained one a
// restore-retained-checkpoint at this trigger picks, fired or about to)
// records transactional-id prefix in a sink's state.
func (s *scheduler) nextRestoreRecords(prefix string) bool {
	retained := s.store.retained
	if len(retained) == 0 {
		return false
	}
	cp := retained[len(retained)-1]
	for i, op := range s.injector.ops {
		if op.Fault == faults.RestoreRetainedCheckpoint && !s.injector.fired[i] && op.Hit == s.injector.triggers && s.canRestoreRetained(op) {
			cp = retained[len(retained)-1-op.Count]
		}
	}
	for _, sink := range cp.Sinks {
		if slices.Contains(sink.TransactionalIDPrefixes, prefix) {
			return true
		}
	}
	return false
}

// operatorActions are the operator group's actions (faults.OperatorActions):
// each changes the configuration the next job starts with and returns what
// it changed, for the trace. The job is stopped when the action fires.
var operatorActions = map[string]func(s *scheduler, op faults.Op) string{
	"new-txn-prefix": func(s *scheduler, _ faults.Op) string {
		if s.prefixVersion > 0 && (s.res.Checkpoints == s.prefixCheckpoints || !s.nextRestoreRecords(s.cfg.TransactionalIDPrefix)) {
			// The checkpoint the next job restores does not record the
			// current prefix (none was completed under it yet, or a
			// restore-retained-checkpoint at this trigger goes back past
			// them): a job started under a third one could not know it,
			// and the current job's open transactions would linger until
			// the broker's transaction timeout (Flink has the same limit;
			// two-phase-commit seed 10657673019289308438 stalled so). An
			// operator changes the prefix of a job restored from a
			// checkpoint under it; this restart keeps it.
			return "transactional-id prefix " + s.cfg.TransactionalIDPrefix + " kept: the restored checkpoint does not record it"
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

// maxSwitchWaits bounds how many triggers a switch-guarantee waits for
// the transactional faults drawn before it (switchWaits).
const maxSwitchWaits = 4

// switchWaits reports whether the switch-guarantee at ops[i] of a drawn
// plan waits one trigger: the job is two-phase and a fault on its
// transactional requests, drawn before the switch, has not met one yet.
// After the switch the job sends none, so the fault could never fire:
// a notify-aimed EndTxn fault whose checkpoint completes only after the
// switch's trigger (two checkpoints in flight; offsets-in-txn seed
// 18292141583173416065 left endtxn-rejected@1 so with the switch at 2).
func (s *scheduler) switchWaits(i int) bool {
	in := s.injector
	if !s.plan.RearmUnfired || s.cfg.Protocol.Guarantee != engine.TwoPhaseCommit || s.switchWaited >= maxSwitchWaits {
		return false
	}
	for j, op := range in.ops {
		if j != i && needsTransactions(op.Fault) && (!in.fired[j] || !in.took(j)) {
			s.switchWaited++
			s.tr.Observe(engine.Event{Kind: "rearm", Subtask: -1, Detail: fmt.Sprintf("switch-guarantee waits for %s hit=%d", op.Fault, op.Hit)})
			return true
		}
	}
	return false
}
