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
// zombie holds open there. Both plans were shrunk counterexamples at
// b7e3d4f, when checkpoint ids went on from the restored one: the first
// zombie began on its replacement's next id and left it open; the second,
// during a scale-in before any checkpoint, left its transaction open in the
// removed subtask's range, which no state named. Both were stalled.
func TestZombieBeginsOnAnIDItsReplacementSkips(t *testing.T) {
	for _, name := range []string{"clean-2pc-zombie-begins-after-restore.json", "clean-2pc-zombie-scale-in-before-first-checkpoint.json"} {
		t.Run(name, func(t *testing.T) { zombieSkippedIDs(t, "../testdata/corpus/"+name) })
	}
}

func zombieSkippedIDs(t *testing.T, path string) {
	p, err := faults.ReadPlan(path)
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
	}
	require.NotEmpty(t, abortedZombie, "the replacement aborted nothing the zombie held open")
	for id := range abortedZombie {
		require.False(t, replacementBegan[id], "the replacement aborted %s, which it writes", id)
	}
}
