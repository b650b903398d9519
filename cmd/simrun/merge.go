package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/eosim/eosim/faults"
	"github.com/eosim/eosim/reports"
)

func init() {
	commands["merge"] = cmdMerge
}

const mergeUsage = `usage: simrun merge DIR... --out DIR

Combines the reports (--report DIR) of the shards of one campaign into one
report: report.json, summary.md, junit.xml and index.html in --out. The
shards must share every option but --shard, and the commit. Merging all
shards gives the report of the unsharded campaign.

Exit 0: no violation; 1: violations; 2: bad usage or reports that do not
belong together; 3: inconclusive (harness errors, an interrupted shard, or
shards missing).
`

// cmdMerge merges shard reports. Its flags may come before or after the
// directories.
func cmdMerge(args []string, stdout, stderr io.Writer) (int, error) {
	var dirs []string
	out := ""
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-h" || a == "-help" || a == "--help":
			fmt.Fprint(stdout, mergeUsage)
			return exitOK, nil
		case a == "-out" || a == "--out":
			if i+1 == len(args) {
				return exitUsage, usagef("merge: %s needs a directory", a)
			}
			i++
			out = args[i]
		case strings.HasPrefix(a, "-out=") || strings.HasPrefix(a, "--out="):
			_, out, _ = strings.Cut(a, "=")
		case strings.HasPrefix(a, "-") && a != "-":
			return exitUsage, usagef("merge: unknown flag %s (see 'simrun merge -h')", faults.Quote(a))
		default:
			dirs = append(dirs, a)
		}
	}
	if out == "" {
		return exitUsage, usagef("merge: --out DIR is required")
	}
	if len(dirs) == 0 {
		return exitUsage, usagef("merge: name the report directories to merge")
	}
	if err := checkOutNotInput(out, dirs); err != nil {
		return exitUsage, err
	}
	var parts []reports.Report
	for _, d := range dirs {
		r, err := reports.Read(d)
		if err != nil {
			return exitUsage, usagef("merge: %v", err)
		}
		parts = append(parts, r)
	}
	merged, err := reports.Merge(parts...)
	if err != nil {
		return exitUsage, usagef("%v", oneLineErr(err))
	}
	if err := checkReportDir(out); err != nil {
		return exitUsage, err
	}
	if err := reports.Write(out, merged); err != nil {
		return exitInconclusive, err
	}
	code := exitOK
	switch merged.Outcome.Status {
	case reports.StatusFail:
		code = exitViolations
	case reports.StatusInconclusive, reports.StatusInterrupted, reports.StatusIncomplete:
		code = exitInconclusive
	}
	if miss := merged.Outcome.MissingShards; len(miss) > 0 {
		fmt.Fprintf(stderr, "simrun: merged shards %v of %d: shards %v are missing (the report says incomplete)\n",
			merged.Options.Shard.Indexes, merged.Options.Shard.Count, miss)
	}
	fmt.Fprintln(stdout, reportSummaryLine(merged))
	return code, nil
}

// reportSummaryLine is the campaign's summary line, from a report.
func reportSummaryLine(r reports.Report) string {
	tot := campaignTotals{runs: r.Outcome.RunsDone, violating: r.Outcome.ViolatingRuns, harnessErrors: r.Outcome.HarnessErrors, unfired: r.Outcome.UnfiredOps,
		anomalies: r.Counts.Anomalies, crashes: r.Counts.CrashPoints, virtual: time.Duration(r.VirtualTimeMS) * time.Millisecond}
	var first *reports.FirstCatch
	for _, p := range r.Protocols {
		if fc := p.FirstCatch; fc != nil && (first == nil || fc.Run < first.Run) {
			first = fc
		}
	}
	if first != nil {
		seed := first.Seed
		tot.firstFailingSeed = &seed
	}
	return summaryLine(strings.Join(r.Options.Protocols, ","), tot, time.Duration(r.Execution.WallMS)*time.Millisecond,
		r.Execution.ScenariosPerSecond)
}

// checkOutNotInput refuses an --out that is one of the inputs or inside
// one: writing the merge there would replace a shard's report.
func checkOutNotInput(out string, inputs []string) error {
	o, err := resolvedPath(out)
	if err != nil {
		return usagef("merge: --out %s: %v", faults.Quote(out), err)
	}
	for _, in := range inputs {
		dir := in
		if st, err := os.Stat(in); err == nil && !st.IsDir() {
			dir = filepath.Dir(in)
		}
		d, err := resolvedPath(dir)
		if err != nil {
			continue // reading it reports the problem
		}
		if o == d || strings.HasPrefix(o, d+string(filepath.Separator)) {
			return usagef("merge: --out %s is (or is inside) the input %s: choose another directory", faults.Quote(out), faults.Quote(in))
		}
	}
	return nil
}

// resolvedPath is path made absolute with symlinks resolved as far as the
// path exists.
func resolvedPath(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	var rest []string
	for p := abs; ; p = filepath.Dir(p) {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Join(append([]string{r}, rest...)...), nil
		}
		if p == filepath.Dir(p) {
			return abs, nil
		}
		rest = append([]string{filepath.Base(p)}, rest...)
	}
}

func oneLineErr(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", " ")
}
