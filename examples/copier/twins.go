package copier

import "github.com/eosim/eosim/app"

// mistake is the one thing a known-bad twin does differently.
type mistake int

const (
	correct mistake = iota
	offsetsOutsideTxn
	offsetsBeforeProduce
	commitAfterFailedFlush
	noRewindAfterAbort
	readUncommitted
	commitDespiteOffsetsFailure
)

// OffsetsOutsideTxn commits the input offsets with a plain OffsetCommit
// after the transaction commits, not inside it: a crash between the two
// replays a committed batch (duplicates).
func OffsetsOutsideTxn() app.App { return build("copier-offsets-outside-txn", offsetsOutsideTxn) }

// OffsetsBeforeProduce commits the input offsets with a plain OffsetCommit
// before the batch is produced (at-most-once): a crash or an abort after
// it skips the batch (loss).
func OffsetsBeforeProduce() app.App {
	return build("copier-offsets-before-produce", offsetsBeforeProduce)
}

// CommitAfterFailedFlush logs a failed produce or flush and commits the
// transaction anyway, with the batch's offsets: the failed records are
// never written (silent loss).
func CommitAfterFailedFlush() app.App {
	return build("copier-commit-after-failed-flush", commitAfterFailedFlush)
}

// NoRewindAfterAbort aborts a failed batch but does not rewind the
// consumer: the next batch starts after the aborted one, whose records are
// never copied (loss).
func NoRewindAfterAbort() app.App { return build("copier-no-rewind-after-abort", noRewindAfterAbort) }

// ReadUncommitted consumes its input read_uncommitted: records of aborted
// upstream transactions are copied (it only shows when the input holds
// aborted transactions).
func ReadUncommitted() app.App { return build("copier-read-uncommitted", readUncommitted) }

// CommitDespiteOffsetsFailure commits the output when sending the offsets
// into the transaction failed (a fenced generation after a rebalance, a
// lost coordinator): the output is visible, the offsets are not
// committed, and the batch is copied again (duplicates).
func CommitDespiteOffsetsFailure() app.App {
	return build("copier-commit-despite-offsets-failure", commitDespiteOffsetsFailure)
}

// Twins lists every known-bad twin.
func Twins() []app.App {
	return []app.App{OffsetsOutsideTxn(), OffsetsBeforeProduce(), CommitAfterFailedFlush(), NoRewindAfterAbort(), ReadUncommitted(), CommitDespiteOffsetsFailure()}
}
