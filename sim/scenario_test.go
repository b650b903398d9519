package sim

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/faults"
)

func crashFaults(t *testing.T) []string {
	t.Helper()
	fs, err := faults.Resolve("crash")
	require.NoError(t, err)
	return fs
}

func TestTwoPhaseCommitIsExactlyOnce(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		var buf bytes.Buffer
		res := Run(t, Options{Protocol: "two-phase-commit", Seed: seed, Workload: faults.DefaultWorkload(), Faults: crashFaults(t), Trace: &buf})
		require.Empty(t, res.HarnessError)
		require.Empty(t, res.Violations, "seed %d: %+v\nplan %+v", seed, res.Check.Anomalies, res.Plan)
		t.Logf("seed %d: crashes %v checkpoints %d restarts %d vt %v trace %d bytes %s", seed, res.Crashes, res.Checkpoints, res.Restarts, res.VirtualTime, buf.Len(), res.TraceHash)
	}
}
