package appsim

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
)

// heldNet is the deterministic network of the app's processes. A write
// never reaches the broker by itself: each complete request frame (Kafka
// framing, a 4-byte length prefix) is held on its connection, the write
// returns at once (as into a socket buffer), and the scheduler, once the
// bubble is quiescent, releases one held frame at a time in an order drawn
// from the seed. Which frames are held at a quiescent moment does not depend
// on goroutine timing, and candidates are sorted by who sent them before
// the draw, so neither does what reaches kfake.
//
// Responses pass through unchanged, except on a muted connection (the
// broker applied a request whose answer must never arrive: the read blocks
// until the connection is cut).
type heldNet struct {
	dial func(ctx context.Context, network, addr string) (net.Conn, error)

	mu    sync.Mutex
	conns []*heldConn
	seq   int
}

var errCut = errors.New("appsim: connection cut (the process was killed)")

// connID names a connection by who made it, never by when.
type connID struct {
	instance, attempt, client int
	addr                      string
	seq                       int // dial order: only a tie-breaker
}

type heldConn struct {
	net.Conn
	n     *heldNet
	owner *process
	id    connID

	// guarded by n.mu
	buf     []byte
	pending [][]byte
	cut     bool
	muted   bool
	cutCh   chan struct{}
}

// dialFor returns the dialer of one client of process p.
func (n *heldNet) dialFor(p *process, client int) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if p.isCut() {
			return nil, errCut
		}
		raw, err := n.dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		n.mu.Lock()
		defer n.mu.Unlock()
		if p.isCut() {
			raw.Close()
			return nil, errCut
		}
		n.seq++
		c := &heldConn{Conn: raw, n: n, owner: p, cutCh: make(chan struct{}),
			id: connID{p.instance, p.attempt, client, addr, n.seq}}
		n.conns = append(n.conns, c)
		return c, nil
	}
}

// Write holds every complete frame in p and returns at once.
func (c *heldConn) Write(p []byte) (int, error) {
	c.n.mu.Lock()
	defer c.n.mu.Unlock()
	if c.cut {
		return 0, errCut
	}
	c.buf = append(c.buf, p...)
	for len(c.buf) >= 4 {
		size := int(int32(binary.BigEndian.Uint32(c.buf)))
		if size < 8 {
			return 0, fmt.Errorf("appsim: a request frame of %d bytes is not Kafka framing", size)
		}
		if len(c.buf) < 4+size {
			break
		}
		c.pending = append(c.pending, slices.Clone(c.buf[:4+size]))
		c.buf = c.buf[4+size:]
	}
	return len(p), nil
}

// Read passes responses through; on a muted connection it blocks until the
// connection is cut, so the answer is never delivered.
func (c *heldConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.mu.Lock()
	muted, cut := c.muted, c.cut
	c.n.mu.Unlock()
	if cut {
		return 0, errCut
	}
	if muted {
		<-c.cutCh
		return 0, errCut
	}
	return n, err
}

// Close drops the frames not yet released, as a reset connection would.
func (c *heldConn) Close() error {
	c.n.mu.Lock()
	c.detach()
	c.n.mu.Unlock()
	return c.Conn.Close()
}

// detach forgets the connection; n.mu is held.
func (c *heldConn) detach() {
	if !c.cut {
		c.cut = true
		close(c.cutCh)
	}
	c.pending = nil
	c.n.conns = slices.DeleteFunc(c.n.conns, func(x *heldConn) bool { return x == c })
}

// cutProcess cuts every connection of p: no byte in or out any more.
func (n *heldNet) cutProcess(p *process) {
	n.mu.Lock()
	var cut []*heldConn
	for _, c := range slices.Clone(n.conns) {
		if c.owner == p {
			c.detach()
			cut = append(cut, c)
		}
	}
	n.mu.Unlock()
	for _, c := range cut {
		c.Conn.Close()
	}
}

// heldFrame is a frame at the head of a connection's queue.
type heldFrame struct {
	conn *heldConn
	req  request
}

// candidates returns the head frame of every connection that holds one and
// whose process is not paused, sorted by sender.
func (n *heldNet) candidates() []heldFrame {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []heldFrame
	for _, c := range n.conns {
		if len(c.pending) == 0 || c.owner.isPaused() {
			continue
		}
		out = append(out, heldFrame{c, parseRequest(c.pending[0])})
	}
	slices.SortFunc(out, func(a, b heldFrame) int {
		x, y := a.conn.id, b.conn.id
		return cmp.Or(cmp.Compare(x.instance, y.instance), cmp.Compare(x.attempt, y.attempt),
			cmp.Compare(x.client, y.client), cmp.Compare(x.addr, y.addr),
			cmp.Compare(a.req.key, b.req.key), cmp.Compare(a.req.corr, b.req.corr), cmp.Compare(x.seq, y.seq))
	})
	return out
}

// take removes f from its connection's queue; it reports false when the
// connection went away meanwhile.
func (n *heldNet) take(f heldFrame, mute bool) ([]byte, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := f.conn
	if c.cut || len(c.pending) == 0 {
		return nil, false
	}
	data := c.pending[0]
	c.pending = c.pending[1:]
	if mute {
		c.muted = true
	}
	return data, true
}

// drop discards f without sending it (the process dies before the broker
// sees it).
func (n *heldNet) drop(f heldFrame) { n.take(f, false) }
