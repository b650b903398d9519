package appsim

import (
	"flag"
	"testing"
	"time"
)

var (
	bigRuns  = flag.Int("appsim.runs", 0, "run the large campaigns of TestLargeCampaigns with this many runs each (0: skip)")
	bigProcs = flag.Int("appsim.procs", 0, "GOMAXPROCS of those scenarios (0: the default 1; -1: the process's)")
)

// TestLargeCampaigns measures, behind -appsim.runs: every run replayed
// (determinism, at -appsim.procs), verdict counts, and wall time per
// scenario, for the transactional copier (must be clean) and the naive one.
//
//	go test ./appsim -run TestLargeCampaigns -appsim.runs 200 -v
func TestLargeCampaigns(t *testing.T) {
	if *bigRuns == 0 {
		t.Skip("set -appsim.runs")
	}
	for _, tc := range []struct {
		name   string
		faults string
	}{{"copier", "sites,protocol"}, {"naive-copier", "sites,protocol"}, {"copier", "all"}} {
		a := txnCopier(tc.name, nil)
		if tc.name == "naive-copier" {
			a = naiveCopier()
		}
		enabled, err := ResolveFaults(a, tc.faults)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		res := Campaign(t, a, CampaignOptions{Runs: *bigRuns, BaseSeed: 1, CheckDeterminism: 1, Scenario: Options{Faults: enabled, GOMAXPROCS: *bigProcs}})
		wall := time.Since(start)
		// Every run ran twice (the self-check), plus one profile run.
		perRun := wall / time.Duration(2**bigRuns+1)
		t.Logf("%s faults=%s procs=%d runs=%d clean=%d violations=%d inconclusive=%d nondeterministic=%d wall=%v per-scenario=%v fired=%v counts=%v",
			a.Name, tc.faults, *bigProcs, res.Runs, res.Clean, res.Violations, res.Inconclusive, res.Nondeterministic, wall.Round(time.Millisecond), perRun.Round(time.Microsecond/10), res.Fired, res.Counts)
		if a.Name == "copier" && res.Violations > 0 {
			t.Errorf("the transactional copier had violations: first %+v", res.First)
		}
		if res.Nondeterministic > 0 {
			t.Errorf("%d nondeterministic runs, first seed %d", res.Nondeterministic, res.First.Seed)
		}
	}
}
