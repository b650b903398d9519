package sim

import (
	"bufio"
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/faults"
)

// A zombie that takes a barrier in flight at the cut-off begins its next
// transaction after its replacement restored. Checkpoint ids come from the
// store's counter and transactional ids follow them, so that id is one the
// replacement skips, never one it writes; the replacement aborts what the
// zombie left open there. Before the counter (restored from the checkpoint
// id instead), this plan's zombie began on the replacement's next id and
// left it open: stalled.
func TestZombieBeginsOnAnIDItsReplacementSkips(t *testing.T) {
	p, err := faults.ReadPlan("../testdata/corpus/clean-2pc-zombie-begins-after-restore.json")
	require.NoError(t, err)
	var trace bytes.Buffer
	res := Run(t, Options{Protocol: p.Protocol, Seed: p.Seed, Workload: p.Workload, Plan: &p, Trace: &trace})
	require.Empty(t, res.HarnessError)
	require.Empty(t, ViolatedKinds(res))

	type event struct {
		Kind       string `json:"kind"`
		Checkpoint int64  `json:"checkpoint"`
		TxnID      string `json:"txn"`
	}
	cutOff := false
	replacementBegan, zombieBegan, abortedZombie := map[string]bool{}, map[string]bool{}, map[string]bool{}
	triggered := map[int64]int{}
	sc := bufio.NewScanner(&trace)
	for sc.Scan() {
		var e event
		require.NoError(t, json.Unmarshal(sc.Bytes(), &e))
		switch {
		case e.Kind == "zombie":
			cutOff = true
		case e.Kind == "trigger-checkpoint":
			triggered[e.Checkpoint]++
		case !cutOff:
		case e.Kind == "begin-transaction":
			replacementBegan[e.TxnID] = true
		case e.Kind == "zombie:begin-transaction":
			zombieBegan[e.TxnID] = true
		case e.Kind == "abort-zombie":
			abortedZombie[e.TxnID] = true
		}
	}
	require.NoError(t, sc.Err())
	for id, n := range triggered {
		require.Equal(t, 1, n, "checkpoint %d triggered by two attempts", id)
	}
	require.NotEmpty(t, zombieBegan, "the plan no longer makes the zombie begin a transaction after the cut-off")
	for id := range zombieBegan {
		require.False(t, replacementBegan[id], "the zombie began %s, which its replacement writes", id)
		require.True(t, abortedZombie[id], "nobody aborted the zombie's %s", id)
	}
}
