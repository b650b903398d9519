package appsim

import (
	"bytes"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eosim/eosim/faults"
	"github.com/eosim/eosim/model"
)

func TestCopierFaultFreeIsClean(t *testing.T) {
	var tr bytes.Buffer
	res := Run(t, txnCopier("copier", nil), Options{Seed: 1, Trace: &tr})
	require.Equal(t, Clean, res.Verdict, "%s %v\n%s", res.Inconclusive, res.Violations, tr.String())
	require.Greater(t, res.Requests, 10)
	t.Logf("requests=%d virtual=%v", res.Requests, res.VirtualTime)
}

func TestCopierThatDropsIsCaught(t *testing.T) {
	dropSome := func(r *kgo.Record) []*kgo.Record {
		if bytes.HasPrefix(r.Value, []byte("id7-")) {
			return nil
		}
		return []*kgo.Record{r}
	}
	res := Run(t, txnCopier("dropper", dropSome), Options{Seed: 1})
	require.Equal(t, Violation, res.Verdict, res.Inconclusive)
	require.Equal(t, 1, res.Check.Counts[model.Lost])
	require.Equal(t, 1, res.Check.Counts[model.SilentLoss])
	require.Equal(t, 0, res.Check.Counts[model.Stalled])
	require.Len(t, res.Violations, 2)
}

// The same seed gives the same trace whether the process runs at
// GOMAXPROCS 1 or 2, for a real kgo transactional app under crashes: Run
// applies the scenario's own setting (Options.GOMAXPROCS, default 1), so
// the process's does not reach it. (At a scenario GOMAXPROCS of 2 the trace
// differs now and then: examples' TestSameTraceAtGOMAXPROCS1And2 measures
// it behind a flag.)
func TestSameSeedSameTraceAtGOMAXPROCS1And2(t *testing.T) {
	a := txnCopier("copier", nil)
	plans := []*faults.Plan{nil,
		{Faults: []faults.Op{{Fault: "crash-after-end-txn-commit", Hit: 2, RestartDelayMS: 300}}},
		{Faults: []faults.Op{{Fault: "crash-at:before-end", Hit: 3, RestartDelayMS: 100}, {Fault: "crash-before-produce", Hit: 5}}},
	}
	for seed := uint64(1); seed <= 3; seed++ {
		for i, plan := range plans {
			var hashes []string
			for _, procs := range []int{1, 2, 1, 2} {
				old := runtime.GOMAXPROCS(procs)
				res := Run(t, a, Options{Seed: seed, Plan: plan})
				runtime.GOMAXPROCS(old)
				require.Equal(t, Clean, res.Verdict, "seed %d plan %d: %s %v", seed, i, res.Inconclusive, res.Violations)
				hashes = append(hashes, res.TraceHash)
			}
			for _, h := range hashes[1:] {
				require.Equal(t, hashes[0], h, "seed %d plan %d", seed, i)
			}
		}
	}
}
