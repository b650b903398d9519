package copier_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/appsim"
	"github.com/eosim/eosim/examples/copier"
	"github.com/eosim/eosim/model"
)

// The harness writes some input in transactions it aborts: the copier
// (read_committed) skips it, the read_uncommitted twin copies it and shows
// unexpected output, even without a fault; with the aborted input turned
// off the twin is clean, so what catches it is the aborted input.
func TestAbortedInputCatchesTheReadUncommittedTwin(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		good := appsim.Run(t, copier.App(), appsim.Options{Seed: seed, KeepEvents: true})
		require.Equal(t, appsim.Clean, good.Verdict, "seed %d: %v %s", seed, good.Violations, good.Inconclusive)
		require.Equal(t, 5, good.Plan.Workload.AbortedInput, "an eighth of the default 40 records")
		require.True(t, tracesAborted(good.Events), "seed %d: no trace event says aborted input was written", seed)

		bad := appsim.Run(t, copier.ReadUncommitted(), appsim.Options{Seed: seed})
		require.Equal(t, appsim.Violation, bad.Verdict, "seed %d: %s", seed, bad.Inconclusive)
		require.Positive(t, bad.Check.Counts[model.Unexpected], "seed %d: %v", seed, bad.Violations)
		for _, v := range bad.Violations {
			require.Contains(t, v.Detail, `"aborted`, "seed %d: every violation is a copied aborted record", seed)
		}

		none := appsim.Run(t, copier.ReadUncommitted(), appsim.Options{Seed: seed, AbortedInput: -1})
		require.Equal(t, appsim.Clean, none.Verdict, "seed %d: %v", seed, none.Violations)
		require.Zero(t, none.Plan.Workload.AbortedInput)
	}
}

func tracesAborted(events []appsim.TraceEvent) bool {
	for _, e := range events {
		if (e.Kind == "input" || e.Kind == "arrive") && strings.Contains(e.Detail, "aborted=") {
			return true
		}
	}
	return false
}
