package main

import (
	"bytes"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/fidelity"
)

func TestRealrunBadInput(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := l.Addr().String()
	require.NoError(t, l.Close())
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unreachable", []string{"--protocol", "two-phase-commit", "--brokers", closed}, closed},
		{"no brokers", []string{"--protocol", "two-phase-commit"}, "--brokers is required"},
		{"not a crash fault", []string{"--protocol", "two-phase-commit", "--brokers", closed, "--faults", "leader-move"}, "cannot be injected on a real broker"},
		{"unknown protocol", []string{"--protocol", "nope", "--brokers", closed}, "nope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			start := time.Now()
			code := runMain(append([]string{"realrun"}, tc.args...), &out, &errOut)
			require.Equal(t, exitUsage, code, errOut.String())
			require.Contains(t, errOut.String(), tc.want)
			require.Equal(t, 1, strings.Count(errOut.String(), "\n"), "one line: %q", errOut.String())
			require.Less(t, time.Since(start), 5*time.Second)
		})
	}
}

// TestRealrunOnKafka: a correct protocol is clean (exit 0) and a known-bad
// one is caught (exit 1) on the real broker; the output says real time.
func TestRealrunOnKafka(t *testing.T) {
	brokers := strings.Join(fidelity.RealBrokers(t), ",")
	for _, tc := range []struct {
		protocol string
		code     int
	}{{"two-phase-commit", exitOK}, {"abort-on-recovery", exitViolations}} {
		t.Run(tc.protocol, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := runMain([]string{"realrun", "--brokers", brokers, "--protocol", tc.protocol, "--runs", "2", "--seed", "3",
				"--records", "300", "--partitions", "3", "--interval", "20", "--faults", "crash-after-checkpoint-stored"}, &out, &errOut)
			t.Log(out.String())
			require.Equal(t, tc.code, code, errOut.String())
			require.Contains(t, out.String(), "not replayable byte for byte")
			require.Contains(t, out.String(), "mode=real-time")
		})
	}
}
