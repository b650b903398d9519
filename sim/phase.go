package sim

import (
	"fmt"
	"slices"

	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/faults"
)

// onPhase fires the phase-aimed ops that are armed for phase: the
// scheduler calls it when the run enters that protocol step.
func (in *injector) onPhase(phase string, checkpoint int64) {
	if in.reach != nil {
		in.reach.onPhase(phase)
	}
	for i, op := range in.ops {
		if !in.armed[i] || in.fired[i] || op.Phase != phase && !in.commitsInstead(op, phase) {
			continue
		}
		in.armed[i], in.fired[i] = false, true
		in.s.res.Faults[op.Fault]++
		in.s.tr.Observe(engine.Event{Kind: "fault", Subtask: -1, Checkpoint: checkpoint, Detail: fmt.Sprintf("%s hit=%d phase=%s", op.Fault, op.Hit, phase)})
		in.fire(i, checkpoint)
	}
}

// commitsInstead reports whether a drawn notify-aimed EndTxn fault, still
// waiting for its notification, fires at this restore instead: the job
// failed between the checkpoint's completion and the notification, so the
// restore resume-commits what that notification would have committed.
// Waiting on, it met no EndTxn when the input ran out before the next
// notification with records (two-phase-commit seed 18208702094871944713
// left lost-ack-endtxn@9 so, with a crash after checkpoint 9 was stored).
func (in *injector) commitsInstead(op faults.Op, phase string) bool {
	return phase == faults.PhaseRecovery && op.Phase == faults.PhaseNotify && in.s.plan.RearmUnfired &&
		slices.Contains([]string{"lost-ack-endtxn", "endtxn-rejected", "delayed-endtxn"}, op.Fault)
}
