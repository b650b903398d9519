package reports

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"regexp"
	"time"

	"github.com/eosim/eosim/model"
)

//go:embed report.html.tmpl
var pageSource string

var pageTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"f1": func(f float64) string { return fmt.Sprintf("%.1f", f) },
	"ms": fmtMS,
}).Parse(pageSource))

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
	Timelines  []timelineView
}

type fact struct{ Name, Value string }

type violationView struct {
	V        Violation
	Counts   string
	Plan     string
	Timeline string // anchor of its timeline, if drawn
}

var unsafeID = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

func timelineID(protocol string, run int) string {
	return fmt.Sprintf("tl-%s-%d", unsafeID.ReplaceAllString(protocol, "_"), run)
}

// HTML renders index.html: a self-contained page (no scripts, no network
// fetches) with the outcome, charts, violations and a timeline per drawn
// run. Every value from a trace or a record goes through html/template.
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
		d.Timelines = append(d.Timelines, layoutTimeline(tl, id))
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
	for _, v := range r.Violations {
		vv := violationView{V: v, Counts: nonZero(v.Counts), Plan: planText(v.Plan.Faults)}
		if id := timelineID(v.Protocol, v.Run); drawn[id] {
			vv.Timeline = id
		}
		d.Violations = append(d.Violations, vv)
	}
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
