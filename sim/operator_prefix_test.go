package sim

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/faults"
)

// A second new-txn-prefix before any checkpoint under the first new prefix
// keeps the prefix: no state could tell the next job of it, and its open
// transactions would pin the last stable offset (campaign --seed 31337
// --runs 1000, two-phase-commit run 14745036851217728715 stalled so). With
// a checkpoint between them the prefix changes again.
func TestNewTxnPrefixNeedsACheckpointUnderTheCurrentPrefix(t *testing.T) {
	workload := faults.Workload{Partitions: 4, Parallelism: 3, Records: 1000, KeysPerPartition: 3,
		CheckpointIntervalMS: 100, LateRecords: 200, MaxConcurrentCheckpoints: 3, Topology: faults.TopologyForward,
		StartupMode: "timestamp", StartupTimestampMS: 568}
	for _, tc := range []struct {
		name   string
		faults []faults.Op
		want   string
	}{
		{"region-failover-between", []faults.Op{{Fault: "new-txn-prefix", Hit: 1}, {Fault: "region-failover", Hit: 3, Count: 2, RestartDelayMS: 1388},
			{Fault: "new-txn-prefix", Hit: 4}}, "transactional-id prefix eosim-job-v2 kept: the restored checkpoint does not record it"},
		{"checkpoints-between", []faults.Op{{Fault: "new-txn-prefix", Hit: 1}, {Fault: "new-txn-prefix", Hit: 5}}, "new-txn-prefix: transactional-id prefix eosim-job-v3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &faults.Plan{Version: faults.PlanVersion, Protocol: "two-phase-commit", Seed: 14745036851217728715,
				Workload: workload, Faults: tc.faults}
			var trace bytes.Buffer
			res := runPlan(t, p, &trace)
			require.Empty(t, res.Violations, "%v", res.Check.Counts)
			require.Contains(t, trace.String(), tc.want)
		})
	}
}
