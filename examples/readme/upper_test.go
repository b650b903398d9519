// Package upper_test is the README's "Testing your own application"
// example, kept here so that it compiles and runs: a GroupTransactSession
// app that upper-cases values, under a 200-run campaign.
package upper_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eosim/eosim/app"
	"github.com/eosim/eosim/eosimtest"
)

func upper(in app.Record) []app.Record {
	return []app.Record{{Key: in.Key, Value: bytes.ToUpper(in.Value)}}
}

func run(ctx context.Context, env app.Env) error {
	sess, err := kgo.NewGroupTransactSession(append(env.ClientOpts(),
		kgo.TransactionalID("upper"), kgo.ConsumerGroup("upper"), kgo.ConsumeTopics("in"),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.DefaultProduceTopic("out"))...)
	if err != nil {
		return err
	}
	defer sess.Close()
	work := context.WithoutCancel(ctx) // a begun transaction is ended, even when stopping
	for ctx.Err() == nil {
		fetches := sess.PollFetches(ctx)
		if fetches.NumRecords() == 0 {
			continue
		}
		if err := sess.Begin(); err != nil {
			return err
		}
		fetches.EachRecord(func(r *kgo.Record) {
			for _, out := range upper(app.Record{Key: r.Key, Value: r.Value}) {
				sess.Produce(work, &kgo.Record{Key: out.Key, Value: out.Value}, nil)
			}
		})
		if _, err := sess.End(work, kgo.TryCommit); err != nil {
			return err // not retryable (kgo's documentation): fail, the harness restarts the process
		}
	}
	return nil
}

func TestUpperIsExactlyOnce(t *testing.T) {
	eosimtest.Check(t, app.App{
		Name: "upper",
		Run:  run,
		Spec: app.Spec{InputTopic: "in", OutputTopic: "out", InputPartitions: 2, Group: "upper", Transform: upper},
	}, eosimtest.Options{Runs: 200})
}
