package fidelity

import (
	"context"
)

// probeRestart leaves a transaction open (pre-committed: flushed, never
// ended), restarts the broker with restart, and asks what became of it: its
// state, whether a resume-commit by producer id and epoch still commits
// it. It is not in Probes: it needs a broker it may restart (see
// TestBrokerRestart).
func probeRestart(ctx context.Context, brokers []string, restart func() ([]string, error)) Outcome {
	return run(ctx, brokers, "restart", func(s *session) {
		topic := s.topic("out", 1)
		id := s.name("tx")
		cl := s.producer(false, id, 0)
		s.must(errOf(s.produce(cl, topic, 0, "a", "b")), "produce")
		pid, epoch := s.pidOf(cl)
		s.note("before", "state %s", phase(s.describe(id).state))
		s.close()
		after, err := restart()
		s.must(err, "restart")
		s.brokers, s.clients = after, nil
		s.must(WarmUp(s.ctx, after), "broker after the restart")
		st := s.settled(id)
		s.note("after the restart", "%s %s epoch %s, visible %s", st.code, phase(st.state), rel(st.epoch, epoch), s.visible(topic))
		s.note("resume-commit", "%s", s.endTxn(false, id, pid, epoch, true))
		s.settled(id)
		s.note("visible", "%s", s.visible(topic))
	})
}
