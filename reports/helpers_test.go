package reports_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/faults"
	"github.com/eosim/eosim/model"
	"github.com/eosim/eosim/reports"
	"github.com/eosim/eosim/sim"
)

// evilValue is a record value with markup: reports must show it as text.
const evilValue = `<b>bold?</b>&amp;<script>alert(1)</script>`

// evilKey is a record key with markup and quotes.
const evilKey = `<i>k</i>"'&amp;`

// evilDetail is a trace detail with markup.
const evilDetail = `<img src=x onerror=alert(2)>&`

// realReport runs a few real scenarios of a known-bad protocol (and of the
// correct one), keeping their traces, and builds their report. The first
// violating run's first anomalous record gets evilValue, and its trace an
// event whose detail is evilDetail.
func realReport(t *testing.T) reports.Report {
	t.Helper()
	w := faults.DefaultWorkload()
	w.Records, w.Parallelism = 300, 2
	names, err := faults.Resolve("crash")
	require.NoError(t, err)
	protocols := []string{"commit-on-snapshot", "two-phase-commit"}
	opts := reports.Options{Protocols: protocols, BaseSeed: 7, Runs: 4, Faults: "crash", FaultNames: names, Workload: w}
	b := reports.NewBuilder("campaign", opts, reports.BuildVersions("test"), reports.Limits{})
	poisoned := false
	for _, p := range protocols {
		// The known-bad protocol runs with one sink so that every
		// anomalous record's way out is known without its key.
		pw := w
		if p == "commit-on-snapshot" {
			pw.Parallelism = 1
		}
		c := sim.Campaign{Options: sim.Options{Protocol: p, Workload: pw, Faults: names, KeepEvents: true}, BaseSeed: 7, Runs: 4}
		c.Run(t.Context(), t, func(k int, res sim.Result) {
			run := reports.Run{Index: k, Result: res, Replay: fmt.Sprintf("go run ./cmd/simrun replay --protocol %s --seed %d", p, res.Seed)}
			if res.Failed() && !poisoned {
				for _, a := range res.Violations {
					if a.Input != nil {
						run.Records = map[model.ID]model.InputRecord{*a.Input: {Partition: a.Input.Partition, Offset: a.Input.Offset, Key: evilKey, Value: evilValue}}
						break
					}
				}
				run.Result.Events = append(run.Result.Events, sim.TraceEvent{T: res.VirtualTime.Milliseconds(), Event: engineEvent("job-failure", evilDetail)})
				poisoned = true
			}
			b.Add(run)
		})
	}
	require.True(t, poisoned, "the known-bad protocol must be caught in 4 runs")
	return b.Report(false, reports.Execution{Jobs: 1, Shards: 1, WallMS: 1234, ScenariosPerSecond: 6.5})
}

func engineEvent(kind, detail string) engine.Event {
	return engine.Event{Kind: kind, Subtask: -1, Detail: detail}
}

func itoa(k int) string { return fmt.Sprint(k) }
