package eosimtest_test

import (
	"context"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eosim/eosim/app"
)

// copier is the README's example: a consume -> produce copier on franz-go's
// GroupTransactSession, offsets committed inside the transaction.
// commitOutside turns it into a known-bad twin: a plain producer, offsets
// committed after the produce, outside any transaction.
func copier(commitOutside bool) app.App {
	name := map[bool]string{false: "copier", true: "copier-offsets-outside-txn"}[commitOutside]
	return app.App{
		Name: name,
		Spec: app.Spec{InputTopic: "in", OutputTopic: "out", InputPartitions: 2, Group: "g", OrderedPerKey: true},
		Run: func(ctx context.Context, env app.Env) error {
			opts := append(env.ClientOpts(), kgo.ConsumerGroup("g"), kgo.ConsumeTopics("in"),
				kgo.FetchIsolationLevel(kgo.ReadCommitted()))
			if commitOutside {
				return copyThenCommit(ctx, opts)
			}
			sess, err := kgo.NewGroupTransactSession(append(opts, kgo.TransactionalID("copier"))...)
			if err != nil {
				return err
			}
			defer sess.Close()
			for {
				fs := sess.PollFetches(ctx)
				if ctx.Err() != nil {
					return nil
				}
				if fs.NumRecords() == 0 {
					continue
				}
				if err := sess.Begin(); err != nil {
					return err
				}
				fs.EachRecord(func(r *kgo.Record) {
					sess.Produce(ctx, &kgo.Record{Topic: "out", Key: r.Key, Value: r.Value}, nil)
				})
				if _, err := sess.End(ctx, kgo.TryCommit); err != nil && ctx.Err() == nil {
					env.Logger().Warn("end", "err", err)
				}
			}
		},
	}
}

func copyThenCommit(ctx context.Context, opts []kgo.Opt) error {
	cl, err := kgo.NewClient(append(opts, kgo.DisableAutoCommit())...)
	if err != nil {
		return err
	}
	defer cl.Close()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var out []*kgo.Record
		fs.EachRecord(func(r *kgo.Record) { out = append(out, &kgo.Record{Topic: "out", Key: r.Key, Value: r.Value}) })
		if len(out) == 0 {
			continue
		}
		if err := cl.ProduceSync(ctx, out...).FirstErr(); err != nil {
			return err
		}
		if err := cl.CommitUncommittedOffsets(ctx); err != nil {
			return err
		}
	}
}
