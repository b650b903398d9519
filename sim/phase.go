package sim

import (
	"fmt"

	"github.com/eosim/eosim/engine"
)

// onPhase fires the phase-aimed ops that are armed for phase: the
// scheduler calls it when the run enters that protocol step.
func (in *injector) onPhase(phase string, checkpoint int64) {
	if in.reach != nil {
		in.reach.onPhase(phase)
	}
	for i, op := range in.ops {
		if !in.armed[i] || in.fired[i] || op.Phase != phase {
			continue
		}
		in.armed[i], in.fired[i] = false, true
		in.s.res.Faults[op.Fault]++
		in.s.tr.Observe(engine.Event{Kind: "fault", Subtask: -1, Checkpoint: checkpoint, Detail: fmt.Sprintf("%s hit=%d phase=%s", op.Fault, op.Hit, phase)})
		in.fire(i, checkpoint)
	}
}
