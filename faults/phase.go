package faults

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// Phases a broker fault can be aimed at. An op with a phase is armed at its
// Hit-th checkpoint trigger like any other fault, and fires at the next
// moment the run is in that phase, so that it meets the requests of that
// protocol step rather than whatever request comes next.
const (
	// PhaseRecovery: a job attempt restores after a failure: it fetches
	// offsets (offsets-in-txn reads the group's), resume-commits the
	// restored pending transactions and aborts lingering ones.
	PhaseRecovery = "recovery"
	// PhaseNotify: a sink subtask is told a checkpoint completed and
	// commits its pending transactions.
	PhaseNotify = "notify"
	// PhasePrecommit: the last source subtask has taken the checkpoint's
	// barrier; the sinks flush what is still in flight and pre-commit.
	PhasePrecommit = "precommit"
	// PhaseStop is for crash points, not broker faults: a crash op with it
	// counts its hit from the moment a stop-with-savepoint begins, so that
	// it meets the stop's drain, savepoint and commits (the Hit-th arrival
	// at its point after the stop began).
	PhaseStop = "stop"
)

// Phases lists the phase names in a stable order.
func Phases() []string { return []string{PhaseRecovery, PhaseNotify, PhasePrecommit} }

// PhaseDescription says what a phase aims at, for 'simrun list faults'.
func PhaseDescription(phase string) string {
	switch phase {
	case PhaseRecovery:
		return "when a job attempt restores after a failure: the offset fetch, the resume-commit of pending transactions, the aborts of lingering ones"
	case PhaseNotify:
		return "when a sink is notified that a checkpoint completed: its commits"
	case PhasePrecommit:
		return "when the last source took a checkpoint's barrier: the sinks' flush and pre-commit, with batches still in flight"
	case PhaseStop:
		return "(crash points only) counts the crash's hit from the moment a stop-with-savepoint begins: it meets the stop's drain, savepoint and commits"
	}
	return ""
}

// validatePhase reports a phase that is unknown or set on a fault that is
// not a broker fault.
func validatePhase(i int, op Op) error {
	if op.Phase == "" {
		return nil
	}
	if info, _ := Lookup(op.Fault); info.IsCrash() {
		if op.Phase != PhaseStop {
			return fmt.Errorf("plan fault %d (%s): phase %s is for broker faults only; a crash point takes only phase %s", i, op.Fault, Quote(op.Phase), Quote(PhaseStop))
		}
		return nil
	}
	if !slices.Contains(Phases(), op.Phase) {
		return fmt.Errorf("plan fault %d (%s): unknown phase %s (want one of %v)", i, op.Fault, Quote(op.Phase), Phases())
	}
	if info, _ := Lookup(op.Fault); info.Kind != KindBroker {
		return fmt.Errorf("plan fault %d (%s): phase is for broker faults only", i, op.Fault)
	}
	return nil
}

// aimPhases gives some drawn broker faults a phase: a third of them, one of
// recovery, notify or precommit. A recovery-aimed op is armed from the first
// checkpoint (hit 1) and only drawn when the plan restarts the job, so that
// a restore comes while it is armed (a correlated pair: a restart while a
// broker fault is armed).
func aimPhases(rng *rand.Rand, ops []Op) {
	restarts := slices.ContainsFunc(ops, func(op Op) bool { return restartsJob(op.Fault) })
	for i := range ops {
		if info, _ := Lookup(ops[i].Fault); info.Kind != KindBroker || rng.IntN(3) != 0 {
			continue
		}
		phase := Phases()[rng.IntN(len(Phases()))]
		switch ops[i].Fault {
		case "delayed-produce", "produce-rejected", "lost-ack-produce":
			// Recovery and commits send no Produce: aimed there, the
			// fault met the first Produce after it, and none came when a
			// restore found all input processed (offsets-in-txn seed
			// 11888320002804979314 left produce-rejected@1 so, aimed at
			// recovery). The pre-commit's flush sends one.
			phase = PhasePrecommit
		}
		if phase == PhaseRecovery {
			if !restarts {
				phase = PhaseNotify
			} else {
				ops[i].Hit = 1
			}
		}
		ops[i].Phase = phase
	}
}
