package fidelity

import (
	"context"

	"github.com/twmb/franz-go/pkg/kgo"
)

var readProbes = []Probe{
	{Name: "read-committed-lso", ReliedOn: "the oracle's read-back and the stalled anomaly: an open transaction pins the last stable offset; later non-transactional data waits behind it",
		Run: probeLSO},
	{Name: "aborted-filtering", ReliedOn: "aborted-read: read_committed drops aborted data; read_uncommitted shows it, with commit and abort markers at fixed offsets",
		Run: probeAbortedFiltering},
	{Name: "produce-after-abort", ReliedOn: "ignore-commit-failure and recovery paths: after an abort the same producer can begin, write and commit again",
		Run: probeProduceAfterAbort},
}

func probeLSO(ctx context.Context, brokers []string) Outcome {
	return run(ctx, brokers, "lso", func(s *session) {
		topic := s.topic("out", 1)
		id := s.name("tx")
		cl := s.producer(false, id, 0)
		s.must(errOf(s.produce(cl, topic, 0, "a", "b")), "produce")
		plain := s.client(false)
		s.must(errOf(s.produce(plain, topic, 0, "x")), "produce plain")
		s.note("open", "lso=%d hwm=%d, visible %s", s.endOffset(topic, 1), s.endOffset(topic, 0), s.visible(topic))
		s.must(cl.EndTransaction(s.ctx, kgo.TryCommit), "commit")
		s.settled(id)
		s.note("committed", "lso=%d hwm=%d, visible %s", s.endOffset(topic, 1), s.endOffset(topic, 0), s.visible(topic))
	})
}

func probeAbortedFiltering(ctx context.Context, brokers []string) Outcome {
	return run(ctx, brokers, "filter", func(s *session) {
		topic := s.topic("out", 1)
		id := s.name("tx")
		cl := s.producer(false, id, 0)
		s.must(errOf(s.produce(cl, topic, 0, "a1", "a2")), "produce")
		s.must(cl.EndTransaction(s.ctx, kgo.TryAbort), "abort")
		s.settled(id)
		s.must(cl.BeginTransaction(), "begin")
		s.must(errOf(s.produce(cl, topic, 0, "c1")), "produce")
		s.must(cl.EndTransaction(s.ctx, kgo.TryCommit), "commit")
		s.settled(id)
		v, c := s.read(topic, true)
		s.note("read_committed", "%v markers %v", v, c)
		v, c = s.read(topic, false)
		s.note("read_uncommitted", "%v markers %v", v, c)
	})
}

func probeProduceAfterAbort(ctx context.Context, brokers []string) Outcome {
	return run(ctx, brokers, "after-abort", func(s *session) {
		topic := s.topic("out", 1)
		id := s.name("tx")
		cl := s.producer(false, id, 0)
		s.must(errOf(s.produce(cl, topic, 0, "aborted")), "produce")
		_, e0 := s.pidOf(cl)
		s.note("abort", "%s", errName(cl.EndTransaction(s.ctx, kgo.TryAbort)))
		s.settled(id)
		s.note("begin", "%s", errName(cl.BeginTransaction()))
		s.note("produce", "%s", s.produce(cl, topic, 0, "kept"))
		_, e1 := s.pidOf(cl)
		s.note("epoch", "%s", rel(e1, e0))
		s.note("commit", "%s", errName(cl.EndTransaction(s.ctx, kgo.TryCommit)))
		s.settled(id)
		s.note("visible", "%s", s.visible(topic))
	})
}
