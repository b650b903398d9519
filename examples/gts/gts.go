// Package gts is franz-go's own exactly-once consume → transform → produce
// loop, kgo.GroupTransactSession (KIP-447), put under the harness as an
// app.App. The loop is written the way franz-go documents the session:
// poll, Begin, produce every transformed record with an aborting
// first-error promise, End with TryCommit only if every produce succeeded.
// eosim wrote none of the transaction logic: the session owns it.
//
// It imports only package app (and its lifecycle helper) and kgo.
package gts

import (
	"bytes"
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eosim/eosim/app"
	"github.com/eosim/eosim/examples/internal/lifecycle"
)

// Options shape one GroupTransactSession app.
type Options struct {
	// Name of the app; empty means "gts".
	Name string
	// Instances is how many sessions consume in the group at once; 0 means 1.
	Instances int
	// Partitions of the input and output topics; 0 means 3.
	Partitions int32
}

// App is the session app with one instance.
func App() app.App { return New(Options{}) }

// New returns the session app shaped by o.
func New(o Options) app.App {
	if o.Name == "" {
		o.Name = "gts"
	}
	if o.Partitions == 0 {
		o.Partitions = 3
	}
	spec := app.Spec{
		InputTopic:      o.Name + "-in",
		OutputTopic:     o.Name + "-out",
		InputPartitions: o.Partitions,
		Group:           o.Name,
		Transform:       Upper,
		// The session produces a partition's records in fetch order and
		// kgo keeps order per output partition, but a record's output
		// partition is the key's hash, and a rebalance may hand an input
		// partition to another instance only after the first committed:
		// order per key holds.
		OrderedPerKey: true,
	}
	return app.App{
		Name:      o.Name,
		Spec:      spec,
		Instances: o.Instances,
		Run: func(ctx context.Context, env app.Env) error {
			return run(ctx, env, spec, o.Name)
		},
	}
}

// Upper is the transform: the value upper-cased, the key kept.
func Upper(in app.Record) []app.Record {
	return []app.Record{{Key: in.Key, Value: bytes.ToUpper(in.Value)}}
}

func run(ctx context.Context, env app.Env, spec app.Spec, name string) error {
	log := env.Logger()
	// End must not be cut short by a graceful stop: cancelling it leaves
	// the session in an unknown state (its documentation).
	work, cancel := lifecycle.WorkContext(ctx)
	defer cancel()

	opts := append(env.ClientOpts(),
		kgo.TransactionalID(fmt.Sprintf("%s-%d", name, env.Instance())),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumerGroup(spec.Group),
		kgo.ConsumeTopics(spec.InputTopic),
		kgo.RequireStableFetchOffsets(),
		kgo.DefaultProduceTopic(spec.OutputTopic),
	)
	sess, err := kgo.NewGroupTransactSession(opts...)
	if err != nil {
		return fmt.Errorf("gts: new session: %w", err)
	}

	for {
		fetches := sess.PollFetches(ctx)
		if ctx.Err() != nil {
			break // between transactions: nothing is owed
		}
		if fetches.IsClientClosed() {
			return fmt.Errorf("gts: session closed under the loop")
		}
		fetches.EachError(func(topic string, p int32, err error) {
			log.Warn("fetch error", "topic", topic, "partition", p, "err", err)
		})
		if fetches.NumRecords() == 0 {
			continue
		}
		if err := sess.Begin(); err != nil {
			sess.Close()
			return fmt.Errorf("gts: begin: %w", err)
		}
		produced := kgo.AbortingFirstErrPromise(sess.Client())
		fetches.EachRecord(func(r *kgo.Record) {
			in := app.Record{Key: r.Key, Value: r.Value, Partition: r.Partition, Offset: r.Offset}
			for _, out := range spec.Transform(in) {
				sess.Produce(work, &kgo.Record{Key: out.Key, Value: out.Value}, produced.Promise())
			}
		})
		committed, err := sess.End(work, produced.Err() == nil)
		if err != nil {
			// The session's documentation: no error End returns is
			// retryable. The process fails and is restarted.
			if !lifecycle.Killed(ctx) {
				sess.Close()
			}
			return fmt.Errorf("gts: end transaction: %w", err)
		}
		log.Debug("transaction ended", "committed", committed, "records", fetches.NumRecords())
	}
	if lifecycle.Stopping(ctx) {
		sess.Close() // leaves the group, as the documentation asks
	}
	return lifecycle.Exit(ctx)
}
