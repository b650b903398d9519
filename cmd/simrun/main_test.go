package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// buildSimrun builds the CLI once per test binary: the scenarios run in an
// embedded testing.Main, so they are exercised through the real binary.
func buildSimrun(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "simrun")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, string(out))
	return bin
}

func run(t *testing.T, bin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return o.String(), e.String(), code
}

func TestCLI(t *testing.T) {
	bin := buildSimrun(t)
	badPlan := filepath.Join(t.TempDir(), "bad.json")
	require.NoError(t, os.WriteFile(badPlan, []byte(`{"version":1,"faults":[{"fault":"crash-after-ack","hitt":1}]}`), 0o644))

	usage := []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "usage"},
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"unknown protocol", []string{"campaign", "--protocol", "nope"}, `unknown protocol "nope"`},
		{"missing protocol", []string{"campaign"}, "--protocol is required"},
		{"zero runs", []string{"campaign", "--protocol", "two-phase-commit", "--runs", "0"}, "--runs must be at least 1"},
		{"unknown fault", []string{"campaign", "--protocol", "two-phase-commit", "--faults", "meteor"}, `unknown fault "meteor"`},
		{"unknown flag", []string{"campaign", "--protocol", "two-phase-commit", "--bogus"}, "bogus"},
		{"bad shard", []string{"campaign", "--protocol", "two-phase-commit", "--shard", "3/2"}, "--shard"},
		{"bad workload", []string{"replay", "--protocol", "two-phase-commit", "--parallelism", "9"}, "parallelism"},
		{"missing plan", []string{"replay", "--protocol", "two-phase-commit", "--plan", "/nonexistent/plan.json"}, "read plan"},
		{"malformed plan", []string{"replay", "--plan", badPlan}, "hitt"},
		{"bad list", []string{"list", "colours"}, `cannot list "colours"`},
		{"runs with exhaustive", []string{"campaign", "--protocol", "two-phase-commit", "--exhaustive", "--runs", "5"}, "exclude each other"},
		{"zoo seeds", []string{"zoo", "--seeds", "0"}, "--seeds must be 1..1000"},
		{"pairs without exhaustive", []string{"campaign", "--protocol", "two-phase-commit", "--pairs"}, "--pairs needs --exhaustive"},
	}
	for _, tc := range usage {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := run(t, bin, tc.args...)
			require.Equal(t, exitUsage, code, stderr)
			require.Contains(t, stderr, tc.want)
			require.NotContains(t, stderr, "goroutine", "no stack traces on bad input")
			if tc.name != "no command" {
				require.Equal(t, 1, strings.Count(strings.TrimSpace(stderr), "\n")+1, "one line: %q", stderr)
			}
		})
	}

	t.Run("list", func(t *testing.T) {
		out, _, code := run(t, bin, "list", "protocols")
		require.Equal(t, 0, code)
		require.Contains(t, out, "two-phase-commit\tcorrect\t")
		require.Contains(t, out, "commit-on-snapshot\tknown-bad\t")
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			require.Len(t, strings.Split(line, "\t"), 3, line)
		}
		out, _, _ = run(t, bin, "list", "anomalies")
		require.Contains(t, out, "silent-loss\tanomaly\t")
		out, _, _ = run(t, bin, "list", "faults")
		require.Contains(t, out, "crash-after-precommit\tcrash\t")
		require.Contains(t, out, `[plan field "phase": recovery|notify|precommit`)
		out, _, code = run(t, bin, "list", "phases")
		require.Equal(t, 0, code)
		require.Contains(t, out, "recovery\tphase\t")
		require.Contains(t, out, "precommit\tphase\t")
	})

	t.Run("clean campaign", func(t *testing.T) {
		out, _, code := run(t, bin, "campaign", "--protocol", "two-phase-commit", "--runs", "10", "--seed", "5")
		require.Equal(t, exitOK, code, out)
		last := lastLine(out)
		require.True(t, strings.HasPrefix(last, "runs=10 violations=0 "), last)
		for _, field := range []string{"lost=0", "duplicate=0", "silent-loss=0", "crash-after-precommit=", "wall=", "virtual=", "first_failing_seed=none"} {
			require.Contains(t, last, field)
		}
	})

	t.Run("exhaustive", func(t *testing.T) {
		out, _, code := run(t, bin, "campaign", "--protocol", "two-phase-commit", "--exhaustive",
			"--records", "120", "--partitions", "2", "--parallelism", "1", "--interval", "40", "--jobs", "2")
		require.Equal(t, exitOK, code, out)
		require.Regexp(t, `exhaustive: schedule seed \d+, \d+ crash sites, \d+ crash point x checkpoint cells`, out)
		require.Regexp(t, `^runs=[1-9]\d* violations=0 `, lastLine(out))
	})

	t.Run("caught variant replays", func(t *testing.T) {
		out, _, code := run(t, bin, "campaign", "--protocol", "commit-on-snapshot", "--runs", "20", "--seed", "5")
		require.Equal(t, exitViolations, code, out)
		require.Regexp(t, `runs=20 violations=[1-9]`, lastLine(out))
		var replay string
		for _, line := range strings.Split(out, "\n") {
			if r, ok := strings.CutPrefix(strings.TrimSpace(line), "replay: go run ./cmd/simrun "); ok {
				replay = r
				break
			}
		}
		require.NotEmpty(t, replay, out)
		tr1, tr2 := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
		args := strings.Fields(replay)
		out1, _, code1 := run(t, bin, append(args, "--trace", tr1)...)
		_, _, code2 := run(t, bin, append(args, "--trace", tr2)...)
		require.Equal(t, exitViolations, code1, out1)
		require.Equal(t, exitViolations, code2)
		require.Contains(t, out1, "duplicate")
		a, err := os.ReadFile(tr1)
		require.NoError(t, err)
		b, err := os.ReadFile(tr2)
		require.NoError(t, err)
		require.NotEmpty(t, a)
		require.Equal(t, string(a), string(b), "replay twice must give byte-identical traces")
	})
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
