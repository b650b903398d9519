package fidelity

// knownDifferences are the probes where kfake and Kafka 4.4 answer
// differently, each with how eosim handles it; docs/fidelity.md explains
// them. TestFidelity fails when a probe differs that is not listed here, or
// when a listed one no longer differs, so the list and the doc stay true.
var knownDifferences = map[string]string{
	"init-aborts-ongoing-tv2": "engine fix: raw InitProducerID/EndTxn retry CONCURRENT_TRANSACTIONS (TestRunRetriesConcurrentTransactions); " +
		"epoch +2 vs +1 and PRODUCER_FENCED vs INVALID_TXN_STATE: both are ErrTransactionLost to the engine",
	"init-aborts-ongoing-tv1": "as init-aborts-ongoing-tv2",
	"zombie-produce-endtxn":   "epoch +2 vs +1 only: nothing depends on the epoch's value",
	"txn-id-expiration":       "fidelity limit: kfake keeps the producer id of an expired transactional id, Kafka allocates a new one",
	"describe-transactions":   "state names of ended transactions (Empty vs CompleteCommit/CompleteAbort): eosim only filters on Ongoing",
	"txn-offset-commit-require-stable": "fidelity limit: kfake answers GROUP_ID_NOT_FOUND, not UNSTABLE_OFFSET_COMMIT, while a group's first offsets are in an open transaction; " +
		"the engine reads that as no offsets, where Kafka makes the restore wait",
	"empty-txn-commit-tv1": "aborting an empty transaction at EndTxn v4: Kafka INVALID_TXN_STATE, kfake OK; the engine never sends it",
	"delayed-endtxn-next-txn-tv1": "the write after a late EndTxn ended the transaction: Kafka TRANSACTION_ABORTABLE, kfake INVALID_TXN_STATE; " +
		"both fail the send, and the early commit (the torn transaction) is the same on both",
	"delayed-produce-stale-epoch-tv2": "harness fix: kfake adds a stale-epoch Produce v12's partition to the transaction before refusing it, Kafka does not; " +
		"the simulator answers such a Produce itself (internal/kfakefix.StaleEpochGuard, TestStaleProduceBeginsNoTransaction)",
}
