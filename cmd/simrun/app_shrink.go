package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eosim/eosim/app"
	"github.com/eosim/eosim/appsim"
	"github.com/eosim/eosim/eosimtest"
	"github.com/eosim/eosim/faults"
)

// `simrun shrink --app NAME` reduces a failing scenario of a registered app
// with eosimtest's greedy shrinker (drop faults, halve the input, zero the
// restart delays), accepting a smaller plan only when it fails the same way.

type appShrinkConfig struct {
	f       appFlags
	enabled []string
	plan    *faults.Plan
	out     string
	subset  bool
	search  int
	maxRuns int
}

func cmdAppShrink(args []string, stdout, stderr io.Writer) (int, error) {
	if err := noProtocolWithApp("shrink", args); err != nil {
		return exitUsage, err
	}
	fs := appFlagSet("shrink")
	var cfg appShrinkConfig
	cfg.f.register(fs)
	planPath := fs.String("plan", "", "plan file (JSON) fixing the input and faults of the scenario to shrink (its seed unless --seed is given)")
	fs.StringVar(&cfg.out, "out", "", "write the shrunk plan to this file; required")
	match := fs.String("match", "same", "when a smaller scenario fails the same way: same (the same set of violated anomaly kinds) or subset (a non-empty subset of them)")
	fs.IntVar(&cfg.search, "search", 0, "when the scenario shows no violation, try runs 0..N-1 of a campaign with base seed --seed and shrink the first that fails")
	fs.IntVar(&cfg.maxRuns, "max-runs", 500, "scenario runs the search may spend")
	if err := parseFlags(fs, args, stdout); err != nil {
		return exitUsage, err
	}
	a, enabled, err := cfg.f.resolve()
	if err != nil {
		return exitUsage, err
	}
	cfg.enabled = enabled
	switch *match {
	case "same":
	case "subset":
		cfg.subset = true
	default:
		return exitUsage, usagef("--match: want same or subset, got %s", faults.Quote(*match))
	}
	if cfg.search < 0 {
		return exitUsage, usagef("--search must not be negative, got %d", cfg.search)
	}
	if cfg.maxRuns < 1 {
		return exitUsage, usagef("--max-runs must be at least 1, got %d", cfg.maxRuns)
	}
	if *planPath != "" {
		if cfg.search > 0 {
			return exitUsage, usagef("--plan and --search exclude each other: a plan fixes the scenario")
		}
		p, err := readAppPlan(fs, *planPath, &cfg.f)
		if err != nil {
			return exitUsage, err
		}
		cfg.plan = &p
	}
	if cfg.out == "" {
		return exitUsage, usagef("shrink needs --out FILE: where to write the shrunk plan")
	}
	if st, err := os.Stat(filepath.Dir(cfg.out)); err != nil || !st.IsDir() {
		return exitUsage, usagef("--out %s: directory %s does not exist", faults.Quote(cfg.out), faults.Quote(filepath.Dir(cfg.out)))
	}
	inTest(func(t *testing.T) int { return runAppShrink(t, a, cfg, stdout, stderr) })
	return exitInconclusive, nil
}

// findAppFailure runs the scenario to shrink: the seed's (or the plan's),
// else with --search the first failing run of the seed's campaign. It
// returns the run, or an exit code and a message when there is nothing to
// shrink.
func findAppFailure(t *testing.T, a app.App, cfg appShrinkConfig, stdout io.Writer) (appsim.Result, int, string) {
	opts := cfg.f.scenario(cfg.enabled)
	opts.Plan = cfg.plan
	first := appsim.Run(t, a, opts)
	what := fmt.Sprintf("app %s seed %d", a.Name, first.Seed)
	switch {
	case first.BadInput:
		return first, exitUsage, fmt.Sprintf("%s: %s", what, firstLine(first.Inconclusive))
	case first.Verdict == appsim.Violation:
		return first, exitOK, ""
	case first.Verdict != appsim.Clean:
		return first, exitInconclusive, fmt.Sprintf("%s is %s, not a violation: nothing to shrink (%s)", what, first.Verdict, firstLine(first.Inconclusive))
	}
	if cfg.search > 0 {
		// The campaign's runs draw their plans from one profile, taken
		// with the base seed (appsim.Campaign), so run k here is run k
		// there.
		base := opts
		prof := appsim.ProfileOf(t, a, base)
		base.Profile = &prof
		for k := range cfg.search {
			o := base
			o.Seed = appsim.RunSeed(cfg.f.seed, k)
			if r := appsim.Run(t, a, o); r.Verdict == appsim.Violation {
				fmt.Fprintf(stdout, "seed %d shows no violation; run %d of the campaign (seed %d) does\n", cfg.f.seed, k, o.Seed)
				return r, exitOK, ""
			}
		}
		return first, exitUsage, fmt.Sprintf("neither %s nor runs 0..%d of its campaign show a violation: nothing to shrink", what, cfg.search-1)
	}
	if cfg.plan != nil {
		note := ""
		if cfg.plan.Protocol != a.Name {
			note = fmt.Sprintf("; the plan was written for %s", faults.Quote(cfg.plan.Protocol))
		}
		return first, exitUsage, fmt.Sprintf("%s with its plan shows no violation (clean): nothing to shrink%s", what, note)
	}
	return first, exitUsage, fmt.Sprintf("%s shows no violation (clean): nothing to shrink (try --search N)", what)
}

// runAppShrink shrinks, checks that the shrunk plan replays to the same
// trace, writes it and prints the sizes before and after; the last line
// is a summary.
func runAppShrink(t *testing.T, a app.App, cfg appShrinkConfig, stdout, stderr io.Writer) int {
	started := time.Now()
	failing, code, msg := findAppFailure(t, a, cfg, stdout)
	if msg != "" {
		fmt.Fprintf(stderr, "simrun: %s\n", msg)
		return code
	}
	sh := eosimtest.ShrinkWith(t, a, failing, eosimtest.ShrinkOptions{Keep: eosimtest.FailsLike(failing, cfg.subset), MaxRuns: cfg.maxRuns})
	plan := sh.Plan
	plan.Replay = "go run ./cmd/simrun replay --app " + a.Name + " --plan " + cfg.out
	// The check runs the plan as `replay --app NAME --plan F` does.
	again := appsim.Run(t, a, appsim.Options{Seed: plan.Seed, Records: cfg.f.records, Faults: cfg.enabled, Plan: &plan})
	replayed := again.TraceHash == sh.Result.TraceHash && again.Verdict == sh.Result.Verdict
	if err := os.WriteFile(cfg.out, plan.Marshal(), 0o644); err != nil {
		fmt.Fprintf(stderr, "simrun: --out: %v\n", err)
		return exitUsage
	}
	kinds := strings.Join(eosimtest.ViolatedKinds(failing), ",")
	match := "same"
	if cfg.subset {
		match = "subset"
	}
	before, after := failing.Plan.Workload, plan.Workload
	fmt.Fprintf(stdout, "app=%s seed=%d kinds=%s match=%s\n", a.Name, failing.Seed, kinds, match)
	fmt.Fprintf(stdout, "before: faults=%d records=%d late=%d aborted=%d\n", len(failing.Plan.Faults), before.Records, before.LateRecords, before.AbortedInput)
	fmt.Fprintf(stdout, "after:  faults=%d records=%d late=%d aborted=%d\n", len(plan.Faults), after.Records, after.LateRecords, after.AbortedInput)
	fmt.Fprintf(stdout, "shrunk run: %s\n", strings.Join(eosimtest.ViolatedKinds(sh.Result), ","))
	printAnomalies(stdout, sh.Result.Violations, 3)
	if len(sh.Result.Unfired) > 0 {
		fmt.Fprintf(stdout, "warning: %d op(s) of the shrunk plan never fired: %s\n", len(sh.Result.Unfired), strings.Join(sh.Result.Unfired, ", "))
	}
	fmt.Fprintf(stdout, "plan:\n%s", plan.Marshal())
	fmt.Fprintf(stdout, "wrote %s\n", cfg.out)
	fmt.Fprintf(stdout, "replay: %s\n", plan.Replay)
	code = exitOK
	if sh.Exhausted {
		fmt.Fprintf(stdout, "note: --max-runs ran out: the plan may not be minimal\n")
	}
	if !replayed {
		fmt.Fprintf(stdout, "note: the shrunk plan did not replay to the same trace (%s, then %s): the app is not deterministic under this plan\n",
			sh.Result.Verdict, again.Verdict)
		code = exitInconclusive
	}
	fmt.Fprintf(stdout, "shrink runs=%d accepted=%d replayed=%t exhausted=%t faults=%d->%d records=%d->%d kinds=%s wall=%s\n",
		sh.Runs, sh.Accepted, replayed, sh.Exhausted, len(failing.Plan.Faults), len(plan.Faults), before.Records, after.Records,
		kinds, time.Since(started).Round(time.Millisecond))
	return code
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
