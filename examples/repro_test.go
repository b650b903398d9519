package examples

import (
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/appsim"
)

// TestReproJoinInstanceDuringStopWedges keeps a fixed harness bug fixed:
// a join-instance fault that fired while the scenario was stopping started
// a process whose context was never cancelled, so the run was abandoned as
// inconclusive. Run 302 of the copier's campaign with base seed 1 and every
// fault draws such a join (at the 34th request, sent during the stop);
// appsim now starts no process once the stop has begun.
func TestReproJoinInstanceDuringStopWedges(t *testing.T) {
	const base, run = 1, 302
	a, err := Lookup("copier")
	require.NoError(t, err)
	enabled, err := appsim.ResolveFaults(a, "all")
	require.NoError(t, err)
	p := appsim.Options{Faults: enabled, Seed: base}
	prof := appsim.ProfileOf(t, a, p)
	opts := appsim.Options{Faults: enabled, Profile: &prof, Seed: appsim.RunSeed(base, run)}
	res := appsim.Run(t, a, opts)
	fmt.Println(res.Plan.Faults)
	require.NotEqual(t, appsim.Inconclusive, res.Verdict, res.Inconclusive)
}

// TestReproStopBoundShorterThanKgoSyncGroupTimeout keeps a fixed harness
// limit fixed: run 163 of gts's campaign (base seed 1, every fault but
// join-instance) pauses the session for 59.9 s while its SyncGroup is in
// flight; on the graceful stop GroupTransactSession.Close waits for kgo's
// SyncGroup timeout (rebalance timeout 60 s + 10 s), which was longer than
// appsim's one-minute stop bound (now two minutes).
func TestReproStopBoundShorterThanKgoSyncGroupTimeout(t *testing.T) {
	const base, run = 1, 163
	a, err := Lookup("gts")
	require.NoError(t, err)
	all, err := appsim.ResolveFaults(a, "all")
	require.NoError(t, err)
	enabled := slices.DeleteFunc(all, func(f string) bool { return f == "join-instance" })
	prof := appsim.ProfileOf(t, a, appsim.Options{Faults: enabled, Seed: base})
	res := appsim.Run(t, a, appsim.Options{Faults: enabled, Profile: &prof, Seed: appsim.RunSeed(base, run)})
	require.Equal(t, appsim.Clean, res.Verdict, res.Inconclusive)
}
