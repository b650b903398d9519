package engine

import (
	"fmt"
	"slices"
)

// Guarantee is the delivery guarantee a sink implements.
type Guarantee int

const (
	// TwoPhaseCommit writes each checkpoint epoch in its own Kafka
	// transaction: pre-commit at snapshot, commit on notify.
	TwoPhaseCommit Guarantee = iota
	// AtLeastOnce flushes at snapshot without transactions.
	AtLeastOnce
	// FireAndForget neither flushes nor waits for acknowledgements.
	FireAndForget
)

// DeliveryName is the guarantee's name in the oracle's vocabulary
// (model.Allowed): "exactly-once", "at-least-once" or "none".
func (g Guarantee) DeliveryName() string {
	switch g {
	case AtLeastOnce:
		return "at-least-once"
	case FireAndForget:
		return "none"
	}
	return "exactly-once"
}

// Kind classifies a protocol for users and for the gate.
type Kind string

const (
	KindCorrect  Kind = "correct"   // must show no anomaly
	KindWeaker   Kind = "weaker"    // documented weaker guarantee
	KindKnownBad Kind = "known-bad" // a reproduced real-world mistake
)

// Bug names one deliberate deviation from the correct protocol. Each is
// consulted at exactly the protocol step it gets wrong; the variant's
// description in Protocols names the real-world mistake.
type Bug string

const (
	// BugCommitOnSnapshot: snapshotState commits instead of pre-committing.
	BugCommitOnSnapshot Bug = "commit-on-snapshot"
	// BugAbortOnRecovery: initializeState aborts restored pending
	// transactions instead of committing them.
	BugAbortOnRecovery Bug = "abort-on-recovery"
	// BugInitBeforeResume: initializeState creates the producer
	// (InitProducerID) before resuming, aborting the pending transaction,
	// and ignores the failed resume.
	BugInitBeforeResume Bug = "init-before-resume"
	// BugCommitLatestOnly: notifyCheckpointComplete commits only the
	// checkpoint's own transaction and forgets older pending ones.
	BugCommitLatestOnly Bug = "commit-latest-only"
	// BugTxnAcrossCheckpoints: snapshotState flushes but keeps writing into
	// the same transaction, so records after the barrier are committed
	// with the checkpoint before it.
	BugTxnAcrossCheckpoints Bug = "txn-across-checkpoints"
	// BugSeekWithoutPlusOne: restore seeks to the checkpointed offset, not
	// offset+1.
	BugSeekWithoutPlusOne Bug = "seek-without-plus-one"
	// BugGroupOffsetsOnRestore: restore starts from the consumer group's
	// committed offsets instead of the checkpoint state.
	BugGroupOffsetsOnRestore Bug = "group-offsets-on-restore"
	// BugReadUncommitted: the source reads read_uncommitted (kgo's
	// default isolation level): records of the input's aborted
	// transactions are processed as if committed.
	BugReadUncommitted Bug = "read-uncommitted"
	// BugStartupModeOnRestore: restore re-applies the startup mode (LATEST:
	// the partitions' ends, EARLIEST: their starts) instead of starting
	// from the checkpointed offsets.
	BugStartupModeOnRestore Bug = "startup-mode-on-restore"
	// BugIgnoreCommitFailure: a failed commit in notifyCheckpointComplete is
	// logged and the transaction dropped from the pending set.
	BugIgnoreCommitFailure Bug = "ignore-commit-failure"
	// BugReuseReferencedSlot: transactional ids come from a fixed pool and
	// are reused while the last completed checkpoint still references them
	// (FLINK-8132).
	BugReuseReferencedSlot Bug = "reuse-referenced-slot"
	// BugInitResumedSlots: recovery re-initialises every transactional id,
	// the resumed ones too, and fails on ProducerFenced when it resumes
	// them again after a second restore (FLINK-8086).
	BugInitResumedSlots Bug = "init-resumed-slots"
	// BugShortTxnTimeout: transaction.timeout.ms (3 checkpoint intervals)
	// shorter than checkpoint interval plus recovery time, with failures
	// after the timeout ignored (FLINK-7784).
	BugShortTxnTimeout Bug = "short-txn-timeout"
	// BugNoAbortWithoutCheckpoint: lingering transactions are aborted only
	// when a checkpoint is restored, and only in the subtask's own id range,
	// not in the ranges of subtasks removed by scaling in (FLINK-23854).
	BugNoAbortWithoutCheckpoint Bug = "no-abort-without-checkpoint"
	// BugSwallowSendError: an asynchronous send error is not checked at
	// pre-commit, so the checkpoint passes without the record (FLINK-35749).
	BugSwallowSendError Bug = "swallow-send-error"
	// BugCommitEmptyTransaction: empty transactions are kept pending and
	// committed like the others (FLINK-31363).
	BugCommitEmptyTransaction Bug = "commit-empty-transaction"
	// BugEmptyPartitionPlaceholder: a partition that has emitted nothing
	// yet is checkpointed with a placeholder (latest) instead of its
	// concrete start offset; restore resolves it to the partition's end
	// (FLINK-28303).
	BugEmptyPartitionPlaceholder Bug = "empty-partition-placeholder"
	// BugOverlappingAbortRange: the ids a subtask initialises to abort
	// lingering transactions are computed by range arithmetic that overlaps
	// the previous subtask's range, so it fences that subtask's live
	// producer (FLINK-7978).
	BugOverlappingAbortRange Bug = "overlapping-abort-range"
	// BugAbortOnCheckpointAborted: notifyCheckpointAborted aborts the
	// pending transaction of the aborted checkpoint, whose records the
	// next checkpoint's source offsets already cover.
	BugAbortOnCheckpointAborted Bug = "abort-on-checkpoint-aborted"
	// BugAbortPrefixLingering: a restoring sink subtask aborts every open
	// transaction of the job's transactional-id prefix that the restored
	// checkpoint does not hold pending, not only those of its own id
	// ranges: correct after a whole-job restore, where every other open
	// transaction is a dead attempt's, wrong after a region failover,
	// where the other subtasks live on.
	BugAbortPrefixLingering Bug = "abort-prefix-lingering"
	// BugRecycledProducer: a producer whose transaction committed is kept
	// and reused for a later transaction on the same transactional id,
	// without InitProducerID: not re-initialised after a request that
	// timed out and was resent (Jepsen, Bufstream 0.1.0: with pre-KIP-890
	// versions the epoch stays, and a delayed EndTxn ends the next
	// transaction).
	BugRecycledProducer Bug = "recycled-producer"
	// BugSavepointNotForFailover: the savepoint of a stop-with-savepoint is
	// not registered where a failover restores from, so a failure while
	// its transactions commit restores the checkpoint before it
	// (FLINK-26783).
	BugSavepointNotForFailover Bug = "savepoint-not-for-failover"
	// BugSharedTransactionalID: every sink subtask uses the same
	// transactional-id range, so subtasks fence each other's transactions.
	BugSharedTransactionalID Bug = "shared-transactional-id"
	// BugAbortCurrentPrefixOnly: a job restored with a new
	// transactional-id prefix aborts lingering transactions of the new
	// prefix only, not of the prefixes its state was written under.
	BugAbortCurrentPrefixOnly Bug = "abort-current-prefix-only"
	// BugSwitchAbortsPending: a job restored with at-least-once from an
	// exactly-once checkpoint aborts the restored pending transactions
	// instead of committing them.
	BugSwitchAbortsPending Bug = "switch-aborts-pending"
	// BugGroupOffsetsOnRetainedRestore: offsets-in-txn started from an
	// older retained checkpoint takes the group's committed offsets (the
	// old job's, past the checkpoint) with the checkpoint's keyed state.
	BugGroupOffsetsOnRetainedRestore Bug = "retained-restore-group-offsets"
)

// Protocol is a named delivery protocol: a guarantee plus, for known-bad
// variants, the bugs it carries.
type Protocol struct {
	Name      string
	Kind      Kind
	Guarantee Guarantee
	// OffsetsInTransaction commits the source offsets inside the sink's
	// transaction (TxnOffsetCommit, KIP-447) and restores the source from
	// the group's offsets read with RequireStable, not from checkpoint state.
	OffsetsInTransaction bool
	// PooledTransactionalIDs takes transactional ids from a bounded pool of
	// Config.ProducerPoolSize per subtask (FlinkKafkaProducer's
	// kafkaProducersPoolSize) instead of never reusing one.
	PooledTransactionalIDs bool
	// RequestVersions, when set, pins the request versions the job's
	// clients use ("kip-890" or "pre-kip-890", as the workload field
	// request_versions), whatever the workload says.
	RequestVersions string
	Bugs            []Bug
	Description     string
}

// OffsetsInSinkTransaction reports whether the source offsets go into the
// sink's transactions now: an offsets-in-txn protocol switched to
// at-least-once keeps them in checkpoint state instead.
func (p Protocol) OffsetsInSinkTransaction() bool {
	return p.OffsetsInTransaction && p.Guarantee == TwoPhaseCommit
}

// Has reports whether the protocol carries bug b.
func (p Protocol) Has(b Bug) bool { return slices.Contains(p.Bugs, b) }

// Protocols lists every protocol the engine implements, in a stable order.
func Protocols() []Protocol {
	bad := func(name string, bug Bug, desc string) Protocol {
		return Protocol{Name: name, Kind: KindKnownBad, Guarantee: TwoPhaseCommit, Bugs: []Bug{bug}, Description: desc}
	}
	return []Protocol{
		{Name: "two-phase-commit", Kind: KindCorrect, Guarantee: TwoPhaseCommit,
			Description: "Flink 1.7 FlinkKafkaConsumer + two-phase-commit FlinkKafkaProducer: offsets in checkpoint state, one Kafka transaction per checkpoint, commit on notify, resume-commit on restore"},
		{Name: "offsets-in-txn", Kind: KindCorrect, Guarantee: TwoPhaseCommit, OffsetsInTransaction: true,
			Description: "Kafka-native: source offsets committed inside sink subtask 0's transaction (TxnOffsetCommit, KIP-447), restore from group offsets read with RequireStable"},
		{Name: "two-phase-commit-pooled-ids", Kind: KindCorrect, Guarantee: TwoPhaseCommit, PooledTransactionalIDs: true,
			Description: "two-phase-commit with FlinkKafkaProducer's legacy bounded pool of transactional ids (kafkaProducersPoolSize, producer_pool_size, default 5): an id is reused only when no open, pending or restorable transaction uses it; an exhausted pool fails the job loudly, naming the pool size"},
		{Name: "at-least-once", Kind: KindWeaker, Guarantee: AtLeastOnce,
			Description: "flush at snapshot, no transactions: nothing lost, duplicates after a restore"},
		{Name: "none", Kind: KindWeaker, Guarantee: FireAndForget,
			Description: "fire and forget (acks=0, no flush at snapshot): loss and duplicates expected"},
		bad("commit-on-snapshot", BugCommitOnSnapshot,
			"one-phase commit: the transaction is committed in snapshotState, before the checkpoint completes; a failed checkpoint replays visible output (duplicates)"),
		bad("abort-on-recovery", BugAbortOnRecovery,
			"initializeState aborts the restored pending transactions instead of committing them: output of a completed checkpoint is lost"),
		bad("init-before-resume", BugInitBeforeResume,
			"recovery creates the producer (InitProducerID) before resuming the pending transaction, which aborts it, and ignores the failed resume: silent loss"),
		bad("commit-latest-only", BugCommitLatestOnly,
			"notifyCheckpointComplete commits only the latest transaction; after a skipped notification older pending transactions are never committed"),
		bad("abort-on-checkpoint-aborted", BugAbortOnCheckpointAborted,
			"notifyCheckpointAborted aborts the aborted checkpoint's pending transaction instead of keeping it for the next completed checkpoint: the source offsets move on with that checkpoint and the records are lost silently"),
		bad("txn-across-checkpoints", BugTxnAcrossCheckpoints,
			"no new transaction after the barrier: post-barrier records are committed with the checkpoint before them and replayed after a restore (duplicates)"),
		bad("seek-without-plus-one", BugSeekWithoutPlusOne,
			"restore seeks to the checkpointed offset of the last emitted record instead of offset+1: one duplicate per partition per restore"),
		bad("group-offsets-on-restore", BugGroupOffsetsOnRestore,
			"restore starts from the consumer group's committed offsets (monitoring only, committed after notify) instead of checkpoint state"),
		bad("startup-mode-on-restore", BugStartupModeOnRestore,
			"restore re-applies the source's startup mode (KafkaSource OffsetsInitializer) instead of the checkpointed offsets: LATEST skips what arrived since the checkpoint (silent loss), EARLIEST and TIMESTAMP replay what was committed (duplicates), GROUP_OFFSETS starts from the lagging group offsets"),
		bad("ignore-commit-failure", BugIgnoreCommitFailure,
			"a failed commit in notifyCheckpointComplete is logged and dropped instead of failing the job: the transaction is never committed"),
		bad("shared-transactional-id", BugSharedTransactionalID,
			"the transactional id does not include the subtask index: parallel sink subtasks initialise the same ids and fence or abort each other's transactions"),
		bad("abort-prefix-lingering", BugAbortPrefixLingering,
			"a restoring sink subtask aborts every open transaction of the job's id prefix that the restored checkpoint does not hold pending, as if every restore were a whole-job restore: after a region failover (forward topology) it aborts the live subtasks' open and pre-committed transactions, whose commits then fail: their output is lost"),
		{Name: "recycled-producer-pre-kip-890", Kind: KindKnownBad, Guarantee: TwoPhaseCommit, Bugs: []Bug{BugRecycledProducer}, RequestVersions: "pre-kip-890",
			Description: "Jepsen (Bufstream 0.1.0, the Kafka transaction protocol): a producer is reused for a later transaction after its commit, not re-initialised after its EndTxn timed out and was resent; clients pinned below KIP-890 keep the epoch, so the delayed EndTxn commits the next transaction's first records early and its later ones are refused (INVALID_TXN_STATE): a torn transaction, replayed as duplicates"},
		bad("flink-8132-reuse-txn-id", BugReuseReferencedSlot,
			"FLINK-8132: transactional ids reused from a pool (of 2) as soon as the id comes round again, while a pending or restorable transaction still uses it: the new producer aborts it, or recovery resumes the wrong epoch of the id"),
		bad("flink-8086-fenced-recommit", BugInitResumedSlots,
			"FLINK-8086: recovery re-initialises resumed ids too; after a double restore the re-commit gets ProducerFenced and the job fails instead of recognising the committed transaction"),
		bad("flink-7784-txn-timeout", BugShortTxnTimeout,
			"FLINK-7784: transaction.timeout.ms (3 checkpoint intervals) shorter than checkpoint interval plus recovery time, and commit failures after the timeout ignored: the broker aborts pre-committed data during an outage, silently"),
		bad("flink-23854-lingering-txn", BugNoAbortWithoutCheckpoint,
			"FLINK-23854: lingering transactions are not aborted after a failure before the first checkpoint, nor those of subtasks removed by scaling in: the open transaction pins the last stable offset and read_committed readers stall"),
		bad("flink-35749-swallowed-send-error", BugSwallowSendError,
			"FLINK-35749: an asynchronous send error is swallowed, the checkpoint passes without the record: silent loss"),
		bad("flink-7978-overlapping-abort-range", BugOverlappingAbortRange,
			"FLINK-7978: the range of transactional ids a subtask aborts at startup overlaps the previous subtask's live ids (wrong range arithmetic at high parallelism); it fences that subtask's producer, whose commit then fails, and the job restarts forever"),
		bad("flink-28303-placeholder-offset", BugEmptyPartitionPlaceholder,
			"FLINK-28303: a partition with no record emitted yet is saved in state as a placeholder offset (latest); restore resolves it to the end of the partition and skips what arrived meanwhile: silent loss"),
		bad("flink-26783-failover-past-savepoint", BugSavepointNotForFailover,
			"FLINK-26783: a failure while a stop-with-savepoint commits the savepoint's transactions restarts the job from the last checkpoint before the savepoint (or, with none, from the group offsets the savepoint's notification committed): what the savepoint's transactions committed is replayed (duplicates), or the keyed state is lost"),
		bad("abort-current-prefix-only", BugAbortCurrentPrefixOnly,
			"a job restarted with a new transactional-id prefix aborts lingering transactions of the new prefix only: a transaction the old job left open under the old prefix pins the last stable offset and read_committed readers stall (an operator action: new-txn-prefix)"),
		bad("switch-aborts-pending", BugSwitchAbortsPending,
			"a job restarted with at-least-once from an exactly-once checkpoint aborts the restored pending transactions instead of committing them: the output of a completed checkpoint is silently lost (an operator action: switch-guarantee)"),
		{Name: "retained-restore-group-offsets", Kind: KindKnownBad, Guarantee: TwoPhaseCommit, OffsetsInTransaction: true, Bugs: []Bug{BugGroupOffsetsOnRetainedRestore},
			Description: "offsets-in-txn started as a new job from a retained checkpoint older than the latest takes the group's committed offsets, which the old job moved past that checkpoint, with the checkpoint's keyed state: the records in between are never counted again, so every later count and the final state diverge (an operator action: restore-retained-checkpoint)"},
		bad("flink-31363-empty-txn-commit", BugCommitEmptyTransaction,
			"FLINK-31363: an empty transaction is pre-committed like any other; committing it on recovery fails (INVALID_TXN_STATE) and the job cannot recover"),
		bad("source-read-uncommitted", BugReadUncommitted,
			"the source consumer keeps kgo's default isolation level, read_uncommitted: records of aborted input transactions are emitted and counted (output for input that does not exist, counts that diverge)"),
	}
}

// ProtocolByName looks a protocol up by its stable name.
func ProtocolByName(name string) (Protocol, error) {
	for _, p := range Protocols() {
		if p.Name == name {
			return p, nil
		}
	}
	return Protocol{}, fmt.Errorf("unknown protocol %q (see 'simrun list protocols')", name)
}
