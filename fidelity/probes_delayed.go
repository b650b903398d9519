package fidelity

import (
	"context"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// delayedProbes are Jepsen's delayed requests (Bufstream 0.1.0, the Kafka
// transaction protocol) and KIP-890's defence against them: a request of
// one transaction that arrives after the producer began its next one.
// The simulator's delayed-endtxn and delayed-produce faults hold such a
// request in the network; here it is simply sent late, raw, with the
// producer id and epoch of the transaction it belonged to.
var delayedProbes = []Probe{
	{Name: "delayed-endtxn-next-txn-tv1", ReliedOn: "delayed-endtxn and the recycled-producer-pre-kip-890 known-bad: below KIP-890 a late commit EndTxn of a reused producer's last transaction commits its next one",
		Run: func(ctx context.Context, b []string) Outcome { return probeDelayedEndTxn(ctx, b, true) }},
	{Name: "delayed-endtxn-next-txn-tv2", ReliedOn: "the same with KIP-890 versions: the epoch bumped at the commit fences the late EndTxn",
		Run: func(ctx context.Context, b []string) Outcome { return probeDelayedEndTxn(ctx, b, false) }},
	{Name: "delayed-produce-stale-epoch-tv2", ReliedOn: "delayed-produce: a late transactional Produce v12+ at the epoch before the commit's bump is refused and joins no transaction",
		Run: probeDelayedProduce},
}

// probeDelayedEndTxn: a producer commits "a", is reused for a next
// transaction and writes "b"; the first commit's EndTxn then arrives late.
func probeDelayedEndTxn(ctx context.Context, brokers []string, tv1 bool) Outcome {
	return run(ctx, brokers, fmt.Sprintf("delayed-endtxn-%v", tv1), func(s *session) {
		topic, id, cl, pid, epoch := committedA(s, tv1)
		s.must(cl.BeginTransaction(), "begin the next")
		s.note("next transaction writes b", "%s", s.produce(cl, topic, 0, "b"))
		s.note("late EndTxn commit", "%s", s.endTxn(tv1, id, pid, epoch, true))
		st := s.settled(id)
		s.note("after", "state %s, visible %s", phase(st.state), s.visible(topic))
		s.note("next transaction writes c", "%s", s.produce(cl, topic, 0, "c"))
	})
}

// probeDelayedProduce: a producer commits "a" (EndTxn v5 bumps the
// epoch); then a Produce of "late" at the old epoch and the next sequence
// arrives.
func probeDelayedProduce(ctx context.Context, brokers []string) Outcome {
	return run(ctx, brokers, "delayed-produce", func(s *session) {
		topic, id, _, pid, epoch := committedA(s, false)

		req := kmsg.NewPtrProduceRequest()
		req.TransactionID, req.Acks, req.TimeoutMillis = &id, -1, 5000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = txnBatch(pid, epoch, 1, "late")
		rt.Partitions = []kmsg.ProduceRequestTopicPartition{rp}
		req.Topics = []kmsg.ProduceRequestTopic{rt}
		// v12: the topic by name (v13 names it by id).
		v12 := kversion.Stable()
		v12.SetMaxKeyVersion(int16(kmsg.Produce), 12)
		resp, err := req.RequestWith(s.ctx, s.client(false, kgo.MaxVersions(v12)))
		answer := errName(err)
		if err == nil {
			answer = codeName(resp.Topics[0].Partitions[0].ErrorCode)
		}
		s.note("late Produce at the old epoch", "%s", answer)
		st := s.describe(id)
		s.note("after", "state %s, %d partitions in it, visible %s", phase(st.state), st.partitions, s.visible(topic))
	})
}

// committedA commits "a" in a transaction of a new producer and returns
// the topic, the transactional id, the producer and the producer id and
// epoch the transaction had.
func committedA(s *session, tv1 bool) (topic, id string, cl *kgo.Client, pid int64, epoch int16) {
	topic = s.topic("out", 1)
	id = s.name("tx")
	cl = s.producer(tv1, id, 0)
	s.must(errOf(s.produce(cl, topic, 0, "a")), "produce")
	pid, epoch = s.pidOf(cl)
	s.must(cl.EndTransaction(s.ctx, true), "commit")
	s.settled(id)
	return topic, id, cl, pid, epoch
}

// txnBatch encodes a transactional record batch of one value.
func txnBatch(pid int64, epoch int16, seq int32, value string) []byte {
	rec := kmsg.Record{Value: []byte(value)}
	rec.Length = int32(len(rec.AppendTo(nil)) - 1) // the varint of 0 is one byte
	now := time.Now().UnixMilli()
	b := kmsg.RecordBatch{Magic: 2, Attributes: 0x0010, ProducerID: pid, ProducerEpoch: epoch,
		FirstSequence: seq, NumRecords: 1, Records: rec.AppendTo(nil), PartitionLeaderEpoch: -1,
		FirstTimestamp: now, MaxTimestamp: now}
	raw := b.AppendTo(nil)
	// Length counts the bytes after itself; the CRC (Castagnoli) covers
	// everything from the attributes on.
	b.Length = int32(len(raw) - 12)
	raw = b.AppendTo(nil)
	b.CRC = int32(crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b.AppendTo(nil)
}
