package fidelity

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// WarmUp waits until brokers complete a whole transaction: a topic, a
// transactional producer, a record, a commit. A Kafka broker that has just
// started answers its first transactional requests with
// COORDINATOR_LOAD_IN_PROGRESS while it creates and loads the transaction
// log, and a first transactional produce may fail
// (INVALID_PRODUCER_ID_MAPPING after a retried NOT_LEADER_OR_FOLLOWER);
// probes and real-broker runs would record that start-up noise instead of
// the fact they check. Failed attempts are repeated until ctx ends.
func WarmUp(ctx context.Context, brokers []string) error {
	var last error
	for ctx.Err() == nil {
		o := run(ctx, brokers, "warmup", func(s *session) {
			topic := s.topic("warm", 1)
			cl := s.producer(false, s.name("tx"), 0)
			s.must(errOf(s.produce(cl, topic, 0, "warm")), "produce")
			s.must(cl.EndTransaction(s.ctx, kgo.TryCommit), "commit")
		})
		if o.Err == "" {
			return nil
		}
		last = fmt.Errorf("%s", o.Err)
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("broker %v never completed a transaction: %w (last: %v)", brokers, ctx.Err(), last)
}
