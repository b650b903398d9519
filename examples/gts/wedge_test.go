package gts_test

import (
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/appsim"
	"github.com/eosim/eosim/examples/gts"
	"github.com/eosim/eosim/faults"
)

// TestReproCommitDuringRebalanceWedgesTheBubble reproduces a harness
// limit, not a GroupTransactSession bug: three sessions, one killed right
// after its EndTxn commit was applied (seed 2). The survivors rebalance;
// one of them ends its transaction meanwhile, and kgo's
// commitTransactionOffsets waits on the group's noCommitDuringJoinAndSync
// RWMutex (consumer_group.go waitJoinSyncMu), which the join goroutine
// holds across its JoinGroup request. The held network releases that
// request only once the bubble is quiescent, and a goroutine blocked on a
// sync.RWMutex is not durably blocked, so synctest.Wait never returns: the
// watchdog calls the scenario wedged (exit 3) after WallLimit. The same
// synctest mutex limit as kgo's InitProducerID backoff. It exits the test
// binary, so it runs only with EOSIM_REPRO_WEDGE=1.
func TestReproCommitDuringRebalanceWedgesTheBubble(t *testing.T) {
	if os.Getenv("EOSIM_REPRO_WEDGE") == "" {
		t.Skip("harness limit (kgo RWMutex held across a held JoinGroup wedges synctest.Wait); set EOSIM_REPRO_WEDGE=1 to reproduce: it exits the test binary with code 3")
	}
	appsim.WallLimit = 15 * time.Second
	appsim.Wedged = func(msg string) {
		buf := make([]byte, 1<<24)
		n := runtime.Stack(buf, true)
		path := os.TempDir() + "/eosim-gts3-wedge-stacks.txt"
		_ = os.WriteFile(path, buf[:n], 0o644)
		fmt.Fprintf(os.Stderr, "%s\ngoroutine stacks in %s\n", msg, path)
		os.Exit(3)
	}
	a := gts.New(gts.Options{Name: "gts-3", Instances: 3})
	res := appsim.Run(t, a, appsim.Options{Seed: 2, Plan: &faults.Plan{Faults: []faults.Op{
		{Fault: "crash-after-end-txn-commit", Hit: 1, RestartDelayMS: 200}}}})
	require.Equal(t, appsim.Clean, res.Verdict, "%s %v", res.Inconclusive, res.Violations)
}
