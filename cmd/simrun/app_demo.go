//go:build eosim_demoapp

package main

import (
	"context"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eosim/eosim/app"
	"github.com/eosim/eosim/appsim"
)

// Built only with -tags eosim_demoapp (app_test.go): a tiny registered app,
// so the CLI's --app path is tested before and apart from the examples.
func init() {
	if err := appsim.Register(app.App{Name: "demo-naive-copier",
		Spec: app.Spec{InputTopic: "in", OutputTopic: "out", InputPartitions: 2, Group: "g"},
		Run: func(ctx context.Context, env app.Env) error {
			cl, err := kgo.NewClient(append(env.ClientOpts(), kgo.ConsumerGroup("g"), kgo.ConsumeTopics("in"), kgo.DisableAutoCommit(),
				kgo.FetchIsolationLevel(kgo.ReadCommitted()))...) // kgo's default is read_uncommitted
			if err != nil {
				return err
			}
			defer cl.Close()
			for ctx.Err() == nil {
				var out []*kgo.Record
				cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { out = append(out, &kgo.Record{Topic: "out", Key: r.Key, Value: r.Value}) })
				if len(out) > 0 && cl.ProduceSync(ctx, out...).FirstErr() == nil {
					cl.CommitUncommittedOffsets(ctx) // after the produce, outside any transaction: known-bad
				}
			}
			return nil
		}}); err != nil {
		panic(err)
	}
}
