package realtime

import (
	"fmt"
	"testing"

	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/faults"
)

// TestCrashWaitsForRecordsAtStake: at the points that leave pre-committed
// transactions pending, an arrival whose transactions hold no records is
// not counted, so the planned crash fires where it puts records at stake.
func TestCrashWaitsForRecordsAtStake(t *testing.T) {
	precommit := func(c *crasher, checkpoint int64, subtask, records int) {
		c.Observe(engine.Event{Kind: "precommit", Checkpoint: checkpoint, Subtask: subtask,
			Detail: fmt.Sprintf("records=%d", records)})
	}
	tests := []struct {
		name  string
		point engine.CrashPoint
		// fires is the checkpoint at which the crash must fire.
		fires int64
		site  func(checkpoint int64) engine.CrashSite
	}{
		// Checkpoint 2 holds subtask 0's records: the job-level points
		// fire there.
		{"stored", engine.CrashAfterCheckpointStored, 2,
			func(id int64) engine.CrashSite {
				return engine.CrashSite{Point: engine.CrashAfterCheckpointStored, Checkpoint: id, Subtask: -1}
			}},
		{"ack", engine.CrashAfterAck, 2,
			func(id int64) engine.CrashSite {
				return engine.CrashSite{Point: engine.CrashAfterAck, Checkpoint: id, Subtask: -1}
			}},
		// Subtask 1's own records count at its pre-commit: its first are
		// in checkpoint 3.
		{"precommit", engine.CrashAfterPrecommit, 3,
			func(id int64) engine.CrashSite {
				return engine.CrashSite{Point: engine.CrashAfterPrecommit, Checkpoint: id, Subtask: 1}
			}},
		// Points before pre-commit count every arrival.
		{"before-snapshot", engine.CrashBeforeSnapshot, 1,
			func(id int64) engine.CrashSite {
				return engine.CrashSite{Point: engine.CrashBeforeSnapshot, Checkpoint: id, Subtask: 1}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCrasher([]faults.Op{{Fault: string(tt.point), Hit: 1}}, true)
			fired := int64(0)
			for id := int64(1); id <= 4 && fired == 0; id++ {
				switch id {
				case 2:
					precommit(c, id, 0, 5) // another subtask's records only
				case 3:
					precommit(c, id, 1, 2)
				}
				precommit(c, id, 1, 0) // an empty transaction puts nothing at stake
				if c.ShouldCrash(tt.site(id)) {
					fired = id
				}
			}
			if fired != tt.fires {
				t.Fatalf("crash fired at checkpoint %d, want %d", fired, tt.fires)
			}
		})
	}
}

// TestAtLeastOnceCrashCountsEveryArrival: a run without transactions has
// nothing pre-committed, so every arrival counts.
func TestAtLeastOnceCrashCountsEveryArrival(t *testing.T) {
	c := newCrasher([]faults.Op{{Fault: string(engine.CrashAfterPrecommit), Hit: 1}}, false)
	if !c.ShouldCrash(engine.CrashSite{Point: engine.CrashAfterPrecommit, Checkpoint: 1, Subtask: 0}) {
		t.Fatal("the first arrival of an at-least-once run did not crash")
	}
}
