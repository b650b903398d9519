package sim

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/faults"
)

// recoveryAimedPlan crashes after the second stored checkpoint and aims a
// rejected EndTxn at the recovery that follows: it meets the resume-commit.
func recoveryAimedPlan(protocol string) *faults.Plan {
	return &faults.Plan{Version: faults.PlanVersion, Protocol: protocol, Seed: 7,
		Workload: faults.Workload{Partitions: 2, Parallelism: 1, Records: 60, KeysPerPartition: 2, CheckpointIntervalMS: 20},
		Faults: []faults.Op{
			{Fault: "crash-after-checkpoint-stored", Hit: 2, RestartDelayMS: 50},
			{Fault: "endtxn-rejected", Hit: 1, Phase: faults.PhaseRecovery},
		}}
}

func TestRecoveryAimedFaultFiresAtTheRestore(t *testing.T) {
	var trace bytes.Buffer
	res := Run(t, Options{Protocol: "two-phase-commit", Seed: 7, Plan: recoveryAimedPlan("two-phase-commit"), Trace: &trace})
	require.Empty(t, res.HarnessError)
	require.Empty(t, res.Unfired)
	require.Empty(t, res.Violations, "the correct protocol survives a rejected resume-commit")
	tr := trace.String()
	crash := strings.Index(tr, `"kind":"crash"`)
	fault := strings.Index(tr, `endtxn-rejected hit=1 phase=recovery`)
	restore := strings.LastIndex(tr[:max(fault, 0)+200], `"kind":"restore"`)
	require.Positive(t, crash)
	require.Greater(t, fault, crash, "armed at the first trigger, fired only at the recovery after the crash")
	require.Greater(t, restore, fault, "fired before the job restores")
}

// Aimed at the recovery, the rejected EndTxn meets the resume-commit that
// ignore-commit-failure ignores: the data of a completed checkpoint is lost
// while the engine reports success.
func TestRecoveryAimedFaultCatchesIgnoredCommitFailure(t *testing.T) {
	res := Run(t, Options{Protocol: "ignore-commit-failure", Seed: 7, Plan: recoveryAimedPlan("ignore-commit-failure")})
	require.Empty(t, res.HarnessError)
	require.Contains(t, ViolatedKinds(res), "silent-loss")
}
