package fidelity

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// EnvBrokers names the environment variable that holds the real broker's
// address (HOST:PORT, comma-separated for several). .ci/run sets it from
// kafka/start.sh.
const EnvBrokers = "EOSIM_KAFKA"

// TestConfigs are the broker settings kafka/start.sh gives the real broker
// that a probe depends on; StartFake gives kfake the same.
var TestConfigs = map[string]string{
	"transaction.max.timeout.ms":     "300000",
	"transactional.id.expiration.ms": "20000", // see kafka/start.sh
}

// RealBrokers returns the real broker's addresses from EOSIM_KAFKA, once
// the broker completes a transaction (WarmUp). When it
// is unset the test is skipped with a message saying how to run it, except
// under CI=true, where a missing broker fails the test: CI must not skip
// the real-broker checks.
func RealBrokers(t testing.TB) []string {
	t.Helper()
	v := strings.TrimSpace(os.Getenv(EnvBrokers))
	if v == "" {
		msg := "no real Kafka broker: start one with kafka/start.sh (Java 17 and Maven) and export " +
			EnvBrokers + "=$(cat /tmp/eosim-kafka/address)"
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but %s is unset: %s", EnvBrokers, msg)
		}
		t.Skip(msg)
	}
	brokers := strings.Split(v, ",")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := Ping(ctx, brokers); err != nil {
		t.Fatalf("%s=%s: %v", EnvBrokers, v, err)
	}
	warm, cancelWarm := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancelWarm()
	if err := WarmUp(warm, brokers); err != nil {
		t.Fatalf("%s=%s: %v", EnvBrokers, v, err)
	}
	return brokers
}

// StartFake starts a one-broker kfake cluster on loopback TCP with
// TestConfigs and returns its addresses; it is closed when the test ends.
func StartFake(t testing.TB) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.BrokerConfigs(TestConfigs))
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

// Ping checks that brokers answer a metadata request before ctx ends; a
// refused or silent address is an error naming it.
func Ping(ctx context.Context, brokers []string) error {
	for _, b := range brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			return fmt.Errorf("broker address %q: want HOST:PORT", b)
		}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DisableClientMetrics(),
		kgo.DialTimeout(2*time.Second), kgo.RequestRetries(1))
	if err != nil {
		return fmt.Errorf("broker %s: %w", strings.Join(brokers, ","), err)
	}
	defer cl.Close()
	req := kmsg.NewPtrMetadataRequest()
	if _, err := req.RequestWith(ctx, cl); err != nil {
		return fmt.Errorf("broker %s does not answer: %w", strings.Join(brokers, ","), err)
	}
	return nil
}

// freePort finds a free loopback port for a listener that is closed and
// opened again on the same port (TestBrokerRestart's kfake). It draws
// below the kernel's ephemeral range, as kafka/start.sh does: a port the
// kernel hands out for ":0" is also handed out as the local end of client
// connections, and one of those can take it while the listener is closed.
func freePort() (int, error) {
	low := ephemeralLow()
	for range 100 {
		port := 10000 + rand.IntN(max(low-10000, 1))
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			l.Close()
			return port, nil
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0") // a crowded range: any port
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ephemeralLow is the first port of the kernel's ephemeral range (Linux's
// default where the range cannot be read).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	var low, high int
	if _, err := fmt.Sscan(string(b), &low, &high); err != nil || low <= 11000 {
		return 32768
	}
	return low
}
