package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eosim/eosim/app"
	"github.com/eosim/eosim/appsim"
	"github.com/eosim/eosim/faults"
	"github.com/eosim/eosim/reports"
)

// Apps under test (package appsim) run through `simrun campaign --app NAME`
// and `simrun replay --app NAME`; the app must be registered with
// appsim.Register (the examples package registers its apps).

// hasAppFlag reports whether args name an app, which routes campaign and
// replay to the app runner.
func hasAppFlag(args []string) bool { return argGiven(args, "app") }

// argGiven reports whether args set the flag name (before any "--").
func argGiven(args []string, name string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		for _, dash := range []string{"-", "--"} {
			if a == dash+name || strings.HasPrefix(a, dash+name+"=") {
				return true
			}
		}
	}
	return false
}

// noProtocolWithApp refuses --protocol beside --app: an app is not one of
// the engine's protocols (the engine runs as the apps engine-<protocol>).
func noProtocolWithApp(cmd string, args []string) error {
	if argGiven(args, "protocol") {
		return usagef("%s: --app and --protocol exclude each other: --app runs a registered app, --protocol one of the engine's protocols (as an app: --app engine-<protocol>)", cmd)
	}
	return nil
}

type appFlags struct {
	name, faults string
	seed         uint64
	records      int
	// abortedInput is the --aborted-input value: -1 for the default (an
	// eighth of --records), 0 for none.
	abortedInput int
}

func (f *appFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.name, "app", "", "registered app to run (see 'simrun list apps'); required")
	fs.Uint64Var(&f.seed, "seed", 1, "base seed (campaign) or the run's seed (replay)")
	fs.StringVar(&f.faults, "faults", "sites,protocol", "comma-separated faults of the app or groups: all, sites (crash-at:<site> of the app's declared sites), protocol, group, broker (see 'simrun list faults': those of kind protocol, group and broker apply to apps)")
	fs.IntVar(&f.records, "records", 40, "input records per run")
	fs.IntVar(&f.abortedInput, "aborted-input", -1, "more input records the harness writes in transactions it aborts, mixed in among the committed ones (a read_committed app must skip them), 0..--records; -1: an eighth of --records (at least 1); 0: none")
}

// scenario is the app scenario the flags give, before a plan or a seed.
func (f *appFlags) scenario(enabled []string) appsim.Options {
	o := appsim.Options{Seed: f.seed, Records: f.records, Faults: enabled}
	switch {
	case f.abortedInput == 0:
		o.AbortedInput = -1 // appsim's none
	case f.abortedInput > 0:
		o.AbortedInput = f.abortedInput
	}
	return o
}

// campaignCommand is the command that reruns the campaign a run came from.
func (f *appFlags) campaignCommand() string {
	cmd := fmt.Sprintf("simrun campaign --app %s --seed %d --faults %s --records %d", f.name, f.seed, f.faults, f.records)
	if f.abortedInput >= 0 {
		cmd += fmt.Sprintf(" --aborted-input %d", f.abortedInput)
	}
	return cmd
}

// appFlagSet is the flag set of `simrun CMD --app NAME`: its name says so
// in -h and in flag errors, as the engine's flags do not apply.
func appFlagSet(cmd string) *flag.FlagSet {
	return flag.NewFlagSet(cmd+" --app NAME", flag.ContinueOnError)
}

// registerAppPointer documents --app in the engine's flag set of cmd, so
// that `simrun cmd -h` shows it; a command line with --app never reaches
// that flag set (hasAppFlag routes it to the app runner first).
func registerAppPointer(fs *flag.FlagSet, cmd, applies string) {
	fs.String("app", "", fmt.Sprintf("instead of --protocol, run a registered app (see 'simrun list apps'); with --app NAME only %s apply ('simrun %s --app NAME -h')", applies, cmd))
}

// resolve returns the app and its enabled faults, or a usage error.
func (f *appFlags) resolve() (app.App, []string, error) {
	if f.name == "" || strings.HasPrefix(f.name, "-") {
		return app.App{}, nil, usagef("--app needs the name of a registered app (see 'simrun list apps'), got %s", faults.Quote(f.name))
	}
	a, ok := appsim.Lookup(f.name)
	if !ok {
		return app.App{}, nil, usagef("unknown app %q (registered: %s)", f.name, strings.Join(appsim.Registered(), ", "))
	}
	if err := a.Validate(); err != nil {
		return app.App{}, nil, usagef("%v", err)
	}
	enabled, err := appsim.ResolveFaults(a, f.faults)
	if err != nil {
		return app.App{}, nil, usagef("%v", err)
	}
	if f.records < 1 || f.records > 100_000 {
		return app.App{}, nil, usagef("--records must be 1..100000, got %d", f.records)
	}
	if f.abortedInput < -1 || f.abortedInput > f.records {
		return app.App{}, nil, usagef("--aborted-input must be 0..--records (%d), or -1 for an eighth of --records; got %d", f.records, f.abortedInput)
	}
	return a, enabled, nil
}

func cmdAppCampaign(args []string, stdout, stderr io.Writer) (int, error) {
	if err := noProtocolWithApp("campaign", args); err != nil {
		return exitUsage, err
	}
	fs := appFlagSet("campaign")
	var f appFlags
	f.register(fs)
	runs := fs.Int("runs", 100, "number of scenarios")
	check := fs.Int("check-determinism", 10, "replay every n-th run and compare traces (0: off)")
	jobs := fs.Int("jobs", 1, "worker processes running scenarios at once, 1..64 (results are identical for any value; each scenario runs at GOMAXPROCS 1, so jobs are processes)")
	shard := fs.String("shard", "", "run only shard i of n (i/n, 1-based): runs k with k%n == i-1; k8s/n takes i-1 from JOB_COMPLETION_INDEX (a Kubernetes Indexed Job)")
	exhaustive := fs.Bool("exhaustive", false, "instead of --runs random runs: one run per request boundary (before and after) and named-site call of the fault-free run with --seed")
	report := fs.String("report", "", "write report.json, summary.md, junit.xml and index.html (a timeline lane per app instance) to this directory")
	if err := parseFlags(fs, args, stdout); err != nil {
		return exitUsage, err
	}
	a, enabled, err := f.resolve()
	if err != nil {
		return exitUsage, err
	}
	if *runs < 1 || *check < 0 {
		return exitUsage, usagef("--runs must be at least 1 and --check-determinism not negative")
	}
	copts := appsim.CampaignOptions{Runs: *runs, BaseSeed: f.seed, CheckDeterminism: *check,
		Scenario: f.scenario(enabled)}
	copts.Scenario.Seed = 0
	if v, ok := os.LookupEnv(appWorkerEnv); ok {
		share, events, err := parseAppWorker(v)
		if err != nil {
			return exitUsage, err
		}
		inTest(func(t *testing.T) int { return runAppWorker(t, a, copts, share, events) })
		return exitInconclusive, nil
	}
	if *jobs < 1 || *jobs > 64 {
		return exitUsage, usagef("--jobs must be 1..64, got %d", *jobs)
	}
	shardIndex, shards, err := parseShard(*shard, os.Getenv)
	if err != nil {
		return exitUsage, err
	}
	if *exhaustive && (*jobs > 1 || shards > 1) {
		return exitUsage, usagef("--exhaustive runs in one process: drop --jobs and --shard")
	}
	if *report != "" {
		if *exhaustive {
			return exitUsage, usagef("--report is for campaigns of random runs: drop --exhaustive or --report")
		}
		if *runs > reports.MaxRuns {
			return exitUsage, usagef("--report keeps a row per run: at most %d runs with --report, got --runs %d", reports.MaxRuns, *runs)
		}
		if err := checkReportDir(*report); err != nil {
			return exitUsage, err
		}
	}
	if *exhaustive {
		inTest(func(t *testing.T) int { return appExhaustive(t, a, f, stdout) })
		return exitInconclusive, nil
	}
	share := appShare{first: shardIndex, step: shards}
	inTest(func(t *testing.T) int {
		start := time.Now()
		var rep *appReport
		if *report != "" {
			rep = newAppReport(*report, a, f, enabled, *runs, shardIndex, shards)
			copts.Scenario.KeepEvents = true
		}
		res, werr := appRuns(t, a, copts, share, *jobs, args, stderr, func(k int, r appsim.Result) {
			replay := printAppFailure(stdout, a, r)
			if rep != nil {
				rep.add(k, r, replay)
			}
		})
		code := exitOK
		switch {
		case werr != nil:
			fmt.Fprintf(stderr, "simrun: %v\n", werr)
			code = exitInconclusive
		case res.Violations > 0:
			code = exitViolations
		case res.Inconclusive > 0 || res.Nondeterministic > 0:
			code = exitInconclusive
		}
		wall := time.Since(start)
		if rep != nil && werr == nil {
			if err := rep.write(wall, *jobs); err != nil {
				fmt.Fprintf(stderr, "simrun: %v\n", err)
				code = max(code, exitInconclusive)
			}
		}
		first := ""
		if res.First != nil {
			first = fmt.Sprintf(" first_failing_seed=%d", res.First.Seed)
		}
		fmt.Fprintf(stdout, "runs=%d violations=%d inconclusive=%d nondeterministic=%d clean=%d app=%s wall=%v%s\n",
			res.Runs, res.Violations, res.Inconclusive, res.Nondeterministic, res.Clean, a.Name, wall.Round(time.Millisecond), first)
		return code
	})
	return exitInconclusive, nil
}

// appReport accumulates an app campaign's runs for --report DIR. Clean
// runs that may get a timeline get a plan file in DIR/plans, so that their
// replay command replays what the timeline shows (a run's plan is drawn
// with the campaign's profile, which --seed alone does not give).
type appReport struct {
	dir   string
	a     app.App
	f     appFlags
	b     *reports.Builder
	clean int // clean runs given a plan file
}

func newAppReport(dir string, a app.App, f appFlags, enabled []string, runs, shardIndex, shards int) *appReport {
	ro := reports.Options{Protocols: []string{a.Name}, BaseSeed: f.seed, Runs: runs, Faults: f.faults, FaultNames: enabled,
		Shard:    reports.Shard{Count: shards, Indexes: []int{shardIndex + 1}},
		Workload: faults.Workload{Partitions: int(a.Spec.InputPartitions), Parallelism: a.ProcessCount(), Records: f.records}}
	return &appReport{dir: dir, a: a, f: f, b: reports.NewBuilder("campaign", ro, reports.BuildVersions(projectCommit()), reports.Limits{})}
}

func (r *appReport) add(k int, res appsim.Result, replay string) {
	if replay == "" && r.clean < reports.DefaultLimits().CleanTimelines {
		// Runs come in order: the first clean ones are those drawn.
		r.clean++
		replay = writeAppPlan(filepath.Join(r.dir, "plans"), r.a, res)
	}
	if replay == "" {
		replay = fmt.Sprintf("%s (run %d)", r.f.campaignCommand(), k)
	}
	r.b.AddApp(reports.AppRun{Index: k, Result: res, Replay: replay})
}

func (r *appReport) write(wall time.Duration, jobs int) error {
	return reports.Write(r.dir, r.b.Report(false, reports.Execution{Jobs: jobs, Shards: 1, WallMS: wall.Milliseconds(),
		ScenariosPerSecond: runsPerSecond(r.b.Runs(), wall)}))
}

// appExhaustive runs one scenario per boundary of the fault-free run.
func appExhaustive(t *testing.T, a app.App, f appFlags, stdout io.Writer) int {
	start := time.Now()
	opts := f.scenario(nil)
	plans := appsim.Enumerate(t, a, opts, 100)
	counts := map[appsim.Verdict]int{}
	for i := range plans {
		o := opts
		o.Plan = &plans[i]
		r := appsim.Run(t, a, o)
		counts[r.Verdict]++
		printAppFailure(stdout, a, r)
	}
	fmt.Fprintf(stdout, "runs=%d violations=%d inconclusive=%d nondeterministic=%d clean=%d app=%s exhaustive=true wall=%v\n",
		len(plans), counts[appsim.Violation], counts[appsim.Inconclusive], counts[appsim.Nondeterministic], counts[appsim.Clean], a.Name, time.Since(start).Round(time.Millisecond))
	switch {
	case counts[appsim.Violation] > 0:
		return exitViolations
	case counts[appsim.Inconclusive] > 0:
		return exitInconclusive
	}
	return exitOK
}

func cmdAppReplay(args []string, stdout, stderr io.Writer) (int, error) {
	if err := noProtocolWithApp("replay", args); err != nil {
		return exitUsage, err
	}
	fs := appFlagSet("replay")
	var f appFlags
	f.register(fs)
	planPath := fs.String("plan", "", "plan file (JSON) fixing the input and faults")
	tracePath := fs.String("trace", "", "write the JSON-lines trace to this file")
	if err := parseFlags(fs, args, stdout); err != nil {
		return exitUsage, err
	}
	a, enabled, err := f.resolve()
	if err != nil {
		return exitUsage, err
	}
	opts := f.scenario(enabled)
	if *planPath != "" {
		p, err := readAppPlan(fs, *planPath, &f)
		if err != nil {
			return exitUsage, err
		}
		opts.Seed, opts.Plan = f.seed, &p
	}
	inTest(func(t *testing.T) int {
		var tr bytes.Buffer
		opts.Trace = &tr
		r := appsim.Run(t, a, opts)
		if *tracePath != "" {
			if err := os.WriteFile(*tracePath, tr.Bytes(), 0o644); err != nil {
				fmt.Fprintf(stderr, "simrun: write trace: %v\n", err)
				return exitInconclusive
			}
		}
		printAppFailure(stdout, a, r)
		fmt.Fprintf(stdout, "verdict=%s app=%s seed=%d trace_hash=%s virtual=%v requests=%d\n", r.Verdict, a.Name, r.Seed, r.TraceHash, r.VirtualTime, r.Requests)
		switch {
		case r.BadInput:
			return exitUsage
		case r.Verdict == appsim.Violation:
			return exitViolations
		case r.Verdict != appsim.Clean:
			return exitInconclusive
		}
		return exitOK
	})
	return exitInconclusive, nil
}

// readAppPlan reads a plan file for an app run: without --seed the run
// takes the plan's seed (which fixes the input and the release order), so
// that `replay --app NAME --plan F` replays what wrote F.
func readAppPlan(fs *flag.FlagSet, path string, f *appFlags) (faults.Plan, error) {
	p, err := faults.ReadPlan(path)
	if err != nil {
		return p, usagef("%v", err)
	}
	seedGiven := false
	var clash []string
	fs.Visit(func(fl *flag.Flag) {
		seedGiven = seedGiven || fl.Name == "seed"
		if fl.Name == "records" || fl.Name == "aborted-input" {
			clash = append(clash, "--"+fl.Name)
		}
	})
	if len(clash) > 0 {
		return p, usagef("--plan fixes the input: drop %s (or edit the plan's workload)", strings.Join(clash, ", "))
	}
	if !seedGiven {
		f.seed = p.Seed
	}
	return p, nil
}

// printAppFailure prints a run that is not clean: seed, verdict, plan and
// the replay command, which it returns ("" for a clean run).
func printAppFailure(w io.Writer, a app.App, r appsim.Result) string {
	if r.Verdict == appsim.Clean {
		return ""
	}
	fmt.Fprintf(w, "FAIL app=%s seed=%d verdict=%s\n", a.Name, r.Seed, r.Verdict)
	if r.Inconclusive != "" {
		fmt.Fprintf(w, "  %s\n", strings.SplitN(r.Inconclusive, "\n", 2)[0])
	}
	for i, v := range r.Violations {
		if i == 5 {
			fmt.Fprintf(w, "  ... %d more\n", len(r.Violations)-5)
			break
		}
		fmt.Fprintf(w, "  %s: %s\n", v.Kind, v.Detail)
	}
	replay := writeAppPlan(os.TempDir(), a, r)
	p := r.Plan
	p.Replay = replay
	fmt.Fprintf(w, "  plan: %s\n  replay: %s\n", bytes.TrimSpace(compactJSON(p.Marshal())), replay)
	return replay
}

// writeAppPlan writes a run's plan to dir (made if missing) and returns the
// command that replays it.
func writeAppPlan(dir string, a app.App, r appsim.Result) string {
	p := r.Plan
	path := filepath.Join(dir, fmt.Sprintf("eosim-%s-%d.json", a.Name, r.Seed))
	p.Replay = fmt.Sprintf("simrun replay --app %s --seed %d --plan %s", a.Name, r.Seed, path)
	err := os.MkdirAll(dir, 0o755)
	if err == nil {
		err = os.WriteFile(path, p.Marshal(), 0o644)
	}
	if err != nil {
		return fmt.Sprintf("simrun replay --app %s --seed %d --plan PLAN.json (with the plan above: %v)", a.Name, r.Seed, err)
	}
	return p.Replay
}

func compactJSON(b []byte) []byte {
	var out bytes.Buffer
	for _, line := range bytes.Split(b, []byte("\n")) {
		out.Write(bytes.TrimSpace(line))
	}
	return out.Bytes()
}
