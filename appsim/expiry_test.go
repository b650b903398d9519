package appsim

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/faults"
	"github.com/eosim/eosim/model"
)

// A process killed while its JoinGroup waits for a rebalance: attempt 0
// dies holding both partitions (its member stays until its session times
// out), attempt 1 joins and is killed right after the broker took its
// JoinGroup with its member id (the join is still waiting for attempt 0's
// member), attempt 2 joins. kfake answers attempt 1's JoinGroup into a
// closed connection and never arms its session timer; when attempt 2 leads
// the join (kfake picks the leader by map iteration: about half the runs)
// it assigns the dead member a partition that nobody consumes again. Kafka
// removes that member; so does the harness's expiry, and every run is
// clean. Without the expiry at least one of the runs loses records. (The
// leader choice is outside the seed: with one in two, twenty-four runs miss
// both cases with odds of 2^-24.)
func TestDeadMemberIsExpired(t *testing.T) {
	plan := &faults.Plan{Faults: []faults.Op{
		{Fault: "crash-before-end-txn-commit", Hit: 1, RestartDelayMS: 100},
		{Fault: "crash-after-join-group", Hit: 4, RestartDelayMS: 100},
	}}
	const runs = 24
	a := txnCopier("copier", nil)
	lost, expired := 0, 0
	for _, expire := range []bool{true, false} {
		expireDeadMembers = expire
		t.Cleanup(func() { expireDeadMembers = true })
		for range runs {
			var trace strings.Builder
			res := Run(t, a, Options{Seed: 11, Plan: plan, Trace: &trace})
			require.Empty(t, res.Inconclusive)
			require.Equal(t, 1, res.Fired["crash-after-join-group"], "the second kill must land on the pending JoinGroup")
			if expire {
				require.Equal(t, Clean, res.Verdict, "%v", res.Violations)
				if strings.Contains(trace.String(), `"kind":"expire-member"`) {
					expired++
					// kfake draws member ids from crypto/rand: a trace
					// that named one would differ between replays.
					require.NotContains(t, trace.String(), "kgo-")
				}
				continue
			}
			require.NotContains(t, trace.String(), "expire-member")
			if res.Verdict == Violation {
				require.Positive(t, res.Check.Counts[model.Lost], "%v", res.Violations)
				lost++
			}
		}
	}
	// A run where the dead member led the join ends sooner: kfake drops a
	// leader that never syncs. The other half needs the expiry.
	require.Positive(t, expired, "no run of %d needed the expiry", runs)
	require.Positive(t, lost, "without the expiry none of %d runs lost the dead member's partition: the scenario no longer reaches kfake's gap", runs)
	t.Logf("with the expiry %d of %d runs removed a dead member; without it %d of %d lost records", expired, runs, lost, runs)
}
