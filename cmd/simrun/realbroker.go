package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/faults"
	"github.com/eosim/eosim/fidelity"
	"github.com/eosim/eosim/model"
	"github.com/eosim/eosim/realtime"
	"github.com/eosim/eosim/sim"
)

// realrun runs plans with the production driver against a real Kafka
// broker in real time (package realtime): evidence for the verdicts the
// simulator gives on kfake, not replayable byte for byte.
func init() {
	commands["realrun"] = cmdRealrun
}

// realPingTimeout bounds the reachability check of --brokers.
const realPingTimeout = 5 * time.Second

func cmdRealrun(args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("realrun", flag.ContinueOnError)
	var f scenarioFlags
	f.register(fs)
	fs.Lookup("faults").DefValue, f.faults = "crash", "crash"
	brokers := fs.String("brokers", "", "HOST:PORT[,HOST:PORT...] of a real Kafka broker (kafka/start.sh starts one); required")
	runs := fs.Int("runs", 5, "number of runs")
	planPath := fs.String("plan", "", "run this plan file once instead of drawn runs (crash faults only)")
	perRun := fs.Duration("run-timeout", 3*time.Minute, "wall-time bound of one run")
	if err := parseFlags(fs, args, stdout); err != nil {
		return exitUsage, err
	}
	if *brokers == "" {
		return exitUsage, usagef("--brokers is required (start a broker with kafka/start.sh)")
	}
	if *runs < 1 {
		return exitUsage, usagef("--runs must be at least 1, got %d", *runs)
	}
	opts, err := f.optionsWithPlan(fs, *planPath)
	if err != nil {
		return exitUsage, err
	}
	for _, name := range opts.Faults {
		if info, _ := faults.Lookup(name); !info.IsCrash() && name != "rescale" && name != "zombie" {
			return exitUsage, usagef("--faults: %s cannot be injected on a real broker (only crash points, rescale and zombie can; use --faults crash)", name)
		}
	}
	if opts.Plan == nil && opts.Workload.StartupMode == "" {
		// A drawn run would draw latest, specific-offsets or timestamp in
		// 3 runs in 8, which a real run refuses (realtime.Supported):
		// draw none.
		opts.Workload.StartupMode = string(engine.StartGroupOffsets)
	}
	plans, err := realPlans(opts, *runs, *planPath != "")
	if err != nil {
		return exitUsage, err
	}
	addrs := strings.Split(*brokers, ",")
	ctx, cancel := context.WithTimeout(context.Background(), realPingTimeout)
	err = fidelity.Ping(ctx, addrs)
	cancel()
	if err != nil {
		return exitUsage, usagef("--brokers %s: unreachable: %v", *brokers, err)
	}
	dir, err := os.MkdirTemp("", "simrun-realrun-")
	if err != nil {
		return exitInconclusive, err
	}
	defer os.RemoveAll(dir)
	fmt.Fprintf(stdout, "realrun: %s on %s in real time: evidence, not replayable byte for byte\n", opts.Protocol, *brokers)
	start := time.Now()
	violations, harness, unfired := 0, 0, 0
	for k, p := range plans {
		ctx, cancel := context.WithTimeout(context.Background(), *perRun)
		res := realtime.Run(ctx, realtime.Options{Brokers: addrs, Plan: p, Dir: dir})
		cancel()
		fmt.Fprintln(stdout, realLine(k, res))
		switch {
		case res.HarnessError != "":
			harness++
		case res.Failed():
			violations++
		}
		if len(res.Unfired) > 0 {
			unfired++
		}
	}
	fmt.Fprintf(stdout, "runs=%d violations=%d harness_errors=%d unfired=%d wall=%s mode=real-time replayable=no\n",
		len(plans), violations, harness, unfired, time.Since(start).Round(time.Millisecond))
	switch {
	case violations > 0:
		return exitViolations, nil
	case harness > 0:
		return exitInconclusive, nil
	}
	return exitOK, nil
}

// realPlans draws each run's plan from its seed as a campaign does, or
// takes the --plan file once.
func realPlans(opts sim.Options, runs int, fromFile bool) ([]faults.Plan, error) {
	if fromFile {
		runs = 1
	}
	var plans []faults.Plan
	for k := range runs {
		o := opts
		if !fromFile {
			o.Seed = sim.RunSeed(opts.Seed, k)
		}
		p, err := sim.PlanFor(o)
		if err == nil {
			err = realtime.Supported(p)
		}
		if err != nil {
			return nil, usagef("run %d: %v", k, err)
		}
		plans = append(plans, p)
	}
	return plans, nil
}

func realLine(k int, res realtime.Result) string {
	var faultNames []string
	for _, op := range res.Plan.Faults {
		faultNames = append(faultNames, fmt.Sprintf("%s@%d", op.Fault, op.Hit))
	}
	verdict := string(res.Check.Verdict)
	if res.HarnessError != "" {
		verdict = "harness-error: " + res.HarnessError
	}
	line := fmt.Sprintf("run %d seed %d parallelism %d faults [%s]: %s crashes=%d wall=%s",
		k, res.Plan.Seed, res.Plan.Workload.Parallelism, strings.Join(faultNames, " "), verdict, res.Crashes, res.Wall.Round(time.Millisecond))
	if len(res.Unfired) > 0 {
		line += " unfired=" + strings.Join(res.Unfired, ",")
	}
	if res.Failed() {
		line += " " + model.Summary(res.Check.Counts)
		for _, a := range res.Violations[:min(3, len(res.Violations))] {
			line += fmt.Sprintf("\n  %s: %s", a.Kind, a.Detail)
		}
	}
	if res.LoudFailure != "" {
		line += " loud-failure"
	}
	return line
}
