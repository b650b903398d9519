package appsim

import (
	"slices"
	"testing"

	"github.com/eosim/eosim/app"
	"github.com/eosim/eosim/faults"
)

// Enumerate runs a fault-free with opts' seed and returns one plan per
// request boundary it crossed (for every protocol-site kind, a crash before
// the broker saw the request and one after it applied it) and per named
// site call: exhaustive mode. restartMS is every crash's downtime.
func Enumerate(t *testing.T, a app.App, opts Options, restartMS int) []faults.Plan {
	prof := ProfileOf(t, a, opts)
	var ops []faults.Op
	for _, s := range a.CrashPoints {
		for hit := 1; hit <= prof.Sites[s]; hit++ {
			ops = append(ops, faults.Op{Fault: faults.SiteFault(s), Hit: hit, RestartDelayMS: restartMS})
		}
	}
	for _, k := range faults.ProtocolKinds {
		for hit := 1; hit <= prof.Kinds[k]; hit++ {
			ops = append(ops,
				faults.Op{Fault: faults.CrashBefore(k), Hit: hit, RestartDelayMS: restartMS},
				faults.Op{Fault: faults.CrashAfter(k), Hit: hit, RestartDelayMS: restartMS})
		}
	}
	opts = opts.withDefaults()
	plans := make([]faults.Plan, 0, len(ops))
	for _, op := range ops {
		plans = append(plans, faults.Plan{Version: faults.PlanVersion, Protocol: a.Name, Seed: opts.Seed,
			Workload: workloadOf(a, opts), Faults: []faults.Op{op}})
	}
	return slices.Clip(plans)
}
