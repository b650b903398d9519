package realtime_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/eosim/eosim/faults"
	"github.com/eosim/eosim/fidelity"
	"github.com/eosim/eosim/realtime"
	"github.com/eosim/eosim/sim"
)

// differentialPlans are regression-corpus plans that realtime can run
// (crash points and rescale only) and whose outcome does not hang on
// sub-checkpoint timing: correct protocols that must stay clean. The
// corpus's known-bad plans are left out on purpose: most use broker faults
// only kfake can inject, and the rest (init-before-resume,
// group-offsets-on-restore, seek-without-plus-one, flink-8132-reuse-txn-id)
// are shrunk to one to three records at a 1 ms interval and fail only with
// the virtual-time order of trigger, notification and restore; in real
// time that order varies and they passed in some runs (docs/fidelity.md,
// differential runs). The known-bad side uses TestRealBroker's cases.
var differentialPlans = []string{
	"clean-2pc-crash-after-checkpoint-stored.json",
	"clean-2pc-crash-during-recovery.json",
	"clean-offsets-in-txn-crash-after-checkpoint-stored.json",
	"clean-at-least-once-crash-after-precommit.json",
}

func loadPlans(t *testing.T) []faults.Plan {
	var plans []faults.Plan
	for _, name := range differentialPlans {
		p, err := faults.ReadPlan(filepath.Join("..", "testdata", "corpus", name))
		if err != nil {
			t.Fatal(err)
		}
		plans = append(plans, p)
	}
	// And TestRealBroker's known-bad cases, which a crash catches whatever
	// the timing, and its zombie cases.
	for _, c := range realCases {
		if c.want != "" || c.crash == "zombie" {
			plans = append(plans, plan(c, 11))
		}
	}
	return plans
}

// TestDifferential runs each plan in the simulator (kfake, virtual time)
// and in real time on the real broker: the verdicts must agree.
func TestDifferential(t *testing.T) {
	brokers := fidelity.RealBrokers(t)
	for _, p := range loadPlans(t) {
		t.Run(p.Protocol, func(t *testing.T) {
			if err := realtime.Supported(p); err != nil {
				t.Fatal(err)
			}
			simRes := sim.Run(t, sim.Options{Protocol: p.Protocol, Seed: p.Seed, Plan: &p})
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			realRes := realtime.Run(ctx, realtime.Options{Brokers: brokers, Plan: p, Dir: t.TempDir()})
			t.Logf("%s: simulator %s (%d violations), Kafka 4.4 real time %s (%d violations, unfired %v, wall %v)",
				p.Protocol, simRes.Check.Verdict, len(simRes.Violations), realRes.Check.Verdict, len(realRes.Violations), realRes.Unfired, realRes.Wall)
			if simRes.HarnessError != "" || realRes.HarnessError != "" {
				t.Fatalf("harness error: sim %q, real %q", simRes.HarnessError, realRes.HarnessError)
			}
			if len(realRes.Unfired) > 0 {
				t.Fatalf("planned faults never fired in real time: %v", realRes.Unfired)
			}
			if simRes.Failed() != realRes.Failed() {
				t.Fatalf("verdicts differ: simulator failed=%v %+v; real time failed=%v %+v",
					simRes.Failed(), simRes.Violations, realRes.Failed(), realRes.Violations)
			}
		})
	}
}
