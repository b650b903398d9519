package sim

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/faults"
	"github.com/eosim/eosim/model"
)

// Several checkpoints in flight (KafkaSinkITCase
// testRecoveryWithExactlyOnceGuaranteeAndConcurrentCheckpoints; two
// snapshots before a notification as in FlinkKafkaProducerITCase
// testFlinkKafkaProducerFailTransactionCoordinatorBeforeNotify): a
// checkpoint triggers before the one before it is stored, a sink holds one
// pending transaction per checkpoint in flight, and the transaction of an
// aborted checkpoint stays pending and is committed with the next
// completed one. The plan is clean.
func TestConcurrentCheckpointsOverlapAndCommitAbortedOnes(t *testing.T) {
	p := corpusPlan(t, "clean-2pc-concurrent-checkpoints.json")
	require.Greater(t, p.Workload.MaxConcurrentCheckpoints, 1)
	res := runKept(t, p)
	require.Empty(t, res.HarnessError)
	require.False(t, res.Failed(), "violations: %v", res.Violations)
	require.Empty(t, res.Unfired)

	triggered, stored, maxInFlight := map[int64]bool{}, map[int64]bool{}, 0
	pendingOf := map[int]int{} // sink subtask -> pending transactions now
	maxPending := 0
	var aborted int64
	committedAfterAbort := false
	for _, e := range res.Events {
		switch e.Kind {
		case "restore":
			clear(triggered)
			clear(stored)
			clear(pendingOf)
		case "trigger-checkpoint":
			triggered[e.Checkpoint] = true
			maxInFlight = max(maxInFlight, len(triggered)-len(stored))
		case "checkpoint-stored", "abort-checkpoint":
			stored[e.Checkpoint] = true
		case "precommit":
			pendingOf[e.Subtask]++
			maxPending = max(maxPending, pendingOf[e.Subtask])
		case "commit":
			pendingOf[e.Subtask]--
			if aborted != 0 && e.Checkpoint == aborted {
				committedAfterAbort = true
			}
		case "notify-aborted":
			aborted = e.Checkpoint
		}
	}
	require.Greater(t, maxInFlight, 1, "no two checkpoints were ever in flight together")
	require.Greater(t, maxPending, 1, "no sink ever held two pending transactions")
	require.NotZero(t, aborted, "the plan's checkpoint-timeout must abort a checkpoint")
	require.True(t, committedAfterAbort, "the aborted checkpoint %d's transactions were never committed", aborted)
}

// The known-bad sink aborts an aborted checkpoint's transaction; the next
// checkpoint's source offsets are past its records: silent loss.
func TestAbortOnCheckpointAbortedLosesSilently(t *testing.T) {
	p := corpusPlan(t, "abort-on-checkpoint-aborted.json")
	res := runKept(t, p)
	require.Empty(t, res.HarnessError)
	require.Positive(t, res.Check.Counts[model.SilentLoss], "anomalies %v", res.Check.Counts)
	require.True(t, containsEvent(res.Events, "abort-transaction"), "the known-bad sink never aborted a transaction")

	p.Protocol = "two-phase-commit"
	clean := runKept(t, p)
	require.False(t, clean.Failed(), "violations: %v", clean.Violations)
	require.False(t, containsEvent(clean.Events, "abort-transaction"))
}

// commit-latest-only stays caught when concurrent checkpoints leave a sink
// with older pending transactions at a notification.
func TestCommitLatestOnlyCaughtWithConcurrentCheckpoints(t *testing.T) {
	p := corpusPlan(t, "clean-2pc-concurrent-checkpoints.json")
	p.Protocol = "commit-latest-only"
	p.LoseNotifications = true
	res := RunPlan(t, p)
	require.Empty(t, res.HarnessError)
	require.True(t, res.Failed(), "commit-latest-only passed with %d checkpoints in flight", p.Workload.MaxConcurrentCheckpoints)
}

func containsEvent(events []TraceEvent, kind string) bool {
	for _, e := range events {
		if e.Kind == kind {
			return true
		}
	}
	return false
}

// The pooled protocol recycles its ids: with Flink's default pool of 5 an
// id is begun again, and no id outside the pool is ever used.
func TestPooledIDsAreRecycledWithinThePool(t *testing.T) {
	p := corpusPlan(t, "clean-2pc-pooled-ids.json")
	require.Zero(t, p.Workload.ProducerPoolSize, "the plan runs Flink's default pool")
	res := runKept(t, p)
	require.Empty(t, res.HarnessError)
	require.False(t, res.Failed(), "violations: %v", res.Violations)
	begun := map[string]int{}
	for _, e := range res.Events {
		if e.Kind == "begin-transaction" {
			begun[e.TxnID]++
		}
	}
	reused := false
	for id, n := range begun {
		slot := id[strings.LastIndexByte(id, '-')+1:]
		require.Contains(t, []string{"0", "1", "2", "3", "4"}, slot, "id %s outside the pool of %d", id, engine.DefaultProducerPoolSize)
		reused = reused || n > 1
	}
	require.True(t, reused, "no id was ever reused: %v", begun)
}

// A pool too small for the checkpoints in flight (FlinkKafkaProducerITCase
// testRunOutOfProducersInThePool) fails the job loudly, naming the pool
// size: the records it could not commit are lost loudly, never silently,
// and the run neither hangs nor is pinned by the dead job's transactions.
func TestPooledIDsExhaustionFailsLoudly(t *testing.T) {
	w := faults.Workload{Partitions: 2, Parallelism: 1, Records: 300, KeysPerPartition: 2, CheckpointIntervalMS: 20,
		MaxConcurrentCheckpoints: 3, ProducerPoolSize: 3}
	p := faults.Plan{Version: faults.PlanVersion, Protocol: "two-phase-commit-pooled-ids", Seed: 7, Workload: w}
	res := RunPlan(t, p)
	require.Empty(t, res.HarnessError)
	require.Contains(t, res.LoudFailure, "producer_pool_size 3")
	require.Contains(t, res.LoudFailure, engine.ErrPoolExhausted.Error())
	require.True(t, res.Failed())
	require.Positive(t, res.Check.Counts[model.Lost])
	require.Zero(t, res.Check.Counts[model.SilentLoss])
	require.Zero(t, res.Check.Counts[model.Stalled])

	w.ProducerPoolSize = ProducerPoolSizeFor(w.MaxConcurrentCheckpoints, 0)
	p.Workload = w
	ok := RunPlan(t, p)
	require.False(t, ok.Failed(), "the drawn pool size for %d concurrent checkpoints was exhausted: %s", w.MaxConcurrentCheckpoints, ok.LoudFailure)
}
