package faults

import (
	"fmt"
	"slices"
	"strings"

	"github.com/eosim/eosim/engine"
)

// Kind groups faults; each kind is also a group name for --faults.
type Kind string

const (
	KindCrash  Kind = "crash"
	KindBroker Kind = "broker"
	KindTime   Kind = "time"
	KindZombie Kind = "zombie"
	KindStore  Kind = "store"
	KindScale  Kind = "scale"
	// KindFailover: a failover region fails and restores alone.
	KindFailover Kind = "failover"
	// KindOperator: what an operator of the job does to it: a graceful stop
	// with a savepoint, or a stop at the Hit-th checkpoint trigger and a new
	// job, restored from the last completed checkpoint, with a changed
	// configuration.
	KindOperator Kind = "operator"
)

// Info describes one fault of the catalogue.
type Info struct {
	Name        string
	Kind        Kind
	Description string
	// OptIn faults break a protocol's stated assumption: they are not in
	// "all" and must be named.
	OptIn bool
}

// RestartsJob reports whether the fault ends the job attempt, so that a
// new one restores from the store.
func (f Info) RestartsJob() bool {
	switch {
	case f.Kind == KindCrash:
		return f.Name != string(engine.CrashDuringRecovery)
	case f.Kind == KindOperator, f.Kind == KindFailover:
		// stop-with-savepoint and the new-job actions restore from the
		// store; a regional restore is a recovery too.
		return true
	}
	return f.Name == "rescale" || f.Name == "zombie" || f.Name == "outage-beyond-txn-timeout" || f.Name == "outage-beyond-txn-id-expiry"
}

// IsCrash reports whether the fault is a crash point: it fires the Hit-th
// time the job reaches that point. Every other fault fires at the Hit-th
// checkpoint the run triggers.
func (f Info) IsCrash() bool { return f.Kind == KindCrash }

// Catalogue lists every fault in a stable order.
func Catalogue() []Info {
	crash := map[engine.CrashPoint]string{
		engine.CrashBeforeSnapshot:        "the job process dies when a barrier arrives, before any snapshot",
		engine.CrashAfterSourceSnapshot:   "dies after the source snapshotted its offsets, before the sink pre-committed",
		engine.CrashAfterPrecommit:        "dies after the sink flushed and pre-committed, before acknowledging",
		engine.CrashAfterAck:              "dies after every subtask acknowledged, before the checkpoint is stored",
		engine.CrashAfterCheckpointStored: "dies after the checkpoint is stored, before any notifyCheckpointComplete",
		engine.CrashMidCommit:             "dies after committing some pending transactions, not all",
		engine.CrashAfterCommit:           "dies after committing the transactions, before the offsets go to the group",
		engine.CrashDuringRecovery:        "dies while restoring: after resuming pending transactions (odd hits) or after aborting lingering ones (even hits)",
	}
	var out []Info
	for _, p := range engine.CrashPoints() {
		out = append(out, Info{Name: string(p), Kind: KindCrash, Description: crash[p]})
	}
	out = append(out,
		Info{"lost-ack-produce", KindBroker, "a Produce is applied by the broker, its answer never arrives (twice: kgo retries once)", false},
		Info{"lost-ack-endtxn", KindBroker, "an EndTxn is applied by the broker, its answer never arrives (twice: kgo retries once)", false},
		Info{"lost-ack-txn-offset-commit", KindBroker, "a TxnOffsetCommit is applied, its answer never arrives (twice)", false},
		Info{"delayed-produce", KindBroker, "a Produce is held back in the network and delivered, on a connection of its own, count checkpoints later (default 1) after the client resent it and began its next transaction (Jepsen, Bufstream 0.1.0; KIP-890); the late copy is refused with either version set (at Produce v12+ the harness answers it before kfake, which would add its partition to the live transaction first, unlike Kafka)", false},
		Info{"delayed-endtxn", KindBroker, "an EndTxn is held back in the network and delivered, on a connection of its own, count checkpoints later (default 1) after the client resent it and began its next transaction: pre-KIP-890 it can end that transaction (Jepsen, Bufstream 0.1.0; KIP-890)", false},
		Info{"not-coordinator", KindBroker, "the transaction and group coordinator answer NOT_COORDINATOR a few times", false},
		Info{"coordinator-loading", KindBroker, "the coordinator answers COORDINATOR_LOAD_IN_PROGRESS a few times", false},
		Info{"concurrent-transactions", KindBroker, "InitProducerID and AddPartitionsToTxn answer CONCURRENT_TRANSACTIONS a few times", false},
		Info{"endtxn-rejected", KindBroker, "an EndTxn is rejected with UNKNOWN_SERVER_ERROR before the broker applies it: the commit fails", false},
		Info{"produce-rejected", KindBroker, "a Produce to the output topic is rejected with INVALID_RECORD: an asynchronous send fails", false},
		Info{"txn-offset-commit-rejected", KindBroker, "a TxnOffsetCommit is rejected with UNKNOWN_SERVER_ERROR before the broker applies it: the offsets do not join the transaction, which must then not commit", false},
		Info{"leader-move", KindBroker, "every partition leader moves to another broker (runs with it use 3 brokers)", false},
		Info{"coordinator-move", KindBroker, "transaction and group coordinators are rehashed over the brokers (runs with it use 3 brokers)", false},
		Info{"broker-restart", KindBroker, "graceful broker restart with its data dir: log and transactions, Ongoing ones too, survive; every partition's leader and leader epoch are put back (kfake reloads an empty partition at epoch 0, and a kgo consumer that knew the higher epoch then spins on UNKNOWN_LEADER_EPOCH); a hard crash is not modelled (kfake would abort Ongoing transactions at load, unlike Kafka)", false},
		Info{"outage-beyond-txn-timeout", KindTime, "the job dies after a checkpoint is stored and stays down longer than transaction.timeout.ms: the broker aborts the pending transaction (breaks the protocol's assumption; the loss must be loud)", true},
		Info{"outage-beyond-txn-id-expiry", KindTime, "the job dies after a checkpoint is stored and stays down longer than transactional.id.expiration.ms (breaks the protocol's assumption; the loss must be loud)", true},
		Info{"checkpoint-timeout", KindTime, "a checkpoint is acknowledged too late and aborted: its transaction stays pending until a later checkpoint completes", false},
		Info{"zombie", KindZombie, "the job is cut off when a checkpoint triggers: a replacement restores from the store while the old attempt keeps processing and committing for count steps (default 20); the replacement must fence it", false},
		Info{"checkpoint-write-lost", KindStore, "the checkpoint store fails a checkpoint's write: the checkpoint never completes", false},
		Info{"stop-with-savepoint", KindOperator, "graceful stop (flink stop) at the Hit-th checkpoint trigger: that checkpoint is the savepoint; each source stops reading once it took its barrier, what is in flight drains into the savepoint's transactions, which commit on notify; the job stops in order and, after restart_delay_ms, is restored from the savepoint", false},
		Info{"rescale", KindScale, "the job is stopped when a checkpoint triggers and restored from the last completed checkpoint at parallelism count (scale up or in)", false},
		Info{"region-failover", KindFailover, "when a checkpoint triggers, failover region count (mod the parallelism: a source subtask with the sink subtask it feeds, under the forward topology) fails and restores from the last completed checkpoint after restart_delay_ms while the other subtasks keep running; the checkpoints in flight are aborted and none is triggered while it is down. Under the keyBy topology, and under offsets-in-txn, the region is the whole job", false},
	)
	return append(append(out, OperatorActions()...), protocolCatalogue()...)
}

// OperatorActions are the operator group: a job stopped when a checkpoint
// triggers and started as a new job with a changed configuration, restored
// from the last completed checkpoint.
func OperatorActions() []Info {
	return []Info{
		{"new-txn-prefix", KindOperator, "operator: the job is stopped when a checkpoint triggers and started as a new job whose sink uses a new transactional-id prefix (<job>-v2, then -v3 ...); the restore must resume-commit the pending transactions under their own prefix and abort lingering ones of every restored prefix; a change before any checkpoint under the current prefix keeps it", false},
		{"switch-guarantee", KindOperator, "operator: the job is stopped when a checkpoint triggers and restarted with the delivery guarantee switched exactly-once <-> at-least-once (none stays none); the run is judged by the weakest guarantee in force, and the restored pending transactions must still be committed", false},
		{RestoreRetainedCheckpoint, KindOperator, "operator: the job is stopped when a checkpoint triggers and started as a new job from the retained checkpoint count completed checkpoints before the latest (state.checkpoints.num-retained, flink run -s; waits for a trigger at which that many older ones are retained); its checkpoint ids continue from the restored one, its pending transactions were committed already, lingering ones after it (past the committed ids) must be aborted; the records between its offsets and the latest checkpoint's are read again and may be visible twice, nothing else (under offsets-in-txn the new job takes the checkpoint's offsets, not the group's, until it restores from a checkpoint of its own)", false},
	}
}

// RestoreRetainedCheckpoint is the operator action that starts a new job
// from a retained checkpoint older than the latest.
const RestoreRetainedCheckpoint = "restore-retained-checkpoint"

// MaxCheckpointsBack bounds restore-retained-checkpoint's count: how many
// completed checkpoints before the latest the new job restores from.
const MaxCheckpointsBack = 16

// Lookup returns the catalogue entry for name.
func Lookup(name string) (Info, bool) {
	for _, f := range Catalogue() {
		if f.Name == name {
			return f, true
		}
	}
	return lookupSite(name)
}

// Groups are the group names usable in --faults besides fault names.
var Groups = []string{"crash", "broker", "time", "scale", "zombie", "store", "failover", "operator", "all"}

// Resolve expands a comma-separated --faults value (fault names and group
// names) into fault names in catalogue order. An unknown or unimplemented
// name is an error that names it.
func Resolve(list string) ([]string, error) {
	want := map[string]bool{}
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if info, ok := Lookup(item); ok && info.AppOnly() {
			return nil, fmt.Errorf("fault %s applies to applications only (simrun campaign --app NAME), not to the engine", Quote(item))
		}
		matched := false
		for _, f := range Catalogue() {
			inGroup := (item == "all" && !f.OptIn) || (item == string(f.Kind) && !f.OptIn)
			if f.Name == item || inGroup {
				want[f.Name] = true
				matched = true
			}
		}
		if !matched && !slices.Contains(Groups, item) {
			return nil, fmt.Errorf("unknown fault %s (see 'simrun list faults')", Quote(item))
		}
	}
	var out []string
	for _, f := range Catalogue() {
		if want[f.Name] {
			out = append(out, f.Name)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--faults %s selects no fault", Quote(list))
	}
	return out, nil
}
