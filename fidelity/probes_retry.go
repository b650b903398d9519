package fidelity

import (
	"context"
	"fmt"
)

var retryProbes = []Probe{
	{Name: "endtxn-retry-after-lost-answer", ReliedOn: "lost-ack-endtxn: repeating an applied EndTxn with the same epoch is answered OK; after a re-init it is fenced although the data is committed",
		Run: probeEndTxnRetry},
	{Name: "empty-txn-commit-tv2", ReliedOn: "flink-31363: a raw EndTxn(commit) on an id whose transaction never added a partition",
		Run: func(ctx context.Context, b []string) Outcome { return probeEmptyCommit(ctx, b, false) }},
	{Name: "empty-txn-commit-tv1", ReliedOn: "the same at EndTxn v4",
		Run: func(ctx context.Context, b []string) Outcome { return probeEmptyCommit(ctx, b, true) }},
}

func probeEndTxnRetry(ctx context.Context, brokers []string) Outcome {
	return run(ctx, brokers, "retry", func(s *session) {
		topic := s.topic("out", 1)
		id := s.name("tx")
		cl := s.producer(false, id, 0)
		s.must(errOf(s.produce(cl, topic, 0, "a")), "produce")
		pid, epoch := s.pidOf(cl)
		s.note("EndTxn commit (answer lost)", "%s", s.endTxn(false, id, pid, epoch, true))
		// A retry while Kafka still writes the markers is answered
		// CONCURRENT_TRANSACTIONS or OK depending on timing (kfake: always
		// OK); only the retry after completion is deterministic.
		s.settled(id)
		s.note("retry after completion", "%s", s.endTxn(false, id, pid, epoch, true))
		s.note("abort with the same epoch", "%s", s.endTxn(false, id, pid, epoch, false))
		first, _, _, _ := s.initPID(id)
		s.note("re-init", "%s", first)
		s.note("retry after re-init", "%s", s.endTxn(false, id, pid, epoch, true))
		s.note("visible", "%s", s.visible(topic))
	})
}

func probeEmptyCommit(ctx context.Context, brokers []string, tv1 bool) Outcome {
	return run(ctx, brokers, fmt.Sprintf("empty-%v", tv1), func(s *session) {
		id := s.name("tx")
		first, _, pid, epoch := s.initPID(id)
		s.note("InitProducerID", "%s", first)
		s.note("raw EndTxn commit, nothing added", "%s", s.endTxn(tv1, id, pid, epoch, true))
		s.note("raw EndTxn abort, nothing added", "%s", s.endTxn(tv1, id, pid, epoch, false))
		st := s.describe(id)
		s.note("state", "%s epoch %s", phase(st.state), rel(st.epoch, epoch))
	})
}
