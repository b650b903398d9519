package engine_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eosim/eosim/engine"
)

// TestRunRetriesConcurrentTransactions: Kafka 4.4 answers an InitProducerID
// on an id with an open transaction CONCURRENT_TRANSACTIONS while it aborts
// that transaction (kfake answers at once; see docs/fidelity.md). The
// lingering-transaction abort must wait that out, not fail the restore.
func TestRunRetriesConcurrentTransactions(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	require.NoError(t, err)
	t.Cleanup(cluster.Close)
	for _, topic := range []string{"input", "output"} {
		require.NoError(t, cluster.CreateTopic(topic, driverPartitions, nil))
	}
	opts := []kgo.Opt{kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.DisableClientMetrics()}
	producer, err := kgo.NewClient(append(slices.Clone(opts), kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	require.NoError(t, err)
	t.Cleanup(producer.Close)
	e := &driverEnv{t: t, opts: opts, producer: producer, ends: map[int32]int64{},
		store: engine.FileStore{Path: t.TempDir() + "/checkpoint.json"}}
	e.produce(300)

	// A dead attempt left a transaction open on one of subtask 0's ids.
	const lingering = "driver-test-0-7"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	zombie, err := kgo.NewClient(append(slices.Clone(opts), kgo.TransactionalID(lingering),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	require.NoError(t, err)
	require.NoError(t, zombie.BeginTransaction())
	require.NoError(t, zombie.ProduceSync(ctx, &kgo.Record{Topic: "output", Value: []byte("lingering")}).FirstErr())
	zombie.Close() // sends nothing: the transaction stays open

	seen := 0
	cluster.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.InitProducerID}, TxnID: lingering,
		Err: kerr.ConcurrentTransactions, Count: 3, When: func(kmsg.Request) bool { seen++; return true }})
	obs := &eventCounter{}
	err = engine.Run(ctx, e.config(t, 2), engine.Deps{Store: e.store, Observer: obs}, driverInterval,
		engine.DriverOptions{StopWhen: e.untilProcessed()})
	require.NoError(t, err)
	require.Equal(t, 1, obs.count("abort-lingering"))
	require.GreaterOrEqual(t, seen, 3, "the fault answered the lingering abort")
	e.requireExactlyOnce(e.readOutput())
}
