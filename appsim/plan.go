package appsim

import (
	"fmt"

	"github.com/eosim/eosim/app"
	"github.com/eosim/eosim/faults"
)

// PlanFor returns the plan a scenario runs: opts.Plan (validated against
// the app), one drawn from the seed, opts.Faults and opts.Profile, or a
// fault-free plan when no fault is enabled.
func PlanFor(a app.App, opts Options) (faults.Plan, error) {
	if err := a.Validate(); err != nil {
		return faults.Plan{}, err
	}
	opts = opts.withDefaults()
	p := faults.Plan{Version: faults.PlanVersion, Protocol: a.Name, Seed: opts.Seed, Workload: workloadOf(a, opts)}
	switch {
	case opts.Plan != nil:
		p.Faults = opts.Plan.Faults
		if opts.Plan.Workload.Records > 0 {
			p.Workload = opts.Plan.Workload
		}
	case len(opts.Faults) > 0:
		for _, f := range opts.Faults {
			if !appliesTo(f, a.CrashPoints) {
				return p, fmt.Errorf("fault %q does not apply to app %s", f, a.Name)
			}
		}
		if opts.Profile == nil {
			return p, fmt.Errorf("appsim: drawing faults for app %s needs a profile (Run takes one)", a.Name)
		}
		p.Faults = drawFaults(newRand(opts.Seed, "plan"), opts.Faults, *opts.Profile, a.ProcessCount())
	}
	if err := p.Validate(); err != nil {
		return p, err
	}
	for i, op := range p.Faults {
		if !appliesTo(op.Fault, a.CrashPoints) {
			return p, fmt.Errorf("plan fault %d: %q does not apply to app %s (its named sites are %v)", i, op.Fault, a.Name, a.CrashPoints)
		}
	}
	return p, nil
}

// workloadOf records the input shape in a plan. For an app, Parallelism
// and CheckpointIntervalMS carry no meaning (the app decides); they hold
// valid placeholders so that the plan format stays the engine's.
func workloadOf(a app.App, o Options) faults.Workload {
	return faults.Workload{Partitions: int(a.Spec.InputPartitions), Parallelism: 1, Records: o.Records,
		KeysPerPartition: o.KeysPerPartition, CheckpointIntervalMS: 100, LateRecords: o.LateRecords,
		AbortedInput: o.AbortedInput}
}
