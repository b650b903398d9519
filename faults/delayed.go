package faults

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DelayedRequests holds requests back in the network: the class of fault
// Jepsen's Bufstream 0.1.0 analysis found in Kafka's transaction protocol
// (a Produce or EndTxn delayed on one connection and delivered after the
// client, having retried on another, began its next transaction) and that
// KIP-890 (Transactions Server-Side Defense) closes with an epoch bump per
// transaction.
//
// Arm(key) makes the next request written with that API key "held": its
// bytes never reach the broker then, the client's connection is closed (the
// client's read fails with io.EOF, as when a broker drops a connection, and
// kgo resends the request on a new connection), and the frame is kept.
// Release delivers the kept frames later, each on a fresh connection of its
// own to the broker the client had dialled, and returns what the broker
// answered. Frames before and after the held one on the same connection
// pass unchanged.
//
// Like LostAcks it starts no goroutines and waits on no clock, so it is safe
// in a testing/synctest bubble. It is safe for concurrent use.
type DelayedRequests struct {
	dial func(ctx context.Context, network, addr string) (net.Conn, error)

	mu    sync.Mutex
	armed map[int16][]int // per API key, the shots left: each one's ticks to hold
	held  map[int16]int   // requests held so far per API key
	kept  []HeldRequest   // held, not yet released
	tick  int             // advanced by Tick (in the simulator, each checkpoint trigger)
}

// HeldRequest is one request held back: its API key and version, the
// broker it was sent to and the raw frame (size prefix included).
type HeldRequest struct {
	Key     int16
	Version int16
	Addr    string
	frame   []byte
	heldAt  int // the tick at which it was held
	ticks   int // how many ticks to hold it
}

// Delivery is what the broker answered a held request delivered late.
type Delivery struct {
	Key     int16
	Version int16
	// Err is the broker's error code for the request (for a Produce, the
	// first partition's), nil for success; DeliverErr is set when the
	// delivery itself failed (dial, write, read, parse).
	Err        error
	DeliverErr error
	// NoAnswer: a Produce with acks=0, which the broker never answers.
	NoAnswer bool
}

// String renders the delivery for a trace: "EndTxn v4 answered PRODUCER_FENCED".
func (d Delivery) String() string {
	name := kmsg.NameForKey(d.Key)
	switch {
	case d.DeliverErr != nil:
		return fmt.Sprintf("%s v%d not delivered: %v", name, d.Version, d.DeliverErr)
	case d.NoAnswer:
		return fmt.Sprintf("%s v%d delivered, acks=0: no answer", name, d.Version)
	case d.Err != nil:
		code := d.Err.Error()
		if ke, ok := d.Err.(*kerr.Error); ok {
			code = ke.Message
		}
		return fmt.Sprintf("%s v%d answered %s", name, d.Version, code)
	}
	return fmt.Sprintf("%s v%d answered ok", name, d.Version)
}

// NewDelayedRequests wraps dial (kfake.VirtualNetwork.DialContext, or
// another DialContext).
func NewDelayedRequests(dial func(ctx context.Context, network, addr string) (net.Conn, error)) *DelayedRequests {
	return &DelayedRequests{dial: dial, armed: map[int16][]int{}, held: map[int16]int{}}
}

// Arm holds back the next request with this API key (0 Produce, 26 EndTxn,
// ...) until ticks calls of Tick have passed. Each call adds one shot;
// shots of a key are taken in the order they were armed.
func (d *DelayedRequests) Arm(key int16, ticks int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.armed[key] = append(d.armed[key], ticks)
}

// Tick advances the clock held requests are aged by.
func (d *DelayedRequests) Tick() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.tick++
}

// Held returns how many requests with this API key were held so far.
func (d *DelayedRequests) Held(key int16) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.held[key]
}

// Waiting returns how many held requests were not released yet.
func (d *DelayedRequests) Waiting() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.kept)
}

// Release delivers the held requests whose ticks have passed (every one
// with all), in the order they were held, and returns the broker's answers.
func (d *DelayedRequests) Release(ctx context.Context, all bool) []Delivery {
	d.mu.Lock()
	var due []HeldRequest
	keep := d.kept[:0]
	for _, h := range d.kept {
		if all || d.tick-h.heldAt >= h.ticks {
			due = append(due, h)
		} else {
			keep = append(keep, h)
		}
	}
	d.kept = keep
	d.mu.Unlock()
	out := make([]Delivery, 0, len(due))
	for _, h := range due {
		out = append(out, d.deliver(ctx, h))
	}
	return out
}

func (d *DelayedRequests) deliver(ctx context.Context, h HeldRequest) Delivery {
	res := Delivery{Key: h.Key, Version: h.Version}
	conn, err := d.dial(ctx, "tcp", h.Addr)
	if err != nil {
		res.DeliverErr = fmt.Errorf("dial %s: %w", h.Addr, err)
		return res
	}
	defer conn.Close()
	if _, err := conn.Write(h.frame); err != nil {
		res.DeliverErr = fmt.Errorf("write: %w", err)
		return res
	}
	if h.Key == int16(kmsg.Produce) && producesWithoutAcks(h.Version, h.frame) {
		// The broker answers no Produce with acks=0: waiting for one
		// would block the scheduler for good (protocol none's sink).
		res.NoAnswer = true
		return res
	}
	var size [4]byte
	if _, err := io.ReadFull(conn, size[:]); err != nil {
		res.DeliverErr = fmt.Errorf("read answer: %w", err)
		return res
	}
	n := int(int32(binary.BigEndian.Uint32(size[:])))
	if n < 4 || n > MaxPlanBytes*16 {
		res.DeliverErr = fmt.Errorf("answer of impossible size %d", n)
		return res
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(conn, body); err != nil {
		res.DeliverErr = fmt.Errorf("read answer: %w", err)
		return res
	}
	res.Err, res.DeliverErr = answerError(h.Key, h.Version, body[4:]) // past the correlation id
	return res
}

// answerError parses a response body (after the correlation id) and returns
// its error code.
func answerError(key, version int16, body []byte) (error, error) {
	resp := kmsg.ResponseForKey(key)
	if resp == nil {
		return nil, fmt.Errorf("no response type for key %d", key)
	}
	resp.SetVersion(version)
	if resp.IsFlexible() && key != int16(kmsg.ApiVersions) {
		// The flexible response header ends in tagged fields: skip them.
		var err error
		if body, err = skipTags(body); err != nil {
			return nil, fmt.Errorf("answer header: %w", err)
		}
	}
	if err := resp.ReadFrom(body); err != nil {
		return nil, fmt.Errorf("parse answer: %w", err)
	}
	switch r := resp.(type) {
	case *kmsg.EndTxnResponse:
		return kerr.ErrorForCode(r.ErrorCode), nil
	case *kmsg.ProduceResponse:
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				return kerr.ErrorForCode(p.ErrorCode), nil
			}
		}
	}
	return nil, nil
}

// producesWithoutAcks reports whether a Produce request frame (size,
// header, body) asks for acks=0. Header: API key, version, correlation id,
// client id (int16 length), tagged fields from v9 (flexible versions).
func producesWithoutAcks(version int16, frame []byte) bool {
	const fixed = 4 + 2 + 2 + 4
	if len(frame) < fixed+2 {
		return false
	}
	idLen := int(int16(binary.BigEndian.Uint16(frame[fixed:])))
	rest := frame[fixed+2:]
	if idLen > 0 {
		if idLen > len(rest) {
			return false
		}
		rest = rest[idLen:]
	}
	if version >= 9 {
		var err error
		if rest, err = skipTags(rest); err != nil {
			return false
		}
	}
	req := kmsg.NewPtrProduceRequest()
	req.Version = version
	if err := req.ReadFrom(rest); err != nil {
		return false
	}
	return req.Acks == 0
}

// skipTags skips a tagged-field section: a count, then per field a tag,
// a size and the bytes.
func skipTags(b []byte) ([]byte, error) {
	uvarint := func() (uint64, error) {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, errors.New("bad uvarint")
		}
		b = b[n:]
		return v, nil
	}
	count, err := uvarint()
	if err != nil {
		return nil, err
	}
	for range count {
		if _, err := uvarint(); err != nil {
			return nil, err
		}
		size, err := uvarint()
		if err != nil {
			return nil, err
		}
		if size > uint64(len(b)) {
			return nil, errors.New("tagged field past the end")
		}
		b = b[size:]
	}
	return b, nil
}

// DialContext dials with the wrapped dialer and returns the watched
// connection.
func (d *DelayedRequests) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := d.dial(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &delayConn{Conn: c, d: d, addr: addr, req: frameScanner{hdrLen: reqHdrLen}}, nil
}

// delayConn is one watched connection. Only Write is watched: a net.Conn
// has one writer at a time.
type delayConn struct {
	net.Conn
	d    *DelayedRequests
	addr string

	req     frameScanner
	partial []byte // bytes of a header not yet complete: forwarded or held once it is
	holding *HeldRequest
	cut     atomic.Bool // a request was held: the connection is closed after this write
}

// Read reports a cut connection as a broker dropping it (io.EOF), which
// clients retry, not as the local close it is.
func (c *delayConn) Read(p []byte) (int, error) {
	if c.cut.Load() {
		return 0, io.EOF
	}
	n, err := c.Conn.Read(p)
	if err != nil && c.cut.Load() {
		return n, io.EOF
	}
	return n, err
}

// Write forwards p except the bytes of a held frame. Once a held frame is
// complete the connection is closed, and the write reports every byte as
// written: the request left the client.
func (c *delayConn) Write(p []byte) (int, error) {
	var fwd []byte
	for rest := p; len(rest) > 0; {
		body := c.req.left > 0
		n, hdr := c.req.next(rest)
		chunk := rest[:n]
		rest = rest[n:]
		switch {
		case body:
			c.route(&fwd, chunk)
		case hdr == nil: // part of a header
			c.partial = append(c.partial, chunk...)
		default:
			chunk = append(c.partial, chunk...)
			c.partial = nil
			key := int16(binary.BigEndian.Uint16(hdr[4:]))
			ticks, ok := 0, false
			if !c.req.broken {
				ticks, ok = c.claim(key)
			}
			if !ok {
				fwd = append(fwd, chunk...)
				continue
			}
			c.holding = &HeldRequest{Key: key, Version: int16(binary.BigEndian.Uint16(hdr[6:])), Addr: c.addr, ticks: ticks}
			c.route(&fwd, chunk)
		}
	}
	if len(fwd) > 0 {
		if _, err := c.Conn.Write(fwd); err != nil {
			return 0, err
		}
	}
	if c.cut.Load() {
		c.Conn.Close()
	}
	return len(p), nil
}

// route appends a chunk of the current frame to the held frame or to the
// forwarded bytes, and keeps a held frame once it is complete.
func (c *delayConn) route(fwd *[]byte, chunk []byte) {
	if c.holding == nil {
		*fwd = append(*fwd, chunk...)
		return
	}
	c.holding.frame = append(c.holding.frame, chunk...)
	if c.req.left == 0 {
		c.d.mu.Lock()
		c.holding.heldAt = c.d.tick
		c.d.kept = append(c.d.kept, *c.holding)
		c.d.held[c.holding.Key]++
		c.d.mu.Unlock()
		c.holding = nil
		c.cut.Store(true)
	}
}

// claim takes the key's next armed shot, if any, and returns its ticks.
func (c *delayConn) claim(key int16) (int, bool) {
	if c.cut.Load() {
		return 0, false
	}
	c.d.mu.Lock()
	defer c.d.mu.Unlock()
	shots := c.d.armed[key]
	if len(shots) == 0 {
		return 0, false
	}
	c.d.armed[key] = shots[1:]
	return shots[0], true
}
