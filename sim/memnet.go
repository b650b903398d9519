package sim

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"time"
)

// memNetwork is a scenario's in-memory network: kfake listens on it
// (kfake.ListenFn) and every kgo client dials it (kgo.Dialer). It replaces
// kfake.VirtualNetwork, whose net.Pipe connections are synchronous: a
// Write returns only once the reader has taken every byte, so each Kafka
// frame (a size read, then a body read) costs several goroutine handoffs
// in each direction. A memConn buffers what is written, as a socket's
// kernel buffer does, and a Read takes whatever has arrived. Readers wait
// on channels only, so synctest counts a waiting reader as durably
// blocked and the bubble's clock can advance. kgo and kfake see a
// net.Conn either way; what they send and when is unchanged.
type memNetwork struct {
	mu        sync.Mutex
	listeners map[int]*memListener
}

// Listen implements kfake.ListenFn: address is host:port on localhost.
func (n *memNetwork) Listen(_, address string) (net.Listener, error) {
	port, err := localPort(address)
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.listeners == nil {
		n.listeners = map[int]*memListener{}
	}
	if _, ok := n.listeners[port]; ok {
		return nil, fmt.Errorf("listen %s: port in use", address)
	}
	l := &memListener{net: n, port: port, conns: make(chan net.Conn), closed: make(chan struct{})}
	n.listeners[port] = l
	return l, nil
}

// DialContext implements kgo.Dialer.
func (n *memNetwork) DialContext(ctx context.Context, _, address string) (net.Conn, error) {
	port, err := localPort(address)
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	l := n.listeners[port]
	n.mu.Unlock()
	if l == nil {
		return nil, fmt.Errorf("dial %s: connection refused", address)
	}
	client, server := memPipe(port)
	select {
	case l.conns <- server:
		return client, nil
	case <-l.closed:
		return nil, fmt.Errorf("dial %s: connection refused", address)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func localPort(address string) (int, error) {
	host, p, err := net.SplitHostPort(address)
	if err != nil {
		return 0, fmt.Errorf("in-memory network: %w", err)
	}
	if host != "localhost" && host != "127.0.0.1" && host != "" {
		return 0, fmt.Errorf("in-memory network: %s is not local", address)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return 0, fmt.Errorf("in-memory network: port of %s: %w", address, err)
	}
	return port, nil
}

type memListener struct {
	net       *memNetwork
	port      int
	conns     chan net.Conn
	closed    chan struct{}
	closeOnce sync.Once
}

func (l *memListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// Close frees the port, so that a restarted broker can listen on it again.
func (l *memListener) Close() error {
	l.closeOnce.Do(func() {
		close(l.closed)
		l.net.mu.Lock()
		if l.net.listeners[l.port] == l {
			delete(l.net.listeners, l.port)
		}
		l.net.mu.Unlock()
	})
	return nil
}

func (l *memListener) Addr() net.Addr { return memAddr(l.port) }

// memAddr is a localhost address; clients get port 0.
type memAddr int

func (memAddr) Network() string  { return "tcp" }
func (a memAddr) String() string { return "127.0.0.1:" + strconv.Itoa(int(a)) }

// memPipe returns the two ends of a connection to port.
func memPipe(port int) (client, server *memConn) {
	up, down := newMemBuffer(), newMemBuffer()
	client = &memConn{in: down, out: up, local: memAddr(0), remote: memAddr(port), closed: make(chan struct{}), kick: make(chan struct{}, 1)}
	server = &memConn{in: up, out: down, local: memAddr(port), remote: memAddr(0), closed: make(chan struct{}), kick: make(chan struct{}, 1)}
	return client, server
}

// memBuffer is one direction of a connection.
type memBuffer struct {
	mu         sync.Mutex
	data       []byte
	eof        bool          // the writing end closed: a reader gets io.EOF once data is drained
	readerGone bool          // the reading end closed: writes fail
	arrived    chan struct{} // capacity 1: data arrived or eof was set
}

func newMemBuffer() *memBuffer { return &memBuffer{arrived: make(chan struct{}, 1)} }

func (b *memBuffer) notify() {
	select {
	case b.arrived <- struct{}{}:
	default:
	}
}

func (b *memBuffer) write(p []byte) error {
	b.mu.Lock()
	if b.readerGone || b.eof {
		b.mu.Unlock()
		return io.ErrClosedPipe
	}
	b.data = append(b.data, p...)
	b.mu.Unlock()
	b.notify()
	return nil
}

// take copies what has arrived into p; eof is true when nothing is left
// and nothing more will come.
func (b *memBuffer) take(p []byte) (n int, eof bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n = copy(p, b.data)
	b.data = b.data[n:]
	if len(b.data) == 0 {
		b.data = b.data[:0:0] // let the consumed backing array go
	}
	return n, n == 0 && b.eof
}

func (b *memBuffer) closeWrite() {
	b.mu.Lock()
	b.eof = true
	b.mu.Unlock()
	b.notify()
}

func (b *memBuffer) closeRead() {
	b.mu.Lock()
	b.readerGone, b.data = true, nil
	b.mu.Unlock()
}

// memConn is one end of an in-memory connection. Writes never block;
// deadlines are kept as times and only a blocked Read arms a timer.
type memConn struct {
	in, out       *memBuffer
	local, remote net.Addr

	closeOnce sync.Once
	closed    chan struct{}

	mu            sync.Mutex
	readDeadline  time.Time
	writeDeadline time.Time
	kick          chan struct{} // capacity 1: the read deadline changed
}

func (c *memConn) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

func (c *memConn) Read(p []byte) (int, error) {
	for {
		if c.isClosed() {
			return 0, io.ErrClosedPipe
		}
		c.mu.Lock()
		deadline := c.readDeadline
		c.mu.Unlock()
		// A passed deadline wins over data that has arrived, as on a
		// socket and on net.Pipe: kgo interrupts a read that way.
		if !deadline.IsZero() && !time.Now().Before(deadline) {
			return 0, os.ErrDeadlineExceeded
		}
		if n, eof := c.in.take(p); n > 0 || eof || len(p) == 0 {
			if eof {
				return 0, io.EOF
			}
			return n, nil
		}
		var expired <-chan time.Time
		var timer *time.Timer
		if !deadline.IsZero() {
			timer = time.NewTimer(time.Until(deadline))
			expired = timer.C
		}
		select {
		case <-c.in.arrived:
		case <-c.kick:
		case <-c.closed:
		case <-expired:
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

func (c *memConn) Write(p []byte) (int, error) {
	if c.isClosed() {
		return 0, io.ErrClosedPipe
	}
	c.mu.Lock()
	deadline := c.writeDeadline
	c.mu.Unlock()
	if !deadline.IsZero() && !time.Now().Before(deadline) {
		return 0, os.ErrDeadlineExceeded
	}
	if err := c.out.write(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (c *memConn) Close() error {
	c.closeOnce.Do(func() {
		close(c.closed)
		c.out.closeWrite()
		c.in.closeRead()
	})
	return nil
}

func (c *memConn) LocalAddr() net.Addr  { return c.local }
func (c *memConn) RemoteAddr() net.Addr { return c.remote }

func (c *memConn) SetDeadline(t time.Time) error {
	c.SetWriteDeadline(t)
	return c.SetReadDeadline(t)
}

func (c *memConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.readDeadline = t
	c.mu.Unlock()
	select {
	case c.kick <- struct{}{}:
	default:
	}
	return nil
}

func (c *memConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.writeDeadline = t
	c.mu.Unlock()
	return nil
}
