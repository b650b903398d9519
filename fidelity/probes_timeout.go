package fidelity

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

var timeoutProbes = []Probe{
	{Name: "txn-timeout-abort", ReliedOn: "outage-beyond-txn-timeout and flink-7784: the coordinator aborts a transaction open longer than its timeout; a resume-commit then fails",
		Run: probeTxnTimeout},
	{Name: "txn-id-expiration", ReliedOn: "outage-beyond-txn-id-expiry: an idle transactional id is forgotten after transactional.id.expiration.ms; an open transaction is not",
		Run: probeTxnIDExpiration},
}

func probeTxnTimeout(ctx context.Context, brokers []string) Outcome {
	return run(ctx, brokers, "timeout", func(s *session) {
		topic := s.topic("out", 1)
		id := s.name("tx")
		cl := s.producer(false, id, time.Second)
		s.must(errOf(s.produce(cl, topic, 0, "a")), "produce")
		pid, epoch := s.pidOf(cl)
		var st txnState
		s.waitFor("the coordinator to abort the timed-out transaction", func() bool {
			st = s.describe(id)
			return st.state != "Ongoing" && st.state != "PrepareAbort"
		})
		s.note("after the timeout", "state %s, %s epoch %s, visible %s", phase(st.state), samePID(st.pid, pid), rel(st.epoch, epoch), s.visible(topic))
		s.note("resume-commit", "%s", s.endTxn(false, id, pid, epoch, true))
	})
}

func probeTxnIDExpiration(ctx context.Context, brokers []string) Outcome {
	return run(ctx, brokers, "expiry", func(s *session) {
		topic := s.topic("out", 1)
		idle, open := s.name("idle"), s.name("open")
		cl := s.producer(false, idle, 0)
		s.must(errOf(s.produce(cl, topic, 0, "a")), "produce")
		pid, epoch := s.pidOf(cl)
		s.must(cl.EndTransaction(s.ctx, kgo.TryCommit), "commit")
		held := s.producer(false, open, 0)
		s.must(errOf(s.produce(held, topic, 0, "b")), "produce open")
		s.settled(idle)
		s.waitFor("the idle transactional id to expire", func() bool {
			return s.describe(idle).code == kerr.TransactionalIDNotFound.Message
		})
		s.note("idle id", "DescribeTransactions %s", kerr.TransactionalIDNotFound.Message)
		st := s.describe(open)
		s.note("id with an open transaction", "%s %s", st.code, st.state)
		first, _, npid, nepoch := s.initPID(idle)
		s.note("InitProducerID on the expired id", "%s, %s epoch %s", first, samePID(npid, pid), rel(nepoch, epoch))
		s.must(held.EndTransaction(s.ctx, kgo.TryAbort), "abort open")
	})
}
