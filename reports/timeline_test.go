package reports

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/faults"
	"github.com/eosim/eosim/sim"
)

func ev(t int64, kind string, subtask int, cp int64, txn, detail string, partition int32, offset int64) sim.TraceEvent {
	return sim.TraceEvent{T: t, Event: engine.Event{Kind: kind, Subtask: subtask, Checkpoint: cp, TxnID: txn, Detail: detail,
		Partition: partition, Offset: offset}}
}

func TestTimelineFollowsRecordsToWhereTheyLeft(t *testing.T) {
	events := []sim.TraceEvent{
		ev(0, "restore", -1, 0, "", "", 0, 0),
		ev(0, "begin-transaction", 0, 0, "t-0", "", 0, 0),
		ev(1, "process", 0, 0, "", "n=10", 1, 0), // 1/0..1/9
		ev(100, "trigger-checkpoint", -1, 1, "", "", 0, 0),
		ev(100, "source-snapshot", 0, 1, "", "", 0, 0),
		ev(100, "precommit", 0, 1, "t-0", "records=10", 0, 0),
		ev(100, "begin-transaction", 0, 0, "t-1", "", 0, 0),
		ev(100, "checkpoint-stored", -1, 1, "", "", 0, 0),
		ev(110, "commit", 0, 1, "t-0", "", 0, 0),
		ev(120, "process", 0, 0, "", "n=5", 1, 10), // 1/10..1/14
		ev(200, "trigger-checkpoint", -1, 2, "", "", 0, 0),
		ev(200, "source-snapshot", 0, 2, "", "", 0, 0),
		ev(200, "precommit", 0, 2, "t-1", "records=5", 0, 0),
		ev(200, "begin-transaction", 0, 0, "t-2", "", 0, 0),
		ev(201, "process", 0, 0, "", "n=1", 1, 15), // 1/15, in t-2 when the job dies
		ev(202, "crash", -1, 0, "", "crash-after-precommit hit=2 down=900ms", 0, 0),
		ev(1102, "restore", -1, 1, "", "", 0, 0),
		ev(1102, "abort-lingering", 0, 0, "t-1", "", 0, 0),
		ev(1102, "fault", -1, 1, "", "not-coordinator hit=1", 0, 0),
	}
	tl := Timeline{Protocol: "p", Run: 3, Seed: 9, Violating: true, Parallelism: 1, Events: events, VirtualMS: 1200,
		Anomalies: []Anomaly{
			{Kind: "duplicate", Record: &Record{Partition: 1, Offset: 4}},
			{Kind: "lost", Record: &Record{Partition: 1, Offset: 11}},
			{Kind: "lost", Record: &Record{Partition: 1, Offset: 12}},
			{Kind: "lost", Record: &Record{Partition: 1, Offset: 15}},
			{Kind: "lost", Record: &Record{Partition: 2, Offset: 0}},
		}}
	v := layoutTimeline(tl, "tl-p-3")

	require.Len(t, v.Lanes, 4) // coordinator, broker, source 0, sink 0
	require.Len(t, v.Ticks, 3)
	require.Len(t, v.Highlight, 3)
	require.Equal(t, "hl hl-duplicate", v.Highlight[0].Class)
	require.Contains(t, v.Highlight[0].Title, "left with sink 0's transaction of checkpoint 1: committed (checkpoint 1) at 110ms")
	require.Equal(t, "hl hl-lost", v.Highlight[1].Class)
	require.Contains(t, v.Highlight[1].Title, "lost 1/11, 1/12")
	require.Contains(t, v.Highlight[1].Title, "should have left with sink 0's transaction of checkpoint 2, but: cut by crash-after-precommit at 202ms")
	require.Contains(t, v.Highlight[1].Title, "aborted as lingering at 1.102s")
	require.Contains(t, v.Highlight[2].Title, "in sink 0's open transaction when the job stopped")
	var links []string
	for _, l := range v.Links {
		links = append(links, l.Class)
	}
	require.Equal(t, []string{"link link-left", "link link-missed", "link link-replayed"}, links)

	// Records: grouped, with where they entered and left.
	require.Len(t, v.Records, 4)
	require.Equal(t, "1/4", v.Records[0].Record)
	require.Equal(t, "1/11 – 1/12 (2 records)", v.Records[1].Record)
	require.Equal(t, []string{"120ms by source 0"}, v.Records[1].Entered)
	require.Equal(t, []string{"never read by a source in the trace"}, v.Records[3].Entered)

	// The 900ms of downtime is squeezed; the crash and restart are drawn.
	require.Len(t, v.Bands, 1)
	require.InDelta(t, tlDownW, v.Bands[0].W, 0.2)
	var classes []string
	for _, g := range v.Grid {
		classes = append(classes, g.Class)
	}
	require.Contains(t, classes, "crash-line")
	require.Contains(t, classes, "cp-line")
	var broker bool
	for _, m := range v.Marks {
		broker = broker || m.Class == "m-broker"
	}
	require.True(t, broker, "broker fault drawn in the broker lane")
}

func TestTimelineRoutesByKey(t *testing.T) {
	// Two sinks: a record goes to the sink that owns its key. Without the
	// key the report cannot tell which.
	key := "k1-0"
	owner := engine.KeyOwner(key, 2)
	events := []sim.TraceEvent{
		ev(0, "begin-transaction", 0, 0, "t-0", "", 0, 0),
		ev(0, "begin-transaction", 1, 0, "t-1", "", 0, 0),
		ev(1, "process", 1, 0, "", "n=3", 1, 0),
		ev(100, "source-snapshot", 1, 1, "", "", 0, 0),
		ev(100, "precommit", 0, 1, "t-0", "", 0, 0),
		ev(100, "precommit", 1, 1, "t-1", "", 0, 0),
		ev(110, "commit", 0, 1, "t-0", "", 0, 0),
		ev(110, "commit", 1, 1, "t-1", "", 0, 0),
	}
	anoms := []Anomaly{{Kind: "duplicate", Record: &Record{Partition: 1, Offset: 1, Key: key}}, {Kind: "duplicate", Record: &Record{Partition: 1, Offset: 2}}}
	v := layoutTimeline(Timeline{Parallelism: 2, Events: events, Anomalies: anoms}, "x")
	require.Len(t, v.Lanes, 6)
	require.Len(t, v.Links, 1, "only the record with a key is linked")
	require.Contains(t, v.Links[0].Title, fmt.Sprintf("left with sink %d's transaction of checkpoint 1", owner))
	require.Contains(t, v.Highlight[0].Title, "the trace does not say which")
}

func TestTimeScaleIsMonotonic(t *testing.T) {
	events := []sim.TraceEvent{ev(50, "crash", -1, 0, "", "x", 0, 0), ev(5000, "restore", -1, 0, "", "", 0, 0),
		ev(5100, "job-failure", -1, 0, "", "x", 0, 0)}
	ts := newTimeScale(events, 9000)
	last := -1.0
	for tm := int64(0); tm <= 9000; tm += 7 {
		x := ts.x(tm)
		require.GreaterOrEqual(t, x, last, "x(%d)", tm)
		last = x
	}
	require.InDelta(t, ts.width, ts.x(9000), 0.1)
	require.GreaterOrEqual(t, ts.width, tlMinW-0.1)
}

func TestFmtMS(t *testing.T) {
	for ms, want := range map[int64]string{0: "0ms", 999: "999ms", 1000: "1s", 1500: "1.5s", 61_500: "1m1.5s"} {
		require.Equal(t, want, fmtMS(ms))
	}
	require.True(t, strings.HasPrefix(shapePoints("diamond", 10, 10, 5), "10,5 "))
}

// The trace is untrusted input: no sequence of events may break the layout.
func TestTimelineSurvivesAnyTrace(t *testing.T) {
	kinds := []string{"process", "begin-transaction", "precommit", "commit", "commit-failure-ignored", "resume-transaction",
		"abort-lingering", "snapshot", "ack", "trigger-checkpoint", "checkpoint-stored", "restore", "crash", "job-failure",
		"loud-failure", "fault", "checkpoint-failed", "notification-lost", "mystery", ""}
	details := []string{"", " ", "n=", "n=-3", "n=abc", "n=99999999", "crash-after-ack", "not-coordinator hit=1", "committed", "<b>x</b>&"}
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 300 {
		var events []sim.TraceEvent
		for range rng.IntN(60) {
			events = append(events, ev(rng.Int64N(5000)-100, kinds[rng.IntN(len(kinds))], rng.IntN(6)-2, rng.Int64N(5)-1,
				[]string{"", "t-0", "t-1"}[rng.IntN(3)], details[rng.IntN(len(details))], int32(rng.IntN(4)-1), rng.Int64N(50)-5))
		}
		tl := Timeline{Protocol: "p", Run: i, Parallelism: rng.IntN(3), Events: events, VirtualMS: rng.Int64N(3000),
			Anomalies: []Anomaly{{Kind: "lost", Record: &Record{Partition: 0, Offset: 3}}, {Kind: "duplicate"}}}
		require.NotPanics(t, func() { layoutTimeline(tl, "x") }, "events %v", events)
	}
	page, err := HTML(Report{Timelines: []Timeline{{Protocol: "<evil>", Events: []sim.TraceEvent{ev(0, "", -7, 0, "", "", 0, 0)}}}})
	require.NoError(t, err)
	require.NotContains(t, string(page), "<evil>")
}

// TestTimelineLabels: checkpoint labels are unique along a timeline (the
// attempt and the checkpoint), faults are labelled where they fired with
// their number and hit in the plan, axis labels never overlap, nothing is
// drawn past the right edge, and a record's shapes carry its key.
func TestTimelineLabels(t *testing.T) {
	events := []sim.TraceEvent{ev(0, "restore", -1, 0, "", "", 0, 0)}
	for cp := int64(1); cp <= 3; cp++ {
		events = append(events, ev(cp*100, "trigger-checkpoint", -1, cp, "", "", 0, 0))
	}
	events = append(events,
		ev(310, "crash", -1, 0, "", "crash-after-ack hit=3 down=50ms", 0, 0),
		ev(360, "restore", -1, 2, "", "", 0, 0),
		ev(460, "trigger-checkpoint", -1, 3, "", "", 0, 0), // the same id again, in attempt 2
		ev(460, "fault", -1, 3, "", "checkpoint-timeout hit=4", 0, 0),
		ev(560, "trigger-checkpoint", -1, 4, "", "", 0, 0),
	)
	tl := Timeline{Protocol: "p", Run: 1, Parallelism: 1, Events: events, VirtualMS: 600,
		Faults: []faults.Op{{Fault: "crash-after-ack", Hit: 3, RestartDelayMS: 50}, {Fault: "checkpoint-timeout", Hit: 4}}}
	v := layoutTimeline(tl, "tl-p-1")
	var cps, axis []svgText
	var texts []string
	for _, tx := range v.Texts {
		texts = append(texts, tx.Text)
		switch tx.Class {
		case "cp-label":
			cps = append(cps, tx)
		case "axis-label", "axis-break":
			axis = append(axis, tx)
		}
		require.LessOrEqual(t, tx.X+textW(tx.Text), v.W, "%q is inside the drawing", tx.Text)
	}
	var cpTexts []string
	for _, c := range cps {
		cpTexts = append(cpTexts, c.Text)
	}
	require.Equal(t, []string{"a1·cp1", "a1·cp2", "a1·cp3", "a2·cp3", "a2·cp4"}, cpTexts)
	require.Contains(t, texts, "✕ #1 crash-after-ack@3")
	require.Contains(t, texts, "#2 checkpoint-timeout@4")
	require.Contains(t, texts, "end 600ms")
	for i := 1; i < len(axis); i++ {
		require.GreaterOrEqual(t, axis[i].X, axis[i-1].X+textW(axis[i-1].Text), "axis labels %q and %q overlap", axis[i-1].Text, axis[i].Text)
	}
	require.Equal(t, "tl-p-1", v.ID)
	require.NotEqual(t, recKey("tl-p-1", 0, 5), recKey("tl-p-2", 0, 5), "record keys differ between timelines")
	require.Equal(t, []string{"go", "run", "./cmd/simrun", "replay", "--protocol p", "--seed 3", "--trace", "--plan x.json"},
		commandArgs("go run ./cmd/simrun replay --protocol p --seed 3 --trace --plan x.json"), "a command wraps between flags, never inside one")
}
