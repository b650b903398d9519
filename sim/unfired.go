package sim

import (
	"fmt"
	"slices"
	"strings"

	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/faults"
)

// unfired returns the plan's ops that never fired: a crash op whose point
// was not reached its Hit-th time, a non-crash op whose checkpoint trigger
// never came, an outage armed but never reaching a stored checkpoint. A
// fault that never fires is a test that did not run, so runs say so.
func (s *scheduler) unfired() []faults.Op {
	var out []faults.Op
	j := 0 // index into the injector's non-crash ops, which keep plan order
	for i, op := range s.plan.Faults {
		if info, _ := faults.Lookup(op.Fault); info.IsCrash() {
			if !s.crasher.fired[i] {
				out = append(out, op)
			}
			continue
		}
		fired := s.injector.fired[j] && s.injector.took(j) // armed, but did it meet a request?
		j++
		if isOutage(op.Fault) && s.crasher.outage != nil && s.crasher.outage.Hit == op.Hit {
			fired = false // armed, but the job never stored a checkpoint after it
		}
		if !fired {
			out = append(out, op)
		}
	}
	return out
}

func isOutage(name string) bool {
	return name == "outage-beyond-txn-timeout" || name == "outage-beyond-txn-id-expiry"
}

// traceUnfired puts the unfired ops in the trace, one event each.
func (s *scheduler) traceUnfired(ops []faults.Op) {
	for _, op := range ops {
		s.tr.Observe(engine.Event{Kind: "unfired", Subtask: -1, Detail: fmt.Sprintf("%s hit=%d", op.Fault, op.Hit)})
	}
}

// UnfiredText names unfired ops for a warning line: "rescale@12, lost-ack-endtxn@3".
func UnfiredText(ops []faults.Op) string {
	parts := make([]string, len(ops))
	for i, op := range ops {
		parts[i] = fmt.Sprintf("%s@%d", op.Fault, op.Hit)
	}
	return strings.Join(parts, ", ")
}

// rearmUnfired is called when a checkpoint triggers after all input was
// processed. For a plan with RearmUnfired and ops that have not fired, it
// re-arms them for their next chance and reports true: this checkpoint is
// then not the final one, so the run goes on (with faults remaining, so
// notifications may still be lost) until they fire or MaxRearms rounds
// have passed.
func (s *scheduler) rearmUnfired() bool {
	if !s.plan.RearmUnfired || s.rearms >= faults.MaxRearms || len(s.unfired()) == 0 {
		return false
	}
	s.rearms++
	for i, op := range s.crasher.ops {
		if info, _ := faults.Lookup(op.Fault); info.IsCrash() && !s.crasher.fired[i] {
			s.crasher.ops[i].Hit = s.crasher.hits[engine.CrashPoint(op.Fault)] + 1
			s.crasher.ops[i].Phase = "" // a stop-aimed crash whose stop never came: the next arrival
		}
	}
	restoreLeft := s.restartLeft()
	for i := range s.injector.ops {
		if !s.injector.fired[i] {
			op := &s.injector.ops[i]
			op.Hit = s.injector.triggers + 1 // this trigger
			if op.Phase == faults.PhaseRecovery && !restoreLeft {
				// Aimed at a restore that never came (a stop-with-savepoint
				// whose savepoint timed out: two-phase-commit-pooled-ids
				// seed 9041362147781728725 left not-coordinator@1 so): the
				// next request of its kind.
				op.Phase = ""
			}
			if op.Fault == faults.RestoreRetainedCheckpoint && op.Count > 1 && op.Count >= len(s.store.retained) {
				// As far back as the run retains: a short run never keeps
				// count+1 checkpoints (two-phase-commit seed
				// 2735126128334067967 left count 3 unfired).
				op.Count = max(1, len(s.store.retained)-1)
			}
		}
	}
	s.tr.Observe(engine.Event{Kind: "rearm", Subtask: -1, Detail: fmt.Sprintf("round=%d unfired=%d", s.rearms, len(s.unfired()))})
	return true
}

// aimMidCommit is called at every checkpoint trigger. crash-mid-commit is
// reached only when a sink commits two pending transactions at once, that
// is after a lost notification; left to chance (one in eight while faults
// remain) most drawn crash-mid-commit ops never fired. While a drawn plan
// has one that has not fired, every sink notification until the next
// trigger is lost, except to a sink whose last notification was lost,
// aimed or drawn (its next commit then ends two transactions; aimLoss). Every sink, not the
// first notified: that one may hold no records (an idle subtask, or no key
// hashed to it), and then nothing commits two transactions (seed
// 12801877397109095579 left crash-mid-commit@1 unfired so). A restore
// forgets a sink's aimed loss: it resume-committed what the loss left
// pending, so the sink's next notification is lost again (after a region
// failover the restored region may be the only sink with records left;
// two-phase-commit seed 6396261499550116326 left crash-mid-commit@1
// unfired while its first notifications were spared).
func (s *scheduler) aimMidCommit() {
	s.loseNextNotification = false
	if !s.plan.RearmUnfired {
		return
	}
	for i, op := range s.crasher.ops {
		if op.Fault == string(engine.CrashMidCommit) && !s.crasher.fired[i] {
			s.loseNextNotification = true
			return
		}
	}
}

// aimLoss decides a sink notification's loss while an unfired
// crash-mid-commit is aimed at: a sink whose last notification was lost
// (aimed or by the random draw) is spared, so that this commit ends two
// transactions; any other loses it. Left to the alternation of aimed
// losses alone, a random loss between two aimed ones lost every
// notification of a single sink until the restart (two-phase-commit seed
// 4962261290671647425 left crash-mid-commit@2 unfired). Outside the aim the
// random draw stands.
func (s *scheduler) aimLoss(subtask int, drawn bool) bool {
	if s.aimLost == nil {
		s.aimLost = map[int]bool{}
	}
	lose := drawn
	if s.loseNextNotification && s.finalID == 0 {
		lose = !s.aimLost[subtask]
	}
	s.aimLost[subtask] = lose
	return lose
}

// restartLeft reports whether an op that restarts the job has not fired
// yet: a restore may still come.
func (s *scheduler) restartLeft() bool {
	return slices.ContainsFunc(s.unfired(), func(op faults.Op) bool {
		info, _ := faults.Lookup(op.Fault)
		return info.RestartsJob()
	})
}

// aimRecovery is called as a job attempt starts. A drawn
// crash-during-recovery aims at the restores its plan makes (two consults
// per transactional sink and restore), but two faults can end one attempt
// together (a crash at a stop-with-savepoint's ack: the stop's own restart
// never comes), and then its hit lies past the last restore: a re-arm
// cannot help, no restore follows (two-phase-commit-pooled-ids seed
// 11125596440128166178 left crash-during-recovery@5 unfired with 4
// reachable). So when no op that restarts the job is left unfired, this
// restore is the plan's last: an unfired crash-during-recovery whose hit
// lies past it is moved to one of its consults (the same position modulo
// the restore's consults).
func (s *scheduler) aimRecovery() {
	if !s.plan.RearmUnfired || s.cfg.Protocol.Guarantee != engine.TwoPhaseCommit {
		return
	}
	if s.restartLeft() {
		return // a later restore is still to come
	}
	consults := 2 * max(1, s.parallelism)
	done := s.crasher.hits[engine.CrashDuringRecovery]
	for i, op := range s.crasher.ops {
		if op.Fault != string(engine.CrashDuringRecovery) || s.crasher.fired[i] || op.Phase != "" || op.Hit <= done+consults {
			continue
		}
		hit := done + 1 + (op.Hit-done-1)%consults
		s.crasher.ops[i].Hit = hit
		s.tr.Observe(engine.Event{Kind: "rearm", Subtask: -1, Detail: fmt.Sprintf("crash-during-recovery hit=%d at the last restore", hit)})
	}
}
