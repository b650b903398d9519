package reports

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/appsim"
	"github.com/eosim/eosim/faults"
	"github.com/eosim/eosim/model"
)

func appEv(t int64, kind, proc, detail string) appsim.TraceEvent {
	return appsim.TraceEvent{TimeMS: t, Kind: kind, Proc: proc, Detail: detail}
}

// twoInstancesAndAKill is the trace of an app run with two instances in
// which a crash-after-end-txn-commit kills instance 1 at the run's second
// EndTxn commit, and a kill-instance kills instance 0 at app request 7;
// both restart.
func twoInstancesAndAKill() appsim.Result {
	events := []appsim.TraceEvent{
		appEv(0, "input", "", "records=30 late=10 partitions=2"),
		appEv(0, "start", "0.0", ""),
		appEv(0, "start", "1.0", ""),
		appEv(1, "request", "0.0", "c1 localhost:9092 init-producer-id#1 corr=1"),
		appEv(1, "request", "1.0", "c1 localhost:9092 init-producer-id#2 corr=1"),
		appEv(3, "request", "0.0", "c1 localhost:9092 produce#1 corr=2"),
		appEv(4, "request", "0.0", "c1 localhost:9092 end-txn-commit#1 corr=3"),
		appEv(5, "request", "1.0", "c1 localhost:9092 produce#2 corr=2"),
		appEv(6, "request", "1.0", "c1 localhost:9092 end-txn-commit#2 corr=3"),
		appEv(6, "killed", "1.0", "crash-after-end-txn-commit"),
		appEv(8, "request", "0.0", "c1 localhost:9092 heartbeat#1 corr=4"),
		appEv(8, "killed", "0.0", "kill-instance"),
		appEv(30, "live-read", "", "records=5"),
		appEv(400, "start", "0.1", ""),
		appEv(900, "start", "1.1", ""),
		appEv(901, "request", "1.1", "c1 localhost:9092 init-producer-id#3 corr=1"),
		appEv(9000, "returned", "0.1", "ok"),
		appEv(9000, "returned", "1.1", "ok"),
		appEv(9001, "verdict", "", "violation duplicate=1"),
	}
	plan := faults.Plan{Version: faults.PlanVersion, Protocol: "two-copiers", Seed: 5, Faults: []faults.Op{
		{Fault: "crash-after-end-txn-commit", Hit: 2, RestartDelayMS: 894},
		{Fault: "kill-instance", Hit: 7, RestartDelayMS: 392},
	}}
	dup := model.Anomaly{Kind: "duplicate", Detail: `output "id3" of input 1/4 visible once more at 0/9`, Input: &model.ID{Partition: 1, Offset: 4}}
	return appsim.Result{App: "two-copiers", Seed: 5, Plan: plan, Verdict: appsim.Violation,
		Check:      model.Result{Verdict: model.Violation, Counts: map[string]int{"duplicate": 1}, Anomalies: []model.Anomaly{dup}},
		Violations: []model.Anomaly{dup}, Fired: map[string]int{"crash-after-end-txn-commit": 1, "kill-instance": 1},
		Kills: 2, Restarts: 2, Requests: 8, TraceHash: "abc", VirtualTime: 9001e6, Events: events}
}

func TestAppTimelineHasALanePerInstanceWithTheKillsMarked(t *testing.T) {
	b := NewBuilder("campaign", Options{BaseSeed: 1, Runs: 1}, Versions{}, Limits{})
	b.AddApp(AppRun{Index: 0, Result: twoInstancesAndAKill(), Replay: "simrun replay --app two-copiers --plan p.json"})
	r := b.Report(false, Execution{})
	require.Len(t, r.Timelines, 1)
	tl := r.Timelines[0]
	require.True(t, tl.App)
	require.Equal(t, 2, tl.Parallelism)
	require.Empty(t, tl.Events)
	require.Equal(t, 19, tl.EventCount())
	require.Len(t, r.Violations, 1)
	require.Equal(t, map[string]int{"duplicate": 1}, r.Violations[0].Counts)
	require.Equal(t, map[string]int{"crash-after-end-txn-commit": 1, "kill-instance": 1}, r.Runs[0].FaultsFired)
	require.Equal(t, 2, r.Runs[0].Restarts)

	v := layoutTimeline(tl, "tl-two-copiers-0")
	var lanes []string
	for _, l := range v.Lanes {
		lanes = append(lanes, l.Label)
	}
	require.Equal(t, []string{"harness", "instance 0", "instance 1"}, lanes)
	lane := func(y float64) int { // which instance lane y falls in
		for i, l := range v.Lanes[1:] {
			if y >= l.Y && y < l.Y+l.H {
				return i
			}
		}
		return -1
	}

	// Four attempts: two per instance, each ended by its kill or return.
	var attempts []string
	for _, bar := range v.Bars {
		if bar.Class == "attempt" {
			attempts = append(attempts, bar.Title)
			require.Equal(t, bar.Title[len("instance "):][0:1], string(rune('0'+lane(bar.Y))), bar.Title)
		}
	}
	require.Len(t, attempts, 4)
	require.Contains(t, attempts, "instance 1 attempt 1.0: ran 0ms → 6ms, killed by crash-after-end-txn-commit")
	require.Contains(t, attempts, "instance 0 attempt 0.0: ran 0ms → 8ms, killed by kill-instance")

	// Each kill is marked in its own lane and labelled with the plan's
	// fault and hit.
	var kills []int
	for _, m := range v.Marks {
		if m.Class == "m-kill" {
			y := strings.Split(strings.Fields(m.Points)[0], ",")[1]
			kills = append(kills, lane(parseF(t, y)))
		}
	}
	require.ElementsMatch(t, []int{0, 1}, kills)
	var labels []string
	for _, tx := range v.Texts {
		if tx.Class == "kill-label" {
			labels = append(labels, tx.Text)
		}
	}
	require.Equal(t, []string{"#1 crash-after-end-txn-commit@2", "#2 kill-instance@7"}, labels)

	// The requests the kills hit are outlined: instance 1's second EndTxn
	// commit, and the run's seventh request (instance 0's heartbeat).
	require.Len(t, v.Ticks, 8)
	var hits []string
	for _, h := range v.Highlight {
		require.Equal(t, "hl hl-hit", h.Class)
		hits = append(hits, h.Title)
	}
	require.Equal(t, []string{
		"crash-after-end-txn-commit fired at this request (end-txn-commit #2): the process died after the broker applied it; the answer never arrived",
		"kill-instance fired at this request (the run's app request 7): instance 0 was killed",
	}, hits)
	require.Equal(t, 1, lane(v.Highlight[0].Y+3))
	require.Equal(t, 0, lane(v.Highlight[1].Y+3))

	// Downtime is a band in the killed instance's lane only; restarts are
	// marked; the 8 s of idle time is compressed.
	var down []int
	for _, band := range v.Bands {
		if band.Class == "down" {
			down = append(down, lane(band.Y))
			require.Equal(t, tlInstanceH, band.H)
		}
	}
	require.Equal(t, []int{0, 1}, down)
	restarts := 0
	for _, m := range v.Marks {
		if m.Class == "m-restore" {
			restarts++
		}
	}
	require.Equal(t, 2, restarts)
	require.Less(t, v.W, 2000.0)
	idle := ""
	for _, tx := range v.Texts {
		if tx.Class == "axis-break" {
			idle = tx.Text
		}
	}
	require.Equal(t, "≈ 7.699s idle", idle, "the compressed stretch says how long it is")
	require.Len(t, v.Records, 1)
	require.Equal(t, "1/4", v.Records[0].Record)

	// The page draws it with the app legend and no engine legend.
	page, err := HTML(r)
	require.NoError(t, err)
	require.Contains(t, string(page), `id="app-legend"`)
	require.NotContains(t, string(page), `id="partition-legend"`)
	require.Contains(t, string(page), "trace: 19 events")
}

func parseF(t *testing.T, s string) float64 {
	t.Helper()
	var f float64
	_, err := fmt.Sscan(s, &f)
	require.NoError(t, err)
	return f
}

// An inconclusive app run (here: an app that panicked) is a harness error,
// and its timeline says inconclusive, not clean.
func TestInconclusiveAppRunIsAHarnessError(t *testing.T) {
	res := appsim.Result{App: "panicky", Seed: 7, Verdict: appsim.Inconclusive, Fired: map[string]int{},
		Inconclusive: "app panicky instance 0 panicked: boom\nstack...", TraceHash: "x",
		Events: []appsim.TraceEvent{appEv(0, "start", "0.0", ""), appEv(3, "inconclusive", "", "app panicky instance 0 panicked: boom")}}
	b := NewBuilder("campaign", Options{BaseSeed: 1, Runs: 1}, Versions{}, Limits{})
	b.AddApp(AppRun{Index: 0, Result: res, Replay: "simrun replay --app panicky --seed 7"})
	r := b.Report(false, Execution{})
	require.Equal(t, StatusInconclusive, r.Outcome.Status)
	require.Len(t, r.HarnessErrors, 1)
	require.Equal(t, "inconclusive: app panicky instance 0 panicked: boom", r.HarnessErrors[0].Error)
	require.Equal(t, "unknown", r.Runs[0].Verdict)
	require.Len(t, r.Timelines, 1)
	page, err := HTML(r)
	require.NoError(t, err)
	require.Contains(t, string(page), `<span class="badge status-inconclusive">inconclusive</span>`)
}
