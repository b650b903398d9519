package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/model"
	"github.com/eosim/eosim/reports"
	"github.com/eosim/eosim/sim"
)

// exitInterrupted is the exit code of a campaign stopped by SIGINT or
// SIGTERM (128 + SIGINT, as shells report Ctrl-C).
const exitInterrupted = 130

type campaignConfig struct {
	flags      scenarioFlags
	runs       int
	shardIndex int
	shards     int
	jobs       int
	commit     string
	// report is the --report directory ("" for none).
	report string
	// exhaustive enumerates sites instead of drawing runs (exhaustive.go).
	exhaustive exhaustiveFlags
}

func init() {
	commands["campaign"] = cmdCampaign
}

func cmdCampaign(args []string, stdout, stderr io.Writer) (int, error) {
	if hasAppFlag(args) {
		return cmdAppCampaign(args, stdout, stderr)
	}
	fs := flag.NewFlagSet("campaign", flag.ContinueOnError)
	var cfg campaignConfig
	cfg.flags.register(fs)
	registerAppPointer(fs, "campaign", "--seed, --faults, --records, --runs, --jobs, --shard, --check-determinism, --exhaustive and --report")
	fs.IntVar(&cfg.runs, "runs", 100, "number of scenarios")
	fs.IntVar(&cfg.jobs, "jobs", 1, "scenarios to run at once (results are identical for any value)")
	shard := fs.String("shard", "", "run only shard i of n (i/n, 1-based): runs k with k%n == i-1; k8s/n takes i-1 from JOB_COMPLETION_INDEX (a Kubernetes Indexed Job)")
	report := fs.String("report", "", "write report.json, summary.md, junit.xml and index.html to this directory")
	cfg.exhaustive.register(fs)
	if err := parseFlags(fs, args, stdout); err != nil {
		return exitUsage, err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if cfg.exhaustive.on && given["runs"] {
		return exitUsage, usagef("--runs and --exhaustive exclude each other: --exhaustive runs one scenario per site")
	}
	if err := cfg.exhaustive.validate(func(name string) bool { return given[name] }); err != nil {
		return exitUsage, err
	}
	if _, err := cfg.flags.options(); err != nil {
		return exitUsage, err
	}
	if cfg.runs < 1 {
		return exitUsage, usagef("--runs must be at least 1, got %d", cfg.runs)
	}
	if cfg.jobs < 1 || cfg.jobs > 256 {
		return exitUsage, usagef("--jobs must be 1..256, got %d", cfg.jobs)
	}
	if err := checkMemory(cfg.flags.workload.Records, cfg.jobs, stderr); err != nil {
		return exitUsage, err
	}
	var err error
	if cfg.shardIndex, cfg.shards, err = parseShard(*shard, os.Getenv); err != nil {
		return exitUsage, err
	}
	if *report != "" {
		if cfg.runs > reports.MaxRuns {
			return exitUsage, usagef("--report keeps a row per run: at most %d runs with --report, got --runs %d (split the campaign into several with other seeds, or drop --report)", reports.MaxRuns, cfg.runs)
		}
		if err := checkReportDir(*report); err != nil {
			return exitUsage, err
		}
		cfg.report = *report
	}
	cfg.commit = projectCommit()
	// Ctrl-C or SIGTERM stops the campaign cleanly: no new run starts, the
	// runs going finish, the report and the summary line are written. The
	// handler is installed before the embedded test main; after the first
	// signal the default comes back, so a second Ctrl-C kills at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	useCores(cfg.jobs)
	inTest(func(t *testing.T) int { return runCampaign(ctx, t, cfg, stdout, stderr) })
	return exitInconclusive, nil
}

// campaignTotals aggregates the results of a campaign's runs.
type campaignTotals struct {
	runs, violating, harnessErrors int
	// unfired counts plan ops that never fired, over all runs.
	unfired          int
	anomalies        map[string]int
	crashes          map[string]int
	virtual          time.Duration
	firstFailingSeed *uint64
}

// runCampaign runs the campaign's runs in order and prints failures as they
// happen, progress on stderr, and the summary line last on stdout. With
// --report it writes the report at the end (and now and then during the
// campaign, so even a killed campaign leaves one).
func runCampaign(ctx context.Context, t *testing.T, cfg campaignConfig, stdout, stderr io.Writer) int {
	opts, _ := cfg.flags.options()
	tot := campaignTotals{anomalies: map[string]int{}, crashes: map[string]int{}}
	started := time.Now()
	c := sim.Campaign{Options: opts, BaseSeed: cfg.flags.seed, Runs: cfg.runs,
		ShardIndex: cfg.shardIndex, Shards: cfg.shards, Jobs: cfg.jobs}
	var missingPoints []string
	if cfg.exhaustive.on {
		ex, missing, err := enumerate(t, opts, cfg.exhaustive, stdout, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "simrun: %v\n", err)
			return exitInconclusive
		}
		c.Plans, missingPoints = ex.Plans, missing
	}
	mine := c.Count()
	var rep *campaignReport
	if cfg.report != "" {
		c.Options.KeepEvents = true
		rep = newCampaignReport(cfg, opts)
	}
	prog := newProgress(stderr, mine, campaignWords)
	c.Run(ctx, t, func(k int, res sim.Result) {
		tot.runs++
		tot.virtual += res.VirtualTime
		tot.unfired += len(res.Unfired)
		for kind, n := range res.Check.Counts {
			tot.anomalies[kind] += n
		}
		for point, n := range res.Crashes {
			tot.crashes[point] += n
		}
		if res.HarnessError != "" {
			tot.harnessErrors++
			fmt.Fprintf(stdout, "INCONCLUSIVE run %d seed %d: harness error: %s\n", k, res.Seed, res.HarnessError)
		}
		if res.Failed() {
			tot.violating++
			if tot.firstFailingSeed == nil {
				s := res.Seed
				tot.firstFailingSeed = &s
			}
			prog.clear()
			printFailure(stdout, cfg, k, res)
		}
		if rep != nil {
			rep.add(k, res, time.Since(started))
		}
		prog.update(tot.runs, tot.violating)
	})
	prog.finish()
	wall := time.Since(started)
	interrupted := ctx.Err() != nil && tot.runs < mine
	code := exitOK
	switch {
	case interrupted:
		code = exitInterrupted
	case tot.violating > 0:
		code = exitViolations
	case tot.harnessErrors > 0:
		code = exitInconclusive
	case len(missingPoints) > 0:
		code = exitInconclusive
	}
	if rep != nil {
		if err := rep.write(interrupted, wall); err != nil {
			fmt.Fprintf(stderr, "simrun: %v\n", err)
			if code == exitOK {
				code = exitInconclusive
			}
		}
	}
	if interrupted {
		fmt.Fprintf(stderr, "simrun: interrupted: %d of %d runs finished%s\n", tot.runs, mine, reportNote(cfg.report))
	}
	if len(missingPoints) > 0 {
		fmt.Fprintln(stderr, missingPointsText(missingPoints))
	}
	fmt.Fprintln(stdout, summaryLine(cfg.flags.protocol, tot, wall, runsPerSecond(tot.runs, wall)))
	return code
}

func printFailure(w io.Writer, cfg campaignConfig, k int, res sim.Result) {
	kinds := map[string]int{}
	for _, a := range res.Violations {
		kinds[a.Kind]++
	}
	var parts []string
	for _, name := range model.AnomalyNames() {
		if kinds[name] > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", name, kinds[name]))
		}
	}
	fmt.Fprintf(w, "FAIL run %d seed %d commit %s: %s\n", k, res.Seed, cfg.commit, strings.Join(parts, " "))
	for i, a := range res.Violations {
		if i == 3 {
			fmt.Fprintf(w, "  ... %d more\n", len(res.Violations)-i)
			break
		}
		fmt.Fprintf(w, "  %s: %s\n", a.Kind, a.Detail)
	}
	if res.LoudFailure != "" {
		fmt.Fprintf(w, "  engine failed loudly: %s\n", res.LoudFailure)
	}
	plan := res.Plan
	var ops []string
	for _, op := range plan.Faults {
		ops = append(ops, fmt.Sprintf("%s@%d(down %dms)", op.Fault, op.Hit, op.RestartDelayMS))
	}
	fmt.Fprintf(w, "  plan: %s\n", strings.Join(ops, ", "))
	if cfg.exhaustive.on {
		// An enumerated plan is not drawn from the seed: print it whole.
		b, _ := json.Marshal(res.Plan)
		fmt.Fprintf(w, "  plan file: %s\n", b)
		fmt.Fprintf(w, "  replay: save the plan file as plan.json, then: go run ./cmd/simrun replay --plan plan.json\n")
		return
	}
	fmt.Fprintf(w, "  replay: %s\n", cfg.flags.replayCommand(res.Seed))
}

// summaryLine is the campaign's last line; rate is runs per second of wall
// time (for a merge, the shards' rates added up, as report.json has it).
func summaryLine(protocol string, tot campaignTotals, wall time.Duration, rate float64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "runs=%d violations=%d protocol=%s %s", tot.runs, tot.violating, protocol, model.Summary(tot.anomalies))
	points := make([]string, 0, len(engine.CrashPoints()))
	total := 0
	for _, p := range engine.CrashPoints() {
		points = append(points, fmt.Sprintf("%s=%d", p, tot.crashes[string(p)]))
		total += tot.crashes[string(p)]
	}
	fmt.Fprintf(&b, " crashes=%d %s", total, strings.Join(points, " "))
	first := "none"
	if tot.firstFailingSeed != nil {
		first = fmt.Sprint(*tot.firstFailingSeed)
	}
	fmt.Fprintf(&b, " unfired=%d harness_errors=%d wall=%s virtual=%s runs_per_sec=%.1f first_failing_seed=%s",
		tot.unfired, tot.harnessErrors, wall.Round(time.Millisecond), tot.virtual.Round(time.Second), rate, first)
	return b.String()
}

func runsPerSecond(runs int, wall time.Duration) float64 {
	if wall <= 0 {
		return 0
	}
	return float64(runs) / wall.Seconds()
}
