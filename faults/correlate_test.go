package faults

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// A recovery-request broker fault drawn into a plan without a restart is
// aimed at a restore that a crash after its checkpoint brings about; with
// crash-after-checkpoint-stored disabled, or an op already aimed, nothing
// changes.
func TestAimAtRecovery(t *testing.T) {
	all := []string{"crash-after-checkpoint-stored", "endtxn-rejected"}
	tests := []struct {
		name      string
		enabled   []string
		ops       []Op
		wantCrash bool
		wantPhase string
	}{
		{"endtxn-rejected alone gets a crash and the recovery phase", all,
			[]Op{{Fault: "endtxn-rejected", Hit: 4}}, true, PhaseRecovery},
		{"no crash point enabled: unchanged", []string{"endtxn-rejected"},
			[]Op{{Fault: "endtxn-rejected", Hit: 4}}, false, ""},
		{"already aimed: unchanged", all,
			[]Op{{Fault: "endtxn-rejected", Hit: 4, Phase: PhaseNotify}}, false, PhaseNotify},
		{"not a recovery request: unchanged", all,
			[]Op{{Fault: "produce-rejected", Hit: 4}}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := aimAtRecovery(rand.New(rand.NewPCG(1, 2)), tt.enabled, tt.ops)
			require.Equal(t, tt.wantPhase, got[0].Phase)
			if !tt.wantCrash {
				require.Len(t, got, 1)
				return
			}
			require.Len(t, got, 2)
			require.Equal(t, 1, got[0].Hit, "armed from the first checkpoint, to meet the restore")
			require.Equal(t, Op{Fault: "crash-after-checkpoint-stored", Hit: 4, RestartDelayMS: got[1].RestartDelayMS}, got[1],
				"the crash comes at the fault's drawn checkpoint, leaving its transactions pending")
		})
	}
	// Over many seeds, every drawn endtxn-rejected in a plan without a
	// restart is aimed at recovery.
	for seed := range uint64(200) {
		ops := aimAtRecovery(rand.New(rand.NewPCG(seed, 7)), all, []Op{{Fault: "endtxn-rejected", Hit: 3}})
		require.Equal(t, PhaseRecovery, ops[0].Phase, "seed %d", seed)
	}
}

// Every txn-offset-commit-rejected without a phase gets a crash after one
// of its checkpoint's commits (crash-after-commit is reached once per sink
// subtask and checkpoint); an aimed one, or one without crash-after-commit
// enabled, gets none.
func TestCrashAfterOffsetsRejected(t *testing.T) {
	all := []string{"crash-after-commit", "txn-offset-commit-rejected"}
	for seed := range uint64(200) {
		for _, p := range []int{1, 2, 4} {
			rng := rand.New(rand.NewPCG(seed, 9))
			got := crashAfterOffsetsRejected(rng, all, []Op{{Fault: "txn-offset-commit-rejected", Hit: 3}}, p)
			require.Len(t, got, 2)
			require.Equal(t, "crash-after-commit", got[1].Fault)
			require.True(t, got[1].Hit > 2*p && got[1].Hit <= 3*p, "seed %d parallelism %d: hit %d is not one of checkpoint 3's commits", seed, p, got[1].Hit)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	require.Len(t, crashAfterOffsetsRejected(rng, []string{"txn-offset-commit-rejected"}, []Op{{Fault: "txn-offset-commit-rejected", Hit: 3}}, 1), 1)
	require.Len(t, crashAfterOffsetsRejected(rng, all, []Op{{Fault: "txn-offset-commit-rejected", Hit: 3, Phase: PhaseNotify}}, 1), 1)
}
