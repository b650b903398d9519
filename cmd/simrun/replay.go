package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"testing"

	"github.com/eosim/eosim/model"
	"github.com/eosim/eosim/sim"
)

func init() {
	commands["replay"] = cmdReplay
}

func cmdReplay(args []string, stdout, stderr io.Writer) (int, error) {
	if hasAppFlag(args) {
		return cmdAppReplay(args, stdout, stderr)
	}
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	var f scenarioFlags
	f.register(fs)
	registerAppPointer(fs, "replay", "--seed, --faults, --records, --plan and --trace")
	planPath := fs.String("plan", "", "plan file (JSON) fixing workload and faults")
	tracePath := fs.String("trace", "", "write the JSON-lines trace to this file")
	planOut := fs.String("plan-out", "", "write the scenario's plan (JSON, replayable with --plan) to this file")
	if err := parseFlags(fs, args, stdout); err != nil {
		return exitUsage, err
	}
	seedGiven := false
	fs.Visit(func(fl *flag.Flag) { seedGiven = seedGiven || fl.Name == "seed" })
	if !seedGiven && *planPath == "" {
		return exitUsage, usagef("replay needs --seed (the seed a campaign printed) or --plan FILE")
	}
	opts, err := f.optionsWithPlan(fs, *planPath)
	if err != nil {
		return exitUsage, err
	}
	var traceFile, planFile *os.File
	if *tracePath != "" {
		if traceFile, err = os.Create(*tracePath); err != nil {
			return exitUsage, usagef("--trace: %v", err)
		}
	}
	if *planOut != "" {
		if planFile, err = os.Create(*planOut); err != nil {
			return exitUsage, usagef("--plan-out: %v", err)
		}
	}
	useCores(1)
	inTest(func(t *testing.T) int {
		var bw *bufio.Writer
		if traceFile != nil {
			bw = bufio.NewWriter(traceFile)
			opts.Trace = bw
		}
		res := sim.Run(t, opts)
		if bw != nil {
			if err := bw.Flush(); err == nil {
				err = traceFile.Close()
			}
		}
		code := printReplay(stdout, res)
		if planFile != nil {
			plan := res.Plan
			plan.Replay = "go run ./cmd/simrun replay --plan " + *planOut
			_, err := planFile.Write(plan.Marshal())
			if cerr := planFile.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				fmt.Fprintf(stderr, "simrun: --plan-out: %v\n", err)
				return exitInconclusive
			}
			fmt.Fprintf(stdout, "wrote plan %s\n", *planOut)
		}
		return code
	})
	return exitInconclusive, nil
}

// printReplay prints the run's anomalies and plan; its last line counts
// like a campaign's: violations= is violating runs (0 or 1), anomalies=
// the anomalies its protocol does not allow.
func printReplay(w io.Writer, res sim.Result) int {
	fmt.Fprintf(w, "protocol=%s seed=%d verdict=%s %s\n", res.Protocol, res.Seed, res.Check.Verdict, model.Summary(res.Check.Counts))
	for _, a := range res.Check.Anomalies {
		fmt.Fprintf(w, "  %s: %s\n", a.Kind, a.Detail)
	}
	if res.LoudFailure != "" {
		fmt.Fprintf(w, "engine failed loudly: %s\n", res.LoudFailure)
	}
	fmt.Fprintf(w, "plan:\n%s", res.Plan.Marshal())
	if len(res.Unfired) > 0 {
		fmt.Fprintf(w, "warning: %d plan op(s) never fired, the run did not test them: %s\n", len(res.Unfired), sim.UnfiredText(res.Unfired))
	}
	violating := 0
	if res.Failed() {
		violating = 1
	}
	fmt.Fprintf(w, "runs=1 violations=%d anomalies=%d unfired=%d checkpoints=%d restarts=%d virtual=%s trace_hash=%s\n",
		violating, len(res.Violations), len(res.Unfired), res.Checkpoints, res.Restarts, res.VirtualTime, res.TraceHash)
	switch {
	case res.HarnessError != "":
		fmt.Fprintf(w, "harness error: %s\n", res.HarnessError)
		return exitInconclusive
	case res.Failed():
		return exitViolations
	}
	return exitOK
}
