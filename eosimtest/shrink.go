package eosimtest

import (
	"maps"
	"slices"
	"testing"

	"github.com/eosim/eosim/app"
	"github.com/eosim/eosim/appsim"
	"github.com/eosim/eosim/faults"
)

// Shrink reduces a failing run's plan greedily, keeping every step that
// still fails with the same seed: drop faults one at a time, then halve the
// input (late records with it), drop the late records, drop the aborted
// input (else keep one record of it), move each fault to
// an earlier hit (the first, else half its hit, while that fails), then
// zero the restart delays. It returns
// the smallest failing plan and its run. Any violation counts as failing;
// ShrinkWith can ask for the same kinds.
func Shrink(t *testing.T, a app.App, failing appsim.Result) (faults.Plan, appsim.Result) {
	s := ShrinkWith(t, a, failing, ShrinkOptions{})
	return s.Plan, s.Result
}

// ShrinkOptions tune ShrinkWith; the zero value shrinks as Shrink does.
type ShrinkOptions struct {
	// Keep reports whether a smaller run still fails the way the original
	// did (FailsLike); nil accepts any violation.
	Keep func(appsim.Result) bool
	// MaxRuns bounds the scenario runs the search spends (0: no bound; the
	// greedy search needs a few runs per fault plus one per halving).
	MaxRuns int
}

// Shrunk is what ShrinkWith found.
type Shrunk struct {
	// Plan is the smallest plan that still failed, Result its run.
	Plan   faults.Plan
	Result appsim.Result
	// Runs is how many scenarios the search ran, Accepted how many of them
	// were kept as the new smallest; Exhausted is set when MaxRuns ended
	// the search early (the plan may not be minimal).
	Runs, Accepted int
	Exhausted      bool
}

// ShrinkWith is Shrink with options.
func ShrinkWith(t *testing.T, a app.App, failing appsim.Result, o ShrinkOptions) Shrunk {
	out := Shrunk{Plan: failing.Plan, Result: failing}
	keep := o.Keep
	if keep == nil {
		keep = func(r appsim.Result) bool { return r.Verdict == appsim.Violation }
	}
	try := func(p faults.Plan) bool {
		if o.MaxRuns > 0 && out.Runs >= o.MaxRuns {
			out.Exhausted = true
			return false
		}
		out.Runs++
		res := appsim.Run(t, a, appsim.Options{Seed: failing.Seed, Plan: &p})
		if res.Verdict != appsim.Violation || !keep(res) {
			return false
		}
		out.Plan, out.Result = p, res
		out.Accepted++
		return true
	}
	for i := 0; i < len(out.Plan.Faults) && !out.Exhausted; {
		p := out.Plan
		p.Faults = slices.Delete(slices.Clone(out.Plan.Faults), i, i+1)
		if !try(p) {
			i++
		}
	}
	for out.Plan.Workload.Records > 4 && !out.Exhausted {
		p := out.Plan
		p.Workload.Records /= 2
		p.Workload.LateRecords /= 2
		p.Workload.AbortedInput = min(p.Workload.AbortedInput, p.Workload.Records)
		if !try(p) {
			break
		}
	}
	if out.Plan.Workload.LateRecords > 0 && !out.Exhausted {
		p := out.Plan
		p.Workload.LateRecords = 0
		try(p)
	}
	// Aborted input: none, else one record, while that still fails.
	for _, n := range []int{0, 1} {
		if out.Plan.Workload.AbortedInput <= n || out.Exhausted {
			continue
		}
		p := out.Plan
		p.Workload.AbortedInput = n
		if try(p) {
			break
		}
	}
	for i := range out.Plan.Faults {
		earlier := func(hit int) bool {
			p := out.Plan
			p.Faults = slices.Clone(out.Plan.Faults)
			p.Faults[i].Hit = hit
			return try(p)
		}
		if h := out.Plan.Faults[i].Hit; h <= 1 || out.Exhausted || earlier(1) {
			continue
		}
		for h := out.Plan.Faults[i].Hit / 2; h > 1 && !out.Exhausted && earlier(h); h = out.Plan.Faults[i].Hit / 2 {
		}
	}
	for i, op := range out.Plan.Faults {
		if op.RestartDelayMS == 0 || out.Exhausted {
			continue
		}
		p := out.Plan
		p.Faults = slices.Clone(out.Plan.Faults)
		p.Faults[i].RestartDelayMS = 0
		try(p)
	}
	return out
}

// ViolatedKinds returns the anomaly kinds a run violated, sorted.
func ViolatedKinds(r appsim.Result) []string {
	kinds := map[string]bool{}
	for _, v := range r.Violations {
		kinds[v.Kind] = true
	}
	return slices.Sorted(maps.Keys(kinds))
}

// FailsLike returns a ShrinkOptions.Keep that accepts a run violating the
// same set of anomaly kinds as failing or, with subset, a non-empty subset
// of them.
func FailsLike(failing appsim.Result, subset bool) func(appsim.Result) bool {
	want := ViolatedKinds(failing)
	return func(r appsim.Result) bool {
		got := ViolatedKinds(r)
		if !subset {
			return slices.Equal(got, want)
		}
		if len(got) == 0 {
			return false
		}
		for _, k := range got {
			if !slices.Contains(want, k) {
				return false
			}
		}
		return true
	}
}
