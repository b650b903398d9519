package appsim

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eosim/eosim/app"
)

// Tiny apps for appsim's own tests (the shipped examples live elsewhere).

var copySpec = app.Spec{InputTopic: "in", OutputTopic: "out", InputPartitions: 2, Group: "copier", OrderedPerKey: true}

// txnCopier is a consume -> produce copier on kgo.GroupTransactSession:
// offsets commit inside the transaction (KIP-447). mutate, when set, may
// change the records it writes (known-bad variants).
func txnCopier(name string, mutate func(*kgo.Record) []*kgo.Record) app.App {
	return app.App{Name: name, Spec: copySpec, CrashPoints: []string{"before-end"},
		Run: func(ctx context.Context, env app.Env) error {
			sess, err := kgo.NewGroupTransactSession(append(env.ClientOpts(),
				kgo.TransactionalID("copier-"+fmt.Sprint(env.Instance())),
				kgo.ConsumerGroup(copySpec.Group), kgo.ConsumeTopics(copySpec.InputTopic),
				kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.RequireStableFetchOffsets(),
			)...)
			if err != nil {
				return err
			}
			defer sess.Close()
			for {
				fs := sess.PollFetches(ctx)
				if ctx.Err() != nil {
					return nil
				}
				if err := fs.Err0(); err != nil && !errors.Is(err, context.Canceled) {
					env.Logger().Warn("poll", "err", err)
				}
				if fs.NumRecords() == 0 {
					continue
				}
				if err := sess.Begin(); err != nil {
					return err
				}
				fs.EachRecord(func(r *kgo.Record) {
					out := []*kgo.Record{{Topic: copySpec.OutputTopic, Key: r.Key, Value: r.Value}}
					if mutate != nil {
						out = mutate(out[0])
					}
					for _, o := range out {
						sess.Produce(ctx, o, nil)
					}
				})
				env.CrashPoint("before-end")
				if _, err := sess.End(ctx, kgo.TryCommit); err != nil {
					env.Logger().Warn("end", "err", err)
				}
			}
		}}
}

// naiveCopier is a known-bad copier: a plain (non-transactional) producer
// and offsets committed after the produce, outside any transaction. A crash
// between the produce and the commit duplicates records. It reads
// read_committed (kgo's default is read_uncommitted, which the harness's
// aborted input would catch in every run).
func naiveCopier() app.App {
	return app.App{Name: "naive-copier", Spec: copySpec, CrashPoints: []string{"before-commit"},
		Run: func(ctx context.Context, env app.Env) error {
			cl, err := kgo.NewClient(append(env.ClientOpts(),
				kgo.ConsumerGroup(copySpec.Group), kgo.ConsumeTopics(copySpec.InputTopic),
				kgo.DisableAutoCommit(), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			)...)
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
				fs.EachRecord(func(r *kgo.Record) {
					out = append(out, &kgo.Record{Topic: copySpec.OutputTopic, Key: r.Key, Value: r.Value})
				})
				if len(out) == 0 {
					continue
				}
				if err := cl.ProduceSync(ctx, out...).FirstErr(); err != nil {
					return err
				}
				env.CrashPoint("before-commit")
				if err := cl.CommitUncommittedOffsets(ctx); err != nil {
					return err
				}
			}
		}}
}
