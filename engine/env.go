package engine

import (
	"errors"
	"fmt"
	"time"
)

// Clock is the engine's only source of time. Production passes SystemClock;
// a simulator passes a clock that reads its virtual time.
type Clock interface{ Now() time.Time }

// SystemClock reads the process clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// CrashPoint names a place in the protocol where a harness may kill the whole
// job process. The names are stable: the CLI, plans and reports use them.
type CrashPoint string

const (
	CrashBeforeSnapshot        CrashPoint = "crash-before-snapshot"
	CrashAfterSourceSnapshot   CrashPoint = "crash-after-source-snapshot"
	CrashAfterPrecommit        CrashPoint = "crash-after-precommit"
	CrashAfterAck              CrashPoint = "crash-after-ack"
	CrashAfterCheckpointStored CrashPoint = "crash-after-checkpoint-stored"
	CrashMidCommit             CrashPoint = "crash-mid-commit"
	CrashAfterCommit           CrashPoint = "crash-after-commit"
	CrashDuringRecovery        CrashPoint = "crash-during-recovery"
)

// CrashPoints lists every crash point in protocol order.
func CrashPoints() []CrashPoint {
	return []CrashPoint{CrashBeforeSnapshot, CrashAfterSourceSnapshot, CrashAfterPrecommit,
		CrashAfterAck, CrashAfterCheckpointStored, CrashMidCommit, CrashAfterCommit, CrashDuringRecovery}
}

// CrashSite says where a crash point was reached.
type CrashSite struct {
	Point      CrashPoint
	Checkpoint int64 // the checkpoint being taken, stored or committed; 0 if none
	Subtask    int   // -1 for the coordinator
}

// Crasher decides whether the process dies at a crash point. The engine asks
// at every point it passes; production passes NoCrashes.
type Crasher interface{ ShouldCrash(site CrashSite) bool }

// NoCrashes never crashes.
type NoCrashes struct{}

// ShouldCrash returns false.
func (NoCrashes) ShouldCrash(CrashSite) bool { return false }

// ErrCrashed is returned (wrapped) by every step that hit an armed crash
// point. The caller must treat the process as dead: abandon the Job without
// ending its transactions and restore a new one.
var ErrCrashed = errors.New("process crashed at crash point")

// ErrTransactionLost is a loud failure: pre-committed output that a completed
// checkpoint owns could not be committed (for example the broker aborted the
// transaction after transaction.timeout.ms). The data is gone; the job must
// not report success.
var ErrTransactionLost = errors.New("pending transaction of a completed checkpoint could not be committed: data lost")

// ErrPoolExhausted is a loud failure of a sink with pooled transactional
// ids: every id of its pool is in use by an open, pending or restorable
// transaction (too many checkpoints in flight or aborted for the pool).
// The job cannot go on without losing a transaction, and restarting would
// run into the same configuration.
var ErrPoolExhausted = errors.New("transactional-id pool exhausted")

// ErrCheckpointAborted marks a checkpoint that will never complete (its
// store write failed, or it was declined): the job goes on, and the pending
// transactions of that checkpoint are committed with a later one.
var ErrCheckpointAborted = errors.New("checkpoint aborted")

func crashErr(site CrashSite) error {
	return fmt.Errorf("%w: %s (checkpoint %d, subtask %d)", ErrCrashed, site.Point, site.Checkpoint, site.Subtask)
}

// Event is one observable protocol step, reported to an Observer. Fields
// hold only values that are deterministic for a given input and schedule
// (no idempotent producer ids, no batch boundaries).
type Event struct {
	Kind       string `json:"kind"`
	Subtask    int    `json:"subtask"`
	Checkpoint int64  `json:"checkpoint,omitempty"`
	TxnID      string `json:"txn,omitempty"`
	Epoch      int16  `json:"epoch,omitempty"`
	Partition  int32  `json:"partition,omitempty"`
	Offset     int64  `json:"offset,omitempty"`
	Detail     string `json:"detail,omitempty"`
}

// Observer receives protocol events in the order they happen on the
// calling goroutine.
type Observer interface{ Observe(Event) }

// ObserverFunc adapts a function to Observer.
type ObserverFunc func(Event)

// Observe calls f(e).
func (f ObserverFunc) Observe(e Event) { f(e) }

type nopObserver struct{}

func (nopObserver) Observe(Event) {}
