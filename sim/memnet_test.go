package sim

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

// dialPair listens on a port of n, dials it and returns both ends.
func dialPair(t *testing.T, n *memNetwork) (client, server net.Conn, l net.Listener) {
	l, err := n.Listen("tcp", "127.0.0.1:9092")
	require.NoError(t, err)
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	client, err = n.DialContext(context.Background(), "tcp", "localhost:9092")
	require.NoError(t, err)
	return client, <-accepted, l
}

func TestMemConn(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, client, server net.Conn)
	}{
		{"a write does not wait for the reader and a read takes what arrived", func(t *testing.T, client, server net.Conn) {
			_, err := client.Write([]byte("ab"))
			require.NoError(t, err)
			_, err = client.Write([]byte("cd"))
			require.NoError(t, err)
			buf := make([]byte, 3)
			n, err := server.Read(buf)
			require.NoError(t, err)
			require.Equal(t, "abc", string(buf[:n]))
			n, err = server.Read(buf)
			require.NoError(t, err)
			require.Equal(t, "d", string(buf[:n]))
		}},
		{"a blocked read wakes when data arrives", func(t *testing.T, client, server net.Conn) {
			got := make(chan string, 1)
			go func() {
				buf := make([]byte, 8)
				n, _ := server.Read(buf)
				got <- string(buf[:n])
			}()
			synctest.Wait()
			_, err := client.Write([]byte("late"))
			require.NoError(t, err)
			require.Equal(t, "late", <-got)
		}},
		{"the peer's close gives the rest, then EOF; writes to it fail", func(t *testing.T, client, server net.Conn) {
			_, err := client.Write([]byte("x"))
			require.NoError(t, err)
			require.NoError(t, client.Close())
			buf := make([]byte, 4)
			n, err := server.Read(buf)
			require.NoError(t, err)
			require.Equal(t, 1, n)
			_, err = server.Read(buf)
			require.ErrorIs(t, err, io.EOF)
			_, err = server.Write([]byte("y"))
			require.Error(t, err)
			_, err = client.Read(buf)
			require.Error(t, err, "a closed end cannot read")
		}},
		{"a read deadline times out in virtual time", func(t *testing.T, client, server net.Conn) {
			start := time.Now()
			require.NoError(t, server.SetReadDeadline(start.Add(3*time.Second)))
			_, err := server.Read(make([]byte, 1))
			require.ErrorIs(t, err, os.ErrDeadlineExceeded)
			var ne net.Error
			require.True(t, errors.As(err, &ne) && ne.Timeout())
			require.Equal(t, 3*time.Second, time.Since(start))
		}},
		{"a deadline set to now interrupts a blocked read, and a passed deadline wins over data", func(t *testing.T, client, server net.Conn) {
			errc := make(chan error, 1)
			go func() {
				_, err := server.Read(make([]byte, 1))
				errc <- err
			}()
			synctest.Wait()
			require.NoError(t, server.SetReadDeadline(time.Now()))
			require.ErrorIs(t, <-errc, os.ErrDeadlineExceeded)
			_, err := client.Write([]byte("z"))
			require.NoError(t, err)
			_, err = server.Read(make([]byte, 1))
			require.ErrorIs(t, err, os.ErrDeadlineExceeded)
			require.NoError(t, server.SetReadDeadline(time.Time{}))
			n, err := server.Read(make([]byte, 1))
			require.NoError(t, err)
			require.Equal(t, 1, n)
		}},
		{"a passed write deadline fails the write", func(t *testing.T, client, server net.Conn) {
			require.NoError(t, client.SetWriteDeadline(time.Now()))
			_, err := client.Write([]byte("w"))
			require.ErrorIs(t, err, os.ErrDeadlineExceeded)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := &memNetwork{}
				client, server, l := dialPair(t, n)
				defer l.Close()
				defer client.Close()
				defer server.Close()
				tt.run(t, client, server)
			})
		})
	}
}

func TestMemNetworkListeners(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := &memNetwork{}
		l, err := n.Listen("tcp", "127.0.0.1:9092")
		require.NoError(t, err)
		_, err = n.Listen("tcp", "127.0.0.1:9092")
		require.Error(t, err, "a port in use")
		_, err = n.DialContext(context.Background(), "tcp", "localhost:9093")
		require.Error(t, err, "nobody listens there")
		_, err = n.DialContext(context.Background(), "tcp", "example.com:9092")
		require.Error(t, err, "not local")
		require.NoError(t, l.Close())
		_, err = l.Accept()
		require.ErrorIs(t, err, net.ErrClosed)
		l2, err := n.Listen("tcp", "127.0.0.1:9092")
		require.NoError(t, err, "a closed listener frees its port (a broker restart listens again)")
		require.NoError(t, l2.Close())
	})
}
