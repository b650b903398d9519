package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/reports"
)

// small keeps the report tests fast: a known-bad protocol on 200 records.
var small = []string{"--protocol", "commit-on-snapshot", "--records", "200", "--partitions", "2", "--seed", "3"}

func campaignArgs(extra ...string) []string {
	return append(append([]string{"campaign"}, small...), extra...)
}

// readReport reads DIR/report.json and returns it without its execution
// section (the only part that depends on timing and --jobs).
func readReport(t *testing.T, dir string) (reports.Report, string) {
	t.Helper()
	r, err := reports.Read(dir)
	require.NoError(t, err)
	noExec := r
	noExec.Execution = reports.Execution{}
	b, err := reports.JSON(noExec)
	require.NoError(t, err)
	return r, string(b)
}

var timing = regexp.MustCompile(` (wall|runs_per_sec)=\S+`)

func TestCampaignReports(t *testing.T) {
	bin := buildSimrun(t)
	tmp := t.TempDir()
	dir := func(name string) string { return filepath.Join(tmp, name) }

	out, _, code := run(t, bin, campaignArgs("--runs", "12", "--report", dir("jobs1"))...)
	require.Equal(t, exitViolations, code, out)
	r, jobs1 := readReport(t, dir("jobs1"))

	t.Run("files and contents", func(t *testing.T) {
		for _, f := range []string{"report.json", "summary.md", "junit.xml", "index.html"} {
			st, err := os.Stat(filepath.Join(dir("jobs1"), f))
			require.NoError(t, err)
			require.Positive(t, st.Size(), f)
		}
		require.Equal(t, 12, r.Outcome.RunsDone)
		require.Equal(t, reports.StatusFail, r.Outcome.Status)
		require.NotEmpty(t, r.Violations)
		v := r.Violations[0]
		require.Contains(t, out, v.Replay, "the report's replay command is the one the campaign printed")
		require.Equal(t, v.Replay, v.Plan.Replay)
		require.NotEmpty(t, r.Timelines)
		require.NotEqual(t, "unknown", r.Versions.Go)
		// The report's totals are the campaign's: same summary line.
		require.Equal(t, timing.ReplaceAllString(lastLine(out), ""), timing.ReplaceAllString(reportSummaryLine(r), ""))
	})

	t.Run("jobs 2 gives the same report", func(t *testing.T) {
		out, _, code := run(t, bin, campaignArgs("--runs", "12", "--jobs", "2", "--report", dir("jobs2"))...)
		require.Equal(t, exitViolations, code, out)
		r2, jobs2 := readReport(t, dir("jobs2"))
		require.Equal(t, jobs1, jobs2)
		require.Equal(t, 2, r2.Execution.Jobs)
	})

	t.Run("merged shards equal the unsharded campaign", func(t *testing.T) {
		for i := range 2 {
			shard := []string{"1/2", "2/2"}[i]
			out, _, code := run(t, bin, campaignArgs("--runs", "12", "--shard", shard, "--report", dir("shard"+shard[:1]))...)
			require.Contains(t, []int{exitOK, exitViolations}, code, out)
		}
		out, stderr, code := run(t, bin, "merge", dir("shard1"), dir("shard2"), "--out", dir("merged"))
		require.Equal(t, exitViolations, code, stderr)
		m, merged := readReport(t, dir("merged"))
		require.Equal(t, jobs1, merged)
		require.Equal(t, 2, m.Execution.Shards)
		require.Equal(t, timing.ReplaceAllString(lastLine(out), ""), timing.ReplaceAllString(reportSummaryLine(r), ""))

		// The summary line's rate is report.json's and summary.md's.
		rate := regexp.MustCompile(`runs_per_sec=(\S+)`).FindStringSubmatch(lastLine(out))
		require.Len(t, rate, 2, out)
		require.Equal(t, fmt.Sprintf("%.1f", m.Execution.ScenariosPerSecond), rate[1])
		md, err := os.ReadFile(filepath.Join(dir("merged"), "summary.md"))
		require.NoError(t, err)
		require.Contains(t, string(md), rate[1]+" scenarios/s")

		// Flags may come first; one shard alone is a partial merge.
		_, stderr, code = run(t, bin, "merge", "--out="+dir("partial"), dir("shard2"))
		require.Contains(t, []int{exitViolations, exitInconclusive}, code)
		require.Contains(t, stderr, "missing")
	})

	t.Run("incomplete merge of clean shards exits 3 and says incomplete", func(t *testing.T) {
		out, _, code := run(t, bin, "campaign", "--protocol", "two-phase-commit", "--runs", "10", "--seed", "2",
			"--records", "100", "--shard", "1/3", "--report", dir("clean1of3"))
		require.Equal(t, exitOK, code, out)
		_, stderr, code := run(t, bin, "merge", dir("clean1of3"), "--out", dir("incomplete"))
		require.Equal(t, exitInconclusive, code, stderr)
		require.Contains(t, stderr, "shards [2 3] are missing")
		r, _ := readReport(t, dir("incomplete"))
		require.Equal(t, reports.StatusIncomplete, r.Outcome.Status)
		require.Equal(t, 10, r.Outcome.RunsPlanned)
		md, err := os.ReadFile(filepath.Join(dir("incomplete"), "summary.md"))
		require.NoError(t, err)
		require.Contains(t, string(md), "INCOMPLETE")
		require.NotContains(t, string(md), "PASS")
	})

	t.Run("merge usage errors", func(t *testing.T) {
		_, _, code := run(t, bin, campaignArgs("--runs", "4", "--seed", "4", "--shard", "2/2", "--report", dir("otherseed"))...)
		require.Contains(t, []int{exitOK, exitViolations}, code)
		cases := []struct {
			name string
			args []string
			want string
		}{
			{"no out", []string{"merge", dir("jobs1")}, "--out DIR is required"},
			{"no dirs", []string{"merge", "--out", dir("x")}, "name the report directories"},
			{"missing dir", []string{"merge", dir("nope"), "--out", dir("x")}, "read report"},
			{"unknown flag", []string{"merge", "--bogus", dir("jobs1"), "--out", dir("x")}, "unknown flag"},
			{"other seed", []string{"merge", dir("shard1"), dir("otherseed"), "--out", dir("x")}, "differs from report 1 in options.base_seed (3 vs 4)"},
			{"same shard twice", []string{"merge", dir("shard1"), dir("shard1"), "--out", dir("x")}, "appears twice"},
			{"out is an input", []string{"merge", dir("shard1"), dir("shard2"), "--out", dir("shard2")}, "is (or is inside) the input"},
			{"out inside an input", []string{"merge", dir("shard1"), dir("shard2"), "--out", filepath.Join(dir("shard1"), "sub")}, "is (or is inside) the input"},
			{"out is an input's file's dir", []string{"merge", filepath.Join(dir("shard1"), "report.json"), dir("shard2"), "--out", dir("shard1") + "/"}, "is (or is inside) the input"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				_, stderr, code := run(t, bin, tc.args...)
				require.Equal(t, exitUsage, code, stderr)
				require.Contains(t, stderr, tc.want)
				require.Equal(t, 1, strings.Count(strings.TrimSpace(stderr), "\n")+1, "one line: %q", stderr)
			})
		}
	})

	t.Run("bad report dir", func(t *testing.T) {
		_, stderr, code := run(t, bin, campaignArgs("--runs", "1", "--report", "/dev/null/report")...)
		require.Equal(t, exitUsage, code, stderr)
		require.Contains(t, stderr, "--report")
	})

	t.Run("interrupt", func(t *testing.T) {
		o, e, _ := interrupted(t, bin, "campaign", "--protocol", "two-phase-commit", "--records", "200", "--runs", "200000", "--report", dir("interrupted"))
		last := lastLine(o.String())
		require.Regexp(t, `^runs=\d+ violations=0 `, last)
		require.Contains(t, e.String(), "interrupted:")
		r, _ := readReport(t, dir("interrupted"))
		require.Equal(t, reports.StatusInterrupted, r.Outcome.Status)
		require.True(t, r.Outcome.Interrupted)
		require.Positive(t, r.Outcome.RunsDone, "the runs going when the signal came finish and are reported")
		require.Less(t, r.Outcome.RunsDone, 200000)
		require.Contains(t, last, "runs="+strconv.Itoa(r.Outcome.RunsDone)+" ")
	})
}

// TestHugeCampaignStartsAtOnce: 10^12 runs build no per-run state up
// front; the campaign runs until interrupted.
func TestHugeCampaignStartsAtOnce(t *testing.T) {
	bin := buildSimrun(t)
	_, e, maxRSS := interrupted(t, bin, "campaign", "--protocol", "two-phase-commit", "--records", "50", "--runs", "1000000000000")
	require.Regexp(t, `interrupted: [1-9]\d* of 1000000000000 runs finished`, e.String())
	require.Less(t, maxRSS, int64(500<<10), "peak RSS in KB stays small")
}

// interrupted runs the command, sends SIGINT after 1.5 s, checks exit code
// 130 and returns its output and peak RSS (KB).
func interrupted(t *testing.T, bin string, args ...string) (o, e bytes.Buffer, maxRSS int64) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &o, &e
	require.NoError(t, cmd.Start())
	time.Sleep(1500 * time.Millisecond)
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	err := cmd.Wait()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, exitInterrupted, ee.ExitCode(), "stdout %s\nstderr %s", o.String(), e.String())
	return o, e, ee.ProcessState.SysUsage().(*syscall.Rusage).Maxrss
}

func TestProgress(t *testing.T) {
	t.Run("bar on a terminal", func(t *testing.T) {
		var buf bytes.Buffer
		p := newBarProgress(&buf, 10, campaignWords)
		p.update(3, 1)
		require.Contains(t, buf.String(), "3/10")
		require.Contains(t, buf.String(), "1 violating")
		p.finish()
		require.True(t, strings.HasSuffix(buf.String(), eraseLine),
			"finishing erases the whole line, so an echoed ^C leaves no stray C before the interrupted message")
	})
	t.Run("zoo words", func(t *testing.T) {
		var buf bytes.Buffer
		p := newProgress(&buf, 153, progressWords{"campaigns", "not caught"}).(*lineProgress)
		p.last = time.Now().Add(-progressEvery)
		p.update(9, 0)
		require.Regexp(t, `^progress: 9/153 campaigns, 0 not caught, `, buf.String())
	})
	t.Run("lines elsewhere, at most every few seconds", func(t *testing.T) {
		var buf bytes.Buffer
		p := newProgress(&buf, 10, campaignWords).(*lineProgress)
		p.update(1, 0)
		require.Empty(t, buf.String(), "not before progressEvery")
		p.last = time.Now().Add(-progressEvery)
		p.update(4, 2)
		require.Regexp(t, `^progress: 4/10 runs, 2 violating, \d+s elapsed, about \d+s left\n$`, buf.String())
	})
}
