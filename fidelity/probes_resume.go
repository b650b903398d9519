package fidelity

import (
	"context"
	"fmt"
)

var resumeProbes = []Probe{
	{Name: "resume-commit-tv2", ReliedOn: "two-phase-commit recovery: a raw EndTxn(commit) by producer id and epoch from a fresh client commits a pre-committed transaction (EndTxn v5)",
		Run: func(ctx context.Context, b []string) Outcome { return probeResume(ctx, b, false, true) }},
	{Name: "resume-commit-tv1", ReliedOn: "the same resume-commit with every client capped to transaction version 1 (EndTxn v4, Produce v11)",
		Run: func(ctx context.Context, b []string) Outcome { return probeResume(ctx, b, true, true) }},
	{Name: "resume-abort", ReliedOn: "abort-on-recovery variant: a raw EndTxn(abort) of a pre-committed transaction drops its data",
		Run: func(ctx context.Context, b []string) Outcome { return probeResume(ctx, b, false, false) }},
	{Name: "init-aborts-ongoing-tv2", ReliedOn: "lingering-transaction abort and the init-before-resume bug: InitProducerID on an id with an open transaction aborts it and bumps the epoch",
		Run: func(ctx context.Context, b []string) Outcome { return probeInitAborts(ctx, b, false) }},
	{Name: "init-aborts-ongoing-tv1", ReliedOn: "the same with transaction version 1 clients",
		Run: func(ctx context.Context, b []string) Outcome { return probeInitAborts(ctx, b, true) }},
}

// probeResume pre-commits a transaction (flushed, never ended: the process
// died after its checkpoint was stored), then ends it from a fresh client
// with a raw EndTxn, twice.
func probeResume(ctx context.Context, brokers []string, tv1, commit bool) Outcome {
	return run(ctx, brokers, fmt.Sprintf("resume-%v-%v", tv1, commit), func(s *session) {
		topic := s.topic("out", 1)
		id := s.name("tx")
		cl := s.producer(tv1, id, 0)
		s.must(errOf(s.produce(cl, topic, 0, "a", "b")), "produce")
		pid, epoch := s.pidOf(cl)
		s.note("before resume", "state %s, visible %s", phase(s.describe(id).state), s.visible(topic))
		s.note("raw EndTxn", "%s", s.endTxn(tv1, id, pid, epoch, commit))
		st := s.settled(id)
		s.note("after", "state %s epoch %s, visible %s", phase(st.state), rel(st.epoch, epoch), s.visible(topic))
		s.note("raw EndTxn again", "%s", s.endTxn(tv1, id, pid, epoch, commit))
	})
}

// probeInitAborts leaves a transaction open and sends InitProducerID for
// its id, as a new producer (or a lingering-transaction abort) does.
func probeInitAborts(ctx context.Context, brokers []string, tv1 bool) Outcome {
	return run(ctx, brokers, fmt.Sprintf("init-%v", tv1), func(s *session) {
		topic := s.topic("out", 1)
		id := s.name("tx")
		cl := s.producer(tv1, id, 0)
		s.must(errOf(s.produce(cl, topic, 0, "a")), "produce")
		pid, epoch := s.pidOf(cl)
		first, last, npid, nepoch := s.initPID(id)
		s.note("InitProducerID", "first answer %s, final %s, %s epoch %s", first, last, samePID(npid, pid), rel(nepoch, epoch))
		st := s.settled(id)
		s.note("after", "state %s, visible %s", phase(st.state), s.visible(topic))
		_, control := s.read(topic, false)
		s.note("markers", "%v", control)
		s.note("resume-commit with the old epoch", "%s", s.endTxn(tv1, id, pid, epoch, true))
	})
}
