package properties

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/leanovate/gopter"
	"github.com/leanovate/gopter/prop"
	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/faults"
	"github.com/eosim/eosim/model"
	"github.com/eosim/eosim/sim"
)

func protocolsOfKind(k engine.Kind) []string {
	var out []string
	for _, p := range engine.Protocols() {
		if p.Kind == k {
			out = append(out, p.Name)
		}
	}
	return out
}

// verdict is a property's judgement of one run: "" when it holds,
// otherwise what went wrong.
func verdict(r sim.Result, lossOnly bool) string {
	switch {
	case r.HarnessError != "":
		return "harness error: " + r.HarnessError
	case lossOnly && r.Check.Counts[model.Lost]+r.Check.Counts[model.SilentLoss] > 0:
		return describe(sim.ViolatedKinds(r), fmt.Sprintf("lost=%d", r.Check.Counts[model.Lost]))
	case r.Failed():
		return describe(sim.ViolatedKinds(r), "")
	}
	return ""
}

// reportCounterexample writes the plan of a falsified property's shrunk
// case and logs the command that replays it.
func reportCounterexample(t *testing.T, protocol string, res *gopter.TestResult) (Case, bool) {
	t.Helper()
	c, ok := shrunkCase(res)
	if !ok {
		return c, false
	}
	t.Logf("counterexample for %s (gopter seed %d): %s", protocol, gopterSeed(), c)
	t.Logf("replay: %s", writeFailure(t, c.Plan(protocol)))
	return c, true
}

// Every correct protocol is exactly-once on every generated case: no
// anomaly at all, whatever the faults of the default set.
func TestCorrectProtocolsAreExactlyOnce(t *testing.T) {
	cfg := DefaultGenConfig()
	for _, protocol := range protocolsOfKind(engine.KindCorrect) {
		t.Run(protocol, func(t *testing.T) {
			name := fmt.Sprintf("exactly-once(%s)", protocol)
			cfg := cfg
			cfg.Faults = sim.FaultsFor(protocol, cfg.Faults)
			p := prop.ForAll(func(c Case) string {
				return verdict(sim.RunPlan(t, c.Plan(protocol)), false)
			}, GenCase(cfg))
			res := checkProperty(t, name, p, *casesFlag)
			if !res.Passed() {
				reportCounterexample(t, protocol, res)
			}
			requireHolds(t, name, res)
		})
	}
}

// at-least-once never loses a record; duplicates are its documented price.
func TestAtLeastOnceLosesNothing(t *testing.T) {
	const protocol = "at-least-once"
	name := fmt.Sprintf("no-loss(%s)", protocol)
	duplicates := 0
	p := prop.ForAll(func(c Case) string {
		r := sim.RunPlan(t, c.Plan(protocol))
		duplicates += r.Check.Counts[model.Duplicate]
		return verdict(r, true)
	}, GenCase(DefaultGenConfig()))
	res := checkProperty(t, name, p, *casesFlag)
	if !res.Passed() {
		reportCounterexample(t, protocol, res)
	}
	requireHolds(t, name, res)
	t.Logf("duplicates over the generated cases: %d (allowed for %s)", duplicates, protocol)
}

// Sensitivity: for every known-bad variant the harness falsifies the
// property "the variant is exactly-once wherever its correct counterpart
// is". Over a batch of generated cases at least one must show a violation
// that the correct protocol (sim.DefaultContrast) does not show on the same
// plan; gopter then shrinks it to a minimal counterexample, which must
// replay.
//
// Runs are deterministic, so the property looks each plan up in a memo of
// this test's runs (runMemo) before running it: gopter's shrinker proposes
// a plan it already tried now and then, and every variant's contrast is
// mostly two-phase-commit on the same generated cases (one gopter seed).
// The shrunk counterexample's replay is a fresh run.
//
// Every variant is searched with -properties.zoo (about 45 CPU-seconds;
// CI runs it). By default only falsifiedByDefault are: the pipeline
// (generate, catch, contrast, shrink, replay) on three bug classes, while
// every variant's corpus plan is replayed by TestRegressionCorpus.
func TestKnownBadVariantsAreFalsified(t *testing.T) {
	cfg := DefaultGenConfig()
	memo := &runMemo{results: map[string]sim.Result{}}
	for _, protocol := range protocolsOfKind(engine.KindKnownBad) {
		t.Run(protocol, func(t *testing.T) {
			if !*zooFlag && !slices.Contains(falsifiedByDefault, protocol) {
				t.Skip("pass -properties.zoo to search for this variant too")
			}
			t.Parallel()
			cfg := cfg
			cfg.Focus = RevealedBy[protocol]
			contrast := sim.DefaultContrast(protocol)
			name := fmt.Sprintf("exactly-once(%s) where %s is", protocol, contrast)
			p := prop.ForAll(func(c Case) string {
				r := memo.run(t, c.Plan(protocol))
				if r.HarnessError != "" || !r.Failed() {
					return ""
				}
				if contrast != "" {
					if rc := memo.run(t, c.Plan(contrast)); rc.HarnessError != "" || rc.Failed() {
						return "" // the correct protocol fails too: not this variant's bug
					}
				}
				return describe(sim.ViolatedKinds(r), "")
			}, GenCase(cfg))
			res := checkProperty(t, name, p, *batchFlag)
			if res.Status != gopter.TestFailed {
				t.Fatalf("%s was not caught in %d generated cases (status %v, gopter seed %d): the harness is not sensitive to it",
					protocol, *batchFlag, res.Status, gopterSeed())
			}
			c, ok := reportCounterexample(t, protocol, res)
			require.True(t, ok, "gopter reported no counterexample")
			again := sim.RunPlan(t, c.Plan(protocol))
			require.True(t, again.Failed(), "the shrunk counterexample must replay to a violation: %s", c)
		})
	}
}

// falsifiedByDefault are the variants TestKnownBadVariantsAreFalsified
// searches without -properties.zoo: a commit before the checkpoint is
// complete (the article's bug), a recovery that aborts what it must
// commit, and a transaction timeout that virtual time must reach.
var falsifiedByDefault = []string{"commit-on-snapshot", "abort-on-recovery", "flink-7784-txn-timeout"}

// runMemo remembers the results of the plans one test ran, keyed by the
// whole plan (protocol included), for that test's parallel subtests. A
// test makes its own, so -count=N runs every plan N times.
type runMemo struct {
	mu      sync.Mutex
	results map[string]sim.Result
}

// run returns the result of plan p, running it unless this memo has it.
func (m *runMemo) run(t *testing.T, p faults.Plan) sim.Result {
	key := string(p.Marshal())
	m.mu.Lock()
	r, ok := m.results[key]
	m.mu.Unlock()
	if ok {
		return r
	}
	r = sim.RunPlan(t, p)
	m.mu.Lock()
	m.results[key] = r
	m.mu.Unlock()
	return r
}
