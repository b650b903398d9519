package reports

import (
	"cmp"
	"encoding/xml"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/eosim/eosim/faults"
)

type junitSuites struct {
	XMLName  xml.Name `xml:"testsuites"`
	Name     string   `xml:"name,attr"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Errors   int      `xml:"errors,attr"`
	Skipped  int      `xml:"skipped,attr"`
	Time     string   `xml:"time,attr"`
	// Snapshot is the report's snapshot id (CheckSnapshot).
	Snapshot string       `xml:",comment"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Error     *junitMessage `xml:"error,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

// maxListed caps the runs a JUnit failure lists.
const maxListed = 10

// JUnit renders junit.xml: one test suite per protocol, one test case per
// fault group (the kinds of the faults in a run's plan: crash, broker,
// time, zombie, store; "none" for runs without faults). A protocol
// expected clean fails a case when a run of that group violated; a
// protocol expected caught (the gate's known-bad variants) fails every
// case when no run caught it. Failures carry the replay commands.
func JUnit(r Report) ([]byte, error) {
	seconds := float64(r.Execution.WallMS) / 1000
	doc := junitSuites{Name: "eosim " + r.Command, Time: fmt.Sprintf("%.3f", seconds), Snapshot: " eosim-snapshot " + r.Execution.Snapshot + " "}
	viol := map[string]Violation{}
	for _, v := range r.Violations {
		viol[fmt.Sprintf("%s/%d", v.Protocol, v.Run)] = v
	}
	for _, p := range r.Protocols {
		groups := map[string][]RunRow{}
		for _, row := range r.Runs {
			if row.Protocol != p.Name {
				continue
			}
			for _, g := range runGroups(row) {
				groups[g] = append(groups[g], row)
			}
		}
		suiteTime := 0.0
		if r.Outcome.RunsDone > 0 {
			suiteTime = seconds * float64(p.Runs) / float64(r.Outcome.RunsDone)
		}
		suite := junitSuite{Name: "eosim/" + p.Name, Time: fmt.Sprintf("%.3f", suiteTime), Properties: []junitProperty{
			{"protocol", p.Name}, {"kind", p.Kind}, {"expect", p.Expect},
			{"base_seed", fmt.Sprint(r.Options.BaseSeed)}, {"runs", fmt.Sprint(p.Runs)},
			{"commit", r.Versions.Commit}, {"status", p.Status},
		}}
		names := slices.SortedFunc(maps.Keys(groups), func(a, b string) int {
			return cmp.Or(cmp.Compare(kindRank(a), kindRank(b)), cmp.Compare(a, b))
		})
		if len(names) == 0 {
			suite.Cases = append(suite.Cases, junitCase{Name: "no runs", Classname: "eosim." + p.Name, Time: "0.000",
				Skipped: &junitMessage{Message: "no run of this protocol finished"}})
			suite.Tests++
			suite.Skipped++
		}
		for _, g := range names {
			rows := groups[g]
			tc := junitCase{Name: g, Classname: "eosim." + p.Name}
			if p.Runs > 0 {
				tc.Time = fmt.Sprintf("%.3f", suiteTime*float64(len(rows))/float64(p.Runs))
			}
			var bad, errs []RunRow
			for _, row := range rows {
				if row.Violating {
					bad = append(bad, row)
				}
				if row.HarnessError != "" {
					errs = append(errs, row)
				}
			}
			switch {
			case p.Expect == "caught" && p.ViolatingRuns == 0 && len(errs) == 0:
				tc.Failure = &junitMessage{Type: "not-caught",
					Message: fmt.Sprintf("known-bad protocol %s not caught in %d runs", p.Name, p.Runs),
					Text:    fmt.Sprintf("%d runs with %s faults, none violated", len(rows), g)}
			case p.Expect != "caught" && len(bad) > 0:
				tc.Failure = &junitMessage{Type: "violation",
					Message: fmt.Sprintf("%d of %d runs with %s faults violated", len(bad), len(rows), g),
					Text:    failureText(bad, viol)}
			}
			if len(errs) > 0 {
				var b strings.Builder
				for i, row := range errs {
					if i == maxListed {
						fmt.Fprintf(&b, "... and %d more\n", len(errs)-i)
						break
					}
					fmt.Fprintf(&b, "run %d seed %d: %s\n", row.Run, row.Seed, row.HarnessError)
				}
				tc.Error = &junitMessage{Type: "harness-error", Message: fmt.Sprintf("%d runs inconclusive", len(errs)), Text: b.String()}
			}
			if p.Expect == "caught" && len(bad) > 0 {
				tc.SystemOut = "caught:\n" + failureText(bad, viol)
			}
			suite.Tests++
			if tc.Failure != nil {
				suite.Failures++
			}
			if tc.Error != nil {
				suite.Errors++
			}
			suite.Cases = append(suite.Cases, tc)
		}
		doc.Tests += suite.Tests
		doc.Failures += suite.Failures
		doc.Errors += suite.Errors
		doc.Skipped += suite.Skipped
		doc.Suites = append(doc.Suites, suite)
	}
	if miss := r.Outcome.MissingShards; len(miss) > 0 {
		// A merge without every shard must not read green in a JUnit
		// viewer either.
		doc.Suites = append(doc.Suites, junitSuite{Name: "eosim/merge", Time: "0.000", Tests: 1, Failures: 1,
			Cases: []junitCase{{Name: "all shards merged", Classname: "eosim.merge", Time: "0.000",
				Failure: &junitMessage{Type: "incomplete",
					Message: fmt.Sprintf("shards %v of %d are missing: %d of %d runs merged", miss, r.Options.Shard.Count, r.Outcome.RunsDone, r.Outcome.RunsPlanned)}}}})
		doc.Tests++
		doc.Failures++
	}
	out, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("junit.xml: %w", err)
	}
	return append([]byte(xml.Header), append(out, '\n')...), nil
}

func failureText(bad []RunRow, viol map[string]Violation) string {
	var b strings.Builder
	for i, row := range bad {
		if i == maxListed {
			fmt.Fprintf(&b, "... and %d more violating runs (see report.json)\n", len(bad)-i)
			break
		}
		v := viol[fmt.Sprintf("%s/%d", row.Protocol, row.Run)]
		fmt.Fprintf(&b, "run %d seed %d: %s\n", row.Run, row.Seed, nonZero(v.Counts))
		if len(v.Plan.Faults) > 0 {
			fmt.Fprintf(&b, "  plan: %s\n", planText(v.Plan.Faults))
		}
		fmt.Fprintf(&b, "  replay: %s\n", v.Replay)
	}
	return b.String()
}

// runGroups are the fault kinds of a run's plan, or "none".
func runGroups(row RunRow) []string {
	var gs []string
	for _, f := range row.Faults {
		if k := faultKind(f); !slices.Contains(gs, k) {
			gs = append(gs, k)
		}
	}
	if len(gs) == 0 {
		gs = []string{"none"}
	}
	return gs
}

// planText renders a plan's faults on one line.
func planText(ops []faults.Op) string {
	var parts []string
	for i, op := range ops {
		// Numbered as the timeline labels a fault where it fired (#2).
		s := fmt.Sprintf("#%d %s@%d", i+1, op.Fault, op.Hit)
		if info, ok := faults.Lookup(op.Fault); !ok || info.IsCrash() {
			s += fmt.Sprintf("(down %dms)", op.RestartDelayMS)
		} else if op.Count > 0 {
			s += fmt.Sprintf("(×%d)", op.Count)
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return "no faults"
	}
	return strings.Join(parts, ", ")
}
