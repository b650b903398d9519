package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/faults"
	"github.com/eosim/eosim/model"
	"github.com/eosim/eosim/sim"
)

func init() {
	commands["shrink"] = cmdShrink
}

type shrinkConfig struct {
	flags    scenarioFlags
	opts     sim.Options
	out      string
	search   int
	so       sim.ShrinkOptions
	contrast string // as given: auto, none or a protocol
}

func cmdShrink(args []string, stdout, stderr io.Writer) (int, error) {
	if hasAppFlag(args) {
		return cmdAppShrink(args, stdout, stderr)
	}
	fs := flag.NewFlagSet("shrink", flag.ContinueOnError)
	var cfg shrinkConfig
	cfg.flags.register(fs)
	registerAppPointer(fs, "shrink", "--seed, --faults, --records, --plan, --out, --match, --search and --max-runs")
	planPath := fs.String("plan", "", "plan file (JSON) fixing workload and faults of the scenario to shrink")
	fs.StringVar(&cfg.out, "out", "", "write the shrunk plan to this file; required")
	match := fs.String("match", "same", "when a smaller scenario fails the same way: same (the same set of violated anomaly kinds) or subset (a non-empty subset of them)")
	fs.StringVar(&cfg.contrast, "contrast", "auto", "protocol that must show no violation on every accepted plan: auto (for a known-bad variant, the correct protocol with its guarantee), none, or a protocol name")
	fs.IntVar(&cfg.so.MaxRuns, "max-runs", 1500, "scenario runs the search may spend")
	fs.DurationVar(&cfg.so.Budget, "budget", 3*time.Minute, "wall time the search may spend")
	fs.IntVar(&cfg.search, "search", 0, "when the scenario shows no violation, try runs 0..N-1 of a campaign with base seed --seed and shrink the first that fails")
	if err := parseFlags(fs, args, stdout); err != nil {
		return exitUsage, err
	}
	opts, err := cfg.flags.optionsWithPlan(fs, *planPath)
	if err != nil {
		return exitUsage, err
	}
	cfg.opts = opts
	if cfg.so.Match, err = sim.ParseShrinkMatch(*match); err != nil {
		return exitUsage, usagef("--match: %v", err)
	}
	switch cfg.contrast {
	case "auto":
		cfg.so.Contrast = sim.DefaultContrast(cfg.flags.protocol)
	case "none", "":
	default:
		if _, err := engine.ProtocolByName(cfg.contrast); err != nil {
			return exitUsage, usagef("--contrast: %v", err)
		}
		cfg.so.Contrast = cfg.contrast
	}
	if cfg.so.MaxRuns < 1 {
		return exitUsage, usagef("--max-runs must be at least 1, got %d", cfg.so.MaxRuns)
	}
	if cfg.search < 0 {
		return exitUsage, usagef("--search must not be negative, got %d", cfg.search)
	}
	if cfg.out == "" {
		return exitUsage, usagef("shrink needs --out FILE: where to write the shrunk plan")
	}
	if st, err := os.Stat(filepath.Dir(cfg.out)); err != nil || !st.IsDir() {
		return exitUsage, usagef("--out %s: directory %s does not exist", faults.Quote(cfg.out), faults.Quote(filepath.Dir(cfg.out)))
	}
	useCores(1)
	inTest(func(t *testing.T) int { return runShrink(t, cfg, stdout, stderr) })
	return exitInconclusive, nil
}

// runShrink finds the failing scenario, shrinks it, writes the plan and
// prints the sizes before and after; its last line is a summary.
func runShrink(t *testing.T, cfg shrinkConfig, stdout, stderr io.Writer) int {
	opts := cfg.opts
	if cfg.search > 0 && opts.Plan == nil {
		first := sim.Run(t, opts)
		if !first.Failed() {
			found := false
			for k := range cfg.search {
				o := opts
				o.Seed = sim.RunSeed(cfg.flags.seed, k)
				if r := sim.Run(t, o); r.Failed() && r.HarnessError == "" {
					fmt.Fprintf(stdout, "seed %d shows no violation; run %d of the campaign (seed %d) does\n", cfg.flags.seed, k, o.Seed)
					opts, found = o, true
					break
				}
			}
			if !found {
				fmt.Fprintf(stderr, "simrun: neither seed %d nor runs 0..%d of its campaign show a violation: nothing to shrink\n", cfg.flags.seed, cfg.search-1)
				return exitUsage
			}
		}
	}
	started := time.Now()
	lastProgress := started
	so := cfg.so
	so.OnAccept = func(p faults.Plan, r sim.Result) {
		if time.Since(lastProgress) >= time.Second {
			lastProgress = time.Now()
			fmt.Fprintf(stderr, "progress: %s (%s elapsed)\n", sim.SizeOf(p), time.Since(started).Round(time.Second))
		}
	}
	res, err := sim.Shrink(t, opts, so)
	switch {
	case errors.Is(err, sim.ErrNotFailing):
		fmt.Fprintf(stderr, "simrun: protocol %s seed %d: %v (try --search N)\n", opts.Protocol, opts.Seed, err)
		return exitUsage
	case errors.Is(err, sim.ErrContrastFails):
		fmt.Fprintf(stderr, "simrun: %v on protocol %s seed %d: the failure is not the variant's own (use --contrast none to shrink it anyway)\n",
			err, opts.Protocol, opts.Seed)
		return exitInconclusive
	case err != nil:
		fmt.Fprintf(stderr, "simrun: %v\n", err)
		return exitInconclusive
	}
	out := cfg.out
	plan := res.Plan
	plan.Replay = "go run ./cmd/simrun replay --plan " + out
	if err := os.WriteFile(out, plan.Marshal(), 0o644); err != nil {
		fmt.Fprintf(stderr, "simrun: --out: %v\n", err)
		return exitUsage
	}
	kinds := strings.Join(res.Kinds, ",")
	contrast := res.Contrast
	if contrast == "" {
		contrast = "none"
	}
	fmt.Fprintf(stdout, "protocol=%s seed=%d kinds=%s match=%s contrast=%s\n", opts.Protocol, opts.Seed, kinds, so.Match, contrast)
	fmt.Fprintf(stdout, "before: %s\n", res.Before)
	fmt.Fprintf(stdout, "after:  %s\n", res.After)
	fmt.Fprintf(stdout, "shrunk run: %s\n", strings.Join(sim.ViolatedKinds(res.Shrunk), ","))
	printAnomalies(stdout, res.Shrunk.Violations, 3)
	if len(res.Shrunk.Unfired) > 0 {
		fmt.Fprintf(stdout, "warning: %d op(s) of the shrunk plan never fired: %s\n", len(res.Shrunk.Unfired), sim.UnfiredText(res.Shrunk.Unfired))
	}
	fmt.Fprintf(stdout, "plan:\n%s", plan.Marshal())
	fmt.Fprintf(stdout, "wrote %s\n", out)
	fmt.Fprintf(stdout, "replay: %s\n", plan.Replay)
	code := exitOK
	var notes []string
	if res.Exhausted {
		notes = append(notes, "the budget ran out: the plan may not be minimal")
	}
	if !res.Replayed {
		notes = append(notes, "the shrunk plan did not replay to the same trace: the scenario is not deterministic")
		code = exitInconclusive
	}
	for _, n := range notes {
		fmt.Fprintf(stdout, "note: %s\n", n)
	}
	fmt.Fprintf(stdout, "shrink runs=%d accepted=%d replayed=%t exhausted=%t faults=%d->%d records=%d->%d partitions=%d->%d kinds=%s wall=%s\n",
		res.Runs, res.Accepted, res.Replayed, res.Exhausted, res.Before.Faults, res.After.Faults,
		res.Before.Records, res.After.Records, res.Before.Partitions, res.After.Partitions, kinds, res.Wall.Round(time.Millisecond))
	return code
}

// printAnomalies prints up to n anomalies, one per line, and how many more
// there were.
func printAnomalies(w io.Writer, as []model.Anomaly, n int) {
	for i, a := range as {
		if i == n {
			fmt.Fprintf(w, "  ... %d more\n", len(as)-i)
			break
		}
		fmt.Fprintf(w, "  %s: %s\n", a.Kind, a.Detail)
	}
}
