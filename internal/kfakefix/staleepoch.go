// Package kfakefix corrects kfake where it disagrees with Apache Kafka in a
// way the harness meets, with kfake's own control functions: it holds no
// cluster and changes no kfake code. It must not import the engine or the
// simulator; they install it.
package kfakefix

import (
	"encoding/binary"
	"math"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// StaleEpochGuard answers a transactional Produce whose producer epoch is
// older than one the same producer id already used with
// INVALID_PRODUCER_EPOCH, before kfake sees it.
//
// Why: with KIP-890 (Produce v12+) kfake adds a partition to the producer's
// transaction implicitly and only then checks the batch's epoch. A fenced
// producer's late Produce (a zombie's, or a delayed request) so begins a
// transaction at the live producer's epoch, holding no data, while its batch
// is refused. Apache Kafka verifies the epoch with the transaction
// coordinator before anything is added (a stale one is refused and begins
// nothing). The phantom transaction is not harmless: after the live
// producer committed, a restore's resume-commit of that committed
// transaction (EndTxn at its epoch, which the broker must take as a retry)
// meets an ongoing transaction and is fenced, so the correct protocol
// reports a loud loss that Kafka would not cause (found with a zombie during
// a scale-in, two-phase-commit seed 6473372248695852811).
//
// Epochs of a producer id only grow, so a batch below an epoch that id
// already sent with is fenced on Kafka whatever happened since, and so is
// one at the epoch of an EndTxn v5+ (transaction version 2 bumps it). The
// guard learns epochs from the requests it sees (Produce, EndTxn,
// TxnOffsetCommit, AddOffsetsToTxn), not from InitProducerID answers,
// which a control function cannot read: a fenced producer's first request
// after a bump that no request of the new epoch followed yet still reaches
// kfake.
type StaleEpochGuard struct {
	mu     sync.Mutex
	epochs map[int64]int16 // producer id → highest epoch seen
}

// NewStaleEpochGuard returns a guard with no epochs seen. One guard serves a
// broker's whole life, restarts included (its epochs survive a restart).
func NewStaleEpochGuard() *StaleEpochGuard {
	return &StaleEpochGuard{epochs: map[int64]int16{}}
}

// Install adds the guard's control functions to c; they keep themselves and
// handle only stale Produce requests.
func (g *StaleEpochGuard) Install(c *kfake.Cluster) {
	observe := func(pid int64, epoch int16) {
		g.mu.Lock()
		defer g.mu.Unlock()
		if pid >= 0 && epoch > g.epochs[pid] {
			g.epochs[pid] = epoch
		}
	}
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		r := req.(*kmsg.ProduceRequest)
		if resp := g.produce(r); resp != nil {
			return resp, nil, true
		}
		return nil, nil, false
	})
	c.ControlKey(int16(kmsg.EndTxn), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		r := req.(*kmsg.EndTxnRequest)
		epoch := r.ProducerEpoch
		if r.Version >= 5 && epoch < math.MaxInt16 {
			// Transaction version 2 bumps the epoch at every EndTxn: no
			// Produce at the old epoch may follow (the client flushes
			// before it ends a transaction, and a failed EndTxn is
			// retried or aborted, never written to), so one that arrives
			// now is a delayed or a zombie's.
			epoch++
		}
		observe(r.ProducerID, epoch)
		return nil, nil, false
	})
	c.ControlKey(int16(kmsg.TxnOffsetCommit), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		r := req.(*kmsg.TxnOffsetCommitRequest)
		observe(r.ProducerID, r.ProducerEpoch)
		return nil, nil, false
	})
	c.ControlKey(int16(kmsg.AddOffsetsToTxn), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		r := req.(*kmsg.AddOffsetsToTxnRequest)
		observe(r.ProducerID, r.ProducerEpoch)
		return nil, nil, false
	})
}

// produce records the epochs of a Produce's transactional batches (v12+,
// where kfake adds partitions implicitly) and returns the refusal when
// every batch is stale, else nil (kfake handles it; a request that mixes
// stale and current batches is left to kfake, since no client sends one).
func (g *StaleEpochGuard) produce(r *kmsg.ProduceRequest) kmsg.Response {
	if r.Version < 12 {
		return nil // no implicit add before KIP-890: kfake checks the partition first
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	batches, stale := 0, 0
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			pid, epoch, ok := transactionalBatch(p.Records)
			if !ok {
				return nil
			}
			batches++
			if seen, known := g.epochs[pid]; known && epoch < seen {
				stale++
			} else if !known || epoch > seen {
				g.epochs[pid] = epoch
			}
		}
	}
	if batches == 0 || stale != batches {
		return nil
	}
	resp := r.ResponseKind().(*kmsg.ProduceResponse)
	resp.Version = r.Version
	for _, t := range r.Topics {
		rt := kmsg.NewProduceResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		for _, p := range t.Partitions {
			rp := kmsg.NewProduceResponseTopicPartition()
			rp.Partition = p.Partition
			rp.ErrorCode = kerr.InvalidProducerEpoch.Code
			rp.BaseOffset, rp.LogStartOffset = -1, -1
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

// transactionalBatch reads the producer id and epoch of the first record
// batch in records if it is a transactional v2 batch. The v2 header:
// base offset (8), length (4), leader epoch (4), magic (1), crc (4),
// attributes (2, bit 4 transactional), last offset delta (4), first and max
// timestamps (8 each), producer id (8), producer epoch (2).
func transactionalBatch(records []byte) (pid int64, epoch int16, ok bool) {
	const headerLen = 61
	if len(records) < headerLen || records[16] != 2 {
		return 0, 0, false
	}
	if binary.BigEndian.Uint16(records[21:23])&0x10 == 0 {
		return 0, 0, false
	}
	return int64(binary.BigEndian.Uint64(records[43:51])), int16(binary.BigEndian.Uint16(records[51:53])), true
}
