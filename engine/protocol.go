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

// Kind classifies a protocol for users and for the gate.
type Kind string

const (
	KindCorrect  Kind = "correct"   // must show no anomaly
	KindWeaker   Kind = "weaker"    // documented weaker guarantee
	KindKnownBad Kind = "known-bad" // a reproduced real-world mistake
)

// Bug names one deliberate deviation from the correct protocol. Each is
// consulted at exactly the protocol step it gets wrong.
type Bug string

const (
	// BugCommitOnSnapshot commits the sink transaction during the snapshot,
	// before the checkpoint is complete: a restore from the previous
	// checkpoint replays records whose output is already visible.
	BugCommitOnSnapshot Bug = "commit-on-snapshot"
	// BugAbortOnRecovery aborts the pending transactions found in the
	// restored state instead of committing them.
	BugAbortOnRecovery Bug = "abort-on-recovery"
	// BugInitBeforeResume creates the transactional producer (which sends
	// InitProducerID and so aborts the pending transaction) before resuming
	// the pending transaction, then ignores the failed resume.
	BugInitBeforeResume Bug = "init-before-resume"
)

// Protocol is a named delivery protocol: a guarantee plus, for known-bad
// variants, the bugs it carries.
type Protocol struct {
	Name        string
	Kind        Kind
	Guarantee   Guarantee
	Bugs        []Bug
	Description string
}

// Has reports whether the protocol carries bug b.
func (p Protocol) Has(b Bug) bool { return slices.Contains(p.Bugs, b) }

// Protocols lists every protocol the engine implements, in a stable order.
func Protocols() []Protocol {
	return []Protocol{
		{Name: "two-phase-commit", Kind: KindCorrect, Guarantee: TwoPhaseCommit,
			Description: "Flink 1.7 FlinkKafkaConsumer + two-phase-commit FlinkKafkaProducer: offsets in checkpoint state, one Kafka transaction per checkpoint, commit on notify, resume-commit on restore"},
		{Name: "at-least-once", Kind: KindWeaker, Guarantee: AtLeastOnce,
			Description: "flush at snapshot, no transactions: nothing lost, duplicates after a restore"},
		{Name: "none", Kind: KindWeaker, Guarantee: FireAndForget,
			Description: "fire and forget (acks=0, no flush at snapshot): loss and duplicates expected"},
		{Name: "commit-on-snapshot", Kind: KindKnownBad, Guarantee: TwoPhaseCommit, Bugs: []Bug{BugCommitOnSnapshot},
			Description: "commits the transaction in snapshotState instead of notifyCheckpointComplete (one-phase commit): a failed checkpoint replays already visible output, duplicates"},
		{Name: "abort-on-recovery", Kind: KindKnownBad, Guarantee: TwoPhaseCommit, Bugs: []Bug{BugAbortOnRecovery},
			Description: "on restore aborts the pending transactions of the restored state instead of committing them: pre-committed output of a completed checkpoint is lost"},
		{Name: "init-before-resume", Kind: KindKnownBad, Guarantee: TwoPhaseCommit, Bugs: []Bug{BugInitBeforeResume},
			Description: "on restore creates the producer (InitProducerID) before resuming the pending transaction, which aborts it; the failed resume is ignored: silent loss"},
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
