package examples

import (
	"flag"
	"slices"
	"strings"
	"testing"

	"github.com/eosim/eosim/appsim"
)

var (
	campaignRuns = flag.Int("examples.runs", 20, "runs of each correct example's campaign")
	twinRuns     = flag.Int("examples.twin-runs", 200, "most runs a known-bad example may take to be caught")
	baseSeed     = flag.Uint64("examples.seed", 1, "base seed of the example campaigns")
	checkEvery   = flag.Int("examples.check-determinism", 10, "replay every n-th campaign run to compare traces (0: never)")
)

func TestEveryExampleIsRegistered(t *testing.T) {
	for _, a := range Apps() {
		got, ok := appsim.Lookup(a.Name)
		if !ok || got.Name != a.Name {
			t.Errorf("%s is not registered with appsim", a.Name)
		}
	}
}

// stopAt ends an example's campaign early: at its first run that is not
// clean, or at its first violation.
type stopAt int

const (
	allRuns stopAt = iota
	firstViolation
)

func campaign(t *testing.T, name string, runs int, stop stopAt) appsim.CampaignResult {
	t.Helper()
	a, err := Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	all, err := appsim.ResolveFaults(a, "all")
	if err != nil {
		t.Fatal(err)
	}
	// join-instance is left out: fired during the graceful stop it starts
	// a process that is never stopped (TestReproJoinInstanceDuringStopWedges).
	// The engine's two-phase commit assumes that a job is never down for
	// longer than its transaction timeout (one minute): pause-instance
	// (50-70 s without network) breaks that, like the engine catalogue's
	// opt-in outage-beyond-txn-timeout, and the engine then reports a loud
	// loss (ErrDataLost), as it should.
	enginePause := func(f string) bool { return f == "pause-instance" && strings.HasPrefix(name, "engine-") }
	enabled := slices.DeleteFunc(all, func(f string) bool { return f == "join-instance" || enginePause(f) })
	// A run the harness cannot end in time is counted inconclusive rather
	// than exiting the binary (TestReproStopBoundShorterThanKgoSyncGroupTimeout).
	old := appsim.Wedged
	appsim.Wedged = func(msg string) { t.Logf("counted inconclusive: %s", msg) }
	defer func() { appsim.Wedged = old }()
	res := appsim.Campaign(t, a, appsim.CampaignOptions{Runs: runs, BaseSeed: *baseSeed,
		Scenario: appsim.Options{Faults: enabled}, StopAtViolation: stop == firstViolation, CheckDeterminism: *checkEvery,
		OnResult: func(k int, r appsim.Result) {
			if r.Verdict != appsim.Clean {
				t.Logf("run %d seed %d: %s %v plan %+v %s", k, r.Seed, r.Verdict, r.Check.Counts, r.Plan.Faults, firstLine(r.Inconclusive))
			}
		}})
	t.Logf("%s: %d runs: %d clean, %d violation, %d inconclusive, %d nondeterministic; anomalies %v",
		name, res.Runs, res.Clean, res.Violations, res.Inconclusive, res.Nondeterministic, res.Counts)
	return res
}

var only = flag.String("examples.only", "", "run the campaigns of this example only (empty: all)")

func selected(t *testing.T, name string) {
	t.Helper()
	if *only != "" && *only != name {
		t.Skipf("-examples.only=%s", *only)
	}
}

// TestCorrectExamplesAreClean runs a campaign with every applicable fault
// against each correct example: no violation, and for the single-instance
// apps no nondeterminism. An inconclusive run (the harness could not reach
// a verdict, for example the synctest mutex limit in kgo's group consumer)
// is reported, not failed.
func TestCorrectExamplesAreClean(t *testing.T) {
	tests := []struct {
		name string
		runs int
		// deterministic: the determinism self-check must pass. gts-3 and
		// the engine are known not to (see the README and the issue note).
		deterministic bool
	}{
		{"copier", *campaignRuns, true},
		{"gts", *campaignRuns, true},
		// Three sessions wedge the bubble often (5 s of wall time each):
		// only with -examples.runs set higher than its default.
		{"gts-3", 0, false},
		{"engine-two-phase-commit", *campaignRuns, false},
	}
	if *campaignRuns > 20 {
		tests[2].runs = *campaignRuns
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			selected(t, tc.name)
			if tc.runs == 0 {
				t.Skip("set -examples.runs above 20 to run it")
			}
			res := campaign(t, tc.name, tc.runs, allRuns)
			bad := res.Violations
			if tc.deterministic {
				bad += res.Nondeterministic
			}
			if bad > 0 {
				f := res.First
				t.Fatalf("%s: first bad run: seed %d %s %v %s", tc.name, f.Seed, f.Verdict, f.Violations, f.Inconclusive)
			}
		})
	}
}

// TestKnownBadTwinsAreCaught: each twin the simulator's faults reach is
// caught within -examples.twin-runs runs. copier-commit-after-failed-flush
// and copier-no-rewind-after-abort are caught by the app harness's broker
// rejections (produce-rejected, endtxn-rejected: the process lives on and
// must abort and rewind); copier/faults_test.go shows them on loopback too.
// copier-read-uncommitted is caught by the aborted input the harness
// writes (appsim.Options.AbortedInput), with or without a fault.
func TestKnownBadTwinsAreCaught(t *testing.T) {
	for _, name := range []string{"copier-offsets-outside-txn", "copier-offsets-before-produce", "copier-commit-despite-offsets-failure",
		"copier-commit-after-failed-flush", "copier-no-rewind-after-abort", "copier-read-uncommitted"} {
		t.Run(name, func(t *testing.T) {
			selected(t, name)
			// Stopped at the first violation, not at the first run that
			// is not clean: a nondeterministic or inconclusive run is no
			// catch.
			res := campaign(t, name, *twinRuns, firstViolation)
			if res.Violations == 0 {
				t.Fatalf("%s: not caught in %d runs (%+v)", name, res.Runs, res)
			}
			t.Logf("%s caught at run %d of at most %d", name, res.Runs-1, *twinRuns)
		})
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
