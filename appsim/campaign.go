package appsim

import (
	"testing"

	"github.com/eosim/eosim/app"
	"github.com/eosim/eosim/model"
)

// CampaignOptions are a campaign of an app: Runs scenarios with seeds
// RunSeed(BaseSeed, k) and plans drawn from Faults.
type CampaignOptions struct {
	Runs     int
	BaseSeed uint64
	// Scenario holds the per-run options (input size, faults); its Seed,
	// Plan and Profile are set per run.
	Scenario Options
	// CheckDeterminism replays every CheckDeterminism-th run (0: none;
	// 1: all) and compares trace hashes; a mismatch is the verdict
	// Nondeterministic.
	CheckDeterminism int
	// StopAtFirst ends the campaign at the first run that is not clean.
	StopAtFirst bool
	// StopAtViolation ends the campaign at its first violation: a search
	// for a catch, which an inconclusive or nondeterministic run does not
	// end.
	StopAtViolation bool
	// Select, when set, picks the runs k of 0..Runs-1 this campaign runs
	// (a shard, or one job's share of one); the others are skipped. A run
	// depends only on its seed and the campaign's options, never on which
	// runs went before, so shares add up to the whole campaign.
	Select func(k int) bool
	// OnResult, when set, sees every run's result (for progress and
	// reports).
	OnResult func(k int, r Result)
}

// CampaignResult sums a campaign up.
type CampaignResult struct {
	Runs, Clean, Violations, Inconclusive, Nondeterministic int
	// Counts adds up the anomaly counts of all runs.
	Counts map[string]int
	// Fired adds up the faults that fired.
	Fired map[string]int
	// First is the first run that was not clean (nil if all were).
	First *Result
}

// Failed reports whether any run was not clean.
func (c CampaignResult) Failed() bool { return c.Clean != c.Runs }

// Campaign runs a campaign. It must be called from a test goroutine.
func Campaign(t *testing.T, a app.App, o CampaignOptions) CampaignResult {
	var out CampaignResult
	base := o.Scenario
	if len(base.Faults) > 0 && base.Plan == nil && base.Profile == nil && a.Validate() == nil {
		p := base
		p.Seed = o.BaseSeed
		prof := ProfileOf(t, a, p)
		base.Profile = &prof
	}
	for k := range o.Runs {
		if o.Select != nil && !o.Select(k) {
			continue
		}
		opts := base
		opts.Seed = RunSeed(o.BaseSeed, k)
		res := Run(t, a, opts)
		if o.CheckDeterminism > 0 && k%o.CheckDeterminism == 0 && res.Verdict != Inconclusive {
			res = checkDeterminism(t, a, opts, res)
		}
		out.Add(res)
		if o.OnResult != nil {
			o.OnResult(k, res)
		}
		if o.StopAtFirst && res.Verdict != Clean || o.StopAtViolation && res.Verdict == Violation {
			break
		}
	}
	return out
}

// Add counts one finished run in: runs must be added in run order (First
// is the first one added that was not clean).
func (c *CampaignResult) Add(res Result) {
	if c.Counts == nil {
		c.Counts, c.Fired = map[string]int{}, map[string]int{}
	}
	c.Runs++
	switch res.Verdict {
	case Clean:
		c.Clean++
	case Violation:
		c.Violations++
	case Inconclusive:
		c.Inconclusive++
	case Nondeterministic:
		c.Nondeterministic++
	}
	for kind, n := range res.Check.Counts {
		c.Counts[kind] += n
	}
	for f, n := range res.Fired {
		c.Fired[f] += n
	}
	if res.Verdict != Clean && c.First == nil {
		r := res
		c.First = &r
	}
}

// checkDeterminism replays a run with the same options and compares the
// trace hashes: FoundationDB's unseed check.
func checkDeterminism(t *testing.T, a app.App, opts Options, first Result) Result {
	again := Run(t, a, opts)
	if again.TraceHash == first.TraceHash {
		return first
	}
	first.Verdict = Nondeterministic
	first.Inconclusive = "the same seed gave two different traces (" + shortHash(first.TraceHash) + " and " + shortHash(again.TraceHash) +
		"): the app's behaviour depends on something outside the seed (a data race, goroutine order outside the network, a global random source, wall-clock time, map iteration order, or I/O outside the Env)"
	first.Check = model.Result{Verdict: model.Unknown, Counts: first.Check.Counts}
	return first
}

// shortHash is a trace hash for a message; a run that never finished (it
// was abandoned as wedged) has none.
func shortHash(h string) string {
	if h == "" {
		return "none: the run did not finish"
	}
	return h[:min(12, len(h))]
}
