package sim

import (
	"flag"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/faults"
)

func smallWorkload() faults.Workload {
	return faults.Workload{Partitions: 2, Parallelism: 2, Records: 120, KeysPerPartition: 2, CheckpointIntervalMS: 40}
}

// Every crash point at every checkpoint of a small scenario: the correct
// protocols are clean at all of them, and each single-crash plan crashes the
// job exactly once, at its site.
func TestExhaustiveSingleCrashes(t *testing.T) {
	for _, protocol := range []string{"two-phase-commit", "offsets-in-txn"} {
		ex, err := EnumerateCrashes(t, Options{Protocol: protocol, Seed: 21, Workload: smallWorkload()}, false, 50)
		require.NoError(t, err)
		for _, p := range engine.CrashPoints() {
			require.NotEmpty(t, ex.Coverage[string(p)], "%s never reached in the fault-free run", p)
		}
		require.Len(t, ex.Plans, len(ex.Sites))
		for _, plan := range ex.Plans {
			plan := plan
			res := Run(t, Options{Protocol: protocol, Seed: ex.Seed, Workload: plan.Workload, Plan: &plan})
			require.Empty(t, res.HarnessError)
			require.Empty(t, res.Violations, "%s: %+v", protocol, plan.Faults)
			require.Equal(t, 1, res.Crashes[plan.Faults[0].Fault], "%+v", plan.Faults)
		}
	}
}

// The enumeration is sensitive: a known-bad variant fails at some site.
func TestExhaustiveCatchesAKnownBadVariant(t *testing.T) {
	ex, err := EnumerateCrashes(t, Options{Protocol: "commit-on-snapshot", Seed: 21, Workload: smallWorkload()}, false, 50)
	require.NoError(t, err)
	caught := 0
	for _, plan := range ex.Plans {
		plan := plan
		if Run(t, Options{Protocol: "commit-on-snapshot", Seed: ex.Seed, Workload: plan.Workload, Plan: &plan}).Failed() {
			caught++
		}
	}
	require.Positive(t, caught)
}

var exhaustivePlans = flag.Int("sim.exhaustive-plans", 150,
	"plans per correct protocol in TestExhaustiveAllSitesClean with pairs (0: the whole enumeration, about 1,600 plans each)")

// pairWorkload is `--records 60 --partitions 2 --parallelism 1 --interval
// 20`: three checkpoints, every crash point reached.
func pairWorkload() faults.Workload {
	w := faults.DefaultWorkload()
	w.Records, w.Partitions, w.LateRecords, w.CheckpointIntervalMS = 60, 2, 12, 20
	// The counts below assume the job reads every record: no drawn
	// startup mode that skips some.
	w.StartupMode = "group-offsets"
	return w
}

func allSites(pairs bool, maxPlans int) EnumerateOptions {
	return EnumerateOptions{Families: Families(), Pairs: pairs, RestartDelayMS: 50, Require: crashPointNames(), MaxPlans: maxPlans}
}

// The enumeration's counts follow from the fault-free run: a plan per crash
// site, per trigger x applicable broker fault x aim, per store write; pairs
// add each ordered pair of crash sites and each broker or store site (the
// recovery aim too) with each crash site after its trigger.
func TestExhaustiveEnumerationCounts(t *testing.T) {
	tests := []struct {
		protocol     string
		brokerFaults int
	}{
		{"two-phase-commit", 7},
		{"offsets-in-txn", 8}, // and lost-ack-txn-offset-commit
		{"at-least-once", 4},  // no transactions: produce and coordinator faults only
	}
	for _, tt := range tests {
		t.Run(tt.protocol, func(t *testing.T) {
			ex, err := Enumerate(t, Options{Protocol: tt.protocol, Seed: 1, Workload: pairWorkload()}, allSites(true, 0))
			require.NoError(t, err)
			require.Empty(t, ex.Unreached)
			triggers := siteTriggers(ex.Sites)
			require.Len(t, triggers, 3, "three checkpoints in the fault-free run")
			require.Len(t, storeTriggers(ex.Sites), 3, "each checkpoint written once")
			// Every trigger x fault x phase, but the aims after which the
			// fault-free run sent no request the fault acts on (such a
			// fault could not fire: the run would report it unfired).
			proto, err := engine.ProtocolByName(tt.protocol)
			require.NoError(t, err)
			var left []FaultSite
			aimed := 0
			for _, k := range triggers {
				for _, f := range enumeratedBrokerFaults(proto) {
					for _, phase := range brokerPhases() {
						site := FaultSite{Fault: f, Phase: phase, Trigger: k}
						if !slices.Contains(ex.BrokerSites, site) {
							left = append(left, site)
						} else if phase != faults.PhaseRecovery {
							aimed++
						}
					}
				}
			}
			require.Len(t, ex.BrokerSites, len(triggers)*tt.brokerFaults*4-len(left))
			require.NotEmpty(t, left, "the last trigger's produce faults meet no Produce")
			for _, site := range left {
				require.NotEqual(t, faults.PhaseRecovery, site.Phase, "recovery aims are kept (a crash's restore resends)")
				require.False(t, ex.brokerReach.reachable(site.Fault, site.Trigger, site.Phase), "%+v", site)
			}
			// A left-out site, run anyway, does not fire.
			skipped := faults.Plan{Version: faults.PlanVersion, Protocol: tt.protocol, Seed: ex.Seed, Workload: ex.Plans[0].Workload,
				LoseNotifications: true, Faults: []faults.Op{{Fault: left[0].Fault, Hit: left[0].Trigger, Phase: left[0].Phase}}}
			res := Run(t, Options{Protocol: tt.protocol, Seed: ex.Seed, Workload: skipped.Workload, Plan: &skipped})
			require.Len(t, res.Unfired, 1, "%+v", left[0])
			require.Len(t, ex.StoreSites, 3)
			crashAfter, correlated := 0, 0
			for _, f := range slices.Concat(ex.BrokerSites, ex.StoreSites) {
				if s, ok := ex.window(f); ok && (f.Phase != faults.PhaseRecovery || !ex.brokerReach.observes(f.Fault) || ex.brokerReach.reachable(f.Fault, s.Trigger+1, "")) {
					correlated++
				}
			}
			require.Equal(t, correlated, ex.Correlated)
			require.NotZero(t, correlated, "every trigger but the last has a crash-after-ack after it")
			for _, f := range slices.Concat(ex.BrokerSites, ex.StoreSites, ex.ScaleSites) {
				for _, s := range ex.Sites {
					if s.Trigger >= f.Trigger {
						crashAfter++
					}
				}
			}
			singles := len(ex.Sites) + aimed + len(ex.StoreSites) + len(ex.ScaleSites)
			n := len(ex.Sites)
			require.Equal(t, singles+correlated+n*(n-1)+crashAfter, ex.Enumerated)
			require.Len(t, ex.Plans, ex.Enumerated)
			require.False(t, ex.Capped())

			alone, err := Enumerate(t, Options{Protocol: tt.protocol, Seed: 1, Workload: pairWorkload()}, allSites(false, 0))
			require.NoError(t, err)
			require.Equal(t, singles+correlated, alone.Enumerated)
			for _, p := range alone.Plans[:singles] {
				require.Len(t, p.Faults, 1)
				require.NotEqual(t, faults.PhaseRecovery, p.Faults[0].Phase, "a recovery aim needs a crash before it")
				require.False(t, p.RearmUnfired, "enumerated plans fire where they say")
			}

			for _, p := range alone.Plans[singles:] {
				require.Len(t, p.Faults, 2, "a correlated plan: the fault and the crash of its window")
			}
			kept := singles + correlated
			capped, err := Enumerate(t, Options{Protocol: tt.protocol, Seed: 1, Workload: pairWorkload()}, allSites(true, kept+10))
			require.NoError(t, err)
			require.True(t, capped.Capped())
			require.Len(t, capped.Plans, kept+10)
			require.Equal(t, alone.Plans, capped.Plans[:kept], "the bound keeps every single-fault and correlated plan")
			require.Len(t, capped.Plans[kept].Faults, 2)
		})
	}
}

// Only the families asked for get plans.
func TestExhaustiveFamilies(t *testing.T) {
	opts := Options{Protocol: "two-phase-commit", Seed: 1, Workload: pairWorkload()}
	store, err := Enumerate(t, opts, EnumerateOptions{Families: []string{FamilyStore}, Require: crashPointNames()})
	require.NoError(t, err)
	require.Empty(t, store.BrokerSites)
	require.Len(t, store.Plans, len(store.StoreSites))
	for _, p := range store.Plans {
		require.Equal(t, "checkpoint-write-lost", p.Faults[0].Fault)
	}
	_, err = Enumerate(t, opts, EnumerateOptions{Families: []string{"disk"}})
	require.ErrorContains(t, err, `unknown site family "disk"`)
}

// The correct protocols are clean at every site of every family, and every
// single-fault plan fires (the schedule up to its site is the fault-free
// one). With pairs, a spread of -sim.exhaustive-plans plans is run.
func TestExhaustiveAllSitesClean(t *testing.T) {
	for _, protocol := range []string{"two-phase-commit", "offsets-in-txn"} {
		t.Run(protocol, func(t *testing.T) {
			ex, err := Enumerate(t, Options{Protocol: protocol, Seed: 1, Workload: pairWorkload()}, allSites(true, *exhaustivePlans))
			require.NoError(t, err)
			for _, plan := range ex.Plans {
				plan := plan
				res := Run(t, Options{Protocol: protocol, Seed: ex.Seed, Workload: plan.Workload, Plan: &plan})
				require.Empty(t, res.HarnessError, "%+v", plan.Faults)
				require.Empty(t, res.Violations, "%+v", plan.Faults)
				if len(plan.Faults) == 1 {
					require.Empty(t, res.Unfired, "%+v", plan.Faults)
				}
			}
		})
	}
}

// Broker sites catch what no crash site alone does: a commit failure the
// protocol drops (ignore-commit-failure: endtxn-rejected at a checkpoint's
// commit) and an asynchronous send error it swallows (flink-35749:
// produce-rejected).
func TestExhaustiveBrokerSiteCatchesWhatCrashesMiss(t *testing.T) {
	tests := []struct{ protocol, fault, phase string }{
		{"ignore-commit-failure", "endtxn-rejected", faults.PhaseNotify},
		{"flink-35749-swallowed-send-error", "produce-rejected", ""},
	}
	for _, tt := range tests {
		t.Run(tt.protocol, func(t *testing.T) {
			ex, err := Enumerate(t, Options{Protocol: tt.protocol, Seed: 1, Workload: pairWorkload()}, allSites(false, 0))
			require.NoError(t, err)
			caught := map[string]bool{}
			for _, plan := range ex.Plans {
				plan := plan
				op := plan.Faults[0]
				if info, _ := faults.Lookup(op.Fault); info.IsCrash() || op.Fault == tt.fault && op.Phase == tt.phase {
					res := Run(t, Options{Protocol: tt.protocol, Seed: ex.Seed, Workload: plan.Workload, Plan: &plan})
					caught[op.Fault] = caught[op.Fault] || res.Failed()
				}
			}
			require.True(t, caught[tt.fault], "%s (phase %q) catches it", tt.fault, tt.phase)
			for _, p := range crashPointNames() {
				require.False(t, caught[p], "%s alone catches it: the test shows nothing", p)
			}
		})
	}
}

// A required crash point the fault-free schedule never reaches is named:
// with a single checkpoint no notification can be lost, so no commit ends
// two transactions and crash-mid-commit is unreachable.
func TestExhaustiveNamesUnreachedPoints(t *testing.T) {
	w := pairWorkload()
	w.Records, w.LateRecords, w.CheckpointIntervalMS = 8, 0, 1000
	ex, err := Enumerate(t, Options{Protocol: "two-phase-commit", Seed: 1, Workload: w}, allSites(false, 0))
	require.NoError(t, err)
	require.Contains(t, ex.Unreached, string(engine.CrashMidCommit))
	require.Empty(t, ex.Coverage[string(engine.CrashMidCommit)])
	for _, p := range ex.Unreached {
		require.Empty(t, ex.Coverage[p])
	}
}
