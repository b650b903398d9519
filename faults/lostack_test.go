package faults

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const lostAckTopic = "t"

type dialFn = func(ctx context.Context, network, addr string) (net.Conn, error)

// lostAckCluster starts a one-broker kfake cluster on a virtual network. The
// cleanup runs inside the bubble, after the clients' cleanups.
func lostAckCluster(t *testing.T) (*kfake.Cluster, *kfake.VirtualNetwork) {
	vn := new(kfake.VirtualNetwork)
	c, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.Ports(9092),
		kfake.ListenFn(vn.Listen),
		kfake.SeedTopics(1, lostAckTopic),
	)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c, vn
}

// lostAckClient disables client metrics: kgo's telemetry request, sent from
// its own goroutine at start, otherwise races the test's requests for a fresh
// connection, and whether an answer is the first on its connection changes
// what kgo retries (see TestLostAckEndTxn).
func lostAckClient(t *testing.T, c *kfake.Cluster, dial dialFn, opts ...kgo.Opt) *kgo.Client {
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(c.ListenAddrs()...),
		kgo.Dialer(dial),
		kgo.DefaultProduceTopic(lostAckTopic),
		kgo.DisableClientMetrics(),
	}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	return cl
}

// readAll returns every record value a consumer gets within ten virtual
// seconds: long enough for everything, and a fixed cut-off keeps it
// deterministic.
func readAll(t *testing.T, c *kfake.Cluster, dial dialFn, opts ...kgo.Opt) []string {
	cl := lostAckClient(t, c, dial, append(opts, kgo.ConsumeTopics(lostAckTopic))...)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []string
	for ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	return got
}

func TestLostAckEndTxn(t *testing.T) {
	for _, tc := range []struct {
		name  string
		shots int
		// Measured: kgo takes the EOF as retryable and resends EndTxn on a
		// new connection; kfake's KIP-890 retry detection answers the
		// resend OK, so one lost ack is invisible to the caller. If the
		// resend's answer is lost too, it was the first answer on its
		// connection, which kgo does not retry (ErrFirstReadEOF, a
		// suspected SASL problem): EndTransaction fails after two tries,
		// whatever RequestRetries says.
		wantErr bool
	}{
		{name: "not armed", shots: 0},
		{name: "one lost ack, kgo resends", shots: 1},
		{name: "resend lost too", shots: 2, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c, vn := lostAckCluster(t)
				la := NewLostAcks(vn.DialContext)
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()

				p := lostAckClient(t, c, la.DialContext, kgo.TransactionalID("tx"))
				require.NoError(t, p.BeginTransaction())
				require.NoError(t, p.ProduceSync(ctx, kgo.StringRecord("a"), kgo.StringRecord("b")).FirstErr())
				require.NoError(t, p.Flush(ctx))
				pid, epoch, err := p.ProducerID(ctx)
				require.NoError(t, err)

				for range tc.shots {
					la.Arm(int16(kmsg.EndTxn))
				}
				err = p.EndTransaction(ctx, kgo.TryCommit)
				if tc.wantErr {
					var first *kgo.ErrFirstReadEOF
					require.ErrorAs(t, err, &first)
					require.ErrorIs(t, err, io.EOF)
				} else {
					require.NoError(t, err)
				}
				require.Equal(t, tc.shots, la.Dropped(int16(kmsg.EndTxn)))

				// The commit was applied although its answer was lost.
				require.Equal(t, []string{"a", "b"},
					readAll(t, c, la.DialContext, kgo.FetchIsolationLevel(kgo.ReadCommitted())))

				// A resume-commit with the pre-commit epoch, from a client
				// without a transactional id, is recognised as a retry.
				// The transactional producer must stay idle until then:
				// anything that re-initialises it would fence this.
				admin := lostAckClient(t, c, vn.DialContext)
				req := kmsg.NewPtrEndTxnRequest()
				req.TransactionalID = "tx"
				req.ProducerID = pid
				req.ProducerEpoch = epoch
				req.Commit = true
				resp, err := req.RequestWith(ctx, admin)
				require.NoError(t, err)
				require.NoError(t, kerr.ErrorForCode(resp.ErrorCode))

				for _, key := range []kmsg.Key{kmsg.Produce, kmsg.TxnOffsetCommit} {
					require.Zero(t, la.Dropped(int16(key)), key.Name())
				}
			})
		})
	}
}

func TestLostAckProduce(t *testing.T) {
	for _, tc := range []struct {
		name  string
		armed bool
		opts  []kgo.Opt
		want  []string
	}{
		{name: "not armed", want: []string{"a"}},
		// Measured: the produce reports no error; kgo retries it (even
		// though the lost answer is the first on its connection, which
		// kgo otherwise suspects of being a SASL problem) and the
		// broker deduplicates the resend by producer sequence.
		{name: "idempotent", armed: true, want: []string{"a"}},
		// Measured: the same retry without idempotence writes the
		// record twice: a lost ack means duplicates.
		{name: "not idempotent", armed: true, opts: []kgo.Opt{kgo.DisableIdempotentWrite()}, want: []string{"a", "a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c, vn := lostAckCluster(t)
				la := NewLostAcks(vn.DialContext)
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()

				p := lostAckClient(t, c, la.DialContext, tc.opts...)
				if tc.armed {
					la.Arm(int16(kmsg.Produce))
				}
				require.NoError(t, p.ProduceSync(ctx, kgo.StringRecord("a")).FirstErr())
				wantDropped := 0
				if tc.armed {
					wantDropped = 1
				}
				require.Equal(t, wantDropped, la.Dropped(int16(kmsg.Produce)))
				require.Equal(t, tc.want, readAll(t, c, la.DialContext))
				require.Zero(t, la.Dropped(int16(kmsg.EndTxn)))
			})
		})
	}
}

// scriptConn is the far end for the framing test: Read hands out a fixed
// stream in chunks, Write records.
type scriptConn struct {
	net.Conn // nil; only Read, Write and Close are used
	in       [][]byte
	wrote    []byte
	closed   bool
}

func (s *scriptConn) Read(p []byte) (int, error) {
	if s.closed {
		return 0, net.ErrClosed
	}
	for len(s.in) > 0 && len(s.in[0]) == 0 {
		s.in = s.in[1:]
	}
	if len(s.in) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.in[0])
	s.in[0] = s.in[0][n:]
	return n, nil
}

func (s *scriptConn) Write(p []byte) (int, error) {
	s.wrote = append(s.wrote, p...)
	return len(p), nil
}

func (s *scriptConn) Close() error { s.closed = true; return nil }

func reqFrame(key int16, corrID int32, body string) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(8+len(body)))
	b = binary.BigEndian.AppendUint16(b, uint16(key))
	b = binary.BigEndian.AppendUint16(b, 3) // version, unused
	b = binary.BigEndian.AppendUint32(b, uint32(corrID))
	return append(b, body...)
}

func respFrame(corrID int32, body string) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(4+len(body)))
	b = binary.BigEndian.AppendUint32(b, uint32(corrID))
	return append(b, body...)
}

// TestLostAckFraming cuts the request and response streams at every byte
// boundary (so one chunk may hold a header's tail and several frames) and
// reads with a 1-byte and a large buffer.
func TestLostAckFraming(t *testing.T) {
	reqs := [][]byte{
		reqFrame(18, 0, "client"),
		reqFrame(26, 1, "twenty bytes of body"),
		reqFrame(0, 2, "abc"),
	}
	resps := [][]byte{
		respFrame(0, "ten bytes!"),
		respFrame(1, ""), // empty body: the next header follows at once
		respFrame(2, "fiveb"),
	}
	reqStream, respStream := bytes.Join(reqs, nil), bytes.Join(resps, nil)

	for _, tc := range []struct {
		name      string
		arm       []int16
		delivered int           // response frames the client gets before EOF
		dropped   map[int16]int // per key
		armedLeft map[int16]int // shots left afterwards, refunds included
	}{
		{name: "not armed", delivered: 3},
		{name: "key nobody sends", arm: []int16{1}, delivered: 3, armedLeft: map[int16]int{1: 1}},
		{name: "first frame", arm: []int16{18}, delivered: 0, dropped: map[int16]int{18: 1}},
		{name: "middle frame, empty body", arm: []int16{26}, delivered: 1, dropped: map[int16]int{26: 1}},
		{name: "last frame", arm: []int16{0}, delivered: 2, dropped: map[int16]int{0: 1}},
		{name: "later doomed answer is refunded", arm: []int16{0, 26}, delivered: 1, dropped: map[int16]int{26: 1}, armedLeft: map[int16]int{0: 1}},
		{name: "two shots, one request", arm: []int16{26, 26}, delivered: 1, dropped: map[int16]int{26: 1}, armedLeft: map[int16]int{26: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := bytes.Join(resps[:tc.delivered], nil)
			for i := 0; i <= len(reqStream); i++ {
				for j := 0; j <= len(respStream); j++ {
					for _, bufSize := range []int{1, 64} {
						far := &scriptConn{in: [][]byte{
							bytes.Clone(respStream[:j]), bytes.Clone(respStream[j:]),
						}}
						la := NewLostAcks(func(context.Context, string, string) (net.Conn, error) { return far, nil })
						for _, k := range tc.arm {
							la.Arm(k)
						}
						conn, err := la.DialContext(context.Background(), "tcp", "x")
						require.NoError(t, err)

						for _, chunk := range [][]byte{reqStream[:i], reqStream[i:]} {
							n, err := conn.Write(chunk)
							require.NoError(t, err)
							require.Equal(t, len(chunk), n)
						}
						require.Equal(t, reqStream, far.wrote, "requests pass unchanged")

						var got []byte
						buf := make([]byte, bufSize)
						for {
							n, err := conn.Read(buf)
							got = append(got, buf[:n]...)
							if err != nil {
								require.ErrorIs(t, err, io.EOF)
								break
							}
						}
						require.Equal(t, string(want), string(got), "split req %d resp %d buf %d", i, j, bufSize)
						require.NoError(t, conn.Close())

						for _, k := range []int16{0, 1, 18, 26} {
							require.Equal(t, tc.dropped[k], la.Dropped(k), "dropped key %d", k)
							require.Equal(t, tc.armedLeft[k], la.armed[k], "shots left key %d", k)
						}
					}
				}
			}
		})
	}
}
