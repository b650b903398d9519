package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/model"
	"github.com/eosim/eosim/sim"
)

type campaignConfig struct {
	flags      scenarioFlags
	runs       int
	shardIndex int
	shards     int
	jobs       int
	commit     string
}

func init() {
	commands["campaign"] = cmdCampaign
}

func cmdCampaign(args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("campaign", flag.ContinueOnError)
	var cfg campaignConfig
	cfg.flags.register(fs)
	fs.IntVar(&cfg.runs, "runs", 100, "number of scenarios")
	fs.IntVar(&cfg.jobs, "jobs", 1, "scenarios to run at once (results are identical for any value)")
	shard := fs.String("shard", "", "run only shard i of n (i/n, 1-based): runs k with k%n == i-1")
	report := fs.String("report", "", "write report.json, summary.md, junit.xml and index.html to this directory")
	if err := parseFlags(fs, args, stdout); err != nil {
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
	var err error
	if cfg.shardIndex, cfg.shards, err = parseShard(*shard); err != nil {
		return exitUsage, err
	}
	if *report != "" {
		return exitUsage, usagef("--report is not implemented yet")
	}
	cfg.commit = projectCommit()
	inTest(func(t *testing.T) int { return runCampaign(t, cfg, stdout, stderr) })
	return exitInconclusive, nil
}

// campaignTotals aggregates the results of a campaign's runs.
type campaignTotals struct {
	runs, violating, harnessErrors int
	anomalies                      map[string]int
	crashes                        map[string]int
	virtual                        time.Duration
	firstFailingSeed               *uint64
}

// runCampaign runs the campaign's runs in order and prints failures as they
// happen, progress on stderr, and the summary line last on stdout.
func runCampaign(t *testing.T, cfg campaignConfig, stdout, stderr io.Writer) int {
	opts, _ := cfg.flags.options()
	proto, _ := engine.ProtocolByName(cfg.flags.protocol)
	tot := campaignTotals{anomalies: map[string]int{}, crashes: map[string]int{}}
	started := time.Now()
	lastProgress := started
	c := sim.Campaign{Options: opts, BaseSeed: cfg.flags.seed, Runs: cfg.runs,
		ShardIndex: cfg.shardIndex, Shards: cfg.shards, Jobs: cfg.jobs}
	mine := len(c.RunIndexes())
	c.Run(context.Background(), t, func(k int, res sim.Result) {
		tot.runs++
		tot.virtual += res.VirtualTime
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
			printFailure(stdout, cfg, k, res)
		}
		if time.Since(lastProgress) >= 2*time.Second {
			lastProgress = time.Now()
			elapsed := time.Since(started)
			eta := time.Duration(float64(elapsed) / float64(tot.runs) * float64(mine-tot.runs))
			fmt.Fprintf(stderr, "progress: %d/%d runs, %d violating, %s elapsed, about %s left\n",
				tot.runs, mine, tot.violating, elapsed.Round(time.Second), eta.Round(time.Second))
		}
	})
	wall := time.Since(started)
	fmt.Fprintln(stdout, summaryLine(cfg, proto, tot, wall))
	switch {
	case tot.violating > 0:
		return exitViolations
	case tot.harnessErrors > 0:
		return exitInconclusive
	}
	return exitOK
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
	fmt.Fprintf(w, "  replay: %s\n", cfg.flags.replayCommand(res.Seed))
}

func summaryLine(cfg campaignConfig, proto engine.Protocol, tot campaignTotals, wall time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "runs=%d violations=%d protocol=%s %s", tot.runs, tot.violating, proto.Name, model.Summary(tot.anomalies))
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
	rate := float64(tot.runs) / wall.Seconds()
	fmt.Fprintf(&b, " harness_errors=%d wall=%s virtual=%s runs_per_sec=%.1f first_failing_seed=%s",
		tot.harnessErrors, wall.Round(time.Millisecond), tot.virtual.Round(time.Second), rate, first)
	return b.String()
}
