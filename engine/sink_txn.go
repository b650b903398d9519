package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// txnSink is the two-phase-commit Kafka sink (FlinkKafkaProducer with
// Semantic.EXACTLY_ONCE). Each checkpoint epoch writes into one Kafka
// transaction.
//
// Transactional ids are "<prefix>-<range>-<n>": the prefix is the job's
// transactional-id prefix (its name unless configured), the range is the subtask index,
// n follows the checkpoint ids (alignIDs) and is carried in checkpoint
// state, so an id is never reused
// while a restorable checkpoint may still resume it. A restored pending
// transaction then never shares its id with a newer open transaction (its
// resume-commit would be fenced, or on a pre-KIP-890 broker commit the wrong
// data). Flink 1.7's fixed pool of ids instead exhausts when checkpoints
// keep failing ("too many ongoing snapshots"); this harness found that as a
// stall under repeated checkpoint timeouts. Lingering transactions are
// found by asking the broker (ListTransactions), which also covers ranges
// of subtasks removed by scaling in and attempts that died before their
// first checkpoint.
type txnSink struct {
	cfg     *Config
	subtask int
	deps    Deps
	admin   *kgo.Client // the job's non-transactional client: raw EndTxn and InitProducerID
	// prefix is the id range this subtask writes in: its index.
	prefix int
	// idPrefix is the transactional-id prefix the sink writes under;
	// idPrefixesKnown are it and every prefix of the restored state, whose
	// ids may hold lingering transactions.
	idPrefix        string
	idPrefixesKnown []string
	// next maps every id range the subtask is responsible for to the next
	// id of that range; all follow the checkpoint ids, only the own range
	// is written.
	next map[int]int64

	current *openTxn
	pending []pendingTxn

	// Pooled ids only (two-phase-commit-pooled-ids): restorable holds the
	// ids the latest checkpoint this sink knows complete references (a
	// restore resumes them by producer id and epoch, so they must not be
	// re-initialised), and snapshotIDs the ids each checkpoint in flight
	// references.
	restorable  map[string]bool
	snapshotIDs map[int64][]string
	// checkpointPending: the ids the restored checkpoint holds pending in
	// any subtask (read by the abort-prefix-lingering variant only).
	checkpointPending []string
	// recycled are producers whose transaction committed, kept for reuse
	// (only the recycled-producer variant keeps any).
	recycled []*openTxn

	// restoredNext and restoredCheckpoint tie ids to checkpoint ids
	// (alignIDs); skipped checkpoint ids were triggered after the restored
	// one by an attempt that may live on, cut off: the ids they map to are
	// a zombie's (abortZombieTransactions).
	restoredNext       map[int]int64
	restoredCheckpoint int64
	skipped            int64
}

type openTxn struct {
	id      int64
	txnID   string
	client  *kgo.Client
	records int
	errs    sendErrors
}

type pendingTxn struct {
	holder TransactionHolder
	client *kgo.Client
	empty  bool // only the flink-31363 variant keeps empty transactions pending
	// rawCommit: the transaction holds offsets but no records, which kgo
	// does not know of (it would skip the EndTxn), so it is ended raw.
	rawCommit bool
}

// poolSize is the size of the id pool the flink-8132 variant reuses: an id
// comes back as soon as the transaction after next begins.
const poolSize = 2

func (s *txnSink) transactionalID(prefix int, n int64) string {
	if s.cfg.Protocol.Has(BugReuseReferencedSlot) {
		n %= poolSize
	}
	return idOf(s.idPrefix, prefix, n)
}

func idOf(idPrefix string, idRange int, n int64) string {
	return fmt.Sprintf("%s-%d-%d", idPrefix, idRange, n)
}

func newTxnSink(cfg *Config, subtask int, admin *kgo.Client, restored sinkState, deps Deps) *txnSink {
	s := &txnSink{cfg: cfg, subtask: subtask, deps: deps, admin: admin, prefix: subtask, next: map[int]int64{subtask: restored.checkpoint},
		restorable: map[string]bool{}, snapshotIDs: map[int64][]string{}, idPrefix: cfg.TransactionalIDPrefix,
		checkpointPending: restored.checkpointPending}
	if cfg.Protocol.Has(BugSharedTransactionalID) {
		s.prefix = 0
		s.next = map[int]int64{0: restored.checkpoint}
	}
	for q, n := range restored.next {
		s.next[q] = max(s.next[q], n)
	}
	s.idPrefixesKnown = slices.Clone(restored.prefixes)
	if len(s.idPrefixesKnown) == 0 {
		// No state, or one written before prefixes were recorded: the
		// job's name was the prefix.
		s.idPrefixesKnown = []string{cfg.JobName}
	}
	if !slices.Contains(s.idPrefixesKnown, s.idPrefix) {
		s.idPrefixesKnown = append(s.idPrefixesKnown, s.idPrefix)
	}
	s.restoredNext, s.restoredCheckpoint = maps.Clone(s.next), restored.checkpoint
	if !cfg.Protocol.PooledTransactionalIDs {
		s.skipped = restored.skipped
	}
	return s
}

// alignIDs ties ids to checkpoint ids: the transaction begun after the
// snapshot of checkpoint K has id restoredNext+(K-restoredCheckpoint) in
// every range the subtask is responsible for, as Flink's KafkaSink names
// it after K+1. With checkpoint ids that no two attempts share
// (CheckpointIDCounter), an attempt cut off at a barrier in flight begins
// its next transaction on an id its replacement skips, never on one the
// replacement writes: that would abort the replacement's transaction, or
// leave the zombie's open where nobody looks. The ranges of removed
// subtasks advance too, so that a later scale-out resumes them past every
// id a zombie could hold. Pooled ids are not tied (not zombie-safe).
func (s *txnSink) alignIDs(checkpoint int64) {
	if s.cfg.Protocol.PooledTransactionalIDs {
		return
	}
	for q, base := range s.restoredNext {
		s.next[q] = max(s.next[q], base+checkpoint-s.restoredCheckpoint)
	}
}

// abortZombieTransactions aborts the open transactions on the ids that
// checkpoints triggered by an earlier attempt after the restored one map to
// (alignIDs): this attempt never writes them, and an attempt cut off while
// such a checkpoint was in flight (a zombie) may begin one after this
// attempt restored, too late for the restore's lingering aborts, fenced by
// nobody, and pinning the last stable offset of read_committed readers
// until transaction.timeout.ms. Called after every commit and at the end.
func (s *txnSink) abortZombieTransactions(ctx context.Context) error {
	if s.skipped == 0 {
		return nil
	}
	open, err := s.listOpenTransactions(ctx)
	if err != nil {
		return err
	}
	return s.abortOpen(ctx, slices.DeleteFunc(open, func(id string) bool { return !s.zombieSuspect(id) }), "abort-zombie")
}

// listOpenTransactions asks the broker for the open (Ongoing) transactions
// under the prefixes whose ids may linger (ListTransactions, KIP-664).
func (s *txnSink) listOpenTransactions(ctx context.Context) ([]string, error) {
	var quoted []string
	for _, p := range s.lingeringPrefixes() {
		quoted = append(quoted, regexp.QuoteMeta(p))
	}
	pattern := "^(" + strings.Join(quoted, "|") + ")-[0-9]+-[0-9]+$"
	req := kmsg.NewPtrListTransactionsRequest()
	req.StateFilters = []string{"Ongoing"}
	req.TransactionalIDPattern = &pattern
	resp, err := req.RequestWith(ctx, s.admin)
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
	}
	if err != nil {
		return nil, fmt.Errorf("sink %d: list open transactions: %w", s.subtask, err)
	}
	ids := make([]string, 0, len(resp.TransactionStates))
	for _, ts := range resp.TransactionStates {
		ids = append(ids, ts.TransactionalID)
	}
	return ids, nil
}

// abortOpen aborts each open transaction of ids (InitProducerID on an id
// aborts it), in id order: the broker answers in map order.
func (s *txnSink) abortOpen(ctx context.Context, ids []string, kind string) error {
	slices.Sort(ids)
	for _, id := range ids {
		if _, err := s.initProducerID(ctx, id); err != nil {
			return fmt.Errorf("sink %d: %s %s: %w", s.subtask, kind, id, err)
		}
		s.deps.Observer.Observe(Event{Kind: kind, Subtask: s.subtask, TxnID: id})
	}
	return nil
}

// zombieSuspect reports whether txnID is one only a cut-off attempt may
// write: in a range this subtask covers, an id that a checkpoint triggered
// after the restored one and before this attempt maps to. In a range the
// restored state does not name (a subtask removed by a scale-in before any
// checkpoint recorded it) ids start at the restored checkpoint's id.
func (s *txnSink) zombieSuspect(txnID string) bool {
	q, ok := s.rangeOf(txnID)
	if !ok || q%s.cfg.Parallelism != s.subtask {
		return false
	}
	if s.cfg.Protocol.Has(BugNoAbortWithoutCheckpoint) && q != s.prefix {
		return false // the bug forgets removed subtasks' ranges here too
	}
	n := s.idOf(txnID)
	base, known := s.restoredNext[q]
	switch {
	case !known:
		return n >= s.restoredCheckpoint && n <= s.restoredCheckpoint+s.skipped
	case q == s.prefix: // written by this subtask from base on, then past the skipped ids
		return n > base && n <= base+s.skipped
	default:
		return n >= base && n <= base+s.skipped
	}
}

// recoverTransactions is the transactional half of restoring a sink that
// no longer writes transactions (switched to at-least-once): resume-commit
// the pending ones and abort the lingering ones.
func recoverTransactions(ctx context.Context, cfg *Config, subtask int, admin *kgo.Client, restored sinkState, fromCheckpoint bool, deps Deps) error {
	return newTxnSink(cfg, subtask, admin, restored, deps).recover(ctx, restored.pending, fromCheckpoint)
}

func openTxnSink(ctx context.Context, cfg *Config, subtask int, admin *kgo.Client, restored sinkState, fromCheckpoint bool, deps Deps) (*txnSink, error) {
	s := newTxnSink(cfg, subtask, admin, restored, deps)
	if err := s.recover(ctx, restored.pending, fromCheckpoint); err != nil {
		s.abandon()
		return nil, err
	}
	if err := s.beginTransaction(ctx); err != nil {
		s.abandon()
		return nil, err
	}
	return s, nil
}

// recover is the sink's initializeState: resume-commit every pending
// transaction of the restored state, then abort the lingering transactions
// a dead attempt may have left on the ids from the state's next id upward.
func (s *txnSink) recover(ctx context.Context, restored []TransactionHolder, fromCheckpoint bool) (err error) {
	var checkpoint int64
	for _, h := range restored {
		checkpoint = max(checkpoint, h.Checkpoint)
		s.restorable[h.TransactionalID] = true
		if h.Empty {
			continue
		}
		if err := s.resumeTransaction(ctx, h); err != nil {
			return err
		}
	}
	// The crash point is consulted twice: between resuming and aborting,
	// and once recovery is done, so a second restore meets both states.
	site := CrashSite{Point: CrashDuringRecovery, Checkpoint: checkpoint, Subtask: s.subtask}
	if s.deps.Crasher.ShouldCrash(site) {
		return crashErr(site)
	}
	if s.cfg.Protocol.Has(BugInitResumedSlots) {
		for _, h := range restored {
			if _, err := s.initProducerID(ctx, h.TransactionalID); err != nil {
				return fmt.Errorf("sink %d: re-initialise %s: %w", s.subtask, h.TransactionalID, err)
			}
		}
	}
	defer func() {
		if err == nil && s.deps.Crasher.ShouldCrash(site) {
			err = crashErr(site)
		}
	}()
	if !fromCheckpoint && s.cfg.Protocol.Has(BugNoAbortWithoutCheckpoint) {
		s.skipped = 0 // the bug aborts nothing, a zombie's neither
		return nil
	}
	if s.cfg.Protocol.Has(BugOverlappingAbortRange) && s.subtask > 0 {
		// The bug: the range computed for this subtask reaches into the
		// previous one's, at the ids it is about to use (subtasks advance
		// their ids together, one per checkpoint).
		for n := s.next[s.prefix]; n < s.next[s.prefix]+2; n++ {
			if _, err := s.initProducerID(ctx, s.transactionalID(s.subtask-1, n)); err != nil {
				return fmt.Errorf("sink %d: abort range: %w", s.subtask, err)
			}
		}
	}
	return s.abortLingering(ctx)
}

// abortLingering aborts every transaction left open (Ongoing) in the id
// ranges this subtask is responsible for: range q belongs to subtask
// q % parallelism, which covers the ranges of subtasks removed by scaling
// in and of attempts that died before any checkpoint. The broker lists them
// (ListTransactions, KIP-664); InitProducerID on an id aborts its open
// transaction. Pending transactions of the restored state were committed
// just before, so they are no longer open.
func (s *txnSink) abortLingering(ctx context.Context) error {
	open, err := s.listOpenTransactions(ctx)
	if err != nil {
		return err
	}
	owns := func(q int) bool {
		if s.cfg.Protocol.Has(BugNoAbortWithoutCheckpoint) {
			return q == s.prefix // the bug: ranges of removed subtasks are forgotten
		}
		return q%s.cfg.Parallelism == s.subtask
	}
	var ids []string
	for _, id := range open {
		q, ok := s.rangeOf(id)
		if !ok {
			continue
		}
		if owns(q) {
			ids = append(ids, id)
		} else if s.cfg.Protocol.Has(BugAbortPrefixLingering) && !slices.Contains(s.checkpointPending, id) {
			// The bug: every open transaction of the prefix that the
			// restored checkpoint does not hold pending is taken for a
			// dead attempt's. Right after a whole-job restore it is; after
			// a region failover it is another subtask's live transaction.
			ids = append(ids, id)
		}
	}
	if err := s.abortOpen(ctx, ids, "abort-lingering"); err != nil {
		return err
	}
	return s.fenceAhead(ctx, ids, owns)
}

// fenceAhead bumps the epoch of the ids a cut-off attempt (a zombie) may
// still be about to write in: the next ids of every range this subtask is
// responsible for. ListTransactions shows only transactions that already
// hold data; a zombie whose transaction was begun but not yet written
// would otherwise open it after the restore, fenced by nobody, and pin
// the last stable offset of read_committed readers until
// transaction.timeout.ms (the simulator found it with a zombie during a
// rescale; Flink aborts a range of ids for the same reason).
func (s *txnSink) fenceAhead(ctx context.Context, aborted []string, owns func(q int) bool) error {
	ranges := make([]int, 0, len(s.next))
	for q := range s.next {
		if owns(q) {
			ranges = append(ranges, q)
		}
	}
	slices.Sort(ranges)
	for _, idPrefix := range s.lingeringPrefixes() {
		for _, q := range ranges {
			for _, id := range s.zombieIDs(idPrefix, q) {
				if slices.Contains(aborted, id) {
					continue
				}
				if _, err := s.initProducerID(ctx, id); err != nil {
					return fmt.Errorf("sink %d: fence %s: %w", s.subtask, id, err)
				}
				s.deps.Observer.Observe(Event{Kind: "fence-ahead", Subtask: s.subtask, TxnID: id})
			}
		}
	}
	return nil
}

// lingeringPrefixes are the prefixes whose ids a restore searches for
// lingering transactions and fences: the own one last, after those of the
// restored state.
func (s *txnSink) lingeringPrefixes() []string {
	if s.cfg.Protocol.Has(BugAbortCurrentPrefixOnly) {
		return []string{s.idPrefix} // the bug: restored prefixes are forgotten
	}
	out := slices.DeleteFunc(slices.Clone(s.idPrefixesKnown), func(p string) bool { return p == s.idPrefix })
	return append(out, s.idPrefix)
}

func (s *txnSink) idPrefixes() []string { return s.idPrefixesKnown }

// zombieIDs are the ids of range q a cut-off attempt may still write in.
// With never-reused ids: the range's next ids, as many as a zombie can
// hold: its open transaction and one begun by the pre-commit of each
// checkpoint in flight. With pooled ids: every id of the pool but those a
// restore resumes (re-initialising one would fence its resume-commit after
// a second restore, FLINK-8086).
func (s *txnSink) zombieIDs(idPrefix string, q int) []string {
	var ids []string
	if s.cfg.Protocol.PooledTransactionalIDs {
		for slot := range s.cfg.ProducerPoolSize {
			if id := idOf(idPrefix, q, int64(slot)); !s.restorable[id] {
				ids = append(ids, id)
			}
		}
		return ids
	}
	for n := s.next[q]; n < s.next[q]+1+int64(s.cfg.MaxConcurrentCheckpoints); n++ {
		id := n
		if s.cfg.Protocol.Has(BugReuseReferencedSlot) {
			id %= poolSize // a copy: reducing n itself never ends the loop
		}
		ids = append(ids, idOf(idPrefix, q, id))
	}
	return ids
}

func (s *txnSink) pooledID(prefix, slot int) string {
	return idOf(s.idPrefix, prefix, int64(slot))
}

// takePooledID returns the first id of the subtask's pool that no open,
// pending or restorable transaction uses. Flink's FlinkKafkaProducer
// throws "Too many ongoing snapshots" when its pool is empty; here the job
// fails loudly with the pool size (ErrPoolExhausted): waiting would hang,
// and reusing an id in use would lose its transaction.
func (s *txnSink) takePooledID() (string, error) {
	inUse := map[string]bool{}
	for id := range s.restorable {
		inUse[id] = true
	}
	for _, p := range s.pending {
		inUse[p.holder.TransactionalID] = true
	}
	if s.current != nil {
		inUse[s.current.txnID] = true
	}
	for slot := range s.cfg.ProducerPoolSize {
		if id := s.pooledID(s.prefix, slot); !inUse[id] {
			return id, nil
		}
	}
	return "", fmt.Errorf("sink %d: %w: all %d ids of producer_pool_size %d are in use by the open, %d pending and the restorable transactions (max_concurrent_checkpoints %d): enlarge the pool or allow fewer concurrent checkpoints",
		s.subtask, ErrPoolExhausted, s.cfg.ProducerPoolSize, s.cfg.ProducerPoolSize, len(s.pending), s.cfg.MaxConcurrentCheckpoints)
}

// idOf parses the id number (n of "<job>-<range>-<n>") out of a
// transactional id of this job.
func (s *txnSink) idOf(txnID string) int64 {
	n, _ := strconv.ParseInt(txnID[strings.LastIndexByte(txnID, '-')+1:], 10, 64)
	return n
}

// rangeOf parses the id range (the subtask index) out of a transactional id
// under one of the sink's known prefixes.
func (s *txnSink) rangeOf(txnID string) (int, bool) {
	for _, idPrefix := range s.idPrefixesKnown {
		rest, ok := strings.CutPrefix(txnID, idPrefix+"-")
		if !ok {
			continue
		}
		q, n, ok := strings.Cut(rest, "-")
		if !ok {
			continue
		}
		idRange, err := strconv.Atoi(q)
		if _, errN := strconv.ParseInt(n, 10, 64); err == nil && errN == nil {
			return idRange, true
		}
	}
	return 0, false
}

// resumeTransaction commits a restored pending transaction with a raw EndTxn
// on its producer id and epoch, as Flink does by reflection. It must never
// be preceded by InitProducerID on that id, which would abort it.
func (s *txnSink) resumeTransaction(ctx context.Context, h TransactionHolder) error {
	commit := !s.cfg.Protocol.Has(BugAbortOnRecovery)
	switchBug := s.cfg.Protocol.Guarantee != TwoPhaseCommit && s.cfg.Protocol.Has(BugSwitchAbortsPending)
	if switchBug {
		commit = false // the bug: no transactions any more, so the pending ones are aborted (and a failed abort ignored)
	}
	if s.cfg.Protocol.Has(BugInitBeforeResume) {
		_, _ = s.initProducerID(ctx, h.TransactionalID)
	}
	err := s.endTransactionRaw(ctx, h, commit)
	outcome := "committed"
	if !commit {
		outcome = "aborted"
	}
	if err != nil {
		outcome = "failed"
	}
	s.deps.Observer.Observe(Event{Kind: "resume-transaction", Subtask: s.subtask, Checkpoint: h.Checkpoint,
		TxnID: h.TransactionalID, Epoch: h.Epoch, Detail: outcome})
	if err == nil || s.cfg.Protocol.Has(BugInitBeforeResume) || s.cfg.Protocol.Has(BugShortTxnTimeout) || switchBug {
		return nil
	}
	fenced := errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidTxnState) ||
		errors.Is(err, kerr.InvalidProducerIDMapping) || errors.Is(err, kerr.InvalidProducerEpoch)
	if fenced && h.Checkpoint <= s.cfg.RetainedCheckpoint {
		// Started from an older retained checkpoint: the job that wrote it
		// committed this transaction and reused its id since.
		s.deps.Observer.Observe(Event{Kind: "resume-transaction", Subtask: s.subtask, Checkpoint: h.Checkpoint,
			TxnID: h.TransactionalID, Epoch: h.Epoch, Detail: "taken as committed (retained checkpoint)"})
		return nil
	}
	// Fenced or invalid state: something ended or re-initialised the
	// transaction (the broker's transaction timeout, for one). Its output is
	// gone and the checkpoint that owns it is complete: fail loudly.
	if fenced {
		return fmt.Errorf("sink %d: resume %s (checkpoint %d, epoch %d): %w: %w",
			s.subtask, h.TransactionalID, h.Checkpoint, h.Epoch, ErrTransactionLost, err)
	}
	return fmt.Errorf("sink %d: resume %s: %w", s.subtask, h.TransactionalID, err)
}

// endTransactionRaw ends a transaction by producer id and epoch from the
// job's non-transactional client.
func (s *txnSink) endTransactionRaw(ctx context.Context, h TransactionHolder, commit bool) error {
	req := kmsg.NewPtrEndTxnRequest()
	req.TransactionalID = h.TransactionalID
	req.ProducerID = h.ProducerID
	req.ProducerEpoch = h.Epoch
	req.Commit = commit
	return whileConcurrent(ctx, func() error {
		resp, err := req.RequestWith(ctx, s.admin)
		if err != nil {
			return err
		}
		return kerr.ErrorForCode(resp.ErrorCode)
	})
}

// concurrentTxnBackoff is the wait before repeating a raw transaction
// request answered CONCURRENT_TRANSACTIONS.
const concurrentTxnBackoff = 20 * time.Millisecond

// whileConcurrent repeats send while the coordinator answers
// CONCURRENT_TRANSACTIONS: it is still completing the id's previous
// transaction. Kafka 4.4 answers so to an InitProducerID on an id with an
// open transaction (it aborts it first) and to an EndTxn while the
// markers of the last one are being written; kgo retries that for its own
// requests, not for raw ones. kfake never does (fidelity suite, probes
// init-aborts-ongoing and endtxn-retry-after-lost-answer).
func whileConcurrent(ctx context.Context, send func() error) error {
	for {
		err := send()
		if !errors.Is(err, kerr.ConcurrentTransactions) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last answer: %w)", ctx.Err(), err)
		case <-time.After(concurrentTxnBackoff):
		}
	}
}

// commitOffsetsInTransaction adds the source offsets (next offset to read
// = last emitted + 1) to the open transaction: AddOffsetsToTxn, then
// TxnOffsetCommit as a "simple" member (no generation), KIP-447 style.
func (s *txnSink) commitOffsetsInTransaction(ctx context.Context, cur *openTxn, offsets []PartitionOffset) error {
	pid, epoch, err := cur.client.ProducerID(ctx)
	if err != nil {
		return fmt.Errorf("sink %d: producer id: %w", s.subtask, err)
	}
	txnID := cur.txnID
	add := kmsg.NewPtrAddOffsetsToTxnRequest()
	add.TransactionalID, add.ProducerID, add.ProducerEpoch, add.Group = txnID, pid, epoch, s.cfg.JobName
	addResp, err := add.RequestWith(ctx, cur.client)
	if err == nil {
		err = kerr.ErrorForCode(addResp.ErrorCode)
	}
	if err != nil {
		return fmt.Errorf("sink %d: add offsets to %s: %w", s.subtask, txnID, err)
	}
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch = txnID, s.cfg.JobName, pid, epoch
	req.Generation = -1
	t := kmsg.NewTxnOffsetCommitRequestTopic()
	t.Topic, t.TopicID = s.cfg.InputTopic, s.cfg.inputTopicID
	for _, po := range offsets {
		p := kmsg.NewTxnOffsetCommitRequestTopicPartition()
		p.Partition, p.Offset = po.Partition, po.Offset+1
		t.Partitions = append(t.Partitions, p)
	}
	req.Topics = []kmsg.TxnOffsetCommitRequestTopic{t}
	resp, err := req.RequestWith(ctx, cur.client)
	if err == nil {
		for _, rt := range resp.Topics {
			for _, rp := range rt.Partitions {
				if e := kerr.ErrorForCode(rp.ErrorCode); e != nil && err == nil {
					err = e
				}
			}
		}
	}
	if err != nil {
		return fmt.Errorf("sink %d: commit offsets in %s: %w", s.subtask, txnID, err)
	}
	s.deps.Observer.Observe(Event{Kind: "offsets-in-transaction", Subtask: s.subtask, TxnID: txnID, Detail: fmt.Sprintf("partitions=%d", len(offsets))})
	return nil
}

// initProducerID sends InitProducerID for a transactional id and returns
// the epoch it got: 0 for an id never used before.
func (s *txnSink) initProducerID(ctx context.Context, id string) (int16, error) {
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionalID = &id
	req.TransactionTimeoutMillis = int32(s.cfg.TransactionTimeout.Milliseconds())
	req.ProducerID, req.ProducerEpoch = -1, -1
	var epoch int16
	err := whileConcurrent(ctx, func() error {
		resp, err := req.RequestWith(ctx, s.admin)
		if err != nil {
			return err
		}
		epoch = resp.ProducerEpoch
		return kerr.ErrorForCode(resp.ErrorCode)
	})
	return epoch, err
}

// beginTransaction opens the next epoch's transaction on the next id. The
// producer is initialised now, not at its first record, so the ids used are
// contiguous even when a transaction stays empty.
func (s *txnSink) beginTransaction(ctx context.Context) error {
	if len(s.recycled) > 0 {
		// The bug: the committed producer begins the next transaction at
		// the epoch it has, with no InitProducerID.
		r := s.recycled[0]
		s.recycled = s.recycled[1:]
		if err := r.client.BeginTransaction(); err != nil {
			r.client.Close()
			return fmt.Errorf("sink %d: begin recycled %s: %w", s.subtask, s.transactionalID(s.prefix, r.id), err)
		}
		s.current = &openTxn{id: r.id, client: r.client}
		s.deps.Observer.Observe(Event{Kind: "begin-transaction", Subtask: s.subtask, TxnID: s.transactionalID(s.prefix, r.id), Detail: "recycled"})
		return nil
	}
	n := s.next[s.prefix]
	s.next[s.prefix]++
	id := s.transactionalID(s.prefix, n)
	if s.cfg.Protocol.PooledTransactionalIDs {
		var err error
		if id, err = s.takePooledID(); err != nil {
			return err
		}
	}
	opts := append(slices.Clone(s.cfg.ClientOpts),
		kgo.TransactionalID(id),
		kgo.TransactionTimeout(s.cfg.TransactionTimeout),
		kgo.ProducerLinger(0),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("sink %d: %w", s.subtask, err)
	}
	if _, _, err := cl.ProducerID(ctx); err != nil {
		cl.Close()
		return fmt.Errorf("sink %d: init %s: %w", s.subtask, id, err)
	}
	if err := cl.BeginTransaction(); err != nil {
		cl.Close()
		return fmt.Errorf("sink %d: begin %s: %w", s.subtask, id, err)
	}
	s.current = &openTxn{id: n, txnID: id, client: cl}
	s.deps.Observer.Observe(Event{Kind: "begin-transaction", Subtask: s.subtask, TxnID: id})
	return nil
}

func (s *txnSink) write(ctx context.Context, r *kgo.Record) {
	cur := s.current
	cur.records++
	cur.client.Produce(ctx, r, func(_ *kgo.Record, err error) { cur.errs.record(err) })
}

// precommit flushes the open transaction, records it as pending under the
// checkpoint id and opens the next one.
func (s *txnSink) precommit(ctx context.Context, checkpoint int64, offsets []PartitionOffset) ([]TransactionHolder, map[int]int64, error) {
	cur := s.current
	if len(offsets) > 0 {
		if err := s.commitOffsetsInTransaction(ctx, cur, offsets); err != nil {
			return nil, nil, err
		}
	}
	if err := cur.client.Flush(ctx); err != nil {
		return nil, nil, fmt.Errorf("sink %d: flush: %w", s.subtask, err)
	}
	if err := cur.errs.take(); err != nil && !s.cfg.Protocol.Has(BugSwallowSendError) {
		return nil, nil, fmt.Errorf("sink %d: send: %w", s.subtask, err)
	}
	txnID := cur.txnID
	alreadyPending := slices.ContainsFunc(s.pending, func(p pendingTxn) bool { return p.client == cur.client })
	if cur.records == 0 && len(offsets) == 0 && !s.cfg.Protocol.Has(BugCommitEmptyTransaction) {
		// Nothing to commit: end the empty transaction now (kgo sends no
		// EndTxn for it) and keep nothing pending.
		if err := cur.client.EndTransaction(ctx, kgo.TryCommit); err != nil {
			return nil, nil, fmt.Errorf("sink %d: end empty %s: %w", s.subtask, txnID, err)
		}
		cur.client.Close()
		s.current = nil // over: a pooled id is free again
	} else {
		pid, epoch, err := cur.client.ProducerID(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("sink %d: producer id of %s: %w", s.subtask, txnID, err)
		}
		h := TransactionHolder{Checkpoint: checkpoint, TransactionalID: txnID, Owner: s.prefix, ProducerID: pid, Epoch: epoch}
		s.pending = append(s.pending, pendingTxn{holder: h, client: cur.client,
			empty: cur.records == 0 && len(offsets) == 0, rawCommit: cur.records == 0 && len(offsets) > 0})
		s.deps.Observer.Observe(Event{Kind: "precommit", Subtask: s.subtask, Checkpoint: checkpoint,
			TxnID: txnID, Epoch: epoch, Detail: fmt.Sprintf("records=%d", cur.records)})
		if s.cfg.Protocol.Has(BugCommitOnSnapshot) {
			if err := s.commit(ctx, checkpoint); err != nil {
				return nil, nil, err
			}
		}
	}
	holders := make([]TransactionHolder, 0, len(s.pending))
	ids := make([]string, 0, len(s.pending))
	for _, p := range s.pending {
		holders = append(holders, p.holder)
		ids = append(ids, p.holder.TransactionalID)
	}
	s.snapshotIDs[checkpoint] = ids
	if s.cfg.Protocol.Has(BugTxnAcrossCheckpoints) && cur.records > 0 || alreadyPending {
		// The bug: keep writing into the pre-committed transaction.
		return holders, s.nextAfter(cur.id), nil
	}
	if s.current == cur || s.current == nil {
		s.alignIDs(checkpoint)
		if err := s.beginTransaction(ctx); err != nil {
			return nil, nil, err
		}
	} // else commit-on-snapshot: committing the open transaction began the next
	// The transaction just begun is the first a restore from this
	// checkpoint may find lingering (a recycled one's id is older: the
	// state keeps the next new id).
	if s.cfg.Protocol.Has(BugRecycledProducer) {
		return holders, s.nextAfter(max(s.current.id, s.next[s.prefix])), nil
	}
	return holders, s.nextAfter(s.current.id), nil
}

// nextAfter is the state's next-id map with the own range at id.
func (s *txnSink) nextAfter(id int64) map[int]int64 {
	next := make(map[int]int64, len(s.next))
	for q, n := range s.next {
		next[q] = n
	}
	next[s.prefix] = id
	return next
}

// commit commits every pending transaction with checkpoint id ≤ checkpoint:
// a notification can be skipped, so never only the latest.
func (s *txnSink) commit(ctx context.Context, checkpoint int64) error {
	if ids, ok := s.snapshotIDs[checkpoint]; ok {
		// Checkpoint is complete: a restore now resumes what it references.
		s.restorable = make(map[string]bool, len(ids))
		for _, id := range ids {
			s.restorable[id] = true
		}
	}
	for id := range s.snapshotIDs {
		if id <= checkpoint {
			delete(s.snapshotIDs, id)
		}
	}
	if s.cfg.Protocol.Has(BugCommitLatestOnly) {
		// The bug: older pending transactions are taken as superseded and
		// their producers closed, which leaves the transactions open.
		s.pending = slices.DeleteFunc(s.pending, func(p pendingTxn) bool {
			if p.holder.Checkpoint < checkpoint {
				dropClient(p.client)
				return true
			}
			return false
		})
	}
	ignoreFailures := s.cfg.Protocol.Has(BugIgnoreCommitFailure) || s.cfg.Protocol.Has(BugShortTxnTimeout)
	ended := map[*kgo.Client]bool{}
	for len(s.pending) > 0 && s.pending[0].holder.Checkpoint <= checkpoint {
		p := s.pending[0]
		if len(ended) > 0 && s.deps.Crasher.ShouldCrash(CrashSite{Point: CrashMidCommit, Checkpoint: checkpoint, Subtask: s.subtask}) {
			return crashErr(CrashSite{Point: CrashMidCommit, Checkpoint: checkpoint, Subtask: s.subtask})
		}
		kind := "commit"
		if s.cfg.Protocol.Has(BugCommitEmptyTransaction) && p.empty {
			// The bug: the committer resumes every pending transaction by
			// producer id and epoch, the empty one too, and fails the job
			// when the broker answers INVALID_TXN_STATE.
			if err := s.resumeTransaction(ctx, p.holder); err != nil {
				return err
			}
			p.client.Close()
			s.pending = s.pending[1:]
			continue
		}
		if p.rawCommit {
			if err := s.endTransactionRaw(ctx, p.holder, true); err != nil {
				return fmt.Errorf("sink %d: commit %s (checkpoint %d): %w", s.subtask, p.holder.TransactionalID, p.holder.Checkpoint, err)
			}
			s.deps.Observer.Observe(Event{Kind: "commit", Subtask: s.subtask, Checkpoint: p.holder.Checkpoint,
				TxnID: p.holder.TransactionalID, Epoch: p.holder.Epoch})
			p.client.Close()
			s.pending = s.pending[1:]
			continue
		}
		if !ended[p.client] {
			err := p.client.Flush(ctx) // a no-op unless the transaction is still written to (txn-across-checkpoints)
			if err == nil {
				err = p.client.EndTransaction(ctx, kgo.TryCommit)
			}
			if err != nil {
				if !ignoreFailures {
					return fmt.Errorf("sink %d: commit %s (checkpoint %d): %w", s.subtask, p.holder.TransactionalID, p.holder.Checkpoint, err)
				}
				// The bug: log, reset the producer and carry on.
				kind = "commit-failure-ignored"
				_ = p.client.EndTransaction(ctx, kgo.TryAbort)
			}
			ended[p.client] = true
			switch {
			case s.current != nil && p.client == s.current.client:
			case s.cfg.Protocol.Has(BugRecycledProducer) && kind == "commit":
				s.recycled = append(s.recycled, &openTxn{id: s.idOf(p.holder.TransactionalID), client: p.client})
			default:
				p.client.Close() // its transaction is over; the id is never used again
			}
		}
		s.deps.Observer.Observe(Event{Kind: kind, Subtask: s.subtask, Checkpoint: p.holder.Checkpoint,
			TxnID: p.holder.TransactionalID, Epoch: p.holder.Epoch})
		s.pending = s.pending[1:]
	}
	if s.current != nil && ended[s.current.client] {
		// Only with txn-across-checkpoints: the open transaction was the
		// one just committed.
		s.current.client.Close()
		s.current = nil
		if err := s.beginTransaction(ctx); err != nil {
			return err
		}
	}
	return s.abortZombieTransactions(ctx)
}

// aborted is notifyCheckpointAborted. The correct sink does nothing (Flink's
// TwoPhaseCommitSinkFunction does not override it): the aborted
// checkpoint's transaction stays pending and the next completed checkpoint,
// whose source offsets cover its records, commits it. A later checkpoint's
// snapshot may already reference it, too.
func (s *txnSink) aborted(ctx context.Context, checkpoint int64) error {
	delete(s.snapshotIDs, checkpoint)
	if !s.cfg.Protocol.Has(BugAbortOnCheckpointAborted) {
		return nil
	}
	i := slices.IndexFunc(s.pending, func(p pendingTxn) bool { return p.holder.Checkpoint == checkpoint })
	if i < 0 || s.current != nil && s.pending[i].client == s.current.client {
		return nil
	}
	// The bug: the transaction is taken for the aborted checkpoint's alone.
	p := s.pending[i]
	s.pending = slices.Delete(s.pending, i, i+1)
	if p.rawCommit {
		_ = s.endTransactionRaw(ctx, p.holder, false)
	} else {
		_ = p.client.EndTransaction(ctx, kgo.TryAbort)
	}
	p.client.Close()
	s.deps.Observer.Observe(Event{Kind: "abort-transaction", Subtask: s.subtask, Checkpoint: checkpoint,
		TxnID: p.holder.TransactionalID, Epoch: p.holder.Epoch, Detail: "checkpoint aborted"})
	return nil
}

// finish refuses to stop with output that no checkpoint covers: it would
// be lost with the open transaction.
func (s *txnSink) finish(ctx context.Context) error {
	if s.current != nil && s.current.records > 0 {
		return fmt.Errorf("sink %d: stop with %d records in the open transaction %s; take a checkpoint first",
			s.subtask, s.current.records, s.current.txnID)
	}
	return s.abortZombieTransactions(ctx)
}

func (s *txnSink) abandon() {
	// Close sends nothing for an open transaction: it stays Ongoing on the
	// broker, exactly what a killed process leaves behind.
	for _, r := range s.recycled {
		dropClient(r.client)
	}
	for _, p := range s.pending {
		dropClient(p.client)
	}
	if s.current != nil && !slices.ContainsFunc(s.pending, func(p pendingTxn) bool { return p.client == s.current.client }) {
		dropClient(s.current.client)
	}
}
