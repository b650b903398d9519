// Package copier is a hand-written kgo transactional copier, the way an
// application author writes one without GroupTransactSession: it polls its
// consumer group read_committed with rebalances blocked, copies a batch in
// one transaction, sends the batch's offsets into the same transaction
// (AddOffsetsToTxn, TxnOffsetCommit with the group's member id and
// generation, KIP-447), commits, and on an error aborts and rewinds to the
// batch's first offsets. Beside it are known-bad twins (twins.go), each one
// real mistake away from it.
//
// It imports only package app (and its lifecycle helper), kgo and kmsg.
package copier

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eosim/eosim/app"
	"github.com/eosim/eosim/examples/internal/lifecycle"
)

// The copier's named crash sites, in the order one batch reaches them.
const (
	CrashAfterProduce = "after-produce" // records flushed, offsets not yet in the transaction
	CrashBeforeCommit = "before-commit" // offsets in the transaction, EndTxn not sent
	CrashAfterCommit  = "after-commit"  // transaction committed
)

// CrashPoints lists the named sites.
func CrashPoints() []string { return []string{CrashAfterProduce, CrashBeforeCommit, CrashAfterCommit} }

// App is the correct copier.
func App() app.App { return build("copier", correct) }

// build returns the copier named name, with mistake m (correct for none).
func build(name string, m mistake) app.App {
	spec := app.Spec{
		InputTopic:      name + "-in",
		OutputTopic:     name + "-out",
		InputPartitions: 3,
		Group:           name,
		// Nil Transform: the oracle expects key and value copied.
	}
	return app.App{
		Name:        name,
		Spec:        spec,
		CrashPoints: CrashPoints(),
		Run: func(ctx context.Context, env app.Env) error {
			c := &copier{env: env, spec: spec, mistake: m, txnID: fmt.Sprintf("%s-%d", name, env.Instance())}
			return c.run(ctx)
		},
	}
}

type copier struct {
	env     app.Env
	spec    app.Spec
	mistake mistake
	txnID   string
	cl      *kgo.Client
	// topicID is the input topic's id, from the fetch responses.
	topicID [16]byte
}

// errUnconfirmed marks a commit whose outcome the client cannot know (kgo
// refuses a second TryCommit): only the group's committed offsets tell, so
// the process fails and its successor starts from them.
var errUnconfirmed = errors.New("copier: commit outcome unconfirmed")

func (c *copier) run(ctx context.Context) error {
	work, cancel := lifecycle.WorkContext(ctx)
	defer cancel()
	isolation := kgo.ReadCommitted()
	if c.mistake == readUncommitted {
		isolation = kgo.ReadUncommitted()
	}
	cl, err := kgo.NewClient(append(c.env.ClientOpts(),
		kgo.TransactionalID(c.txnID),
		kgo.ConsumerGroup(c.spec.Group),
		kgo.ConsumeTopics(c.spec.InputTopic),
		kgo.FetchIsolationLevel(isolation),
		kgo.RequireStableFetchOffsets(),
		kgo.DisableAutoCommit(),
		// A rebalance waits until the batch is committed or aborted, so
		// the generation the offsets are sent with is the one the batch
		// was polled in.
		kgo.BlockRebalanceOnPoll(),
		kgo.DefaultProduceTopic(c.spec.OutputTopic),
	)...)
	if err != nil {
		return fmt.Errorf("copier: new client: %w", err)
	}
	c.cl = cl
	// A process killed between a poll and AllowRebalance would leave its
	// client unclosable (kgo: Close hangs while a rebalance is blocked), and
	// the harness closes a killed process's clients. A kill ends this
	// goroutine with runtime.Goexit, which runs deferred calls; allowing a
	// rebalance sends nothing by itself.
	defer cl.AllowRebalance()
	for {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			cl.AllowRebalance()
			break
		}
		fetches.EachError(func(topic string, p int32, err error) {
			c.env.Logger().Warn("fetch error", "topic", topic, "partition", p, "err", err)
		})
		fetches.EachTopic(func(t kgo.FetchTopic) {
			if t.Topic == c.spec.InputTopic && t.TopicID != ([16]byte{}) {
				c.topicID = t.TopicID
			}
		})
		records := fetches.Records()
		if len(records) == 0 {
			cl.AllowRebalance()
			continue
		}
		err := c.copyBatch(work, records)
		cl.AllowRebalance()
		if err != nil {
			if !lifecycle.Killed(ctx) {
				cl.Close()
			}
			return err
		}
	}
	if lifecycle.Stopping(ctx) {
		cl.Close()
	}
	return lifecycle.Exit(ctx)
}

// copyBatch copies records in one transaction. A failure before the commit
// is aborted and rewound and is not an error; an unconfirmed commit or a
// failed abort is.
func (c *copier) copyBatch(ctx context.Context, records []*kgo.Record) error {
	cl := c.cl
	if c.mistake == offsetsBeforeProduce {
		if err := cl.CommitRecords(ctx, records...); err != nil {
			return fmt.Errorf("copier: commit offsets: %w", err)
		}
	}
	if err := cl.BeginTransaction(); err != nil {
		return fmt.Errorf("copier: begin: %w", err)
	}
	failed := c.produce(ctx, records)
	if failed == nil {
		c.env.CrashPoint(CrashAfterProduce)
		if c.mistake != offsetsOutsideTxn {
			failed = c.sendOffsets(ctx, records)
		}
		if failed != nil && c.mistake == commitDespiteOffsetsFailure {
			c.env.Logger().Warn("offsets not in the transaction; committing the output anyway", "err", failed)
			failed = nil
		}
	}
	if failed != nil {
		c.env.Logger().Info("aborting the batch", "err", failed)
		return c.abort(ctx, records)
	}
	c.env.CrashPoint(CrashBeforeCommit)
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		// kgo's documentation: retry an unconfirmed end with TryAbort.
		if abortErr := cl.EndTransaction(ctx, kgo.TryAbort); abortErr != nil {
			return fmt.Errorf("copier: abort after a failed commit (%w): %w", err, abortErr)
		}
		return fmt.Errorf("%w: %w", errUnconfirmed, err)
	}
	c.env.CrashPoint(CrashAfterCommit)
	if c.mistake == offsetsOutsideTxn {
		if err := cl.CommitRecords(ctx, records...); err != nil {
			return fmt.Errorf("copier: commit offsets: %w", err)
		}
	}
	return nil
}

// produce sends one output per record and flushes; it returns the first
// failure (the twin that commits after a failed flush forgets it).
func (c *copier) produce(ctx context.Context, records []*kgo.Record) error {
	sent := kgo.AbortingFirstErrPromise(c.cl)
	for _, r := range records {
		c.cl.Produce(ctx, &kgo.Record{Key: r.Key, Value: r.Value}, sent.Promise())
	}
	err := c.cl.Flush(ctx)
	if err == nil {
		// Only after a flush: a promise waits for its record's answer,
		// which a cut connection never delivers.
		err = sent.Err()
	}
	if c.mistake == commitAfterFailedFlush && err != nil {
		c.env.Logger().Warn("produce failed; committing anyway", "err", err)
		return nil
	}
	return err
}

// abort ends the transaction with an abort and rewinds the consumer to the
// batch's first offsets, so that the batch is copied again.
func (c *copier) abort(ctx context.Context, records []*kgo.Record) error {
	if err := c.cl.AbortBufferedRecords(ctx); err != nil {
		return fmt.Errorf("copier: abort buffered records: %w", err)
	}
	if err := c.cl.EndTransaction(ctx, kgo.TryAbort); err != nil {
		return fmt.Errorf("copier: abort: %w", err)
	}
	if c.mistake == noRewindAfterAbort {
		return nil
	}
	first := map[int32]kgo.EpochOffset{}
	for _, r := range records {
		if _, ok := first[r.Partition]; !ok {
			first[r.Partition] = kgo.EpochOffset{Epoch: r.LeaderEpoch, Offset: r.Offset}
		}
	}
	c.cl.SetOffsets(map[string]map[int32]kgo.EpochOffset{c.spec.InputTopic: first})
	return nil
}

// sendOffsets puts the offsets after records into the open transaction for
// the group, fenced by the group generation the batch was polled in.
func (c *copier) sendOffsets(ctx context.Context, records []*kgo.Record) error {
	id, epoch, err := c.cl.ProducerID(ctx)
	if err != nil {
		return fmt.Errorf("copier: producer id: %w", err)
	}
	add := kmsg.NewPtrAddOffsetsToTxnRequest()
	add.TransactionalID, add.ProducerID, add.ProducerEpoch, add.Group = c.txnID, id, epoch, c.spec.Group
	addResp, err := add.RequestWith(ctx, c.cl)
	if err != nil {
		return fmt.Errorf("copier: add offsets to txn: %w", err)
	}
	if err := kerr.ErrorForCode(addResp.ErrorCode); err != nil {
		return fmt.Errorf("copier: add offsets to txn: %w", err)
	}

	next := map[int32]*kgo.Record{}
	var order []int32
	for _, r := range records {
		if _, ok := next[r.Partition]; !ok {
			order = append(order, r.Partition)
		}
		next[r.Partition] = r
	}
	member, generation := c.cl.GroupMetadata()
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch = c.txnID, c.spec.Group, id, epoch
	req.Generation, req.MemberID = generation, member
	topic := kmsg.NewTxnOffsetCommitRequestTopic()
	// TxnOffsetCommit v6+ names topics by id (KIP-1319); a fetched record
	// response carries its topic's id.
	topic.Topic, topic.TopicID = c.spec.InputTopic, c.topicID
	for _, p := range order {
		part := kmsg.NewTxnOffsetCommitRequestTopicPartition()
		part.Partition, part.Offset, part.LeaderEpoch = p, next[p].Offset+1, next[p].LeaderEpoch
		topic.Partitions = append(topic.Partitions, part)
	}
	req.Topics = []kmsg.TxnOffsetCommitRequestTopic{topic}
	resp, err := req.RequestWith(ctx, c.cl)
	if err != nil {
		return fmt.Errorf("copier: txn offset commit: %w", err)
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return fmt.Errorf("copier: txn offset commit %s/%d: %w", t.Topic, p.Partition, err)
			}
		}
	}
	return nil
}
