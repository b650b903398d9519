package engine

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

// sink is one subtask of the Kafka sink. The two-phase-commit sink follows
// Flink's TwoPhaseCommitSinkFunction; the weaker guarantees share the shape.
type sink interface {
	// write sends one record as part of the current epoch.
	write(ctx context.Context, r *kgo.Record)
	// precommit is the sink's snapshotState: it returns the pending
	// transactions and, per transactional-id range it is responsible for,
	// the first id that may be lingering.
	// offsets, when set, are source offsets to commit inside the
	// transaction (offsets-in-txn).
	precommit(ctx context.Context, checkpoint int64, offsets []PartitionOffset) (pending []TransactionHolder, next map[int]int64, err error)
	// commit is notifyCheckpointComplete: commit everything pending up to
	// and including checkpoint.
	commit(ctx context.Context, checkpoint int64) error
	// aborted is notifyCheckpointAborted: checkpoint was aborted.
	aborted(ctx context.Context, checkpoint int64) error
	// finish flushes what an orderly stop must not lose.
	finish(ctx context.Context) error
	// abandon drops every client without ending anything: process death.
	abandon()
	// idPrefixes are the transactional-id prefixes the sink's state carries
	// on (see SinkSnapshot.TransactionalIDPrefixes).
	idPrefixes() []string
}

// sinkState is the sink's part of one subtask's restored checkpoint state.
type sinkState struct {
	pending []TransactionHolder
	// next maps each id range the subtask is responsible for to the first
	// id that may be lingering.
	next map[int]int64
	// prefixes the state's transactions were written under.
	prefixes []string
	// checkpointPending are the ids every subtask of the restored
	// checkpoint holds pending (only the abort-prefix-lingering variant
	// reads them).
	checkpointPending []string
	// checkpoint is the restored checkpoint's id (0: none); skipped
	// checkpoint ids after it were triggered by an attempt that may still
	// be running, cut off (a zombie): the ids it may begin transactions on.
	checkpoint, skipped int64
}

// transactional reports whether the state was written by a transactional
// sink: it may then leave pending and lingering transactions behind.
func (st sinkState) transactional() bool {
	return len(st.pending) > 0 || len(st.next) > 0 || len(st.prefixes) > 0
}

// sendErrors collects errors of asynchronous sends; the producer's callback
// runs on a client goroutine.
type sendErrors struct {
	mu    sync.Mutex
	first error
}

func (e *sendErrors) record(err error) {
	if err == nil {
		return
	}
	e.mu.Lock()
	if e.first == nil {
		e.first = err
	}
	e.mu.Unlock()
}

func (e *sendErrors) take() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	err := e.first
	e.first = nil
	return err
}

func openSink(ctx context.Context, cfg *Config, subtask int, admin *kgo.Client, restored sinkState, fromCheckpoint bool, deps Deps) (sink, error) {
	switch cfg.Protocol.Guarantee {
	case TwoPhaseCommit:
		return openTxnSink(ctx, cfg, subtask, admin, restored, fromCheckpoint, deps)
	case AtLeastOnce, FireAndForget:
		if restored.transactional() || cfg.RanTransactional {
			// A job switched from exactly-once: the restored pending
			// transactions belong to completed checkpoints and must still
			// be committed, and lingering ones aborted, before the job
			// writes without transactions (Flink's
			// testMigrateFromAtExactlyOnceToAtLeastOnce).
			if err := recoverTransactions(ctx, cfg, subtask, admin, restored, fromCheckpoint, deps); err != nil {
				return nil, err
			}
		}
		return openPlainSink(cfg, subtask, restored)
	}
	return nil, fmt.Errorf("sink: unknown guarantee %d", cfg.Protocol.Guarantee)
}

// plainSink is the at-least-once sink (flush at snapshot) and, without the
// flush and with acks=0, the fire-and-forget one.
//
// The producers send at once (no linger): a kgo linger timer that expires at
// the very instant a simulator decides to crash makes what reached the
// broker depend on goroutine order. The fire-and-forget sink batches in its
// own memory instead, so what a dead process loses is exactly its batch.
type plainSink struct {
	cfg *Config
	// carried is the transactional state restored from an exactly-once
	// job, handed on unchanged so that a switch back still knows its ids.
	carried sinkState
	client  *kgo.Client
	errs    sendErrors
	batch   []*kgo.Record // fire-and-forget only: records not yet handed to the client
}

// fireAndForgetBatch is how many records the fire-and-forget sink collects
// before it sends them.
const fireAndForgetBatch = 16

func openPlainSink(cfg *Config, subtask int, restored sinkState) (*plainSink, error) {
	opts := slices.Clone(cfg.ClientOpts)
	opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))
	if cfg.Protocol.Guarantee == FireAndForget {
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("sink %d: %w", subtask, err)
	}
	carried := sinkState{next: restored.next, prefixes: restored.prefixes}
	return &plainSink{cfg: cfg, client: cl, carried: carried}, nil
}

func (s *plainSink) write(ctx context.Context, r *kgo.Record) {
	if s.cfg.Protocol.Guarantee == FireAndForget {
		s.batch = append(s.batch, r)
		if len(s.batch) >= fireAndForgetBatch {
			s.sendBatch(ctx)
		}
		return
	}
	s.client.Produce(ctx, r, func(_ *kgo.Record, err error) { s.errs.record(err) })
}

func (s *plainSink) sendBatch(ctx context.Context) {
	for _, r := range s.batch {
		s.client.Produce(ctx, r, nil)
	}
	s.batch = s.batch[:0]
}

func (s *plainSink) precommit(ctx context.Context, _ int64, _ []PartitionOffset) ([]TransactionHolder, map[int]int64, error) {
	if s.cfg.Protocol.Guarantee == FireAndForget {
		return nil, s.carried.next, nil
	}
	if err := s.client.Flush(ctx); err != nil {
		return nil, nil, fmt.Errorf("sink flush: %w", err)
	}
	if err := s.errs.take(); err != nil {
		return nil, nil, fmt.Errorf("sink send: %w", err)
	}
	return nil, s.carried.next, nil
}

func (s *plainSink) idPrefixes() []string { return s.carried.prefixes }

func (s *plainSink) commit(context.Context, int64) error { return nil }

func (s *plainSink) aborted(context.Context, int64) error { return nil }

func (s *plainSink) finish(ctx context.Context) error {
	s.sendBatch(ctx)
	if err := s.client.Flush(ctx); err != nil {
		return fmt.Errorf("sink flush: %w", err)
	}
	return s.errs.take()
}

func (s *plainSink) abandon() { dropClient(s.client) }

// dropClient is what process death does to a producer: records still
// buffered in memory vanish (never sent), then the connection goes away.
// Without the explicit drop, whether a lingering batch escapes while the
// client closes would depend on goroutine timing.
func dropClient(cl *kgo.Client) {
	cl.UnsafeAbortBufferedRecords()
	cl.Close()
}
