package sim

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing/synctest"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/faults"
	"github.com/eosim/eosim/internal/kfakefix"
)

const (
	// txnIDExpiration is the broker's transactional.id.expiration.ms in
	// scenarios: long against a run, short enough for an outage to pass it.
	txnIDExpiration = 10 * time.Minute
	// engineTxnTimeout is the sink's transaction.timeout.ms (the engine's
	// default).
	engineTxnTimeout = time.Minute
)

// injector fires the plan's non-crash faults: broker faults through kfake
// and the lost-ack dialer, time faults and store faults. Each fires at the
// Hit-th checkpoint the run triggers.
type injector struct {
	s           *scheduler
	cluster     *kfake.Cluster
	clusterOpts []kfake.Opt // to reopen the cluster after a broker restart
	epochGuard  *kfakefix.StaleEpochGuard
	brokers     int32
	partitions  map[string]int32 // per topic
	moves       int32            // leader moves so far
	lostAcks    *faults.LostAcks
	delayed     *faults.DelayedRequests
	// delayShot is, per delayed-* op (by index into ops), which shot of its
	// API key it armed (1-based): the op fired when that many were held.
	delayShot map[int]int
	delayArms map[int16]int
	// handles are, per op on a kfake fault (by index into ops), its fault
	// handle, and lostShot, per lost-ack op, which dropped answer of its
	// key is its first: an op armed at its trigger fired only if it met a
	// request (took).
	handles  map[int]*kfake.FaultHandle
	reach    *requestReach // enumeration's fault-free run only
	lostShot map[int]int
	lostArms map[int16]int
	store    *faultyStore
	ops      []faults.Op
	fired    []bool
	armed    []bool // phase-aimed ops waiting for their phase
	triggers int
	// doomed is the checkpoint that will time out: it is aborted when its
	// last acknowledgement arrives.
	doomed int64
}

func newInjector(s *scheduler, ops []faults.Op) *injector {
	in := &injector{s: s}
	for _, op := range ops {
		if info, _ := faults.Lookup(op.Fault); !info.IsCrash() {
			in.ops = append(in.ops, op)
		}
	}
	in.fired = make([]bool, len(in.ops))
	in.armed = make([]bool, len(in.ops))
	in.delayShot, in.delayArms = map[int]int{}, map[int16]int{}
	in.handles, in.lostShot, in.lostArms = map[int]*kfake.FaultHandle{}, map[int]int{}, map[int16]int{}
	return in
}

// took reports whether the op at index i (into ops), once armed, met a
// request: a held request for a delayed-* op, a dropped answer for a
// lost-ack op, a faulted request for a kfake fault. Ops that act on the
// cluster or the job themselves took effect when they fired.
func (in *injector) took(i int) bool {
	if _, ok := delayedKey(in.ops[i].Fault); ok {
		return in.delayedFired(i)
	}
	if h, ok := in.handles[i]; ok {
		return h.Hits() > 0
	}
	if first, ok := in.lostShot[i]; ok {
		key, _ := lostAckKey(in.ops[i].Fault)
		return in.lostAcks != nil && in.lostAcks.Dropped(key) >= first
	}
	return true
}

// lostAckKey is the API key a lost-ack-* fault drops the answer of.
func lostAckKey(fault string) (int16, bool) {
	switch fault {
	case "lost-ack-produce":
		return int16(kmsg.Produce), true
	case "lost-ack-endtxn":
		return int16(kmsg.EndTxn), true
	case "lost-ack-txn-offset-commit":
		return int16(kmsg.TxnOffsetCommit), true
	}
	return 0, false
}

func (in *injector) exhausted() bool { return !slices.Contains(in.fired, false) }

// errRescale stops the job so that it restarts at another parallelism.
var errRescale = errors.New("rescale")

// errZombie cuts the job off: a replacement starts, the old one lives on.
type errZombie struct{ steps int }

func (e errZombie) Error() string { return "zombie" }

// onTrigger is called when checkpoint id is triggered. An error stops the
// job (a rescale). A zombie and a rescale at the same trigger, in either
// order in the plan, cut the job off and start the replacement at the
// rescale's parallelism (a zombie during a scale-in).
func (in *injector) onTrigger(id int64) error {
	var stop error
	in.triggers++
	if in.reach != nil {
		in.reach.onTrigger()
	}
	in.releaseDelayed(false)
	for i, op := range in.ops {
		if in.fired[i] || op.Hit != in.triggers {
			continue
		}
		if op.Fault == faults.RestoreRetainedCheckpoint && !in.s.canRestoreRetained(op) {
			in.ops[i].Hit++ // not that many checkpoints retained yet
			continue
		}
		if op.Phase != "" {
			in.armed[i] = true // fires at the next arrival at its phase
			continue
		}
		if op.Fault == "region-failover" && in.stopsJobAt(i) {
			// The whole job stops at this trigger: its restore must not
			// meet one region restoring alone (from a checkpoint an
			// operator action may just have rewound the store to), so
			// the region fails at the next trigger.
			in.ops[i].Hit++
			continue
		}
		if op.Fault == "switch-guarantee" && in.s.switchWaits(i) {
			in.ops[i].Hit++
			continue
		}
		in.fired[i] = true
		in.s.res.Faults[op.Fault]++
		in.s.tr.Observe(engine.Event{Kind: "fault", Subtask: -1, Checkpoint: id, Detail: fmt.Sprintf("%s hit=%d", op.Fault, op.Hit)})
		if op.Fault == "rescale" {
			in.s.parallelism = op.Count
			if _, zombie := stop.(errZombie); !zombie {
				stop = errRescale
			}
			continue
		}
		if op.Fault == "stop-with-savepoint" {
			if err := in.s.beginStop(op, id); err != nil {
				stop = err
			}
			continue
		}
		if op.Fault == "zombie" {
			stop = errZombie{steps: count(op, 20)}
			continue
		}
		if op.Fault == "region-failover" {
			stop = errRegionFailover{region: op.Count, down: time.Duration(op.RestartDelayMS) * time.Millisecond}
			continue
		}
		if act, ok := operatorActions[op.Fault]; ok {
			stop = errOperator{action: op.Fault, detail: act(in.s, op)}
			continue
		}
		in.fire(i, id)
	}
	return stop
}

// stopsJobAt reports whether an op other than ops[i] stops the whole job
// at the current trigger.
func (in *injector) stopsJobAt(i int) bool {
	for j, op := range in.ops {
		// An op's hit is the trigger it fires at: fired or not, an op with
		// this hit belongs to this trigger.
		if j == i || op.Hit != in.triggers || op.Phase != "" {
			continue
		}
		if op.Fault == faults.RestoreRetainedCheckpoint && !in.fired[j] && !in.s.canRestoreRetained(op) {
			continue
		}
		if _, operator := operatorActions[op.Fault]; operator || op.Fault == "rescale" || op.Fault == "zombie" {
			return true
		}
	}
	return false
}

// defaultDelayTicks is how many checkpoint triggers a delayed request is
// held by default. A commit's EndTxn is held in the interval after a
// trigger, before that checkpoint's pre-commit, which begins the next
// transaction (on a recycled producer, the one whose EndTxn is held): by
// the next trigger it has been written to, and still is.
const defaultDelayTicks = 1

// delayedKey is the API key a delayed-* fault holds back.
func delayedKey(fault string) (int16, bool) {
	switch fault {
	case "delayed-produce":
		return int16(kmsg.Produce), true
	case "delayed-endtxn":
		return int16(kmsg.EndTxn), true
	}
	return 0, false
}

// releaseDelayed ages the held requests by one checkpoint trigger and
// delivers those that are due (all of them with all, at the end of a run),
// each on a connection of its own; the trace records what the broker
// answered.
func (in *injector) releaseDelayed(all bool) {
	if in.delayed == nil {
		return
	}
	if !all {
		in.delayed.Tick()
	}
	settle()
	for _, d := range in.delayed.Release(in.s.ctx, all) {
		in.s.tr.Observe(engine.Event{Kind: "delayed-delivery", Subtask: -1, Detail: d.String()})
	}
	settle()
}

// delayedFired reports whether the delayed-* op at index i (into ops) held
// its request.
func (in *injector) delayedFired(i int) bool {
	key, _ := delayedKey(in.ops[i].Fault)
	return in.delayed != nil && in.delayed.Held(key) >= in.delayShot[i]
}

// requestFaultErrors and requestFaultCounts are what the kfake faults
// answer and how many requests each fails by default; their selectors are
// requestFaultSelectors (shared with requestReach).
var (
	requestFaultErrors = map[string]*kerr.Error{
		"not-coordinator": kerr.NotCoordinator, "coordinator-loading": kerr.CoordinatorLoadInProgress,
		"concurrent-transactions": kerr.ConcurrentTransactions, "endtxn-rejected": kerr.UnknownServerError,
		"produce-rejected": kerr.InvalidRecord, "txn-offset-commit-rejected": kerr.UnknownServerError,
	}
	requestFaultCounts = map[string]int{
		"not-coordinator": 3, "coordinator-loading": 3, "concurrent-transactions": 3,
		"endtxn-rejected": 1, "produce-rejected": 1, "txn-offset-commit-rejected": 1,
	}
)

func count(op faults.Op, def int) int {
	if op.Count > 0 {
		return op.Count
	}
	return def
}

func (in *injector) fire(i int, id int64) {
	op := in.ops[i]
	switch op.Fault {
	case "delayed-produce", "delayed-endtxn":
		key, _ := delayedKey(op.Fault)
		in.delayArms[key]++
		in.delayShot[i] = in.delayArms[key]
		in.delayed.Arm(key, count(op, defaultDelayTicks))
	case "lost-ack-produce", "lost-ack-endtxn", "lost-ack-txn-offset-commit":
		key, _ := lostAckKey(op.Fault)
		in.lostShot[i] = in.lostArms[key] + 1
		in.lostArms[key] += count(op, 2)
		in.arm(key, count(op, 2))
	case "leader-move":
		// Every partition's leader moves one broker on: clients get
		// NOT_LEADER_FOR_PARTITION and refresh their metadata.
		in.moves++
		for _, topic := range []string{inputTopic, outputTopic} {
			for p := range in.partitions[topic] {
				if err := in.cluster.MoveTopicPartition(topic, p, (p+in.moves)%in.brokers); err != nil {
					in.s.harnessErr = fmt.Errorf("%w: move leader: %w", errHarness, err)
					return
				}
			}
		}
	case "coordinator-move":
		// Group and transaction coordinators are rehashed over the brokers:
		// requests to the old one answer NOT_COORDINATOR.
		in.cluster.RehashCoordinators()
	case "broker-restart":
		// Graceful: kfake persists its log and its transactions (Ongoing
		// ones too) to the data dir on close and loads them on start. A
		// hard crash would abort Ongoing transactions at load, unlike
		// Kafka, so it is not modelled.
		// restartCluster restores the leader epochs kfake loses on reload.
		settle()
		c, err := restartCluster(in.cluster, in.clusterOpts, []string{inputTopic, outputTopic})
		if err != nil {
			in.s.harnessErr = fmt.Errorf("%w: restart kfake: %w", errHarness, err)
			return
		}
		in.cluster = c
		in.epochGuard.Install(c)
		// The request faults armed on the closed cluster that met no
		// request yet are armed again on the new one: left behind, a fault
		// drawn at the restart's trigger never fired (offsets-in-txn seed
		// 4560419057636960361 left produce-rejected@1 so).
		for j := range in.ops {
			if h, ok := in.handles[j]; ok && h.Hits() == 0 {
				in.s.tr.Observe(engine.Event{Kind: "rearm", Subtask: -1, Checkpoint: id, Detail: fmt.Sprintf("%s hit=%d on the restarted broker", in.ops[j].Fault, in.ops[j].Hit)})
				in.fire(j, id)
			}
		}
	case "checkpoint-timeout":
		in.doomed = id
	case "checkpoint-write-lost":
		in.store.failNext += count(op, 1)
	case "outage-beyond-txn-timeout":
		in.s.crasher.armOutage(op, engineTxnTimeout+10*time.Second)
	case "outage-beyond-txn-id-expiry":
		in.s.crasher.armOutage(op, txnIDExpiration+engineTxnTimeout+time.Minute)
	default:
		if answer, ok := requestFaultErrors[op.Fault]; ok { // a kfake fault
			f := requestFaultSelectors()[op.Fault]
			f.Err, f.Count = answer, count(op, requestFaultCounts[op.Fault])
			in.handles[i] = in.cluster.Fault(f)
			return
		}
		panic("sim: fault without an injector: " + op.Fault) // Validate admits only implemented faults
	}
}

// transactionalOnly keeps coordinator faults off the idempotent producer's
// InitProducerID: kgo retries it with a backoff timer while holding the
// producer-id mutex, and a sink goroutine waiting on that mutex is not
// durably blocked, so the bubble's clock could never advance (measured: an
// at-least-once campaign hung that way).
func transactionalOnly(r kmsg.Request) bool {
	if init, ok := r.(*kmsg.InitProducerIDRequest); ok {
		return init.TransactionalID != nil
	}
	return true
}

func (in *injector) arm(key int16, shots int) {
	for range shots {
		in.lostAcks.Arm(key)
	}
}

// faultyStore wraps the durable store; a checkpoint-write-lost fault makes
// the next writes fail.
type faultyStore struct {
	engine.MemoryStore
	failNext int
	// retained are the completed checkpoints stored, oldest first
	// (restore-retained-checkpoint).
	retained []engine.Checkpoint
}

var errWriteLost = errors.New("checkpoint store write lost (injected)")

func (f *faultyStore) Store(ctx context.Context, cp engine.Checkpoint) error {
	if f.failNext > 0 {
		f.failNext--
		return errWriteLost
	}
	if err := f.MemoryStore.Store(ctx, cp); err != nil {
		return err
	}
	f.retain(ctx)
	return nil
}

// armOutage makes the job die at the next crash-after-checkpoint-stored and
// stay down for d: the stored checkpoint's transactions are pending through
// the whole outage.
func (c *planCrasher) armOutage(op faults.Op, d time.Duration) {
	c.outage = &faults.Op{Fault: op.Fault, Hit: op.Hit, RestartDelayMS: int(d / time.Millisecond)}
}

// settle lets every goroutine the fault disturbed reach a blocking point.
func settle() { synctest.Wait() }
