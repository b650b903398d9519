package kfakefix

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A fenced producer's Produce after the live producer committed must not
// break the retry of that commit (a restore's resume-commit). Without the
// guard kfake begins a phantom transaction and fences the retry: the case
// shows the difference is still there (when kfake checks the epoch first,
// it fails, and the guard can go); with the guard the retry succeeds, as
// on Apache Kafka.
func TestStaleProduceBeginsNoTransaction(t *testing.T) {
	for _, tc := range []struct {
		name      string
		guard     bool
		wantRetry error
	}{
		{"kfake alone", false, kerr.ProducerFenced},
		{"guarded", true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
			require.NoError(t, err)
			t.Cleanup(c.Close)
			if tc.guard {
				NewStaleEpochGuard().Install(c)
			}
			producer := func() *kgo.Client {
				cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.TransactionalID("x"),
					kgo.DefaultProduceTopic("t"), kgo.RecordRetries(1), kgo.RecordDeliveryTimeout(5*time.Second))
				require.NoError(t, err)
				t.Cleanup(cl.Close)
				return cl
			}
			zombie := producer()
			require.NoError(t, zombie.BeginTransaction())
			require.NoError(t, zombie.ProduceSync(ctx, &kgo.Record{Value: []byte("zombie 1")}).FirstErr())

			live := producer() // its InitProducerID fences the zombie
			require.NoError(t, live.BeginTransaction())
			require.NoError(t, live.ProduceSync(ctx, &kgo.Record{Value: []byte("live")}).FirstErr())
			pid, epoch, err := live.ProducerID(ctx)
			require.NoError(t, err)
			require.NoError(t, live.EndTransaction(ctx, kgo.TryCommit))

			require.Error(t, zombie.ProduceSync(ctx, &kgo.Record{Value: []byte("zombie 2")}).FirstErr(), "the zombie is fenced")

			admin, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
			require.NoError(t, err)
			t.Cleanup(admin.Close)
			retry := kmsg.NewPtrEndTxnRequest()
			retry.TransactionalID, retry.ProducerID, retry.ProducerEpoch, retry.Commit = "x", pid, epoch, true
			resp, err := retry.RequestWith(ctx, admin)
			require.NoError(t, err)
			got := kerr.ErrorForCode(resp.ErrorCode)
			if tc.wantRetry == nil {
				require.NoError(t, got, "the retry of a committed transaction's EndTxn must succeed")
			} else {
				require.ErrorIs(t, got, tc.wantRetry, "kfake no longer begins a transaction for a stale Produce: the guard may go")
			}
		})
	}
}

func TestTransactionalBatchHeader(t *testing.T) {
	b := make([]byte, 61)
	b[16] = 2
	b[22] = 0x10
	b[50] = 7 // producer id 7
	b[52] = 3 // epoch 3
	pid, epoch, ok := transactionalBatch(b)
	require.True(t, ok)
	require.Equal(t, int64(7), pid)
	require.Equal(t, int16(3), epoch)
	b[22] = 0
	_, _, ok = transactionalBatch(b)
	require.False(t, ok, "not transactional")
	_, _, ok = transactionalBatch(b[:60])
	require.False(t, ok, "short")
}
