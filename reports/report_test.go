package reports_test

import (
	"encoding/json"
	"encoding/xml"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/faults"
	"github.com/eosim/eosim/model"
	"github.com/eosim/eosim/reports"
	"github.com/eosim/eosim/sim"
)

// fakeRun makes a sim.Result without running a scenario: k's plan crashes
// at crash-after-ack in checkpoint 2; runs with k%3 == 0 duplicate record
// 0/k; k%7 == 5 is a harness error.
func fakeRun(protocol string, k int) reports.Run {
	seed := sim.RunSeed(1, k)
	res := sim.Result{Protocol: protocol, Seed: seed, Crashes: map[string]int{"crash-after-ack": 1},
		Faults: map[string]int{}, Checkpoints: 4, Restarts: 1, TraceHash: "h", VirtualTime: time.Duration(1000+k) * time.Millisecond,
		Check: model.Result{Verdict: model.OK, Counts: map[string]int{}}}
	res.Plan = faults.Plan{Version: faults.PlanVersion, Protocol: protocol, Seed: seed, Workload: faults.DefaultWorkload(),
		Faults: []faults.Op{{Fault: "crash-after-ack", Hit: 2, RestartDelayMS: 100}}}
	ev := func(t int64, kind string, subtask int, cp int64, detail string) sim.TraceEvent {
		return sim.TraceEvent{T: t, Event: engine.Event{Kind: kind, Subtask: subtask, Checkpoint: cp, Detail: detail}}
	}
	res.Events = []sim.TraceEvent{
		ev(0, "restore", -1, 0, ""),
		{T: 0, Event: engine.Event{Kind: "begin-transaction", Subtask: 0, TxnID: "t-0"}},
		{T: 1, Event: engine.Event{Kind: "process", Subtask: 0, Partition: 0, Offset: 0, Detail: "n=40"}},
		ev(100, "trigger-checkpoint", -1, 1, ""),
		{T: 100, Event: engine.Event{Kind: "precommit", Subtask: 0, Checkpoint: 1, TxnID: "t-0", Detail: "records=40"}},
		ev(100, "checkpoint-stored", -1, 1, ""),
		{T: 101, Event: engine.Event{Kind: "commit", Subtask: 0, Checkpoint: 1, TxnID: "t-0"}},
		ev(200, "trigger-checkpoint", -1, 2, ""),
		ev(200, "crash", -1, 0, "crash-after-ack hit=2 down=100ms"),
		ev(300, "restore", -1, 1, ""),
		{T: 300, Event: engine.Event{Kind: "process", Subtask: 0, Partition: 0, Offset: 0, Detail: "n=40"}},
	}
	if k%3 == 0 {
		id := model.ID{Partition: 0, Offset: int64(k)}
		a := model.Anomaly{Kind: model.Duplicate, Input: &id, Detail: "input visible 2 times"}
		res.Check = model.Result{Verdict: model.Violation, Anomalies: []model.Anomaly{a}, Counts: map[string]int{model.Duplicate: 1}}
		res.Violations = []model.Anomaly{a}
	}
	if k%7 == 5 {
		res.HarnessError = "kfake would not start"
		res.Check = model.Result{Verdict: model.Unknown, Counts: map[string]int{}}
	}
	return reports.Run{Index: k, Result: res, Replay: "go run ./cmd/simrun replay --seed " + itoa(int(seed))}
}

func baseOptions(runs int) reports.Options {
	return reports.Options{Protocols: []string{"commit-on-snapshot"}, BaseSeed: 1, Runs: runs, Faults: "crash",
		FaultNames: []string{"crash-after-ack"}, Workload: faults.DefaultWorkload()}
}

func build(opts reports.Options, runs []reports.Run, interrupted bool) reports.Report {
	b := reports.NewBuilder("campaign", opts, reports.Versions{Go: "go", FranzGo: "f", Kfake: "k", Commit: "c"}, reports.Limits{})
	for _, r := range runs {
		b.Add(r)
	}
	return b.Report(interrupted, reports.Execution{Jobs: 1, Shards: 1, WallMS: 100, ScenariosPerSecond: 10})
}

func fakeRuns(protocol string, ks ...int) []reports.Run {
	var out []reports.Run
	for _, k := range ks {
		out = append(out, fakeRun(protocol, k))
	}
	return out
}

func span(n int) []int {
	ks := make([]int, n)
	for i := range ks {
		ks[i] = i
	}
	return ks
}

func withoutExecution(t *testing.T, r reports.Report) string {
	t.Helper()
	r.Execution = reports.Execution{}
	b, err := reports.JSON(r)
	require.NoError(t, err)
	return string(b)
}

func TestReportAggregates(t *testing.T) {
	r := build(baseOptions(12), fakeRuns("commit-on-snapshot", span(12)...), false)
	require.Equal(t, reports.SchemaVersion, r.SchemaVersion)
	require.Equal(t, 12, r.Outcome.RunsDone)
	require.Equal(t, 12, r.Outcome.RunsPlanned)
	require.Equal(t, 4, r.Outcome.ViolatingRuns) // 0, 3, 6, 9
	require.Equal(t, 1, r.Outcome.HarnessErrors) // run 5
	require.Len(t, r.HarnessErrors, 1)
	require.Len(t, r.Violations, 4)
	require.Equal(t, reports.StatusFail, r.Outcome.Status)
	require.Equal(t, 4, r.Counts.Anomalies[model.Duplicate])
	require.Equal(t, 12, r.Counts.CrashPoints["crash-after-ack"])
	p := r.Protocols[0]
	require.Equal(t, "known-bad", p.Kind)
	require.Equal(t, &reports.FirstCatch{Run: 0, Seed: sim.RunSeed(1, 0), RunsToFirstCatch: 1}, p.FirstCatch)
	require.Equal(t, []reports.FaultCount{{Name: "crash-after-ack", Kind: "crash", PlannedRuns: 12, Fired: 12, ViolatingRuns: 4}}, r.Counts.Faults)
	require.Equal(t, []reports.FaultCount{{Name: "crash", PlannedRuns: 12, Fired: 12, ViolatingRuns: 4}}, r.Counts.FaultKinds)
	// The crash hit checkpoint 2 (the one in flight), inferred from the trace.
	row := 4 - 1 // crash-after-ack is the fourth crash point
	require.Equal(t, "crash-after-ack", r.Coverage.CrashPoints[row])
	require.Equal(t, 12, r.Coverage.Cells[row][2])
	require.Equal(t, 1, r.Coverage.Covered)
	require.Equal(t, 8*11, r.Coverage.Combinations)
	require.Equal(t, []reports.CrashSite{{Point: "crash-after-ack", Checkpoint: 2}}, r.Runs[1].Crashes)
	// Timelines: the first 10 failing runs, then 2 clean ones, by run number.
	var drawn []int
	for _, tl := range r.Timelines {
		drawn = append(drawn, tl.Run)
	}
	require.Equal(t, []int{0, 3, 6, 9, 1, 2}, drawn[:6])
}

func TestStatus(t *testing.T) {
	cases := []struct {
		name        string
		runs        []int
		planned     int
		expect      []string
		interrupted bool
		want        string
	}{
		{"clean", []int{1, 2}, 2, nil, false, reports.StatusPass},
		{"violation", []int{0, 1}, 2, nil, false, reports.StatusFail},
		{"harness error", []int{1, 5}, 2, nil, false, reports.StatusInconclusive},
		{"runs missing", []int{1}, 2, nil, false, reports.StatusInconclusive},
		{"interrupted", []int{1}, 2, nil, true, reports.StatusInterrupted},
		{"known-bad caught", []int{0, 1}, 2, []string{"commit-on-snapshot"}, false, reports.StatusPass},
		{"known-bad missed", []int{1, 2}, 2, []string{"commit-on-snapshot"}, false, reports.StatusFail},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := baseOptions(tc.planned)
			opts.ExpectCaught = tc.expect
			r := build(opts, fakeRuns("commit-on-snapshot", tc.runs...), tc.interrupted)
			require.Equal(t, tc.want, r.Outcome.Status)
		})
	}
}

func TestCrashSiteWithoutTrace(t *testing.T) {
	run := fakeRun("two-phase-commit", 1)
	run.Result.Events = nil
	r := build(baseOptions(2), []reports.Run{run}, false)
	require.Equal(t, []reports.CrashSite{{Point: "crash-after-ack", Checkpoint: -1}}, r.Runs[0].Crashes)
	require.Equal(t, "?", r.Coverage.Checkpoints[len(r.Coverage.Checkpoints)-1])
	require.Empty(t, r.Timelines, "no trace, no timeline")
}

func TestReportDoesNotDependOnArrivalOrder(t *testing.T) {
	runs := fakeRuns("commit-on-snapshot", span(40)...)
	want := withoutExecution(t, build(baseOptions(40), runs, false))
	rng := rand.New(rand.NewPCG(1, 2))
	for range 5 {
		rng.Shuffle(len(runs), func(i, j int) { runs[i], runs[j] = runs[j], runs[i] })
		require.Equal(t, want, withoutExecution(t, build(baseOptions(40), runs, false)))
	}
}

func TestMergeOfShardsEqualsUnsharded(t *testing.T) {
	const runs = 40
	want := withoutExecution(t, build(baseOptions(runs), fakeRuns("commit-on-snapshot", span(runs)...), false))
	for _, n := range []int{2, 3, 7} {
		var parts []reports.Report
		for i := 1; i <= n; i++ {
			opts := baseOptions(runs)
			opts.Shard = reports.Shard{Count: n, Indexes: []int{i}}
			var ks []int
			for k := range runs {
				if k%n == i-1 {
					ks = append(ks, k)
				}
			}
			parts = append(parts, build(opts, fakeRuns("commit-on-snapshot", ks...), false))
		}
		// Any order of the parts.
		parts[0], parts[n-1] = parts[n-1], parts[0]
		merged, err := reports.Merge(parts...)
		require.NoError(t, err)
		require.Equal(t, want, withoutExecution(t, merged), "merge of %d shards", n)
		require.Equal(t, n, merged.Execution.Shards)

		partial, err := reports.Merge(parts[1:]...)
		require.NoError(t, err)
		require.Equal(t, n, partial.Options.Shard.Count, "a partial merge says which shards it holds")
		require.Len(t, partial.Options.Shard.Indexes, n-1)
	}
}

// TestIncompleteMergeSaysIncomplete: a merge without every shard never
// reads pass, in report.json, summary.md or the page's badge.
func TestIncompleteMergeSaysIncomplete(t *testing.T) {
	const runs = 10
	opts := baseOptions(runs)
	opts.Shard = reports.Shard{Count: 3, Indexes: []int{1}}
	// Shard 1 of 3 holds runs 0, 3, 6, 9, made clean so that the shard on
	// its own passes.
	cleanRuns := []reports.Run{}
	for _, k := range []int{0, 3, 6, 9} {
		r := fakeRun("two-phase-commit", k)
		r.Result.Violations, r.Result.HarnessError = nil, ""
		r.Result.Check = model.Result{Verdict: model.OK, Counts: map[string]int{}}
		cleanRuns = append(cleanRuns, r)
	}
	opts.Protocols = []string{"two-phase-commit"}
	shard := build(opts, cleanRuns, false)
	require.Equal(t, reports.StatusPass, shard.Outcome.Status, "the shard on its own passes")

	m, err := reports.Merge(shard)
	require.NoError(t, err)
	require.Equal(t, reports.StatusIncomplete, m.Outcome.Status)
	require.Equal(t, runs, m.Outcome.RunsPlanned, "runs planned is the whole campaign's")
	require.Equal(t, 4, m.Outcome.RunsDone)
	require.Equal(t, []int{2, 3}, m.Outcome.MissingShards)
	require.Contains(t, reports.Summary(m), "INCOMPLETE")
	require.Contains(t, reports.Summary(m), "shards [2 3] of 3 missing")
	page, err := reports.HTML(m)
	require.NoError(t, err)
	require.Contains(t, string(page), `class="badge status-incomplete" id="status">incomplete<`)
	js, err := reports.JSON(m)
	require.NoError(t, err)
	require.Contains(t, string(js), `"status": "incomplete"`)
	junit, err := reports.JUnit(m)
	require.NoError(t, err)
	require.Contains(t, string(junit), `<testcase name="all shards merged" classname="eosim.merge"`)
	require.Contains(t, string(junit), "shards [2 3] of 3 are missing: 4 of 10 runs merged")

	// A violation found in the shards present is still a fail.
	opts.Protocols = []string{"commit-on-snapshot"}
	failing, err := reports.Merge(build(opts, fakeRuns("commit-on-snapshot", 0, 3), false))
	require.NoError(t, err)
	require.Equal(t, reports.StatusFail, failing.Outcome.Status)
	require.Equal(t, []int{2, 3}, failing.Outcome.MissingShards)
	require.Contains(t, reports.Summary(failing), "missing")
}

func TestMergeRejectsReportsThatDoNotBelongTogether(t *testing.T) {
	shard := func(i, n int, mutate func(*reports.Options)) reports.Report {
		opts := baseOptions(10)
		opts.Shard = reports.Shard{Count: n, Indexes: []int{i}}
		if mutate != nil {
			mutate(&opts)
		}
		var ks []int
		for k := range 10 {
			if k%n == i-1 {
				ks = append(ks, k)
			}
		}
		return build(opts, fakeRuns("commit-on-snapshot", ks...), false)
	}
	// tampered is shard i of 2 holding runs ks, whether they belong or not.
	tampered := func(i int, ks ...int) reports.Report {
		opts := baseOptions(10)
		opts.Shard = reports.Shard{Count: 2, Indexes: []int{i}}
		return build(opts, fakeRuns("commit-on-snapshot", ks...), false)
	}
	otherCommit := shard(2, 2, nil)
	otherCommit.Versions.Commit = "d"
	oldSchema := shard(2, 2, nil)
	oldSchema.SchemaVersion = 99
	gate := shard(2, 2, nil)
	gate.Command = "gate"
	cases := []struct {
		name  string
		parts []reports.Report
		want  string
	}{
		{"nothing", nil, "no reports"},
		{"other seed", []reports.Report{shard(1, 2, nil), shard(2, 2, func(o *reports.Options) { o.BaseSeed = 2 })}, "differs from report 1 in options.base_seed (1 vs 2)"},
		{"other workload", []reports.Report{shard(1, 2, nil), shard(2, 2, func(o *reports.Options) { o.Workload.Records = 7 })}, "options.workload.records (1000 vs 7)"},
		{"other commit", []reports.Report{shard(1, 2, nil), otherCommit}, `versions.commit ("c" vs "d")`},
		{"long value clipped", []reports.Report{shard(1, 2, nil), shard(2, 2, func(o *reports.Options) { o.Faults = strings.Repeat("x", 5000) })}, `options.faults ("crash" vs "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…)`},
		{"shard twice", []reports.Report{shard(1, 2, nil), shard(1, 2, nil)}, "appears twice"},
		{"other shard count", []reports.Report{shard(1, 2, nil), shard(2, 3, nil)}, "shard of 3"},
		{"schema", []reports.Report{shard(1, 2, nil), oldSchema}, "schema version 99"},
		{"command", []reports.Report{shard(1, 2, nil), gate}, `"gate"`},
		{"same runs twice", []reports.Report{tampered(1, 0, 1), tampered(2, 1, 3)}, "run 1 of commit-on-snapshot"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := reports.Merge(tc.parts...)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestWriteAndRead(t *testing.T) {
	r := build(baseOptions(12), fakeRuns("commit-on-snapshot", span(12)...), false)
	dir := t.TempDir()
	require.NoError(t, reports.Write(dir, r))
	names := dirNames(t, dir)
	require.ElementsMatch(t, []string{"index.html", "junit.xml", "report.json", "summary.md", "traces"}, names, "no temporary files left")
	back, err := reports.Read(dir)
	require.NoError(t, err)
	require.NotEmpty(t, back.Execution.Snapshot, "Write stamps its snapshot")
	require.NoError(t, reports.CheckSnapshot(dir), "the four files are of one write")
	back.Execution.Snapshot = ""
	a, _ := reports.JSON(r)
	b, _ := reports.JSON(back)
	require.True(t, string(a) == string(b), "report.json reads back as written")
	// Rewriting over an existing report replaces it whole.
	r2 := build(baseOptions(12), fakeRuns("commit-on-snapshot", 1, 2), false)
	require.NoError(t, reports.Write(dir, r2))
	back, err = reports.Read(dir)
	require.NoError(t, err)
	require.Equal(t, 2, back.Outcome.RunsDone)

	_, err = reports.Read(t.TempDir())
	require.ErrorContains(t, err, "read report")
	bad := t.TempDir() + "/report.json"
	require.NoError(t, os.WriteFile(bad, []byte(`{"schema_version": 2}`), 0o644))
	_, err = reports.Read(bad)
	require.ErrorContains(t, err, "schema version 2")
}

// junit mirrors the parts of JUnit XML that CI viewers read.
type junit struct {
	XMLName  xml.Name `xml:"testsuites"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Errors   int      `xml:"errors,attr"`
	Suites   []struct {
		Name     string `xml:"name,attr"`
		Tests    int    `xml:"tests,attr"`
		Failures int    `xml:"failures,attr"`
		Cases    []struct {
			Name      string `xml:"name,attr"`
			Classname string `xml:"classname,attr"`
			Time      string `xml:"time,attr"`
			Failure   *struct {
				Message string `xml:"message,attr"`
				Text    string `xml:",chardata"`
			} `xml:"failure"`
			Error *struct {
				Message string `xml:"message,attr"`
			} `xml:"error"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

// TestWriteCleansStaleTempsAndTellsMixedSets: a writer killed mid-write
// leaves temp files the next write removes, and a set mixed from two
// writes is told by CheckSnapshot.
func TestWriteCleansStaleTempsAndTellsMixedSets(t *testing.T) {
	dir := t.TempDir()
	for _, stale := range []string{".simrun-tmp-report.json-123", ".index.html.tmp-456", ".simrun-check-789"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, stale), nil, 0o644))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "keep.txt"), []byte("mine"), 0o644))
	first := build(baseOptions(12), fakeRuns("commit-on-snapshot", span(12)...), false)
	require.NoError(t, reports.Write(dir, first))
	names := dirNames(t, dir)
	require.ElementsMatch(t, []string{"index.html", "junit.xml", "report.json", "summary.md", "keep.txt", "traces"}, names)
	// Each timeline's trace is beside the report, one event a line.
	require.NotEmpty(t, first.Timelines)
	for _, tl := range first.Timelines {
		b, err := os.ReadFile(filepath.Join(dir, reports.TracePath(tl)))
		require.NoError(t, err)
		require.Equal(t, len(tl.Events), strings.Count(string(b), "\n"))
		require.Contains(t, string(b), `"kind":"trigger-checkpoint"`)
	}
	require.Len(t, dirNames(t, filepath.Join(dir, "traces")), len(first.Timelines))

	oldPage, err := os.ReadFile(filepath.Join(dir, "index.html"))
	require.NoError(t, err)
	second := build(baseOptions(12), fakeRuns("commit-on-snapshot", 1, 2), false)
	require.NoError(t, reports.Write(dir, second))
	require.NoError(t, reports.CheckSnapshot(dir))
	require.Len(t, dirNames(t, filepath.Join(dir, "traces")), len(second.Timelines), "traces of the earlier write are gone")
	// A reader that got index.html before the rewrite and report.json after.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "index.html"), oldPage, 0o644))
	require.ErrorContains(t, reports.CheckSnapshot(dir), "index.html is not of the snapshot of report.json")
}

func TestJUnit(t *testing.T) {
	mixed := fakeRuns("commit-on-snapshot", span(6)...)
	noFaults := fakeRun("commit-on-snapshot", 7)
	noFaults.Result.Plan.Faults = nil
	cases := []struct {
		name          string
		expect        []string
		runs          []reports.Run
		wantCases     []string
		wantFailures  int
		wantErrors    int
		failureHas    string
		failedOnGroup string
	}{
		{"clean expected, violations", nil, append(mixed, noFaults), []string{"crash", "none"}, 1, 1, "replay: go run ./cmd/simrun replay", "crash"},
		{"caught expected and caught", []string{"commit-on-snapshot"}, mixed, []string{"crash"}, 0, 1, "", ""},
		{"caught expected, missed", []string{"commit-on-snapshot"}, fakeRuns("commit-on-snapshot", 1, 2), []string{"crash"}, 1, 0, "not caught", "crash"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := baseOptions(8)
			opts.ExpectCaught = tc.expect
			data, err := reports.JUnit(build(opts, tc.runs, false))
			require.NoError(t, err)
			require.True(t, strings.HasPrefix(string(data), "<?xml"))
			var doc junit
			require.NoError(t, xml.Unmarshal(data, &doc))
			require.Len(t, doc.Suites, 1)
			s := doc.Suites[0]
			require.Equal(t, "eosim/commit-on-snapshot", s.Name)
			var names []string
			for _, c := range s.Cases {
				names = append(names, c.Name)
				require.Equal(t, "eosim.commit-on-snapshot", c.Classname)
				if c.Failure != nil {
					require.Equal(t, tc.failedOnGroup, c.Name)
					require.Contains(t, c.Failure.Message+c.Failure.Text, tc.failureHas)
				}
			}
			require.Equal(t, tc.wantCases, names)
			require.Equal(t, tc.wantFailures, doc.Failures)
			require.Equal(t, tc.wantErrors, doc.Errors)
			require.Equal(t, len(names), doc.Tests)
		})
	}
}

func TestSummary(t *testing.T) {
	r := build(baseOptions(12), fakeRuns("commit-on-snapshot", span(12)...), false)
	s := reports.Summary(r)
	require.Contains(t, s, "FAIL — commit-on-snapshot: 4 of 12 runs violated")
	require.Contains(t, s, "| commit-on-snapshot | known-bad | clean | 12 | 4 | 1 (seed")
	require.Contains(t, s, "`go run ./cmd/simrun replay --seed")
	require.LessOrEqual(t, strings.Count(s, "\n"), 12, "a few lines")

	r = build(baseOptions(100), fakeRuns("commit-on-snapshot", 1, 2), true)
	require.Contains(t, reports.Summary(r), "INTERRUPTED — commit-on-snapshot: stopped after 2 of 100 runs")
}

func TestHTMLShowsUntrustedTextAsText(t *testing.T) {
	run := fakeRun("commit-on-snapshot", 3)
	run.Records = map[model.ID]model.InputRecord{{Partition: 0, Offset: 3}: {Key: "k<i>", Value: evilValue}}
	run.Result.Events = append(run.Result.Events, sim.TraceEvent{T: 400, Event: engineEvent("job-failure", evilDetail)})
	run.Result.Violations[0].Detail = evilDetail
	run.Replay = "replay " + evilDetail
	page, err := reports.HTML(build(baseOptions(4), []reports.Run{run, fakeRun("commit-on-snapshot", 1)}, false))
	require.NoError(t, err)
	html := string(page)
	for _, raw := range []string{evilValue, evilDetail, "<img", "k<i>"} {
		require.NotContains(t, html, raw)
	}
	require.Equal(t, 1, strings.Count(html, "<script"), "only the page's own script")
	require.Contains(t, html, `<script id="eosim-highlight">`)
	require.Contains(t, html, "k&lt;i&gt;", "the key is shown, escaped")
	require.Contains(t, html, "&lt;b&gt;bold?&lt;/b&gt;&amp;amp;&lt;script&gt;alert(1)&lt;/script&gt;")
	require.Contains(t, html, "&lt;img src=x onerror=alert(2)&gt;&amp;")
	// Self-contained: nothing to fetch.
	for _, remote := range []string{"http://", "https://", "<link", "@import", "url(http", "src=\""} {
		require.NotContains(t, html, remote)
	}
	require.Contains(t, html, `id="tl-commit-on-snapshot-3"`)
	require.Contains(t, html, `class="hl hl-duplicate"`)
}

func TestRealCampaignReport(t *testing.T) {
	r := realReport(t)
	require.Positive(t, r.Outcome.ViolatingRuns)
	require.NotEmpty(t, r.Timelines)
	require.Positive(t, r.Coverage.Covered)
	require.Equal(t, reports.StatusPass, r.Protocols[1].Status, "two-phase-commit is clean")
	for _, row := range r.Runs {
		for _, c := range row.Crashes {
			require.GreaterOrEqual(t, c.Checkpoint, int64(0), "checkpoint of %s inferred from the trace", c.Point)
		}
	}
	data, err := reports.JSON(r)
	require.NoError(t, err)
	var generic map[string]any
	require.NoError(t, json.Unmarshal(data, &generic))
	for _, key := range []string{"schema_version", "options", "versions", "outcome", "protocols", "counts", "coverage",
		"virtual_time_ms", "violations", "harness_errors", "timelines", "runs", "execution", "limits", "command"} {
		require.Contains(t, generic, key)
	}
	_, err = reports.HTML(r)
	require.NoError(t, err)
}

func TestShardShare(t *testing.T) {
	for _, s := range []reports.Shard{{Count: 1, Indexes: []int{1}}, {Count: 3, Indexes: []int{1}}, {Count: 3, Indexes: []int{2, 3}},
		{Count: 4, Indexes: []int{4}}, {Count: 1}, {Count: 5, Indexes: []int{1, 2, 3, 4, 5}}} {
		for _, runs := range []int{0, 1, 2, 3, 10, 11} {
			want := 0
			for k := range runs {
				if s.Holds(k) {
					want++
				}
			}
			require.Equal(t, want, s.Share(runs), "%+v of %d runs", s, runs)
		}
	}
	require.Equal(t, 250_000_000_000, reports.Shard{Count: 4, Indexes: []int{2}}.Share(1_000_000_000_000))
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestUnfiredOpsAreCounted(t *testing.T) {
	runs := fakeRuns("commit-on-snapshot", span(4)...)
	never := faults.Op{Fault: "rescale", Hit: 1_000_000, Count: 2}
	runs[2].Result.Plan.Faults = append(runs[2].Result.Plan.Faults, never)
	runs[2].Result.Unfired = []faults.Op{never}
	r := build(baseOptions(4), runs, false)
	require.Equal(t, 1, r.Outcome.UnfiredOps)
	require.Equal(t, []string{"rescale@1000000"}, r.Runs[2].Unfired)
	require.Empty(t, r.Runs[1].Unfired)
	require.Contains(t, reports.Summary(r), "1 planned faults never fired")
}
