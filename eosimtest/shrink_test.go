package eosimtest_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/appsim"
	"github.com/eosim/eosim/eosimtest"
	examplecopier "github.com/eosim/eosim/examples/copier"
	"github.com/eosim/eosim/faults"
	"github.com/eosim/eosim/model"
)

func TestFailsLike(t *testing.T) {
	run := func(kinds ...string) appsim.Result {
		r := appsim.Result{Verdict: appsim.Violation}
		for _, k := range kinds {
			r.Violations = append(r.Violations, model.Anomaly{Kind: k})
		}
		return r
	}
	failing := run("lost", "silent-loss", "lost")
	require.Equal(t, []string{"lost", "silent-loss"}, eosimtest.ViolatedKinds(failing))
	same, subset := eosimtest.FailsLike(failing, false), eosimtest.FailsLike(failing, true)
	require.True(t, same(run("silent-loss", "lost")))
	require.False(t, same(run("lost")), "a subset is not the same failure")
	require.True(t, subset(run("lost")))
	require.False(t, subset(run("lost", "duplicate")), "a new kind is another failure")
	require.False(t, subset(run()), "no violation is no failure")
}

// The twin's drawn failure shrinks to a smaller plan that fails the same
// way; a Keep that refuses everything keeps the original; MaxRuns stops
// the search.
func TestShrinkWith(t *testing.T) {
	a := copier(true)
	enabled, err := appsim.ResolveFaults(a, "sites,protocol")
	require.NoError(t, err)
	camp := appsim.Campaign(t, a, appsim.CampaignOptions{Runs: 100, BaseSeed: 3, StopAtFirst: true,
		Scenario: appsim.Options{Faults: enabled}})
	require.NotNil(t, camp.First)
	failing := *camp.First
	require.Equal(t, appsim.Violation, failing.Verdict)
	// One more fault that changes nothing, so that there is one to drop.
	failing.Plan.Faults = append(failing.Plan.Faults, faults.Op{Fault: "crash-before-produce", Hit: 10_000})

	sh := eosimtest.ShrinkWith(t, a, failing, eosimtest.ShrinkOptions{Keep: eosimtest.FailsLike(failing, false)})
	require.Positive(t, sh.Accepted)
	require.False(t, sh.Exhausted)
	require.Less(t, len(sh.Plan.Faults), len(failing.Plan.Faults))
	require.Equal(t, appsim.Violation, sh.Result.Verdict)
	require.Equal(t, eosimtest.ViolatedKinds(failing), eosimtest.ViolatedKinds(sh.Result))
	require.Positive(t, failing.Plan.Workload.AbortedInput)
	require.Zero(t, sh.Plan.Workload.AbortedInput, "this twin fails without aborted input")
	again := appsim.Run(t, a, appsim.Options{Seed: sh.Plan.Seed, Plan: &sh.Plan})
	require.Equal(t, sh.Result.TraceHash, again.TraceHash, "the shrunk plan replays")

	none := eosimtest.ShrinkWith(t, a, failing, eosimtest.ShrinkOptions{Keep: func(appsim.Result) bool { return false }})
	require.Zero(t, none.Accepted)
	require.Equal(t, failing.Plan, none.Plan)

	one := eosimtest.ShrinkWith(t, a, failing, eosimtest.ShrinkOptions{MaxRuns: 1})
	require.Equal(t, 1, one.Runs)
	require.True(t, one.Exhausted)
}

// A failure that needs the aborted input keeps one aborted record of it,
// and needs no fault.
func TestShrinkKeepsTheAbortedInputAFailureNeeds(t *testing.T) {
	a := examplecopier.ReadUncommitted()
	enabled, err := appsim.ResolveFaults(a, "sites,protocol")
	require.NoError(t, err)
	failing := appsim.Run(t, a, appsim.Options{Seed: 4, Faults: enabled})
	require.Equal(t, appsim.Violation, failing.Verdict)
	sh, res := eosimtest.Shrink(t, a, failing)
	require.Equal(t, appsim.Violation, res.Verdict)
	require.Equal(t, 1, sh.Workload.AbortedInput)
	require.Empty(t, sh.Faults)
}
