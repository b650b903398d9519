package faults

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// preKIP890 pins a client below KIP-890 part 2, as the simulator's
// pre-kip-890 request versions do.
func preKIP890() kgo.Opt {
	v := kversion.Stable()
	for key, max := range map[kmsg.Key]int16{kmsg.Produce: 11, kmsg.EndTxn: 4, kmsg.TxnOffsetCommit: 4,
		kmsg.AddPartitionsToTxn: 3, kmsg.AddOffsetsToTxn: 3, kmsg.InitProducerID: 4} {
		v.SetMaxKeyVersion(int16(key), max)
	}
	return kgo.MaxVersions(v)
}

// delayedSetup starts a cluster and a transactional client whose
// requests pass through a DelayedRequests dialer.
func delayedSetup(t *testing.T, txnID string, opts []kgo.Opt) (*kfake.Cluster, *kfake.VirtualNetwork, *DelayedRequests, *kgo.Client) {
	c, vn := lostAckCluster(t)
	delayed := NewDelayedRequests(vn.DialContext)
	cl := lostAckClient(t, c, delayed.DialContext, append(opts, kgo.TransactionalID(txnID))...)
	return c, vn, delayed, cl
}

// TestDelayedEndTxnEndsTheNextTransaction reproduces the Jepsen finding
// (Bufstream 0.1.0, "the Kafka transaction protocol") with kgo against
// kfake: a commit's EndTxn is held; kgo resends it on a new connection and
// the commit succeeds; the same producer begins its next transaction and
// writes "b"; then the held EndTxn arrives. Pinned below KIP-890 the epoch
// has not moved, so it commits "b" early, and the transaction's next write
// is refused: a torn transaction. With KIP-890 versions the epoch was
// bumped by the first commit and the late EndTxn is fenced.
func TestDelayedEndTxnEndsTheNextTransaction(t *testing.T) {
	for _, tc := range []struct {
		name        string
		opts        []kgo.Opt
		wantAnswer  error    // the broker's answer to the late EndTxn
		wantVisible []string // read_committed, before the second commit
		wantCErr    error    // producing "c" after the late EndTxn
	}{
		{name: "pre-kip-890", opts: []kgo.Opt{preKIP890()}, wantAnswer: nil, wantVisible: []string{"a", "b"}, wantCErr: kerr.InvalidTxnState},
		{name: "kip-890", wantAnswer: kerr.ProducerFenced, wantVisible: []string{"a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c, vn, delayed, cl := delayedSetup(t, "recycled", tc.opts)
				ctx := context.Background()

				require.NoError(t, cl.BeginTransaction())
				require.NoError(t, cl.ProduceSync(ctx, kgo.StringRecord("a")).FirstErr())
				delayed.Arm(int16(kmsg.EndTxn), 0)
				require.NoError(t, cl.EndTransaction(ctx, kgo.TryCommit), "kgo resends the held EndTxn on a new connection")
				require.Equal(t, 1, delayed.Held(int16(kmsg.EndTxn)))

				require.NoError(t, cl.BeginTransaction()) // recycled: no InitProducerID
				require.NoError(t, cl.ProduceSync(ctx, kgo.StringRecord("b")).FirstErr())
				got := delayed.Release(ctx, false)
				require.Len(t, got, 1)
				require.NoError(t, got[0].DeliverErr)
				require.ErrorIs(t, errOrNil(got[0].Err), errOrNil(tc.wantAnswer), got[0].String())

				require.Equal(t, tc.wantVisible, readAll(t, c, vn.DialContext, kgo.FetchIsolationLevel(kgo.ReadCommitted())))
				err := cl.ProduceSync(ctx, kgo.StringRecord("c")).FirstErr()
				if tc.wantCErr != nil {
					require.ErrorIs(t, err, tc.wantCErr, "the transaction the late EndTxn ended is torn")
					return
				}
				require.NoError(t, err)
				require.NoError(t, cl.EndTransaction(ctx, kgo.TryCommit))
				require.Equal(t, []string{"a", "b", "c"}, readAll(t, c, vn.DialContext, kgo.FetchIsolationLevel(kgo.ReadCommitted())))
			})
		})
	}
}

// errOrNil lets require.ErrorIs compare a nil answer with a nil want.
func errOrNil(err error) error {
	if err == nil {
		return errNone
	}
	return err
}

var errNone = errors.New("no error")

// TestDelayedProduceIsRefused holds a transactional Produce: kgo resends
// it, the transaction commits, and the late copy is refused whichever
// versions run: below KIP-890 kfake finds the partition in no transaction
// (INVALID_TXN_STATE, which is KIP-890 part 1's verification; kfake always
// does it), with KIP-890 the epoch has moved (INVALID_PRODUCER_EPOCH).
// Either way every record is read once.
func TestDelayedProduceIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name       string
		opts       []kgo.Opt
		wantAnswer error
	}{
		{name: "pre-kip-890", opts: []kgo.Opt{preKIP890()}, wantAnswer: kerr.InvalidTxnState},
		{name: "kip-890", wantAnswer: kerr.InvalidProducerEpoch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c, vn, delayed, cl := delayedSetup(t, "p", tc.opts)
				ctx := context.Background()
				require.NoError(t, cl.BeginTransaction())
				delayed.Arm(int16(kmsg.Produce), 1)
				require.NoError(t, cl.ProduceSync(ctx, kgo.StringRecord("a")).FirstErr())
				require.Equal(t, 1, delayed.Held(int16(kmsg.Produce)))
				require.NoError(t, cl.EndTransaction(ctx, kgo.TryCommit))
				require.NoError(t, cl.BeginTransaction())

				require.Empty(t, delayed.Release(ctx, false), "held for one tick")
				delayed.Tick()
				got := delayed.Release(ctx, false)
				require.Len(t, got, 1)
				require.NoError(t, got[0].DeliverErr)
				require.ErrorIs(t, got[0].Err, tc.wantAnswer, got[0].String())
				require.Equal(t, 0, delayed.Waiting())
				require.Equal(t, []string{"a"}, readAll(t, c, vn.DialContext, kgo.FetchIsolationLevel(kgo.ReadCommitted())))
			})
		})
	}
}

// A held Produce with acks=0 is delivered without waiting for an answer the
// broker never sends (protocol none's sink): waiting wedged the scenario.
func TestProducesWithoutAcks(t *testing.T) {
	frame := func(version, acks int16) []byte {
		req := kmsg.NewPtrProduceRequest()
		req.Version, req.Acks, req.TimeoutMillis = version, acks, 1000
		b := binary.BigEndian.AppendUint16(nil, uint16(kmsg.Produce))
		b = binary.BigEndian.AppendUint16(b, uint16(version))
		b = binary.BigEndian.AppendUint32(b, 7) // correlation id
		b = append(b, 0, 2, 'i', 'd')           // client id
		if version >= 9 {
			b = append(b, 0) // no tagged fields
		}
		b = req.AppendTo(b)
		return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...)
	}
	for _, tc := range []struct {
		version, acks int16
		want          bool
	}{{13, 0, true}, {13, -1, false}, {8, 0, true}, {8, 1, false}} {
		require.Equal(t, tc.want, producesWithoutAcks(tc.version, frame(tc.version, tc.acks)), "v%d acks=%d", tc.version, tc.acks)
	}
	require.False(t, producesWithoutAcks(13, []byte{0, 0, 0, 1}), "a frame too short is not acks=0")
}
