package main

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/faults"
)

var gateFull = flag.Bool("gate.full", false, "also run the whole gate with its defaults and require exit 0 (about as long as the CI step)")

// simrun runs the binary in dir and returns stdout, stderr and the exit code.
func simrun(t *testing.T, bin, dir string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return o.String(), e.String(), ee.ExitCode()
	}
	require.NoError(t, err)
	return o.String(), e.String(), 0
}

// smallCorpus copies a few plans of the regression corpus: one known-bad
// counterexample and the first clean plan of each protocol the corpus has
// clean plans of. Every plan of the corpus replays in package properties
// (TestRegressionCorpus) and in the full gate (CI, -gate.full).
func smallCorpus(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src, err := filepath.Glob("../../testdata/corpus/*.json")
	require.NoError(t, err)
	n, clean := 0, map[string]bool{}
	for _, path := range src {
		name := filepath.Base(path)
		if strings.HasPrefix(name, "clean-") {
			p, err := faults.ReadPlan(path)
			require.NoError(t, err)
			if clean[p.Protocol] {
				continue
			}
			clean[p.Protocol] = true
		} else if name != "commit-on-snapshot.json" {
			continue
		}
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), b, 0o644))
		n++
	}
	require.True(t, clean["two-phase-commit"], "the regression corpus must hold clean plans of two-phase-commit")
	require.Greater(t, n, 1, "the regression corpus must hold commit-on-snapshot.json and clean plans")
	return dir
}

func TestShrinkCommand(t *testing.T) {
	bin := buildSimrun(t)
	work := t.TempDir()

	t.Run("shrinks a catch to a small plan that replays", func(t *testing.T) {
		out := filepath.Join(work, "cos.json")
		stdout, stderr, code := simrun(t, bin, work, "shrink", "--protocol", "commit-on-snapshot", "--seed", "1", "--search", "100", "--records", "100", "--out", out)
		require.Equal(t, exitOK, code, stdout+stderr)
		last := finalLine(stdout)
		require.True(t, strings.HasPrefix(last, "shrink runs="), last)
		require.Contains(t, last, "replayed=true")
		require.Regexp(t, `faults=\d+->\d+ records=\d+->\d+ partitions=\d+->\d+`, last)
		require.Contains(t, stdout, "before: faults=")
		require.Contains(t, stdout, "after:  faults=")
		p, err := faults.ReadPlan(out)
		require.NoError(t, err)
		require.Equal(t, "commit-on-snapshot", p.Protocol)
		require.LessOrEqual(t, len(p.Faults), 3)
		require.LessOrEqual(t, p.Workload.Records, 25, "100 records shrink to a few")
		require.Equal(t, "go run ./cmd/simrun replay --plan "+out, p.Replay)
		kinds := regexp.MustCompile(`kinds=(\S+)`).FindStringSubmatch(last)[1]

		replay, _, code := simrun(t, bin, work, "replay", "--plan", out)
		require.Equal(t, exitViolations, code, replay)
		for _, k := range strings.Split(kinds, ",") {
			require.Contains(t, replay, " "+k+": ", "the shrunk plan must replay to the same anomaly")
		}
	})

	usage := []struct {
		name string
		args []string
		want string
	}{
		{"clean scenario", []string{"shrink", "--protocol", "two-phase-commit", "--records", "20", "--faults", "crash-after-ack", "--out", filepath.Join(work, "x.json")}, "nothing to shrink"},
		{"bad match", []string{"shrink", "--protocol", "commit-on-snapshot", "--match", "roughly"}, "--match"},
		{"bad contrast", []string{"shrink", "--protocol", "commit-on-snapshot", "--contrast", "nope"}, "--contrast"},
		{"no out", []string{"shrink", "--protocol", "commit-on-snapshot", "--seed", "1"}, "shrink needs --out FILE"},
		{"missing out dir", []string{"shrink", "--protocol", "commit-on-snapshot", "--out", "/nonexistent/dir/x.json"}, "does not exist"},
		{"missing protocol", []string{"shrink"}, "--protocol is required"},
	}
	for _, tc := range usage {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := simrun(t, bin, work, tc.args...)
			require.Equal(t, exitUsage, code, stderr)
			require.Contains(t, stderr, tc.want)
			require.Equal(t, 1, strings.Count(strings.TrimSpace(stderr), "\n")+1, "one line: %q", stderr)
		})
	}
}

func TestGateCommand(t *testing.T) {
	bin := buildSimrun(t)
	corpus := smallCorpus(t)
	work := t.TempDir()
	gate := func(extra ...string) (string, int) {
		stdout, stderr, code := simrun(t, bin, work, append([]string{"gate", "--corpus", corpus, "--runs", "25"}, extra...)...)
		require.NotContains(t, stderr, "goroutine", "no stack traces")
		return stdout, code
	}
	checkLines := func(t *testing.T, out string) {
		lines := strings.Split(strings.TrimSpace(out), "\n")
		require.True(t, strings.HasPrefix(lines[len(lines)-1], "gate checks="), "the summary line comes last: %q", lines[len(lines)-1])
		for _, l := range lines[:len(lines)-1] {
			require.Regexp(t, `^(PASS|FAIL|INCO|SKIP|NOTE) `, l)
		}
	}

	// The same gate, once as is and once with the correct protocol broken
	// on purpose: only the broken one may fail the correct protocol's
	// checks, and it must exit 1.
	// Detection of every known-bad variant is TestBugZooIsCaught's (package
	// sim) and the full gate's in CI: here one detect check shows the
	// family runs, and --checks leaves the rest out.
	// The healthy gate's clean campaigns are 10 runs each: the correct
	// protocols' campaigns of the same mix are package sim's
	// (TestCorrectProtocolIsExactlyOnceUnderFaults, 30 runs each; at-least-once
	// in TestWeakerProtocolsShowTheirAllowedAnomalies), the gate's own
	// 1000 are CI's and -gate.full's.
	healthy, _ := gate("--runs", "10", "--checks", "corpus,clean,detect:commit-on-snapshot")
	checkLines(t, healthy)
	require.Contains(t, healthy, "NOTE partial gate: only the checks --checks corpus,clean,detect:commit-on-snapshot selects run")
	require.Equal(t, 1, strings.Count(healthy, "detect "), "only the detect check asked for runs:\n%s", healthy)
	require.Regexp(t, `(?m)^PASS clean\s+two-phase-commit\s`, healthy)
	require.Regexp(t, `(?m)^PASS corpus\s+clean-2pc-`, healthy)
	require.Regexp(t, `(?m)^PASS corpus\s+commit-on-snapshot\.json\s`, healthy)
	require.Regexp(t, `(?m)^PASS no-loss\s+at-least-once\s`, healthy)
	require.Regexp(t, `(?m)^PASS detect\s+commit-on-snapshot\s`, healthy)

	// The broken run selects only the checks it asserts on: the other
	// correct protocols' clean campaigns and plans are the healthy run's.
	broken, code := gate("--break", "two-phase-commit:commit-on-snapshot", "--checks", "corpus:commit-on-snapshot.json,clean:two-phase-commit")
	checkLines(t, broken)
	require.Equal(t, exitViolations, code, broken)
	require.Contains(t, broken, "NOTE deliberately broken for this run: two-phase-commit runs as commit-on-snapshot")
	require.Regexp(t, `(?m)^FAIL clean\s+two-phase-commit\s.*first failing seed`, broken)
	require.Regexp(t, `(?m)^FAIL corpus\s+commit-on-snapshot\.json\s.*two-phase-commit fails the same plan`, broken)
	require.Regexp(t, `result=fail$`, finalLine(broken))

	// The loud check: the correct protocol fails loudly under an outage
	// past its transaction timeout; with failed resume-commits ignored
	// (FLINK-7784's bug) the same outages lose output silently.
	loud, code := gate("--runs", "100", "--checks", "loud:two-phase-commit")
	require.Equal(t, exitOK, code, loud)
	require.Regexp(t, `(?m)^PASS loud\s+two-phase-commit\s+10 runs under outage-beyond-txn-timeout,outage-beyond-txn-id-expiry, [1-9]\d* losing output, .* silent-loss=0 `, loud)
	loud, code = gate("--runs", "100", "--checks", "loud:two-phase-commit", "--break", "two-phase-commit:short-txn-timeout")
	require.Equal(t, exitViolations, code, loud)
	require.Regexp(t, `(?m)^FAIL loud\s+two-phase-commit\s.*silent-loss=[1-9].*first seed with more than a loud loss \d+ \(\S*silent-loss\S*\): replay: `, loud)

	out, code := gate("--budget", "1ms")
	require.Equal(t, exitInconclusive, code, out)
	require.Regexp(t, `(?m)^SKIP `, out)
	require.Regexp(t, `(?m)^NOTE budget 1ms exhausted while running \S`, out)
	require.Regexp(t, `result=inconclusive$`, finalLine(out))

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"missing corpus", []string{"gate", "--corpus", filepath.Join(work, "none")}, "--corpus"},
		{"bad break", []string{"gate", "--corpus", corpus, "--break", "two-phase-commit:no-such-bug"}, "no protocol is two-phase-commit with bug"},
		{"break a weaker protocol", []string{"gate", "--corpus", corpus, "--break", "at-least-once:commit-on-snapshot"}, "not correct"},
		{"bad budget", []string{"gate", "--corpus", corpus, "--budget", "0s"}, "--budget"},
		{"unknown check family", []string{"gate", "--corpus", corpus, "--checks", "corpus,detekt"}, `--checks "detekt": want a family`},
		{"check of a correct protocol under detect", []string{"gate", "--corpus", corpus, "--checks", "detect:two-phase-commit"}, "no detect check of"},
		{"loud check of a known-bad protocol", []string{"gate", "--corpus", corpus, "--checks", "loud:commit-on-snapshot"}, "no loud check of"},
		{"check of a plan not in the corpus", []string{"gate", "--corpus", corpus, "--checks", "corpus:no-such.json"}, "no corpus check of"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := simrun(t, bin, work, tc.args...)
			require.Equal(t, exitUsage, code, stderr)
			require.Contains(t, stderr, tc.want)
		})
	}

	if *gateFull {
		t.Run("full gate passes", func(t *testing.T) {
			out, _, code := simrun(t, bin, "../..", "gate")
			require.Equal(t, exitOK, code, out)
		})
	}
}

func finalLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
