package sim

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/faults"
)

// runTraced runs a plan and returns its result and trace.
func runTraced(t *testing.T, p faults.Plan) (Result, string) {
	var tr bytes.Buffer
	res := Run(t, Options{Protocol: p.Protocol, Seed: p.Seed, Workload: p.Workload, Plan: &p, Trace: &tr})
	require.Empty(t, res.HarnessError)
	return res, tr.String()
}

// The known-bad recycled producer is torn by a delayed EndTxn (Jepsen,
// Bufstream 0.1.0): its corpus plan fails with duplicates, the same
// scenario without the fault passes, and the correct protocol passes the
// plan with either request version set. The versions reach the wire: the
// late EndTxn is v4 below KIP-890 and v5 with it.
func TestDelayedEndTxnTearsRecycledProducer(t *testing.T) {
	p, err := faults.ReadPlan("../testdata/corpus/recycled-producer-pre-kip-890.json")
	require.NoError(t, err)
	bad, trace := runTraced(t, p)
	require.True(t, bad.Failed(), "the delayed EndTxn must tear the recycled producer's next transaction")
	require.Contains(t, ViolatedKinds(bad), "duplicate")
	require.Empty(t, bad.Unfired)
	require.Contains(t, trace, `"delayed-delivery","subtask":-1,"detail":"EndTxn v4 answered ok"`)

	quiet := p
	quiet.Faults = nil
	res, _ := runTraced(t, quiet)
	require.False(t, res.Failed(), "without the delay the recycled producer passes this scenario: %v", res.Violations)

	for _, versions := range []string{faults.RequestVersionsKIP890, faults.RequestVersionsPreKIP890} {
		good := p
		good.Protocol = "two-phase-commit"
		good.Workload.RequestVersions = versions
		res, trace := runTraced(t, good)
		require.False(t, res.Failed(), "%s: %v", versions, res.Violations)
		require.Empty(t, res.Unfired)
		want := "EndTxn v5"
		if versions == faults.RequestVersionsPreKIP890 {
			want = "EndTxn v4"
		}
		require.Contains(t, trace, want, versions)
	}
}

// A delayed-* op fires only when it held a request: armed after the
// input is done, when no Produce comes any more, it is unfired.
func TestDelayedProduceThatHoldsNothingIsUnfired(t *testing.T) {
	p := faults.Plan{Version: faults.PlanVersion, Protocol: "two-phase-commit", Seed: 1,
		Workload: faults.Workload{Partitions: 1, Parallelism: 1, Records: 40, KeysPerPartition: 1, CheckpointIntervalMS: 10},
		Faults:   []faults.Op{{Fault: "delayed-produce", Hit: 3}}}
	res, trace := runTraced(t, p)
	require.Equal(t, 1, res.Faults["delayed-produce"], "armed at its trigger")
	require.Equal(t, p.Faults, res.Unfired, "but it held no request")
	require.NotContains(t, trace, "delayed-delivery")

	p.Faults[0].Hit = 1 // armed while the records are written
	res, trace = runTraced(t, p)
	require.Empty(t, res.Unfired)
	require.True(t, strings.Contains(trace, `"detail":"Produce v13 answered`), "the held Produce is delivered late")
	require.False(t, res.Failed(), "%v", res.Violations)
}
