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
	planPath := fs.String("plan", "", "plan file (JSON) fixing workload and faults")
	tracePath := fs.String("trace", "", "write the JSON-lines trace to this file")
	if err := parseFlags(fs, args, stdout); err != nil {
		return exitUsage, err
	}
	opts, err := f.optionsWithPlan(fs, *planPath)
	if err != nil {
		return exitUsage, err
	}
	var traceFile *os.File
	if *tracePath != "" {
		if traceFile, err = os.Create(*tracePath); err != nil {
			return exitUsage, usagef("--trace: %v", err)
		}
	}
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
		return printReplay(stdout, f, res)
	})
	return exitInconclusive, nil
}

func printReplay(w io.Writer, f scenarioFlags, res sim.Result) int {
	fmt.Fprintf(w, "protocol=%s seed=%d verdict=%s %s\n", res.Protocol, res.Seed, res.Check.Verdict, model.Summary(res.Check.Counts))
	for _, a := range res.Check.Anomalies {
		fmt.Fprintf(w, "  %s: %s\n", a.Kind, a.Detail)
	}
	if res.LoudFailure != "" {
		fmt.Fprintf(w, "engine failed loudly: %s\n", res.LoudFailure)
	}
	fmt.Fprintf(w, "plan:\n%s", res.Plan.Marshal())
	fmt.Fprintf(w, "runs=1 violations=%d checkpoints=%d restarts=%d virtual=%s trace_hash=%s\n",
		len(res.Violations), res.Checkpoints, res.Restarts, res.VirtualTime, res.TraceHash)
	switch {
	case res.HarnessError != "":
		fmt.Fprintf(w, "harness error: %s\n", res.HarnessError)
		return exitInconclusive
	case res.Failed():
		return exitViolations
	}
	return exitOK
}
