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
