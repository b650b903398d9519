package reports

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/engine"
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
		ev(100, "precommit", 0, 1, "t-0", "records=10", 0, 0),
		ev(100, "begin-transaction", 0, 0, "t-1", "", 0, 0),
		ev(100, "checkpoint-stored", -1, 1, "", "", 0, 0),
		ev(110, "commit", 0, 1, "t-0", "", 0, 0),
		ev(120, "process", 0, 0, "", "n=5", 1, 10), // 1/10..1/14, in t-1
		ev(200, "trigger-checkpoint", -1, 2, "", "", 0, 0),
		ev(200, "precommit", 0, 2, "t-1", "records=5", 0, 0),
		ev(201, "crash", -1, 0, "", "crash-after-precommit hit=2 down=900ms", 0, 0),
		ev(1101, "restore", -1, 1, "", "", 0, 0),
		ev(1101, "abort-lingering", 0, 0, "t-1", "", 0, 0),
		ev(1101, "fault", -1, 1, "", "not-coordinator hit=1", 0, 0),
	}
	tl := Timeline{Protocol: "p", Run: 3, Seed: 9, Violating: true, Parallelism: 1, Events: events, VirtualMS: 1200,
		Anomalies: []Anomaly{
			{Kind: "duplicate", Record: &Record{Partition: 1, Offset: 4}},
			{Kind: "lost", Record: &Record{Partition: 1, Offset: 11}},
			{Kind: "lost", Record: &Record{Partition: 1, Offset: 12}},
			{Kind: "lost", Record: &Record{Partition: 2, Offset: 0}},
		}}
	v := layoutTimeline(tl, "tl-p-3")

	require.Len(t, v.Ticks, 2)
	require.Len(t, v.Highlight, 2)
	require.Equal(t, "hl hl-duplicate", v.Highlight[0].Class)
	require.Contains(t, v.Highlight[0].Title, "left: committed (checkpoint 1) at 110ms")
	require.Equal(t, "hl hl-lost", v.Highlight[1].Class)
	require.Contains(t, v.Highlight[1].Title, "lost 1/11, 1/12")
	require.Contains(t, v.Highlight[1].Title, "should have left with this transaction's commit, but: cut by crash")
	require.Contains(t, v.Highlight[1].Title, "aborted as lingering at 1.101s")
	require.Equal(t, "link link-left", v.Links[0].Class)
	require.Equal(t, "link link-missed", v.Links[1].Class)

	// Records: grouped, with where they entered and left.
	require.Len(t, v.Records, 3)
	require.Equal(t, "1/4", v.Records[0].Record)
	require.Equal(t, "1/11 – 1/12 (2 records)", v.Records[1].Record)
	require.Equal(t, []string{"120ms by subtask 0"}, v.Records[1].Entered)
	require.Equal(t, []string{"never processed in the trace"}, v.Records[2].Entered)

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
	require.Len(t, v.Lanes, 3) // coordinator, broker, subtask 0
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
