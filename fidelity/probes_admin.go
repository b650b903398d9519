package fidelity

import (
	"context"
	"regexp"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

var adminProbes = []Probe{
	{Name: "list-transactions", ReliedOn: "lingering-transaction abort: ListTransactions with an Ongoing state filter and a transactional-id pattern (KIP-1152) finds open transactions",
		Run: probeListTransactions},
	{Name: "describe-transactions", ReliedOn: "the probes and the zombie check: DescribeTransactions reports state, partitions and timeout; an unknown id is an error",
		Run: probeDescribeTransactions},
}

// listOngoing lists Ongoing transactions matching pattern (nil: no
// pattern) and returns the error name and how many of this session's ids
// and of other ids came back.
func (s *session) listOngoing(pattern *string) (code string, mine, others int) {
	req := kmsg.NewPtrListTransactionsRequest()
	req.StateFilters = []string{"Ongoing"}
	req.TransactionalIDPattern = pattern
	resp, err := req.RequestWith(s.ctx, s.client(false))
	s.must(err, "list transactions")
	for _, ts := range resp.TransactionStates {
		if strings.HasPrefix(ts.TransactionalID, s.name("")) {
			mine++
		} else {
			others++
		}
	}
	return codeName(resp.ErrorCode), mine, others
}

func probeListTransactions(ctx context.Context, brokers []string) Outcome {
	return run(ctx, brokers, "list", func(s *session) {
		topic := s.topic("out", 1)
		id := s.name("tx")
		cl := s.producer(false, id, 0)
		s.must(errOf(s.produce(cl, topic, 0, "a")), "produce")
		pattern := "^" + regexp.QuoteMeta(s.name("")) + "[a-z]+$"
		code, mine, others := s.listOngoing(&pattern)
		s.note("open, pattern", "%s mine=%d others=%d", code, mine, others)
		nomatch := "^" + regexp.QuoteMeta(s.name("")) + "nothing$"
		code, mine, others = s.listOngoing(&nomatch)
		s.note("open, other pattern", "%s mine=%d others=%d", code, mine, others)
		s.must(cl.EndTransaction(s.ctx, kgo.TryCommit), "commit")
		s.settled(id)
		code, mine, _ = s.listOngoing(&pattern)
		s.note("committed, pattern", "%s mine=%d", code, mine)
	})
}

func probeDescribeTransactions(ctx context.Context, brokers []string) Outcome {
	return run(ctx, brokers, "describe", func(s *session) {
		topic := s.topic("out", 2)
		id := s.name("tx")
		cl := s.producer(false, id, 0)
		s.must(errOf(s.produce(cl, topic, 0, "a")), "produce")
		s.must(errOf(s.produce(cl, topic, 1, "b")), "produce")
		_, epoch := s.pidOf(cl)
		st := s.describe(id)
		s.note("open", "%s %s partitions=%d epoch %s", st.code, st.state, st.partitions, rel(st.epoch, epoch))
		s.must(cl.EndTransaction(s.ctx, kgo.TryCommit), "commit")
		st = s.settled(id)
		s.note("committed", "%s %s partitions=%d epoch %s", st.code, st.state, st.partitions, rel(st.epoch, epoch))
		s.note("unknown id", "%s", s.describe(s.name("never")).code)
	})
}
