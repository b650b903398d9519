package sim

import (
	"bytes"
	"flag"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/faults"
	"github.com/eosim/eosim/internal/testgc"
	"github.com/eosim/eosim/model"
)

var simRuns = flag.Int("sim.runs", 30, "scenarios per protocol in the sim package's campaign tests")

func crashFaults(t testing.TB) []string {
	t.Helper()
	fs, err := faults.Resolve("crash")
	require.NoError(t, err)
	return fs
}

// options is a default scenario with every fault of "all" enabled and the
// parallelism drawn per run (1..4).
func options(t testing.TB, protocol string, seed uint64) Options {
	fs, err := faults.Resolve("all")
	require.NoError(t, err)
	w := faults.DefaultWorkload()
	w.Parallelism = 0
	w.AbortedInput = faults.DefaultAbortedInput(w.Records) // as campaigns and the gate run it
	return Options{Protocol: protocol, Seed: seed, Workload: w, Faults: fs}
}

// campaignResult sums a campaign of n scenarios.
type campaignResult struct {
	counts    map[string]int // anomalies, but what a switched run's guarantee allows
	violating []Result
	crashes   int      // crashes and other faults fired
	ops       int      // fault ops the plans drew
	unfired   []Result // runs with a planned op that never fired
}

// campaign runs n scenarios of protocol and sums their anomaly counts.
func campaign(t *testing.T, protocol string, base uint64, n int) campaignResult {
	c := campaignResult{counts: map[string]int{}}
	for k := range n {
		res := Run(t, options(t, protocol, RunSeed(base, k)))
		require.Empty(t, res.HarnessError, "seed %d", res.Seed)
		for kind, n := range res.Check.Counts {
			if res.JudgedAs != "" && model.Allowed(res.JudgedAs)[kind] {
				// Switched to a weaker guarantee (switch-guarantee): what
				// it allows is no anomaly of this run.
				continue
			}
			c.counts[kind] += n
		}
		for _, n := range res.Crashes {
			c.crashes += n
		}
		for _, n := range res.Faults {
			c.crashes += n
		}
		c.ops += len(res.Plan.Faults)
		if len(res.Unfired) > 0 {
			c.unfired = append(c.unfired, res)
		}
		if res.Failed() {
			c.violating = append(c.violating, res)
		}
	}
	return c
}

// The correct protocols are exactly-once over a campaign of the default
// mix, and the drawn plans of that campaign fire every op (this was
// TestDrawnFaultsAllFire's own campaign of two of them at another seed).
func TestCorrectProtocolIsExactlyOnceUnderFaults(t *testing.T) {
	for _, p := range engine.Protocols() {
		if p.Kind != engine.KindCorrect {
			continue
		}
		t.Run(p.Name, func(t *testing.T) {
			c := campaign(t, p.Name, 101, *simRuns)
			for _, r := range c.violating {
				t.Errorf("seed %d: %v (plan %+v)", r.Seed, r.Violations, r.Plan.Faults)
			}
			for _, r := range c.unfired {
				t.Errorf("seed %d: unfired %+v (plan %+v)", r.Seed, r.Unfired, r.Plan.Faults)
			}
			require.Equal(t, 0, c.counts[model.Lost]+c.counts[model.Duplicate]+c.counts[model.StateDivergence])
			require.Greater(t, c.crashes, *simRuns, "the campaign must actually fire faults")
			require.Greater(t, c.ops, *simRuns, "the campaign drew faults")
		})
	}
}

func TestWeakerProtocolsShowTheirAllowedAnomalies(t *testing.T) {
	c := campaign(t, "at-least-once", 202, *simRuns)
	require.Empty(t, c.violating)
	require.Zero(t, c.counts[model.Lost], "at-least-once must not lose")
	require.Positive(t, c.counts[model.Duplicate], "crashes must replay records under at-least-once")

	c = campaign(t, "none", 303, *simRuns)
	require.Empty(t, c.violating, "loss and duplicates are allowed for none")
	require.Positive(t, c.counts[model.Lost]+c.counts[model.Duplicate])
}

var zooSearch = flag.Bool("sim.zoo", false,
	"search default-mix campaigns until every known-bad variant is caught (about 45 CPU-seconds; the gate's detect checks run the same search in CI)")

// Every known-bad variant must be caught, and the catch must replay the
// same at GOMAXPROCS 1 and 2. By default the catches are the regression
// corpus's plans (cheap; that each of them still catches its variant is
// also properties' TestRegressionCorpus); with -sim.zoo they are the first
// failing runs of a default-mix campaign, as `simrun gate` finds them.
func TestBugZooIsCaught(t *testing.T) {
	var corpus []CorpusEntry
	if !*zooSearch {
		var err error
		corpus, err = LoadCorpus("../testdata/corpus")
		require.NoError(t, err)
	}
	for _, p := range engine.Protocols() {
		if p.Kind != engine.KindKnownBad {
			continue
		}
		t.Run(p.Name, func(t *testing.T) {
			if !*zooSearch {
				plans := 0
				for _, e := range corpus {
					if e.Plan.Protocol != p.Name {
						continue
					}
					plans++
					var at1, at2 Result
					testgc.AtProcs(1, func() { at1 = RunPlan(t, e.Plan) })
					testgc.AtProcs(2, func() { at2 = RunPlan(t, e.Plan) })
					require.True(t, at1.Failed(), "%s: the corpus plan %s no longer catches it", p.Name, e.Name)
					require.Equal(t, at1.TraceHash, at2.TraceHash, e.Name)
					require.Equal(t, at1.Check.Counts, at2.Check.Counts, e.Name)
				}
				require.Positive(t, plans, "%s has no plan in testdata/corpus", p.Name)
				return
			}
			var caught *Result
			// The rarest catches (flink-23854: about 1 run in 20 of the
			// default mix) need more than a hundred runs now and then.
			for k := range 10 * *simRuns {
				res := Run(t, options(t, p.Name, RunSeed(404, k)))
				if res.Failed() {
					caught = &res
					break
				}
			}
			require.NotNil(t, caught, "%s was never caught", p.Name)
			// The search runs at the test binary's GOMAXPROCS 1
			// (testgc.MainOneProc); the replay at 2, as campaigns run.
			var again Result
			testgc.AtProcs(2, func() { again = Run(t, options(t, p.Name, caught.Seed)) })
			require.Equal(t, caught.TraceHash, again.TraceHash)
			require.Equal(t, caught.Check.Counts, again.Check.Counts)
		})
	}
}

func TestSameSeedSameTrace(t *testing.T) {
	for _, protocol := range []string{"two-phase-commit", "none", "init-before-resume"} {
		var a, b bytes.Buffer
		oa, ob := options(t, protocol, 7), options(t, protocol, 7)
		oa.Trace, ob.Trace = &a, &b
		// At GOMAXPROCS 1 (the test binary's, testgc.MainOneProc) and 2.
		var ra, rb Result
		testgc.AtProcs(1, func() { ra = Run(t, oa) })
		testgc.AtProcs(2, func() { rb = Run(t, ob) })
		require.Positive(t, a.Len())
		require.Equal(t, a.String(), b.String(), protocol)
		require.Equal(t, ra.TraceHash, rb.TraceHash)
		oc := options(t, protocol, 8)
		require.NotEqual(t, ra.TraceHash, Run(t, oc).TraceHash, "another seed must give another trace")
	}
}

func TestExplicitPlanFiresItsCrash(t *testing.T) {
	opts := options(t, "two-phase-commit", 9)
	opts.Plan = &faults.Plan{Version: faults.PlanVersion, Workload: faults.DefaultWorkload(),
		Faults: []faults.Op{{Fault: "crash-after-checkpoint-stored", Hit: 2, RestartDelayMS: 50}}}
	res := Run(t, opts)
	require.Empty(t, res.Violations)
	require.Equal(t, map[string]int{"crash-after-checkpoint-stored": 1}, res.Crashes)
	require.Equal(t, 1, res.Restarts)
}
