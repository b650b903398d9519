package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/faults"
	"github.com/eosim/eosim/model"
	"github.com/eosim/eosim/sim"
)

func init() {
	commands["gate"] = cmdGate
}

// gateConfig is one gate run.
type gateConfig struct {
	corpus  []sim.CorpusEntry
	dir     string
	budget  time.Duration
	runs    int
	seed    uint64
	jobs    int
	faults  []string
	workld  faults.Workload
	breakOf map[string]string // correct protocol → the protocol that runs in its place
	breaks  []string          // for the notice
	checks  checkFilter       // which checks run (--checks); empty: all
}

func cmdGate(args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("gate", flag.ContinueOnError)
	var cfg gateConfig
	fs.StringVar(&cfg.dir, "corpus", "testdata/corpus", "regression corpus: a directory of plan files")
	fs.DurationVar(&cfg.budget, "budget", defaultGateBudget, "safety net for a wedged harness: wall time after which no new run starts and the gate exits 3 (its checks are sized by --runs, so a slow machine only makes it slower)")
	fs.IntVar(&cfg.runs, "runs", 1000, "runs of each clean campaign, and at most this many runs to catch each known-bad variant")
	fs.Uint64Var(&cfg.seed, "seed", 1, "base seed of the campaigns")
	fs.IntVar(&cfg.jobs, "jobs", runtime.NumCPU(), "scenarios to run at once (results are identical for any value)")
	checksFlag := fs.String("checks", "", "run only these checks, comma-separated: a family (corpus, detect, clean, loud; clean includes no-loss) or FAMILY:SUBJECT (detect:commit-on-snapshot, corpus:clean-2pc-basic.json, clean:offsets-in-txn, loud:two-phase-commit); empty: every check")
	breakFlag := fs.String("break", "", "testing the gate only: PROTOCOL:BUG runs the correct PROTOCOL with engine bug BUG added wherever the gate would run it (comma-separated for several)")
	if err := parseFlags(fs, args, stdout); err != nil {
		return exitUsage, err
	}
	switch {
	case cfg.budget <= 0:
		return exitUsage, usagef("--budget must be positive, got %s", cfg.budget)
	case cfg.runs < 1:
		return exitUsage, usagef("--runs must be at least 1, got %d", cfg.runs)
	case cfg.jobs < 1 || cfg.jobs > 256:
		return exitUsage, usagef("--jobs must be 1..256, got %d", cfg.jobs)
	}
	var err error
	if cfg.corpus, err = sim.LoadCorpus(cfg.dir); err != nil {
		return exitUsage, usagef("--corpus: %v", err)
	}
	if cfg.faults, err = faults.Resolve("all"); err != nil {
		return exitUsage, usagef("%v", err)
	}
	cfg.workld = faults.DefaultWorkload()
	cfg.workld.AbortedInput = faults.DefaultAbortedInput(cfg.workld.Records)
	cfg.workld.Parallelism = 0 // drawn per run, as campaigns do
	if cfg.breakOf, cfg.breaks, err = parseBreaks(*breakFlag); err != nil {
		return exitUsage, err
	}
	if cfg.checks, err = parseChecks(*checksFlag, cfg.corpus); err != nil {
		return exitUsage, err
	}
	useCores(cfg.jobs)
	inTest(func(t *testing.T) int { return runGate(t, cfg, stdout, stderr) })
	return exitInconclusive, nil
}

// parseBreaks resolves --break. The scenario runner knows protocols by
// name, so "correct protocol P plus bug B" runs as the registered
// protocol whose definition is exactly that: P's guarantee and the single
// bug B (the bug zoo defines one per bug). The gate must then fail.
func parseBreaks(s string) (map[string]string, []string, error) {
	out := map[string]string{}
	var notes []string
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, bug, ok := strings.Cut(item, ":")
		if !ok {
			return nil, nil, usagef("--break %s: want PROTOCOL:BUG", faults.Quote(item))
		}
		p, err := engine.ProtocolByName(name)
		if err != nil {
			return nil, nil, usagef("--break: %v", err)
		}
		if p.Kind != engine.KindCorrect {
			return nil, nil, usagef("--break: %s is %s, not correct", name, p.Kind)
		}
		var sub string
		for _, q := range engine.Protocols() {
			if q.Guarantee == p.Guarantee && slices.Equal(q.Bugs, append(slices.Clone(p.Bugs), engine.Bug(bug))) {
				sub = q.Name
				break
			}
		}
		if sub == "" {
			return nil, nil, usagef("--break: no protocol is %s with bug %s", faults.Clip(name, 40), faults.Quote(bug))
		}
		out[name] = sub
		notes = append(notes, fmt.Sprintf("%s runs as %s (%s + bug %s)", name, sub, name, bug))
	}
	return out, notes, nil
}

func (cfg gateConfig) runAs(protocol string) string {
	if sub, ok := cfg.breakOf[protocol]; ok {
		return sub
	}
	return protocol
}

// defaultGateBudget is generous: the gate's work is fixed by --runs and
// takes a few minutes on two cores (about 15 on a loaded machine), so the
// budget only stops a harness that stopped making progress.
const defaultGateBudget = 2 * time.Hour

// gateTally counts the gate's checks.
type gateTally struct {
	checks, passed, failed, skipped, inconclusive int
}

// runGate runs the corpus, the bug-zoo detection, the clean campaigns and
// the loud-loss campaigns under the budget, one line per check, and a summary line last.
func runGate(t *testing.T, cfg gateConfig, stdout, stderr io.Writer) int {
	started := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), cfg.budget)
	defer cancel()
	var tally gateTally
	// out serialises stdout: the budget's notice comes from a timer.
	var out sync.Mutex
	running := "the gate's setup" // the check under way, named when the budget runs out
	noticed := make(chan struct{})
	stopNotice := context.AfterFunc(ctx, func() {
		defer close(noticed)
		out.Lock()
		defer out.Unlock()
		if ctx.Err() == context.DeadlineExceeded {
			fmt.Fprintf(stdout, "NOTE budget %s exhausted while running %s: no new run starts, the runs under way finish, the checks left are skipped (the budget is a safety net for a wedged harness; raise --budget on a slow machine)\n",
				cfg.budget, running)
		}
	})
	defer stopNotice()
	begin := func(kind, subject string) {
		out.Lock()
		running = kind + " " + subject
		out.Unlock()
	}
	line := func(status, kind, subject, detail string, took time.Duration) {
		out.Lock()
		defer out.Unlock()
		tally.checks++
		switch status {
		case "PASS":
			tally.passed++
		case "FAIL":
			tally.failed++
		case "SKIP":
			tally.skipped++
		default:
			tally.inconclusive++
		}
		fmt.Fprintf(stdout, "%-4s %-7s %-44s %s (%s)\n", status, kind, subject, detail, took.Round(time.Millisecond))
	}
	for _, n := range cfg.breaks {
		fmt.Fprintf(stdout, "NOTE deliberately broken for this run: %s\n", n)
	}
	if cfg.checks.text != "" {
		fmt.Fprintf(stdout, "NOTE partial gate: only the checks --checks %s selects run\n", cfg.checks.text)
	}
	skip := func(kind, subject string) bool {
		if !cfg.checks.wants(kind, subject) {
			return true // not asked for: no line, not counted
		}
		if ctx.Err() != nil {
			line("SKIP", kind, subject, "budget exhausted", 0)
			return true
		}
		begin(kind, subject)
		return false
	}

	// 1. The regression corpus.
	for _, e := range cfg.corpus {
		if skip("corpus", e.Name) {
			continue
		}
		t0 := time.Now()
		c := sim.CheckCorpusEntry(t, e, cfg.runAs)
		status := "PASS"
		switch {
		case c.Result.HarnessError != "" || (c.ContrastResult != nil && c.ContrastResult.HarnessError != ""):
			status = "INCO"
		case !c.OK:
			status = "FAIL"
		}
		line(status, "corpus", e.Name, c.Detail, time.Since(t0))
	}

	// 2. Every known-bad variant is caught by a campaign of the default
	// scenario within --runs runs.
	for _, p := range engine.Protocols() {
		if p.Kind != engine.KindKnownBad || skip("detect", p.Name) {
			continue
		}
		t0 := time.Now()
		cctx, stop := context.WithCancel(ctx)
		var caught *sim.Result
		runs, harness := 0, 0
		c := sim.Campaign{Options: cfg.options(p.Name), BaseSeed: cfg.seed, Runs: cfg.runs, Jobs: cfg.jobs}
		c.Run(cctx, t, func(k int, r sim.Result) {
			if caught != nil {
				return
			}
			runs = k + 1
			if r.HarnessError != "" {
				harness++
			}
			if r.Failed() && r.HarnessError == "" {
				rr := r
				caught = &rr
				stop()
			}
		})
		stop()
		switch {
		case caught != nil:
			line("PASS", "detect", p.Name, fmt.Sprintf("caught at run %d of %d, seed %d (%s)", runs-1, cfg.runs, caught.Seed,
				strings.Join(sim.ViolatedKinds(*caught), ",")), time.Since(t0))
		case ctx.Err() != nil:
			line("INCO", "detect", p.Name, fmt.Sprintf("budget exhausted after %d runs without a catch", runs), time.Since(t0))
		case harness > 0:
			line("INCO", "detect", p.Name, fmt.Sprintf("not caught in %d runs, %d harness errors", runs, harness), time.Since(t0))
		default:
			line("FAIL", "detect", p.Name, fmt.Sprintf("not caught in %d runs (base seed %d): the harness lost its sensitivity", runs, cfg.seed), time.Since(t0))
		}
	}

	// 3. Clean campaigns: every correct protocol shows no anomaly, and
	// at-least-once loses nothing.
	var clean []string
	for _, p := range engine.Protocols() {
		if p.Kind == engine.KindCorrect {
			clean = append(clean, p.Name)
		}
	}
	if _, err := engine.ProtocolByName("at-least-once"); err == nil {
		clean = append(clean, "at-least-once")
	}
	for _, name := range clean {
		kind := "clean"
		if name == "at-least-once" {
			kind = "no-loss"
		}
		if skip(kind, name) {
			continue
		}
		t0 := time.Now()
		runs, violating, harness, lost := 0, 0, 0, 0
		var first *sim.Result
		anomalies := map[string]int{}
		c := sim.Campaign{Options: cfg.options(cfg.runAs(name)), BaseSeed: cfg.seed, Runs: cfg.runs, Jobs: cfg.jobs}
		c.Run(ctx, t, func(k int, r sim.Result) {
			runs++
			lost += r.Check.Counts[model.Lost]
			for kind, n := range r.Check.Counts {
				anomalies[kind] += n
			}
			if r.HarnessError != "" {
				harness++
			}
			if r.Failed() {
				violating++
				if first == nil {
					rr := r
					first = &rr
				}
			}
		})
		detail := fmt.Sprintf("%d runs, %d violating, %s", runs, violating, model.Summary(anomalies))
		switch {
		case violating > 0:
			detail += fmt.Sprintf("; first failing seed %d (%s): %s", first.Seed, strings.Join(sim.ViolatedKinds(*first), ","),
				replayLine(cfg.runAs(name), cfg, first.Seed))
			line("FAIL", kind, name, detail, time.Since(t0))
		case lost > 0:
			line("FAIL", kind, name, detail+fmt.Sprintf("; %d records lost", lost), time.Since(t0))
		case runs < cfg.runs:
			line("INCO", kind, name, detail+"; budget exhausted", time.Since(t0))
		case harness > 0:
			line("INCO", kind, name, detail+fmt.Sprintf("; %d harness errors", harness), time.Since(t0))
		default:
			line("PASS", kind, name, detail, time.Since(t0))
		}
	}

	// 4. Loud losses: under the faults that break a correct protocol's
	// assumptions (an outage beyond the transaction timeout or the
	// transactional id's expiry) the broker aborts pre-committed output;
	// the protocol cannot prevent that, but it must fail loudly. A
	// protocol that takes a fenced resume-commit as committed loses the
	// output silently (silent-loss), or duplicates it.
	loudRuns := max(1, cfg.runs/10)
	for _, name := range clean {
		if name == "at-least-once" || skip("loud", name) {
			continue
		}
		t0 := time.Now()
		runs, harness, losing := 0, 0, 0
		var first *sim.Result
		anomalies := map[string]int{}
		opts := cfg.options(cfg.runAs(name))
		opts.Faults = assumptionBreakers
		c := sim.Campaign{Options: opts, BaseSeed: cfg.seed, Runs: loudRuns, Jobs: cfg.jobs}
		c.Run(ctx, t, func(k int, r sim.Result) {
			runs++
			if r.HarnessError != "" {
				harness++
				return
			}
			quiet := false
			for kind, n := range r.Check.Counts {
				anomalies[kind] += n
				quiet = quiet || kind != model.Lost && n > 0
			}
			if r.Check.Counts[model.Lost] > 0 {
				losing++
			}
			if quiet && first == nil {
				rr := r
				first = &rr
			}
		})
		detail := fmt.Sprintf("%d runs under %s, %d losing output, %s", runs, strings.Join(assumptionBreakers, ","), losing, model.Summary(anomalies))
		switch {
		case first != nil:
			f := scenarioFlags{protocol: cfg.runAs(name), faults: strings.Join(assumptionBreakers, ","), workload: cfg.workld}
			detail += fmt.Sprintf("; first seed with more than a loud loss %d (%s): replay: %s", first.Seed, strings.Join(sim.ViolatedKinds(*first), ","), f.replayCommand(first.Seed))
			line("FAIL", "loud", name, detail, time.Since(t0))
		case runs < loudRuns:
			line("INCO", "loud", name, detail+"; budget exhausted", time.Since(t0))
		case harness > 0:
			line("INCO", "loud", name, detail+fmt.Sprintf("; %d harness errors", harness), time.Since(t0))
		case losing == 0:
			line("INCO", "loud", name, detail+"; no outage cost a transaction: the check tested nothing", time.Since(t0))
		default:
			line("PASS", "loud", name, detail, time.Since(t0))
		}
	}

	code := exitOK
	result := "pass"
	switch {
	case tally.failed > 0:
		code, result = exitViolations, "fail"
	case tally.skipped > 0 || tally.inconclusive > 0:
		code, result = exitInconclusive, "inconclusive"
	}
	if !stopNotice() {
		<-noticed // the notice is under way: the summary stays the last line
	}
	out.Lock()
	defer out.Unlock()
	fmt.Fprintf(stdout, "gate checks=%d passed=%d failed=%d inconclusive=%d skipped=%d corpus=%d runs=%d seed=%d wall=%s budget=%s result=%s\n",
		tally.checks, tally.passed, tally.failed, tally.inconclusive, tally.skipped, len(cfg.corpus), cfg.runs, cfg.seed,
		time.Since(started).Round(time.Millisecond), cfg.budget, result)
	return code
}

// assumptionBreakers are the faults of the gate's loud checks: opt-in,
// as they break what the protocol assumes of its deployment.
var assumptionBreakers = []string{"outage-beyond-txn-timeout", "outage-beyond-txn-id-expiry"}

func (cfg gateConfig) options(protocol string) sim.Options {
	return sim.Options{Protocol: protocol, Workload: cfg.workld, Faults: cfg.faults}
}

func replayLine(protocol string, cfg gateConfig, seed uint64) string {
	f := scenarioFlags{protocol: protocol, faults: "all", workload: cfg.workld}
	return "replay: " + f.replayCommand(seed)
}
