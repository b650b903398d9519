package fidelity

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// session is one probe run: its clients, its names and what it recorded.
// Topic and transactional-id names carry a random suffix so that probes
// never meet each other's state on a long-lived broker; names never reach
// the outcome.
type session struct {
	ctx     context.Context
	brokers []string
	suffix  string
	steps   []string
	err     error
	clients []*kgo.Client
}

func newSession(ctx context.Context, brokers []string, name string) *session {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return &session{ctx: ctx, brokers: brokers, suffix: name + "-" + hex.EncodeToString(b)}
}

func (s *session) close() {
	for _, cl := range s.clients {
		cl.Close()
	}
}

// note records one step.
func (s *session) note(step, format string, args ...any) {
	s.steps = append(s.steps, step+": "+fmt.Sprintf(format, args...))
}

// name returns a unique topic or transactional-id name for this session.
func (s *session) name(what string) string { return "fid-" + s.suffix + "-" + what }

// tv1Versions caps a client to transaction version 1: EndTxn v4, Produce
// v11, TxnOffsetCommit v4 (no KIP-890 part 2 epoch bump, explicit
// AddPartitionsToTxn).
func tv1Versions() *kversion.Versions {
	v := kversion.Stable()
	v.SetMaxKeyVersion(int16(kmsg.EndTxn), 4)
	v.SetMaxKeyVersion(int16(kmsg.Produce), 11)
	v.SetMaxKeyVersion(int16(kmsg.TxnOffsetCommit), 4)
	return v
}

// client returns a new client on the session's brokers.
func (s *session) client(tv1 bool, opts ...kgo.Opt) *kgo.Client {
	all := []kgo.Opt{kgo.SeedBrokers(s.brokers...), kgo.DisableClientMetrics(),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0),
		kgo.RetryTimeout(5 * time.Second)}
	if tv1 {
		all = append(all, kgo.MaxVersions(tv1Versions()))
	}
	cl, err := kgo.NewClient(append(all, opts...)...)
	s.must(err, "new client")
	s.clients = append(s.clients, cl)
	return cl
}

// producer returns a transactional client for id, initialised, with a
// transaction begun.
func (s *session) producer(tv1 bool, id string, timeout time.Duration) *kgo.Client {
	if timeout == 0 {
		timeout = time.Minute
	}
	cl := s.client(tv1, kgo.TransactionalID(id), kgo.TransactionTimeout(timeout))
	_, _, err := cl.ProducerID(s.ctx)
	s.must(err, "init "+id)
	s.must(cl.BeginTransaction(), "begin "+id)
	return cl
}

// pidOf returns the client's producer id and epoch.
func (s *session) pidOf(cl *kgo.Client) (int64, int16) {
	pid, epoch, err := cl.ProducerID(s.ctx)
	s.must(err, "producer id")
	return pid, epoch
}

// topic creates a topic with the given partitions and returns its name.
func (s *session) topic(what string, partitions int32) string {
	name := s.name(what)
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, 1
	req.Topics = []kmsg.CreateTopicsRequestTopic{rt}
	req.TimeoutMillis = 5000
	resp, err := req.RequestWith(s.ctx, s.client(false))
	if err == nil {
		err = kerr.ErrorForCode(resp.Topics[0].ErrorCode)
	}
	s.must(err, "create topic")
	// Wait until the topic is served (a real broker answers metadata
	// before its leader is ready).
	s.waitFor("topic leader", func() bool {
		m := kmsg.NewPtrMetadataRequest()
		mt := kmsg.NewMetadataRequestTopic()
		mt.Topic = kmsg.StringPtr(name)
		m.Topics = []kmsg.MetadataRequestTopic{mt}
		r, err := m.RequestWith(s.ctx, s.client(false))
		if err != nil || len(r.Topics) != 1 || r.Topics[0].ErrorCode != 0 || len(r.Topics[0].Partitions) != int(partitions) {
			return false
		}
		for _, p := range r.Topics[0].Partitions {
			if p.ErrorCode != 0 || p.Leader < 0 {
				return false
			}
		}
		return true
	})
	// And until its leader serves it: right after creation Kafka can still
	// answer NOT_LEADER_OR_FOLLOWER, and a transactional produce that kgo
	// retries after that was seen failing with INVALID_PRODUCER_ID_MAPPING
	// (Kafka 4.4, transaction version 2).
	s.waitFor("topic served", func() bool { return s.tryEndOffset(name, 0) == nil })
	return name
}

// waitFor polls cond every 50 ms until it holds; running out of the
// probe's deadline is a harness failure.
func (s *session) waitFor(what string, cond func() bool) {
	for !cond() {
		select {
		case <-s.ctx.Done():
			s.must(s.ctx.Err(), "waiting for "+what)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// produce writes values to topic/partition through cl and returns the
// outcome by name.
func (s *session) produce(cl *kgo.Client, topic string, partition int32, values ...string) string {
	recs := make([]*kgo.Record, 0, len(values))
	for _, v := range values {
		recs = append(recs, &kgo.Record{Topic: topic, Partition: partition, Value: []byte(v)})
	}
	ctx, cancel := context.WithTimeout(s.ctx, 8*time.Second)
	defer cancel()
	return errName(cl.ProduceSync(ctx, recs...).FirstErr())
}

var digits = regexp.MustCompile(`[0-9]+`)

// errName names an error: OK, a Kafka error code's name, TIMEOUT, or the
// client's message with numbers masked (they carry ids).
func errName(err error) string {
	var ke *kerr.Error
	switch {
	case err == nil:
		return "OK"
	case errors.As(err, &ke):
		return ke.Message
	case errors.Is(err, context.DeadlineExceeded):
		return "TIMEOUT"
	}
	msg := digits.ReplaceAllString(err.Error(), "N")
	if len(msg) > 80 {
		msg = msg[:80] + "…"
	}
	return "client error (" + msg + ")"
}

// codeName names a Kafka error code.
func codeName(code int16) string { return errName(kerr.ErrorForCode(code)) }

// endTxn sends a raw EndTxn for (id, pid, epoch) from a client without a
// transactional id, as a committer that restores a transaction holder
// does, capped to EndTxn v4 when tv1.
func (s *session) endTxn(tv1 bool, id string, pid int64, epoch int16, commit bool) string {
	req := kmsg.NewPtrEndTxnRequest()
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = id, pid, epoch, commit
	resp, err := req.RequestWith(s.ctx, s.client(tv1))
	if err != nil {
		return errName(err)
	}
	return codeName(resp.ErrorCode)
}

// initPID sends a raw InitProducerID for id. It retries while the broker
// answers CONCURRENT_TRANSACTIONS (Kafka does so while it aborts the id's
// open transaction) and reports the first answer and the last.
func (s *session) initPID(id string) (first, last string, pid int64, epoch int16) {
	for try := 0; ; try++ {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.TransactionalID = kmsg.StringPtr(id)
		req.TransactionTimeoutMillis = 60000
		req.ProducerID, req.ProducerEpoch = -1, -1
		resp, err := req.RequestWith(s.ctx, s.client(false))
		s.must(err, "init producer id")
		name := codeName(resp.ErrorCode)
		if try == 0 {
			first = name
		}
		if !retriableInit(resp.ErrorCode) || s.ctx.Err() != nil {
			return first, name, resp.ProducerID, resp.ProducerEpoch
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// retriableInit: answers to InitProducerID that mean "ask again": the
// coordinator is still aborting the id's open transaction, or (on a broker
// that has just started) still loading its transaction log.
func retriableInit(code int16) bool {
	switch code {
	case kerr.ConcurrentTransactions.Code, kerr.CoordinatorLoadInProgress.Code,
		kerr.CoordinatorNotAvailable.Code, kerr.NotCoordinator.Code:
		return true
	}
	return false
}

// txnState is what DescribeTransactions says about an id.
type txnState struct {
	code       string
	state      string
	pid        int64
	epoch      int16
	partitions int
}

func (s *session) describe(id string) txnState {
	req := kmsg.NewPtrDescribeTransactionsRequest()
	req.TransactionalIDs = []string{id}
	resp, err := req.RequestWith(s.ctx, s.client(false))
	s.must(err, "describe transactions")
	ts := resp.TransactionStates[0]
	n := 0
	for _, t := range ts.Topics {
		n += len(t.Partitions)
	}
	return txnState{code: codeName(ts.ErrorCode), state: ts.State, pid: ts.ProducerID, epoch: ts.ProducerEpoch, partitions: n}
}

// settled waits until id's transaction is no longer in a Prepare state
// (Kafka writes markers after answering EndTxn) and returns its state.
// Probes that reuse a producer after EndTxn wait for this first: under
// transaction version 2 a produce of the next transaction sent while Kafka
// still wrote the markers was seen failing with
// INVALID_PRODUCER_ID_MAPPING on a loaded, freshly started broker (7 of 20
// producers in one run; docs/fidelity.md). The engine uses a new producer
// per transaction.
func (s *session) settled(id string) txnState {
	var st txnState
	s.waitFor("transaction of "+id+" to complete", func() bool {
		st = s.describe(id)
		return !strings.HasPrefix(st.state, "Prepare")
	})
	return st
}

// read returns the values of topic's partition 0 a reader with the given
// isolation sees, and the control records among them as "commit@N" /
// "abort@N". It reads up to the partition's end for that isolation.
func (s *session) read(topic string, committed bool) (values, control []string) {
	iso, lvl := kgo.ReadUncommitted(), int8(0)
	if committed {
		iso, lvl = kgo.ReadCommitted(), 1
	}
	end := s.endOffset(topic, lvl)
	if end == 0 {
		return nil, nil
	}
	cl := s.client(false, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}),
		kgo.FetchIsolationLevel(iso), kgo.KeepControlRecords(), kgo.FetchMaxWait(100*time.Millisecond))
	// A fetch that stops short of the end is a fact about the broker (seen
	// on kfake after a hard restart), not a probe failure.
	rctx, cancel := context.WithTimeout(s.ctx, readBound)
	defer cancel()
	for last := int64(-1); last < end-1; {
		fs := cl.PollFetches(rctx)
		if rctx.Err() != nil {
			s.must(s.ctx.Err(), fmt.Sprintf("reading %s to offset %d (at %d)", topic, end, last))
			return append(values, fmt.Sprintf("(fetch stuck before offset %d of %d)", last+1, end)), control
		}
		fs.EachRecord(func(r *kgo.Record) {
			last = max(last, r.Offset)
			if r.Attrs.IsControl() {
				kind := "abort"
				if len(r.Key) >= 4 && r.Key[3] == 1 {
					kind = "commit"
				}
				control = append(control, fmt.Sprintf("%s@%d", kind, r.Offset))
				return
			}
			values = append(values, string(r.Value))
		})
	}
	return values, control
}

// readBound bounds one read of a probe's topic.
const readBound = 10 * time.Second

// endOffset is partition 0's end: the high watermark (isolation 0) or
// the last stable offset (1).
func (s *session) endOffset(topic string, isolation int8) int64 {
	var end int64
	s.must(s.listOffset(topic, isolation, &end), "list offsets")
	return end
}

func (s *session) tryEndOffset(topic string, isolation int8) error {
	var end int64
	return s.listOffset(topic, isolation, &end)
}

func (s *session) listOffset(topic string, isolation int8, end *int64) error {
	req := kmsg.NewPtrListOffsetsRequest()
	req.IsolationLevel = isolation
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition, rp.Timestamp = 0, -1
	rt.Partitions = []kmsg.ListOffsetsRequestTopicPartition{rp}
	req.Topics = []kmsg.ListOffsetsRequestTopic{rt}
	resp, err := req.RequestWith(s.ctx, s.client(false))
	if err != nil {
		return err
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return fmt.Errorf("list offsets: malformed answer")
	}
	*end = resp.Topics[0].Partitions[0].Offset
	return kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode)
}

// phase folds a DescribeTransactions state into what eosim relies on:
// Ongoing, or ended. kfake reports an ended transaction as Empty, Kafka as
// CompleteCommit or CompleteAbort (see the describe-transactions probe,
// which keeps the raw names).
func phase(state string) string {
	switch state {
	case "Empty", "CompleteCommit", "CompleteAbort":
		return "ended"
	}
	return state
}

// visible renders what a read_committed reader sees.
func (s *session) visible(topic string) string {
	v, _ := s.read(topic, true)
	if len(v) == 0 {
		return "none"
	}
	return strings.Join(v, ",")
}

// rel renders epoch relative to base: "e", "e+1".
func rel(epoch, base int16) string {
	if epoch == base {
		return "e"
	}
	return fmt.Sprintf("e%+d", epoch-base)
}

func samePID(a, b int64) string {
	if a == b {
		return "same pid"
	}
	return "new pid"
}

func sortedJoin(xs []string) string {
	xs = slices.Clone(xs)
	slices.Sort(xs)
	return strings.Join(xs, ",")
}
