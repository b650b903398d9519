package fidelity

import (
	"context"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

var offsetProbes = []Probe{
	{Name: "txn-offset-commit-require-stable", ReliedOn: "offsets-in-txn: offsets committed in a transaction (AddOffsetsToTxn + TxnOffsetCommit, generation -1) are UNSTABLE_OFFSET_COMMIT to a RequireStable fetch until it ends",
		Run: probeTxnOffsetCommit},
}

// topicID returns a topic's id from metadata (OffsetFetch v10+ names
// topics by id).
func (s *session) topicID(topic string) [16]byte {
	m := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	m.Topics = []kmsg.MetadataRequestTopic{mt}
	r, err := m.RequestWith(s.ctx, s.client(false))
	s.must(err, "metadata")
	return r.Topics[0].TopicID
}

// fetchOffset fetches group's committed offset of topic/0 as the engine's
// restore does (both request layouts) and renders "CODE offset N".
func (s *session) fetchOffset(group, topic string, stable bool) string {
	req := kmsg.NewPtrOffsetFetchRequest()
	req.RequireStable = stable
	req.Group = group
	t := kmsg.NewOffsetFetchRequestTopic()
	t.Topic, t.Partitions = topic, []int32{0}
	req.Topics = []kmsg.OffsetFetchRequestTopic{t}
	g := kmsg.NewOffsetFetchRequestGroup()
	g.Group = group
	gt := kmsg.NewOffsetFetchRequestGroupTopic()
	gt.Topic, gt.TopicID, gt.Partitions = topic, s.topicID(topic), []int32{0}
	g.Topics = []kmsg.OffsetFetchRequestGroupTopic{gt}
	req.Groups = []kmsg.OffsetFetchRequestGroup{g}
	resp, err := req.RequestWith(s.ctx, s.client(false))
	if err != nil {
		return errName(err)
	}
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			return fmt.Sprintf("%s offset %d", codeName(rp.ErrorCode), rp.Offset)
		}
	}
	for _, rg := range resp.Groups {
		if rg.ErrorCode != 0 {
			return codeName(rg.ErrorCode)
		}
		for _, rt := range rg.Topics {
			for _, rp := range rt.Partitions {
				return fmt.Sprintf("%s offset %d", codeName(rp.ErrorCode), rp.Offset)
			}
		}
	}
	return "no partition in the answer"
}

// commitOffsetInTxn adds offset to cl's open transaction as the engine's
// offsets-in-txn protocol does: AddOffsetsToTxn, then TxnOffsetCommit as a
// simple member (generation -1); it returns both answers.
func (s *session) commitOffsetInTxn(cl *kgo.Client, id, group, topic string, offset int64) (string, string) {
	pid, epoch := s.pidOf(cl)
	add := kmsg.NewPtrAddOffsetsToTxnRequest()
	add.TransactionalID, add.ProducerID, add.ProducerEpoch, add.Group = id, pid, epoch, group
	addResp, err := add.RequestWith(s.ctx, cl)
	s.must(err, "add offsets")
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch, req.Generation = id, group, pid, epoch, -1
	t := kmsg.NewTxnOffsetCommitRequestTopic()
	t.Topic, t.TopicID = topic, s.topicID(topic)
	p := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	p.Partition, p.Offset = 0, offset
	t.Partitions = []kmsg.TxnOffsetCommitRequestTopicPartition{p}
	req.Topics = []kmsg.TxnOffsetCommitRequestTopic{t}
	resp, err := req.RequestWith(s.ctx, cl)
	s.must(err, "txn offset commit")
	return codeName(addResp.ErrorCode), codeName(resp.Topics[0].Partitions[0].ErrorCode)
}

// probeTxnOffsetCommit commits offsets in two transactions: the first
// into a group that has no offsets yet, the second over committed ones,
// and fetches them while each is open and after it committed.
func probeTxnOffsetCommit(ctx context.Context, brokers []string) Outcome {
	return run(ctx, brokers, "offsets", func(s *session) {
		in, out := s.topic("in", 1), s.topic("out", 1)
		group := s.name("group")
		for i, offset := range []int64{3, 5} {
			id := s.name(fmt.Sprintf("tx%d", i))
			cl := s.producer(false, id, 0)
			s.must(errOf(s.produce(cl, out, 0, "a")), "produce")
			addCode, commitCode := s.commitOffsetInTxn(cl, id, group, in, offset)
			label := "new group"
			if i > 0 {
				label = "over committed offsets"
			}
			s.note(label, "AddOffsetsToTxn %s, TxnOffsetCommit %s; open: RequireStable %s, plain %s",
				addCode, commitCode, s.fetchOffset(group, in, true), s.fetchOffset(group, in, false))
			s.must(cl.EndTransaction(s.ctx, kgo.TryCommit), "commit")
			s.settled(id)
			var got string
			s.waitFor("a stable offset", func() bool {
				got = s.fetchOffset(group, in, true)
				return !strings.HasPrefix(got, kerr.UnstableOffsetCommit.Message)
			})
			s.note("committed", "RequireStable %s", got)
		}
	})
}
