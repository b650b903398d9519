package eosimtest

import (
	"slices"
	"testing"

	"github.com/eosim/eosim/app"
	"github.com/eosim/eosim/appsim"
	"github.com/eosim/eosim/faults"
)

// Shrink reduces a failing run's plan greedily, keeping every step that
// still fails with the same seed: drop faults one at a time, then halve the
// input (late records with it), then zero the restart delays. It returns
// the smallest failing plan and its run.
func Shrink(t *testing.T, a app.App, failing appsim.Result) (faults.Plan, appsim.Result) {
	best, bestRes := failing.Plan, failing
	try := func(p faults.Plan) bool {
		res := appsim.Run(t, a, appsim.Options{Seed: failing.Seed, Plan: &p})
		if res.Verdict != appsim.Violation {
			return false
		}
		best, bestRes = p, res
		return true
	}
	for i := 0; i < len(best.Faults); {
		p := best
		p.Faults = slices.Delete(slices.Clone(best.Faults), i, i+1)
		if !try(p) {
			i++
		}
	}
	for best.Workload.Records > 4 {
		p := best
		p.Workload.Records /= 2
		p.Workload.LateRecords /= 2
		if !try(p) {
			break
		}
	}
	for i, op := range best.Faults {
		if op.RestartDelayMS == 0 {
			continue
		}
		p := best
		p.Faults = slices.Clone(best.Faults)
		p.Faults[i].RestartDelayMS = 0
		try(p)
	}
	return best, bestRes
}
