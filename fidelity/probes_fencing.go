package fidelity

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"
)

var fencingProbes = []Probe{
	{Name: "zombie-produce-endtxn", ReliedOn: "zombie fault: once a new producer initialised the id, the old one's Produce and EndTxn fail and its data is aborted",
		Run: probeZombie},
	{Name: "zombie-late-endtxn-tv2", ReliedOn: "a late EndTxn of an already committed transaction must not end the next one (zombie, lost ack)",
		Run: func(ctx context.Context, b []string) Outcome { return probeLateEndTxn(ctx, b, false) }},
	{Name: "zombie-late-endtxn-tv1", ReliedOn: "the same with transaction version 1 clients (no epoch bump between transactions)",
		Run: func(ctx context.Context, b []string) Outcome { return probeLateEndTxn(ctx, b, true) }},
}

func probeZombie(ctx context.Context, brokers []string) Outcome {
	return run(ctx, brokers, "zombie", func(s *session) {
		topic := s.topic("out", 1)
		id := s.name("tx")
		old := s.producer(false, id, 0)
		s.must(errOf(s.produce(old, topic, 0, "old-1")), "produce")
		oldPID, oldEpoch := s.pidOf(old)
		fresh := s.producer(false, id, 0)
		pid, epoch := s.pidOf(fresh)
		s.note("new producer", "%s epoch %s", samePID(pid, oldPID), rel(epoch, oldEpoch))
		s.note("zombie produce", "%s", s.produce(old, topic, 0, "old-2"))
		s.note("zombie commit", "%s", errName(old.EndTransaction(s.ctx, kgo.TryCommit)))
		s.note("zombie raw EndTxn", "%s", s.endTxn(false, id, oldPID, oldEpoch, true))
		s.must(errOf(s.produce(fresh, topic, 0, "new")), "produce new")
		s.must(fresh.EndTransaction(s.ctx, kgo.TryCommit), "commit new")
		s.settled(id)
		s.note("visible", "%s", s.visible(topic))
	})
}

// probeLateEndTxn commits transaction 1, begins transaction 2 on the same
// producer, then replays transaction 1's EndTxn (commit, then abort) with
// its epoch, as a zombie or a retried request would.
func probeLateEndTxn(ctx context.Context, brokers []string, tv1 bool) Outcome {
	return run(ctx, brokers, fmt.Sprintf("late-%v", tv1), func(s *session) {
		topic := s.topic("out", 1)
		id := s.name("tx")
		cl := s.producer(tv1, id, 0)
		s.must(errOf(s.produce(cl, topic, 0, "t1")), "produce t1")
		pid, e1 := s.pidOf(cl)
		s.must(cl.EndTransaction(s.ctx, kgo.TryCommit), "commit t1")
		s.settled(id)
		s.must(cl.BeginTransaction(), "begin t2")
		s.must(errOf(s.produce(cl, topic, 0, "t2")), "produce t2")
		_, e2 := s.pidOf(cl)
		s.note("t2 epoch", "%s", rel(e2, e1))
		s.note("late commit of t1", "%s", s.endTxn(tv1, id, pid, e1, true))
		st := s.settled(id)
		s.note("then", "state %s, visible %s", phase(st.state), s.visible(topic))
		s.note("late abort of t1", "%s", s.endTxn(tv1, id, pid, e1, false))
		st = s.settled(id)
		s.note("then", "state %s, visible %s", phase(st.state), s.visible(topic))
		s.note("commit t2", "%s", errName(cl.EndTransaction(s.ctx, kgo.TryCommit)))
		s.settled(id)
		s.note("visible", "%s", s.visible(topic))
	})
}
