package reports

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/eosim/eosim/model"
)

// Summary renders summary.md: a few Markdown lines for a CI step summary.
func Summary(r Report) string {
	var b strings.Builder
	o := r.Outcome
	fmt.Fprintf(&b, "### %s eosim %s %s — %s\n\n", statusMark(o.Status), r.Command, strings.ToUpper(o.Status), headline(r))
	b.WriteString("| protocol | kind | expect | runs | violating | first catch (runs) | anomalies | status |\n")
	b.WriteString("|---|---|---|--:|--:|---|---|---|\n")
	for _, p := range r.Protocols {
		first := "–"
		if p.FirstCatch != nil {
			first = fmt.Sprintf("%d (seed %d)", p.FirstCatch.RunsToFirstCatch, p.FirstCatch.Seed)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %d | %d | %s | %s | %s %s |\n", md(p.Name), p.Kind, p.Expect, p.Runs,
			p.ViolatingRuns, first, md(nonZero(p.Anomalies)), statusMark(p.Status), p.Status)
	}
	b.WriteString("\n")
	if len(r.Violations) > 0 {
		v := r.Violations[0]
		fmt.Fprintf(&b, "First violation (%s, run %d): `%s`\n\n", md(v.Protocol), v.Run, md(v.Replay))
	}
	if len(r.HarnessErrors) > 0 {
		h := r.HarnessErrors[0]
		fmt.Fprintf(&b, "Harness errors: %d; first (%s, run %d): %s\n\n", len(r.HarnessErrors), md(h.Protocol), h.Run, md(oneLine(h.Error)))
	}
	fmt.Fprintf(&b, "Coverage: %d of %d crash point × checkpoint combinations. ", r.Coverage.Covered, r.Coverage.Combinations)
	fmt.Fprintf(&b, "Wall %s, virtual %s, %.1f scenarios/s. ",
		(time.Duration(r.Execution.WallMS) * time.Millisecond).String(),
		(time.Duration(r.VirtualTimeMS) * time.Millisecond).Round(time.Second).String(), r.Execution.ScenariosPerSecond)
	fmt.Fprintf(&b, "Commit %s, %s, franz-go %s, kfake %s.\n", md(r.Versions.Commit), r.Versions.Go, r.Versions.FranzGo, r.Versions.Kfake)
	if r.Execution.Snapshot != "" {
		fmt.Fprintf(&b, "\n<!-- eosim-snapshot %s -->\n", md(r.Execution.Snapshot))
	}
	return b.String()
}

func headline(r Report) string {
	o := r.Outcome
	var s string
	switch o.Status {
	case StatusPass:
		s = fmt.Sprintf("%d runs, no violation", o.RunsDone)
	case StatusFail:
		s = fmt.Sprintf("%d of %d runs violated", o.ViolatingRuns, o.RunsDone)
	case StatusInconclusive:
		s = fmt.Sprintf("%d of %d runs done, %d harness errors", o.RunsDone, o.RunsPlanned, o.HarnessErrors)
	case StatusInterrupted:
		s = fmt.Sprintf("stopped after %d of %d runs (%d violating)", o.RunsDone, o.RunsPlanned, o.ViolatingRuns)
	case StatusIncomplete:
		s = fmt.Sprintf("%d of %d runs merged, %d violating", o.RunsDone, o.RunsPlanned, o.ViolatingRuns)
	}
	if len(o.MissingShards) > 0 {
		s += fmt.Sprintf("; shards %v of %d missing", o.MissingShards, r.Options.Shard.Count)
	}
	if o.UnfiredOps > 0 {
		s += fmt.Sprintf("; %d planned faults never fired", o.UnfiredOps)
	}
	if len(r.Protocols) == 1 {
		s = md(r.Protocols[0].Name) + ": " + s
	}
	return s
}

func statusMark(s string) string {
	switch s {
	case StatusPass:
		return "✅"
	case StatusFail:
		return "❌"
	}
	return "⚠️"
}

// nonZero renders the non-zero counts in the order of model.Anomalies.
func nonZero(counts map[string]int) string {
	var parts []string
	for _, k := range model.AnomalyNames() {
		if counts[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", k, counts[k]))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		if counts[k] > 0 && !slices.Contains(model.AnomalyNames(), k) {
			parts = append(parts, fmt.Sprintf("%s=%d", k, counts[k]))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}

// md keeps untrusted text from breaking a Markdown table or code span.
func md(s string) string {
	r := strings.NewReplacer("|", "\\|", "`", "'", "<", "&lt;", ">", "&gt;", "\n", " ", "\r", " ")
	return r.Replace(s)
}

func oneLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " …"
	}
	if len(s) > 200 {
		s = s[:200] + " …"
	}
	return s
}
