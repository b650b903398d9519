package main

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/faults"
	"github.com/eosim/eosim/sim"
)

// exhaustiveDowntimeMS is the downtime after each enumerated crash.
const exhaustiveDowntimeMS = 100

// defaultMaxPlans bounds an exhaustive campaign: the default scenario's
// single-fault plans fit many times over; its pairs (tens of thousands)
// do not.
const defaultMaxPlans = 2000

// exhaustiveFlags are the flags of campaign --exhaustive.
type exhaustiveFlags struct {
	on, pairs bool
	sites     string
	require   string
	maxPlans  int
}

func (e *exhaustiveFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&e.on, "exhaustive", false, "instead of --runs random runs: one run per crash, broker and store site of the scenario's fault-free schedule")
	fs.BoolVar(&e.pairs, "pairs", false, "with --exhaustive: also every ordered pair of crash sites, and every broker or store site with every crash site after it (use a small --records)")
	fs.StringVar(&e.sites, "sites", strings.Join(sim.Families(), ","), "with --exhaustive: the site families that get plans, some of "+strings.Join(sim.Families(), ","))
	fs.StringVar(&e.require, "require-points", "all", "with --exhaustive: crash points the fault-free schedule must reach, else exit 3 (comma-separated; all: every point the protocol has; none)")
	fs.IntVar(&e.maxPlans, "max-plans", defaultMaxPlans, "with --exhaustive: run at most this many plans (every single-fault plan first, then an even spread of the pairs); 0: no bound")
}

// validate checks the exhaustive flags; given names the flags set on the
// command line.
func (e exhaustiveFlags) validate(given func(name string) bool) error {
	if !e.on {
		for _, name := range []string{"pairs", "sites", "require-points", "max-plans"} {
			if given(name) {
				return usagef("--%s needs --exhaustive", name)
			}
		}
		return nil
	}
	if e.maxPlans < 0 {
		return usagef("--max-plans must be 0 (no bound) or more, got %d", e.maxPlans)
	}
	families, err := e.families()
	if err != nil {
		return err
	}
	if len(families) == 0 {
		return usagef("--sites selects no site family (want some of %s)", strings.Join(sim.Families(), ","))
	}
	_, err = e.requiredPoints(engine.Protocol{})
	return err
}

func (e exhaustiveFlags) families() ([]string, error) {
	var out []string
	for _, f := range splitList(e.sites) {
		if !slices.Contains(sim.Families(), f) {
			return nil, usagef("--sites: unknown site family %s (want some of %s)", faults.Quote(f), strings.Join(sim.Families(), ","))
		}
		out = append(out, f)
	}
	return out, nil
}

// requiredPoints resolves --require-points for the protocol.
func (e exhaustiveFlags) requiredPoints(p engine.Protocol) ([]string, error) {
	switch strings.TrimSpace(e.require) {
	case "all":
		return sim.ProtocolCrashPoints(p), nil
	case "none":
		return []string{}, nil
	}
	var out []string
	for _, name := range splitList(e.require) {
		if !slices.Contains(engine.CrashPoints(), engine.CrashPoint(name)) {
			return nil, usagef("--require-points: unknown crash point %s (see 'simrun list faults'; or all, none)", faults.Quote(name))
		}
		out = append(out, name)
	}
	return out, nil
}

func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// enumerate builds the exhaustive campaign's plans and prints its coverage
// line. missing are the required crash points the schedule never reached.
func enumerate(t *testing.T, opts sim.Options, e exhaustiveFlags, stdout, stderr io.Writer) (ex sim.Exhaustive, missing []string, err error) {
	proto, err := engine.ProtocolByName(opts.Protocol)
	if err != nil {
		return ex, nil, err
	}
	families, _ := e.families()
	require, _ := e.requiredPoints(proto)
	ex, err = sim.Enumerate(t, opts, sim.EnumerateOptions{Families: families, Pairs: e.pairs,
		RestartDelayMS: exhaustiveDowntimeMS, Require: require, MaxPlans: e.maxPlans})
	if err != nil {
		return ex, nil, err
	}
	printCoverage(stdout, ex, e.maxPlans)
	if ex.Capped() {
		kept := "every single-fault plan and an even spread of the pairs"
		if e.maxPlans < ex.Singles {
			kept = fmt.Sprintf("an even spread of the %d single-fault plans, no pairs", ex.Singles)
		}
		fmt.Fprintf(stderr, "simrun: exhaustive: %d plans enumerated, running %d (--max-plans %d): %s; raise --max-plans or use a smaller scenario for all\n",
			ex.Enumerated, len(ex.Plans), e.maxPlans, kept)
	}
	for _, p := range require {
		if slices.Contains(ex.Unreached, p) || slices.Contains(ex.NotInProtocol, p) {
			missing = append(missing, p)
		}
	}
	return ex, missing, nil
}

// missingPointsText explains an exit 3 for required points never reached.
func missingPointsText(missing []string) string {
	return fmt.Sprintf("simrun: exhaustive: required crash points never reached by the fault-free schedule (searched %d schedules): %s; more checkpoints (more --records, a shorter --interval) reach more, or name the points you need with --require-points",
		sim.MaxScheduleTries, strings.Join(missing, ","))
}

// printCoverage states what an exhaustive campaign covers: crash point ×
// checkpoint cells of the fault-free schedule, the crash points it never
// reached, the broker and store sites, and the plans run (and the bound).
func printCoverage(w io.Writer, ex sim.Exhaustive, maxPlans int) {
	cells := 0
	var parts []string
	for _, p := range engine.CrashPoints() {
		n := len(ex.Coverage[string(p)])
		cells += n
		parts = append(parts, fmt.Sprintf("%s=%d", p, n))
	}
	list := func(xs []string) string {
		if len(xs) == 0 {
			return "none"
		}
		return strings.Join(xs, ",")
	}
	fmt.Fprintf(w, "exhaustive: schedule seed %d, %d crash sites, %d crash point x checkpoint cells (%s), unreached=%s",
		ex.Seed, len(ex.Sites), cells, strings.Join(parts, " "), list(ex.Unreached))
	if len(ex.NotInProtocol) > 0 {
		fmt.Fprintf(w, " not_in_protocol=%s", list(ex.NotInProtocol))
	}
	fmt.Fprintf(w, ", %d broker sites, %d store sites, %d scale sites, %d correlated, %d plans", len(ex.BrokerSites), len(ex.StoreSites), len(ex.ScaleSites), ex.Correlated, len(ex.Plans))
	if ex.Capped() {
		fmt.Fprintf(w, " of %d enumerated (capped by --max-plans %d)", ex.Enumerated, maxPlans)
	}
	fmt.Fprintln(w)
}
