package eosimtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/eosim/eosim/app"
	"github.com/eosim/eosim/appsim"
	"github.com/eosim/eosim/faults"
	"github.com/eosim/eosim/model"
)

// Options configure Check.
type Options struct {
	// Runs is the campaign's size (default 200).
	Runs int
	// Seed is the base seed (default 1); run k has seed appsim.RunSeed(Seed, k).
	Seed uint64
	// Faults is a comma-separated list of fault names and groups for
	// appsim.ResolveFaults (default "sites,protocol": the app's named
	// crash sites and every protocol site; add "group" for consumer-group
	// faults).
	Faults string
	// Records is how many input records each run writes (default 40).
	Records int
	// CheckDeterminism replays every n-th run and compares traces
	// (default 10; -1 turns it off).
	CheckDeterminism int
	// AllowInconclusive logs inconclusive runs instead of failing the
	// test (a wedged bubble is a synctest limit, not your bug).
	AllowInconclusive bool
	// NoShrink keeps the failing plan as drawn.
	NoShrink bool
}

// Environment variables that replay one scenario instead of a campaign:
// the replay command a failure prints sets them.
const (
	EnvSeed = "EOSIM_SEED" // the run's seed
	EnvPlan = "EOSIM_PLAN" // a plan file (JSON), optional
)

func (o Options) withDefaults() Options {
	if o.Runs == 0 {
		o.Runs = 200
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Faults == "" {
		o.Faults = "sites,protocol"
	}
	if o.CheckDeterminism == 0 {
		o.CheckDeterminism = 10
	}
	if o.CheckDeterminism < 0 {
		o.CheckDeterminism = 0
	}
	return o
}

// Check puts a under a campaign and fails t at the first run that is not
// clean. With EOSIM_SEED set it replays that one run (and EOSIM_PLAN's
// plan) instead.
func Check(t *testing.T, a app.App, opts Options) {
	t.Helper()
	opts = opts.withDefaults()
	if err := a.Validate(); err != nil {
		t.Fatalf("eosim: %v", err)
	}
	enabled, err := appsim.ResolveFaults(a, opts.Faults)
	if err != nil {
		t.Fatalf("eosim: %v", err)
	}
	if s := os.Getenv(EnvSeed); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("eosim: %s=%q is not a seed", EnvSeed, s)
		}
		var plan *faults.Plan
		if path := os.Getenv(EnvPlan); path != "" {
			p, err := faults.ReadPlan(path)
			if err != nil {
				t.Fatalf("eosim: %v", err)
			}
			plan = &p
		}
		res := Replay(t, a, seed, plan, appsim.Options{Records: opts.Records, Faults: enabled})
		report(t, a, opts, res)
		return
	}
	camp := appsim.Campaign(t, a, appsim.CampaignOptions{
		Runs: opts.Runs, BaseSeed: opts.Seed, CheckDeterminism: opts.CheckDeterminism,
		StopAtFirst: !opts.AllowInconclusive,
		Scenario:    appsim.Options{Records: opts.Records, Faults: enabled},
		OnResult: func(_ int, r appsim.Result) {
			if r.Verdict == appsim.Inconclusive && opts.AllowInconclusive {
				t.Logf("eosim: app %s seed %d inconclusive: %s", a.Name, r.Seed, firstLine(r.Inconclusive))
			}
		},
	})
	t.Logf("eosim: app %s: runs=%d clean=%d violations=%d inconclusive=%d nondeterministic=%d",
		a.Name, camp.Runs, camp.Clean, camp.Violations, camp.Inconclusive, camp.Nondeterministic)
	if camp.First != nil {
		report(t, a, opts, *camp.First)
	}
}

// Replay runs one scenario: seed, and plan if not nil (else the plan the
// seed draws from opts.Faults).
func Replay(t *testing.T, a app.App, seed uint64, plan *faults.Plan, opts appsim.Options) appsim.Result {
	opts.Seed, opts.Plan = seed, plan
	return appsim.Run(t, a, opts)
}

// report fails t for a run that is not clean.
func report(t *testing.T, a app.App, opts Options, res appsim.Result) {
	t.Helper()
	switch res.Verdict {
	case appsim.Clean:
		return
	case appsim.Inconclusive:
		if opts.AllowInconclusive && !res.BadInput {
			return
		}
		t.Attr("eosim.seed", strconv.FormatUint(res.Seed, 10))
		t.Fatalf("eosim: app %s seed %d is inconclusive (not a verdict on your app's correctness): %s", a.Name, res.Seed, res.Inconclusive)
	case appsim.Nondeterministic:
		t.Attr("eosim.seed", strconv.FormatUint(res.Seed, 10))
		t.Fatalf("eosim: app %s seed %d is nondeterministic: %s", a.Name, res.Seed, res.Inconclusive)
	}
	plan := res.Plan
	if !opts.NoShrink {
		plan, res = Shrink(t, a, res)
	}
	plan.Replay = replayCommand(t, res.Seed, planFile(t, a, plan))
	t.Attr("eosim.seed", strconv.FormatUint(res.Seed, 10))
	t.Fatalf("eosim: app %s seed %d: %s\n%s\nplan:\n%s\nreplay: %s",
		a.Name, res.Seed, model.Summary(res.Check.Counts), describe(res.Violations), plan.Marshal(), plan.Replay)
}

// planFile writes the plan where the replay command can read it.
func planFile(t *testing.T, a app.App, p faults.Plan) string {
	path := filepath.Join(os.TempDir(), fmt.Sprintf("eosim-%s-%d.json", a.Name, p.Seed))
	if err := os.WriteFile(path, p.Marshal(), 0o644); err != nil {
		t.Logf("eosim: cannot write the plan file: %v", err)
	}
	return path
}

func replayCommand(t *testing.T, seed uint64, plan string) string {
	name := strings.SplitN(t.Name(), "/", 2)[0]
	return fmt.Sprintf("%s=%d %s=%s go test -run '^%s$' -count=1 .", EnvSeed, seed, EnvPlan, plan, name)
}

// describe lists up to ten anomalies, one per line.
func describe(as []model.Anomaly) string {
	var b strings.Builder
	for i, a := range as {
		if i == 10 {
			fmt.Fprintf(&b, "  ... and %d more\n", len(as)-10)
			break
		}
		fmt.Fprintf(&b, "  %s: %s\n", a.Kind, a.Detail)
	}
	return b.String()
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
