package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fireAndForgetLinger is how long the acks=0 producer batches records: what
// is still lingering when the process dies is lost.
const fireAndForgetLinger = 20 * time.Millisecond

// txnSink is the two-phase-commit Kafka sink (FlinkKafkaProducer with
// Semantic.EXACTLY_ONCE). Each checkpoint epoch writes into one Kafka
// transaction on a transactional id taken from this subtask's pool of slots
// "<job>-<subtask>-<slot>".
//
// Slot reuse rule: a slot is free only when no pending transaction uses it
// and the last completed checkpoint does not reference it. Otherwise a
// restore from that checkpoint would resume-commit the old epoch while a
// newer transaction is open on the same id (fenced, or worse).
type txnSink struct {
	cfg     *Config
	subtask int
	deps    Deps
	admin   *kgo.Client         // the job's non-transactional client: raw EndTxn and InitProducerID
	clients map[int]*kgo.Client // slot → transactional producer

	current     *openTxn
	pending     []pendingTxn
	snapshotted map[int64][]int // checkpoint → slots its snapshot references
	// completedSlots are the slots referenced by the last completed
	// checkpoint this subtask knows of (restored or notified).
	completedSlots []int
}

type openTxn struct {
	slot    int
	client  *kgo.Client
	records int
	errs    sendErrors
}

type pendingTxn struct {
	holder TransactionHolder
	slot   int
	client *kgo.Client
}

func (s *txnSink) transactionalID(slot int) string {
	return fmt.Sprintf("%s-%d-%d", s.cfg.JobName, s.subtask, slot)
}

func (s *txnSink) slotOf(txnID string) (int, bool) {
	for slot := 0; slot < s.cfg.TransactionalIDPoolSize; slot++ {
		if s.transactionalID(slot) == txnID {
			return slot, true
		}
	}
	return 0, false
}

func openTxnSink(ctx context.Context, cfg *Config, subtask int, admin *kgo.Client, restored []TransactionHolder, restoredSlots []int, fromCheckpoint bool, deps Deps) (*txnSink, error) {
	s := &txnSink{cfg: cfg, subtask: subtask, deps: deps, admin: admin,
		clients: map[int]*kgo.Client{}, snapshotted: map[int64][]int{},
		completedSlots: slices.Clone(restoredSlots)}
	if err := s.recover(ctx, restored, fromCheckpoint); err != nil {
		s.abandon()
		return nil, err
	}
	if err := s.beginTransaction(); err != nil {
		s.abandon()
		return nil, err
	}
	return s, nil
}

// recover is the sink's initializeState: resume-commit every pending
// transaction of the restored state, then abort lingering transactions on
// every slot of this subtask that the state does not reference.
func (s *txnSink) recover(ctx context.Context, restored []TransactionHolder, fromCheckpoint bool) error {
	var checkpoint int64
	for _, h := range restored {
		checkpoint = max(checkpoint, h.Checkpoint)
		if h.Empty {
			continue
		}
		if err := s.resumeTransaction(ctx, h); err != nil {
			return err
		}
	}
	if s.deps.Crasher.ShouldCrash(CrashSite{Point: CrashDuringRecovery, Checkpoint: checkpoint, Subtask: s.subtask}) {
		return crashErr(CrashSite{Point: CrashDuringRecovery, Checkpoint: checkpoint, Subtask: s.subtask})
	}
	if !fromCheckpoint && s.cfg.Protocol.Has(BugNoAbortWithoutCheckpoint) {
		return nil
	}
	for slot := 0; slot < s.cfg.TransactionalIDPoolSize; slot++ {
		if slices.Contains(s.completedSlots, slot) && !s.cfg.Protocol.Has(BugInitResumedSlots) {
			continue
		}
		// InitProducerID on the id aborts whatever a dead process left
		// open, as creating a producer for it would, without the client.
		if err := s.initProducerID(ctx, slot); err != nil {
			return fmt.Errorf("sink %d: abort lingering %s: %w", s.subtask, s.transactionalID(slot), err)
		}
		s.deps.Observer.Observe(Event{Kind: "abort-lingering", Subtask: s.subtask, TxnID: s.transactionalID(slot)})
	}
	return nil
}

// resumeTransaction commits a restored pending transaction with a raw EndTxn
// on its producer id and epoch, as Flink does by reflection. It must never
// be preceded by InitProducerID on that id, which would abort it.
func (s *txnSink) resumeTransaction(ctx context.Context, h TransactionHolder) error {
	commit := !s.cfg.Protocol.Has(BugAbortOnRecovery)
	if s.cfg.Protocol.Has(BugInitBeforeResume) {
		if slot, ok := s.slotOf(h.TransactionalID); ok {
			if cl, err := s.client(slot); err == nil {
				_, _, _ = cl.ProducerID(ctx)
			}
		}
	}
	req := kmsg.NewPtrEndTxnRequest()
	req.TransactionalID = h.TransactionalID
	req.ProducerID = h.ProducerID
	req.ProducerEpoch = h.Epoch
	req.Commit = commit
	resp, err := req.RequestWith(ctx, s.admin)
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
	}
	outcome := "committed"
	if !commit {
		outcome = "aborted"
	}
	if err != nil {
		outcome = "failed"
	}
	s.deps.Observer.Observe(Event{Kind: "resume-transaction", Subtask: s.subtask, Checkpoint: h.Checkpoint,
		TxnID: h.TransactionalID, Epoch: h.Epoch, Detail: outcome})
	if err == nil || s.cfg.Protocol.Has(BugInitBeforeResume) || s.cfg.Protocol.Has(BugShortTxnTimeout) {
		return nil
	}
	// Fenced or invalid state: something ended or re-initialised the
	// transaction (the broker's transaction timeout, for one). Its output is
	// gone and the checkpoint that owns it is complete: fail loudly.
	if errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidTxnState) ||
		errors.Is(err, kerr.InvalidProducerIDMapping) || errors.Is(err, kerr.InvalidProducerEpoch) {
		return fmt.Errorf("sink %d: resume %s (checkpoint %d, epoch %d): %w: %w",
			s.subtask, h.TransactionalID, h.Checkpoint, h.Epoch, ErrTransactionLost, err)
	}
	return fmt.Errorf("sink %d: resume %s: %w", s.subtask, h.TransactionalID, err)
}

func (s *txnSink) initProducerID(ctx context.Context, slot int) error {
	req := kmsg.NewPtrInitProducerIDRequest()
	id := s.transactionalID(slot)
	req.TransactionalID = &id
	req.TransactionTimeoutMillis = int32(s.cfg.TransactionTimeout.Milliseconds())
	req.ProducerID, req.ProducerEpoch = -1, -1
	resp, err := req.RequestWith(ctx, s.admin)
	if err != nil {
		return err
	}
	return kerr.ErrorForCode(resp.ErrorCode)
}

func (s *txnSink) client(slot int) (*kgo.Client, error) {
	if cl, ok := s.clients[slot]; ok {
		return cl, nil
	}
	opts := append(slices.Clone(s.cfg.ClientOpts),
		kgo.TransactionalID(s.transactionalID(slot)),
		kgo.TransactionTimeout(s.cfg.TransactionTimeout),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("sink %d: %w", s.subtask, err)
	}
	s.clients[slot] = cl
	return cl, nil
}

// beginTransaction opens the next epoch's transaction on the lowest free slot.
func (s *txnSink) beginTransaction() error {
	for slot := 0; slot < s.cfg.TransactionalIDPoolSize; slot++ {
		referenced := slices.Contains(s.completedSlots, slot) && !s.cfg.Protocol.Has(BugReuseReferencedSlot)
		if referenced || slices.ContainsFunc(s.pending, func(p pendingTxn) bool { return p.slot == slot }) {
			continue
		}
		cl, err := s.client(slot)
		if err != nil {
			return err
		}
		if err := cl.BeginTransaction(); err != nil {
			return fmt.Errorf("sink %d: begin %s: %w", s.subtask, s.transactionalID(slot), err)
		}
		s.current = &openTxn{slot: slot, client: cl}
		s.deps.Observer.Observe(Event{Kind: "begin-transaction", Subtask: s.subtask, TxnID: s.transactionalID(slot)})
		return nil
	}
	return fmt.Errorf("sink %d: all %d transactional ids are pending or referenced by the last completed checkpoint",
		s.subtask, s.cfg.TransactionalIDPoolSize)
}

func (s *txnSink) write(ctx context.Context, r *kgo.Record) {
	cur := s.current
	cur.records++
	cur.client.Produce(ctx, r, func(_ *kgo.Record, err error) { cur.errs.record(err) })
}

// precommit flushes the open transaction, records it as pending under the
// checkpoint id and opens the next one.
func (s *txnSink) precommit(ctx context.Context, checkpoint int64) ([]TransactionHolder, []int, error) {
	cur := s.current
	if err := cur.client.Flush(ctx); err != nil {
		return nil, nil, fmt.Errorf("sink %d: flush: %w", s.subtask, err)
	}
	if err := cur.errs.take(); err != nil && !s.cfg.Protocol.Has(BugSwallowSendError) {
		return nil, nil, fmt.Errorf("sink %d: send: %w", s.subtask, err)
	}
	txnID := s.transactionalID(cur.slot)
	alreadyPending := slices.ContainsFunc(s.pending, func(p pendingTxn) bool { return p.client == cur.client })
	if cur.records == 0 && !s.cfg.Protocol.Has(BugCommitEmptyTransaction) {
		// Nothing to commit: end the empty transaction now (kgo sends no
		// EndTxn for it) and keep nothing pending.
		if err := cur.client.EndTransaction(ctx, kgo.TryCommit); err != nil {
			return nil, nil, fmt.Errorf("sink %d: end empty %s: %w", s.subtask, txnID, err)
		}
	} else {
		pid, epoch, err := cur.client.ProducerID(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("sink %d: producer id of %s: %w", s.subtask, txnID, err)
		}
		h := TransactionHolder{Checkpoint: checkpoint, TransactionalID: txnID, ProducerID: pid, Epoch: epoch}
		s.pending = append(s.pending, pendingTxn{holder: h, slot: cur.slot, client: cur.client})
		s.deps.Observer.Observe(Event{Kind: "precommit", Subtask: s.subtask, Checkpoint: checkpoint,
			TxnID: txnID, Epoch: epoch, Detail: fmt.Sprintf("records=%d", cur.records)})
		if s.cfg.Protocol.Has(BugCommitOnSnapshot) {
			if err := s.commit(ctx, checkpoint); err != nil {
				return nil, nil, err
			}
		}
	}
	holders := make([]TransactionHolder, 0, len(s.pending))
	var slots []int
	for _, p := range s.pending {
		holders = append(holders, p.holder)
		slots = append(slots, p.slot)
	}
	s.snapshotted[checkpoint] = slots
	if s.cfg.Protocol.Has(BugTxnAcrossCheckpoints) && cur.records > 0 || alreadyPending {
		// The bug: keep writing into the pre-committed transaction.
		return holders, slots, nil
	}
	if err := s.beginTransaction(); err != nil {
		return nil, nil, err
	}
	return holders, slots, nil
}

// commit commits every pending transaction with checkpoint id ≤ checkpoint:
// a notification can be skipped, so never only the latest.
func (s *txnSink) commit(ctx context.Context, checkpoint int64) error {
	if s.cfg.Protocol.Has(BugCommitLatestOnly) {
		// The bug: older pending transactions are taken as superseded.
		s.pending = slices.DeleteFunc(s.pending, func(p pendingTxn) bool { return p.holder.Checkpoint < checkpoint })
	}
	ignoreFailures := s.cfg.Protocol.Has(BugIgnoreCommitFailure) || s.cfg.Protocol.Has(BugShortTxnTimeout)
	ended := map[*kgo.Client]bool{}
	for len(s.pending) > 0 && s.pending[0].holder.Checkpoint <= checkpoint {
		p := s.pending[0]
		if len(ended) > 0 && s.deps.Crasher.ShouldCrash(CrashSite{Point: CrashMidCommit, Checkpoint: checkpoint, Subtask: s.subtask}) {
			return crashErr(CrashSite{Point: CrashMidCommit, Checkpoint: checkpoint, Subtask: s.subtask})
		}
		kind := "commit"
		if !ended[p.client] {
			if err := p.client.EndTransaction(ctx, kgo.TryCommit); err != nil {
				if !ignoreFailures {
					return fmt.Errorf("sink %d: commit %s (checkpoint %d): %w", s.subtask, p.holder.TransactionalID, p.holder.Checkpoint, err)
				}
				// The bug: log, reset the producer and carry on.
				kind = "commit-failure-ignored"
				_ = p.client.EndTransaction(ctx, kgo.TryAbort)
			}
			ended[p.client] = true
		}
		s.deps.Observer.Observe(Event{Kind: kind, Subtask: s.subtask, Checkpoint: p.holder.Checkpoint,
			TxnID: p.holder.TransactionalID, Epoch: p.holder.Epoch})
		s.pending = s.pending[1:]
	}
	if s.cfg.Protocol.Has(BugTxnAcrossCheckpoints) && s.current != nil && ended[s.current.client] {
		// Only with txn-across-checkpoints: the open transaction was the
		// one just committed.
		s.current = nil
		if err := s.beginTransaction(); err != nil {
			return err
		}
	}
	if slots, ok := s.snapshotted[checkpoint]; ok {
		s.completedSlots = slots
	}
	for id := range s.snapshotted {
		if id <= checkpoint {
			delete(s.snapshotted, id)
		}
	}
	return nil
}

// finish refuses to stop with output that no checkpoint covers: it would
// be lost with the open transaction.
func (s *txnSink) finish(context.Context) error {
	if s.current != nil && s.current.records > 0 {
		return fmt.Errorf("sink %d: stop with %d records in the open transaction %s; take a checkpoint first",
			s.subtask, s.current.records, s.transactionalID(s.current.slot))
	}
	return nil
}

func (s *txnSink) abandon() {
	// Close sends nothing for an open transaction: it stays Ongoing on the
	// broker, exactly what a killed process leaves behind.
	for slot := 0; slot < s.cfg.TransactionalIDPoolSize; slot++ {
		if cl, ok := s.clients[slot]; ok {
			dropClient(cl)
		}
	}
}
