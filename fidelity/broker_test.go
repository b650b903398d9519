package fidelity

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

func TestPingNamesAnUnreachableAddress(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	err = Ping(ctx, []string{addr})
	if err == nil || !strings.Contains(err.Error(), addr) {
		t.Fatalf("Ping(%s) = %v, want an error naming the address", addr, err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Fatalf("Ping took %v", d)
	}
	if err := Ping(ctx, []string{"no-port"}); err == nil || !strings.Contains(err.Error(), "no-port") {
		t.Fatalf("Ping(no-port) = %v", err)
	}
}

func TestPingFake(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := Ping(ctx, StartFake(t)); err != nil {
		t.Fatal(err)
	}
}
