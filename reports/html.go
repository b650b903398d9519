package reports

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/model"
)

//go:embed report.html.tmpl
var pageSource string

var pageTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"f1":   func(f float64) string { return fmt.Sprintf("%.1f", f) },
	"ms":   fmtMS,
	"args": commandArgs,
}).Parse(pageSource))

// commandArgs splits a command line into its words, each flag with its
// value, so that the page wraps a long replay command between flags and
// never inside one.
func commandArgs(cmd string) []string {
	var out []string
	for _, w := range strings.Fields(cmd) {
		if n := len(out); n > 0 && !strings.HasPrefix(w, "-") && strings.HasPrefix(out[n-1], "-") && !strings.Contains(out[n-1], " ") {
			out[n-1] += " " + w
			continue
		}
		out = append(out, w)
	}
	return out
}

// maxViolationRows bounds the violations table; report.json has them all.
const maxViolationRows = 100

// firstFailure is what the page's first screen says failed.
type firstFailure struct {
	Protocol, Description string
	Run                   int
	Seed                  uint64
	Counts                string
	Anomalies             []Anomaly
	LoudFailure           string
	Replay                string
	Timeline, Trace       string
	// NotCaught is set instead when a known-bad protocol was not caught.
	NotCaught string
}

type pageData struct {
	R          Report
	Title      string
	Headline   string
	Status     string
	Facts      []fact
	Anomalies  []fact
	Protocols  barChart
	Faults     barChart
	Coverage   heatmap
	Violations []violationView
	// MoreViolations were left out of the table.
	MoreViolations int
	Timelines      []timelineView
	First          *firstFailure
	// Partitions are the colour legend's entries: class pN for the
	// partitions N, N+8, ...
	Partitions []partitionColour
	// EngineTimelines and AppTimelines say which legends the page needs.
	EngineTimelines, AppTimelines bool
}

type partitionColour struct {
	Class int
	Label string
}

type fact struct{ Name, Value string }

type violationView struct {
	V        Violation
	Counts   string
	Plan     string
	Timeline string // anchor of its timeline, if drawn
	// Recs are the record keys of its first anomalies, for highlighting.
	Recs []string
}

var unsafeID = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

func timelineID(protocol string, run int) string {
	return fmt.Sprintf("tl-%s-%d", unsafeID.ReplaceAllString(protocol, "_"), run)
}

// HTML renders index.html: a self-contained page (no network fetches; one
// small inline script of its own, for highlighting a clicked record) with
// what failed first, the outcome, charts, violations and a timeline per
// drawn run, each linked to its trace file. Every value from a trace or a
// record goes through html/template.
func HTML(r Report) ([]byte, error) {
	d := pageData{R: r, Status: r.Outcome.Status, Headline: headline(r)}
	d.Title = fmt.Sprintf("eosim %s — %s", r.Command, r.Outcome.Status)
	wall := time.Duration(r.Execution.WallMS) * time.Millisecond
	d.Facts = []fact{
		{"runs", fmt.Sprintf("%d done of %d planned", r.Outcome.RunsDone, r.Outcome.RunsPlanned)},
		{"violating runs", fmt.Sprint(r.Outcome.ViolatingRuns)},
		{"harness errors", fmt.Sprint(r.Outcome.HarnessErrors)},
		{"base seed", fmt.Sprint(r.Options.BaseSeed)},
		{"faults", fmt.Sprintf("%s (%d enabled)", r.Options.Faults, len(r.Options.FaultNames))},
		{"workload", fmt.Sprintf("%d partitions, parallelism %d, %d records, %d keys per partition, checkpoint every %dms",
			r.Options.Workload.Partitions, r.Options.Workload.Parallelism, r.Options.Workload.Records,
			r.Options.Workload.KeysPerPartition, r.Options.Workload.CheckpointIntervalMS)},
		{"shard", shardText(r.Options.Shard)},
		{"wall time", wall.String()},
		{"virtual time", (time.Duration(r.VirtualTimeMS) * time.Millisecond).String()},
		{"scenarios per second", fmt.Sprintf("%.1f (jobs %d, shards %d)", r.Execution.ScenariosPerSecond, r.Execution.Jobs, r.Execution.Shards)},
		{"coverage", fmt.Sprintf("%d of %d crash point × checkpoint combinations", r.Coverage.Covered, r.Coverage.Combinations)},
		{"versions", fmt.Sprintf("commit %s · %s · franz-go %s · kfake %s", r.Versions.Commit, r.Versions.Go, r.Versions.FranzGo, r.Versions.Kfake)},
	}
	for _, name := range model.AnomalyNames() {
		d.Anomalies = append(d.Anomalies, fact{name, fmt.Sprint(r.Counts.Anomalies[name])})
	}
	d.Protocols = protocolChart(r)
	d.Faults = faultChart(r)
	d.Coverage = coverageMap(r.Coverage)
	drawn := map[string]bool{}
	for _, tl := range r.Timelines {
		id := timelineID(tl.Protocol, tl.Run)
		drawn[id] = true
		tv := layoutTimeline(tl, id)
		tv.Trace = TracePath(tl)
		d.Timelines = append(d.Timelines, tv)
		d.AppTimelines = d.AppTimelines || tl.App
		d.EngineTimelines = d.EngineTimelines || !tl.App
	}
	parts := max(1, r.Options.Workload.Partitions)
	for c := range min(8, parts) {
		var names []string
		for p := c; p < parts; p += 8 {
			names = append(names, fmt.Sprint(p))
		}
		d.Partitions = append(d.Partitions, partitionColour{c, "partition " + strings.Join(names, ", ")})
	}
	for i := range d.Timelines {
		tv := &d.Timelines[i]
		tv.Counts = "clean"
		tv.Plan = planText(tv.Timeline.Faults)
		for _, v := range r.Violations {
			if v.Protocol == tv.Timeline.Protocol && v.Run == tv.Timeline.Run {
				tv.Counts = nonZero(v.Counts)
			}
		}
	}
	for i, v := range r.Violations {
		if i == maxViolationRows {
			d.MoreViolations = len(r.Violations) - i
			break
		}
		vv := violationView{V: v, Counts: nonZero(v.Counts), Plan: planText(v.Plan.Faults)}
		if id := timelineID(v.Protocol, v.Run); drawn[id] {
			vv.Timeline = id
		}
		for _, a := range v.Anomalies {
			key := ""
			if a.Record != nil && vv.Timeline != "" {
				key = recKey(vv.Timeline, a.Record.Partition, a.Record.Offset)
			}
			vv.Recs = append(vv.Recs, key)
		}
		d.Violations = append(d.Violations, vv)
	}
	d.First = first(r, drawn)
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, d); err != nil {
		return nil, fmt.Errorf("index.html: %w", err)
	}
	return buf.Bytes(), nil
}

func shardText(s Shard) string {
	if s.Count <= 1 {
		return "all runs (unsharded)"
	}
	return fmt.Sprintf("%v of %d", s.Indexes, s.Count)
}

// first picks what the first screen shows: the first violation of a
// protocol expected clean, with its anomalies, replay command, timeline and
// trace; or a known-bad protocol that was not caught.
func first(r Report, drawn map[string]bool) *firstFailure {
	for _, v := range r.Violations {
		if slices.Contains(r.Options.ExpectCaught, v.Protocol) {
			continue
		}
		f := &firstFailure{Protocol: v.Protocol, Description: protocolDescription(v.Protocol), Run: v.Run, Seed: v.Seed,
			Counts: nonZero(v.Counts), LoudFailure: v.LoudFailure, Replay: v.Replay}
		f.Anomalies = v.Anomalies[:min(3, len(v.Anomalies))]
		if id := timelineID(v.Protocol, v.Run); drawn[id] {
			f.Timeline = id
			f.Trace = TracePath(Timeline{Protocol: v.Protocol, Run: v.Run})
		}
		return f
	}
	for _, p := range r.Protocols {
		if p.Expect == "caught" && p.Status == StatusFail {
			return &firstFailure{Protocol: p.Name, Description: protocolDescription(p.Name),
				NotCaught: fmt.Sprintf("known-bad protocol %s was not caught in %d runs", p.Name, p.Runs)}
		}
	}
	return nil
}

func protocolDescription(name string) string {
	p, err := engine.ProtocolByName(name)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%s (%s): %s", p.Name, p.Kind, p.Description)
}

// TracePath is where Write puts a timeline's trace, relative to the report
// directory: one JSON object per line, the events the timeline drew.
func TracePath(tl Timeline) string {
	return "traces/" + timelineID(tl.Protocol, tl.Run) + ".jsonl"
}
