package main

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
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
		// Plan fields a real run cannot honour are refused before the
		// broker is dialled, naming the field.
		{"startup mode", []string{"--protocol", "two-phase-commit", "--brokers", closed, "--startup-mode", "latest"}, "startup_mode latest cannot run on a real broker"},
		{"pooled zombie", []string{"--protocol", "two-phase-commit-pooled-ids", "--brokers", closed, "--plan", pooledZombie(t)}, "fault zombie with protocol two-phase-commit-pooled-ids"},
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

// pooledZombie writes a plan of a zombie on the pooled-ids protocol.
func pooledZombie(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "plan.json")
	plan := `{"version":1,"protocol":"two-phase-commit-pooled-ids","seed":1,"workload":{"partitions":2,"parallelism":1,"records":50,"keys_per_partition":2,"checkpoint_interval_ms":20},"faults":[{"fault":"zombie","hit":2,"restart_delay_ms":0}]}`
	require.NoError(t, os.WriteFile(path, []byte(plan), 0o644))
	return path
}
