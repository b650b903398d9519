package faults

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"slices"
	"sync"
)

// LostAcks produces lost acknowledgements: the broker receives and applies a
// request, but its answer never reaches the client. kfake's Cluster.Fault
// rejects requests before applying them, so this has to happen on the client
// side, in a dialer wrapper (pass DialContext to kgo.Dialer).
//
// Every connection passes bytes through unchanged while following the Kafka
// framing in both directions. Arm(key) makes the next request with that API
// key "doomed": when its response frame arrives (so the broker has applied
// the request), the frame is swallowed, the connection is closed, and the
// client's read fails with io.EOF, as when a broker drops a connection. No
// byte of the swallowed frame reaches the client; the frames before it do.
// kgo takes that EOF as retryable and resends the request on a new
// connection, so one shot is often invisible to the caller; see the tests for
// what was measured.
//
// A shot belongs to the first request written with the armed key. If that
// connection ends before the response arrives, the shot is returned, so an
// armed shot is only used up by an answer that was really dropped. When
// several connections send the same key at once, which request takes the shot
// depends on scheduling; arm keys whose requests are serialised (EndTxn,
// TxnOffsetCommit, or Produce with one broker) to stay deterministic.
//
// LostAcks starts no goroutines and never waits on a clock, so it is safe in
// a testing/synctest bubble with kfake.VirtualNetwork. It is safe for
// concurrent use.
type LostAcks struct {
	dial func(ctx context.Context, network, addr string) (net.Conn, error)

	mu      sync.Mutex
	armed   map[int16]int // shots left per API key
	dropped map[int16]int // answers dropped per API key
}

// NewLostAcks wraps dial, for example kfake.VirtualNetwork.DialContext or
// (&net.Dialer{}).DialContext.
func NewLostAcks(dial func(ctx context.Context, network, addr string) (net.Conn, error)) *LostAcks {
	return &LostAcks{dial: dial, armed: map[int16]int{}, dropped: map[int16]int{}}
}

// Arm drops the answer of the next request with this API key (0 Produce,
// 26 EndTxn, 28 TxnOffsetCommit, ...). Each call adds one shot.
func (l *LostAcks) Arm(key int16) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.armed[key]++
}

// Dropped returns how many answers with this API key were dropped so far.
func (l *LostAcks) Dropped(key int16) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.dropped[key]
}

// DialContext dials with the wrapped dialer and returns the watched
// connection.
func (l *LostAcks) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := l.dial(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &lostAckConn{
		Conn: c,
		l:    l,
		req:  frameScanner{hdrLen: reqHdrLen},
		resp: frameScanner{hdrLen: respHdrLen},
	}, nil
}

const (
	reqHdrLen  = 12 // size, api key, api version, correlation id
	respHdrLen = 8  // size, correlation id
)

// lostAckConn is one watched connection. Write and Read each keep their own
// scanner (a net.Conn has at most one reader and one writer at a time);
// doomed is shared between them and guarded by l.mu.
type lostAckConn struct {
	net.Conn
	l *LostAcks

	req frameScanner // Write side

	resp frameScanner // Read side
	buf  []byte       // raw bytes read from Conn
	out  []byte       // checked bytes not yet handed to the caller
	lost bool         // a doomed answer arrived: the connection is gone

	doomed []doomedReq // guarded by l.mu; a slice keeps refunds in order
	closed bool        // guarded by l.mu
}

type doomedReq struct {
	corrID int32
	key    int16
}

// Write claims armed shots for requests whose header is in p, then passes p
// on unchanged. Claiming before the bytes leave means the answer cannot
// arrive before it is marked. If the write fails part way the scanner is out
// of step, but kgo kills a connection after any write error, and Close
// refunds the claim.
func (c *lostAckConn) Write(p []byte) (int, error) {
	for rest := p; len(rest) > 0; {
		n, hdr := c.req.next(rest)
		rest = rest[n:]
		if hdr != nil {
			c.claim(int16(binary.BigEndian.Uint16(hdr[4:])), int32(binary.BigEndian.Uint32(hdr[8:])))
		}
	}
	return c.Conn.Write(p)
}

func (c *lostAckConn) claim(key int16, corrID int32) {
	l := c.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.closed || l.armed[key] == 0 {
		return
	}
	l.armed[key]--
	c.doomed = append(c.doomed, doomedReq{corrID, key})
}

// Read hands out response bytes only once the header of the frame they
// belong to has been checked, so a doomed frame is withheld entirely.
func (c *lostAckConn) Read(p []byte) (int, error) {
	for {
		if len(c.out) > 0 {
			n := copy(p, c.out)
			c.out = c.out[n:]
			return n, nil
		}
		if c.lost {
			return 0, io.EOF
		}
		if len(p) == 0 {
			return 0, nil
		}
		if len(c.buf) < len(p) {
			c.buf = make([]byte, len(p))
		}
		n, err := c.Conn.Read(c.buf[:len(p)])
		c.scanResponses(c.buf[:n])
		if err != nil {
			n := copy(p, c.out)
			c.out = c.out[n:]
			return n, err
		}
	}
}

func (c *lostAckConn) scanResponses(b []byte) {
	c.out = c.out[:0] // out is empty whenever we read more
	for len(b) > 0 && !c.lost {
		n, hdr := c.resp.next(b)
		switch {
		case hdr != nil && c.drop(int32(binary.BigEndian.Uint32(hdr[4:]))):
			c.lost = true
		case hdr != nil:
			c.out = append(c.out, hdr...)
		case c.resp.n == 0 || c.resp.broken: // body bytes, or unparsable stream
			c.out = append(c.out, b[:n]...)
		}
		b = b[n:]
	}
}

// drop reports whether corrID is doomed; if so it counts the drop, closes the
// connection and refunds the shots of the other doomed requests on it.
func (c *lostAckConn) drop(corrID int32) bool {
	l := c.l
	l.mu.Lock()
	i := slices.IndexFunc(c.doomed, func(d doomedReq) bool { return d.corrID == corrID })
	if i < 0 {
		l.mu.Unlock()
		return false
	}
	l.dropped[c.doomed[i].key]++
	c.doomed = slices.Delete(c.doomed, i, i+1)
	l.mu.Unlock()
	c.Close()
	return true
}

// Close refunds the shots of doomed requests whose answer never came.
func (c *lostAckConn) Close() error {
	l := c.l
	l.mu.Lock()
	c.closed = true
	for _, d := range c.doomed {
		l.armed[d.key]++
	}
	c.doomed = nil
	l.mu.Unlock()
	return c.Conn.Close()
}

// frameScanner follows length-prefixed Kafka frames through a byte stream cut
// at arbitrary places.
type frameScanner struct {
	hdrLen int             // header bytes to collect: size plus what follows
	hdr    [reqHdrLen]byte // header of the current frame, n bytes so far
	n      int
	left   int64 // body bytes of the current frame still to come
	broken bool  // a size was impossible: stop parsing, pass everything
}

// next consumes a prefix of b and returns its length. If that prefix
// completed a frame header, next also returns the header (valid until the
// next call). While a header is incomplete, s.n > 0 and the consumed bytes
// are held in s.hdr.
func (s *frameScanner) next(b []byte) (int, []byte) {
	if s.broken {
		return len(b), nil
	}
	if s.left > 0 {
		n := int(min(s.left, int64(len(b))))
		s.left -= int64(n)
		return n, nil
	}
	n := copy(s.hdr[s.n:s.hdrLen], b)
	s.n += n
	if s.n < s.hdrLen {
		return n, nil
	}
	s.n = 0
	size := int64(int32(binary.BigEndian.Uint32(s.hdr[:])))
	if size < int64(s.hdrLen-4) {
		s.broken = true
	}
	s.left = size - int64(s.hdrLen-4)
	return n, s.hdr[:s.hdrLen]
}
