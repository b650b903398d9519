package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/faults"
	"github.com/eosim/eosim/reports"
)

func TestHasAppFlag(t *testing.T) {
	require.True(t, hasAppFlag([]string{"--runs", "3", "--app", "x"}))
	require.True(t, hasAppFlag([]string{"-app=x"}))
	require.False(t, hasAppFlag([]string{"--protocol", "two-phase-commit"}))
	require.False(t, hasAppFlag([]string{"--", "--app"}))
	require.True(t, argGiven([]string{"--app", "x", "-protocol=y"}, "protocol"))
	require.False(t, argGiven([]string{"--protocols", "y"}, "protocol"))
}

func TestAppCampaignAndReplay(t *testing.T) {
	bin := buildSimrun(t, "eosim_demoapp")

	_, stderr, code := run(t, bin, "campaign", "--app", "nope")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, `unknown app "nope" (registered: `)
	require.Contains(t, stderr, "demo-naive-copier")
	require.Contains(t, stderr, "gts, gts-3") // the examples register themselves
	_, stderr, code = run(t, bin, "campaign", "--app", "demo-naive-copier", "--faults", "crash-at:nowhere")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "does not apply")

	stdout, _, code := run(t, bin, "campaign", "--app", "demo-naive-copier", "--runs", "40", "--seed", "3")
	require.Equal(t, 1, code, stdout)
	m := regexp.MustCompile(`FAIL app=demo-naive-copier seed=(\d+) verdict=violation`).FindStringSubmatch(stdout)
	require.NotNil(t, m, stdout)
	require.Regexp(t, `runs=\d+ violations=[1-9]\d* `, stdout)

	replay := regexp.MustCompile(`replay: simrun replay --app demo-naive-copier --seed \d+ --plan (\S+)`).FindStringSubmatch(stdout)
	require.NotNil(t, replay, stdout)
	stdout, _, code = run(t, bin, "replay", "--app", "demo-naive-copier", "--seed", m[1], "--plan", replay[1])
	require.Equal(t, 1, code, stdout)
	require.Contains(t, stdout, "verdict=violation")

	stdout, _, code = run(t, bin, "campaign", "--app", "demo-naive-copier", "--exhaustive", "--records", "8")
	require.Equal(t, 1, code, stdout)
	require.Regexp(t, `runs=\d+ violations=[1-9]\d* .* exhaustive=true`, stdout)
}

func TestAppShrink(t *testing.T) {
	bin := buildSimrun(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "shrunk.json")

	// A known-bad copier twin: the first failing run of a small campaign
	// shrinks to a plan that still fails the same way and replays from the
	// plan alone.
	const twin = "copier-offsets-outside-txn"
	stdout, stderr, code := run(t, bin, "shrink", "--app", twin, "--seed", "1", "--search", "50", "--out", out)
	require.Equal(t, 0, code, stdout+stderr)
	m := regexp.MustCompile(`shrink runs=\d+ accepted=(\d+) replayed=true exhausted=false faults=(\d+)->(\d+) records=\d+->\d+ kinds=(\S+) `).FindStringSubmatch(stdout)
	require.NotNil(t, m, stdout)
	accepted, _ := strconv.Atoi(m[1])
	before, _ := strconv.Atoi(m[2])
	after, _ := strconv.Atoi(m[3])
	require.GreaterOrEqual(t, accepted, 1, "the drawn plan shrinks: %s", stdout)
	require.LessOrEqual(t, after, before)
	require.GreaterOrEqual(t, after, 1, "a copier without a fault copies exactly once")
	kinds := m[4]
	plan, err := faults.ReadPlan(out)
	require.NoError(t, err)
	require.Equal(t, twin, plan.Protocol)
	require.Len(t, plan.Faults, after)
	require.Contains(t, plan.Replay, "simrun replay --app "+twin+" --plan "+out)
	stdout, _, code = run(t, bin, "replay", "--app", twin, "--plan", out)
	require.Equal(t, 1, code, stdout)
	require.Contains(t, stdout, fmt.Sprintf("verdict=violation app=%s seed=%d ", twin, plan.Seed))
	for _, k := range strings.Split(kinds, ",") {
		require.Contains(t, stdout, k+": ")
	}
	// Shrinking the shrunk plan again finds nothing more to drop.
	stdout, _, code = run(t, bin, "shrink", "--app", twin, "--plan", out, "--out", filepath.Join(dir, "again.json"))
	require.Equal(t, 0, code, stdout)
	require.Contains(t, stdout, fmt.Sprintf("faults=%d->%d ", after, after))

	// The correct copier has nothing to shrink; bad input names the problem.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--app", "copier", "--seed", "1"}, "app copier seed 1 shows no violation (clean): nothing to shrink"},
		{[]string{"--app", "copier", "--seed", "1", "--search", "3"}, "nothing to shrink"},
		{[]string{"--app", "copier", "--plan", out}, `with its plan shows no violation (clean): nothing to shrink; the plan was written for "` + twin + `"`},
		{[]string{"--app", "nope"}, `unknown app "nope"`},
		{[]string{"--app", "copier", "--protocol", "two-phase-commit"}, "--app and --protocol exclude each other"},
		{[]string{"--app", "copier", "--match", "roughly"}, "--match"},
		{[]string{"--app", "copier", "--plan", out, "--search", "3"}, "--plan and --search exclude each other"},
		{[]string{"--app", "copier", "--plan", filepath.Join(dir, "none.json")}, "read plan"},
		{[]string{"--app", "copier", "--plan", out, "--aborted-input", "3"}, "--plan fixes the input: drop --aborted-input"},
		{[]string{"--app", "copier", "--records", "40", "--aborted-input", "41"}, "--aborted-input must be 0..--records (40)"},
		{[]string{"--app", "copier", "--aborted-input", "-2"}, "--aborted-input must be"},
	} {
		args := append([]string{"shrink"}, c.args...)
		args = append(args, "--out", filepath.Join(dir, "x.json"))
		_, stderr, code := run(t, bin, args...)
		require.Equal(t, 2, code, "%v: %s", c.args, stderr)
		require.Contains(t, stderr, c.want, c.args)
	}
	_, stderr, code = run(t, bin, "shrink", "--app", twin, "--seed", "1")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "shrink needs --out FILE")
}

// TestAppAbortedInputFlag: the read-uncommitted twin is caught by the
// aborted input alone, so --aborted-input 0 lets it pass and a count sets
// how much the harness writes (the run's plan carries it).
func TestAppAbortedInputFlag(t *testing.T) {
	bin := buildSimrun(t)
	const twin = "copier-read-uncommitted"
	stdout, _, code := run(t, bin, "campaign", "--app", twin, "--runs", "4", "--seed", "5")
	require.Equal(t, 1, code, stdout)
	require.Contains(t, stdout, "runs=4 violations=4 ")
	stdout, _, code = run(t, bin, "campaign", "--app", twin, "--runs", "4", "--seed", "5", "--aborted-input", "0")
	require.Contains(t, stdout, "runs=4 violations=0 ", "exit %d", code)
	stdout, _, code = run(t, bin, "campaign", "--app", twin, "--runs", "1", "--seed", "5", "--aborted-input", "7")
	require.Equal(t, 1, code, stdout)
	m := regexp.MustCompile(`replay: simrun replay --app \S+ --seed \d+ --plan (\S+)`).FindStringSubmatch(stdout)
	require.NotNil(t, m, stdout)
	plan, err := faults.ReadPlan(m[1])
	require.NoError(t, err)
	require.Equal(t, 7, plan.Workload.AbortedInput)
}

func TestAppCampaignReport(t *testing.T) {
	bin := buildSimrun(t)
	dir := filepath.Join(t.TempDir(), "report")
	const twin = "copier-offsets-outside-txn"
	stdout, stderr, code := run(t, bin, "campaign", "--app", twin, "--runs", "20", "--seed", "1", "--faults", "all", "--report", dir)
	require.Equal(t, 1, code, stdout+stderr)
	r, err := reports.Read(dir)
	require.NoError(t, err)
	require.Equal(t, reports.StatusFail, r.Outcome.Status)
	require.Equal(t, 20, r.Outcome.RunsDone)
	require.NotEmpty(t, r.Violations)
	require.Equal(t, "app", r.Protocols[0].Kind)
	require.NotEmpty(t, r.Timelines)
	killed := false
	for _, tl := range r.Timelines {
		require.True(t, tl.App, "run %d", tl.Run)
		require.NotEmpty(t, tl.ProcessEvents)
		require.Equal(t, 1, tl.Parallelism)
		require.Regexp(t, `simrun replay --app `+twin+` --seed \d+ --plan \S+\.json`, tl.Replay)
		for _, e := range tl.ProcessEvents {
			killed = killed || e.Kind == "killed"
		}
	}
	require.True(t, killed, "a drawn timeline shows a kill")
	page, err := os.ReadFile(filepath.Join(dir, reports.HTMLFile))
	require.NoError(t, err)
	require.Contains(t, string(page), `id="app-legend"`)
	require.Contains(t, string(page), ">instance 0</text>")
	require.Contains(t, string(page), `class="kill-label"`)

	_, stderr, code = run(t, bin, "campaign", "--app", twin, "--exhaustive", "--report", dir)
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "--report is for campaigns of random runs")
}

// TestAppFlagsAreDocumented: `simrun CMD -h` names --app and the flags that
// apply with it, `simrun CMD --app NAME -h` shows the app's flag set, and
// `simrun list apps` lists the registered examples with their kind.
func TestAppFlagsAreDocumented(t *testing.T) {
	help := func(args ...string) string {
		var out, errOut strings.Builder
		require.Equal(t, exitOK, runMain(args, &out, &errOut), errOut.String())
		return out.String()
	}
	for _, tc := range []struct {
		cmd     string
		applies []string // flags -h must name beside --app
	}{
		{"campaign", []string{"--runs", "--jobs", "--shard", "--check-determinism", "--exhaustive", "--report"}},
		{"replay", []string{"--plan", "--trace"}},
		{"shrink", []string{"--plan", "--out", "--match", "--search", "--max-runs"}},
	} {
		engineHelp := help(tc.cmd, "-h")
		require.Contains(t, engineHelp, "-app string", tc.cmd)
		require.Contains(t, engineHelp, "'simrun list apps'", tc.cmd)
		appHelp := help(tc.cmd, "--app", "gts", "-h")
		require.Contains(t, appHelp, "usage: simrun "+tc.cmd+" --app NAME [flags]")
		require.NotContains(t, appHelp, "-partitions", "the engine's workload flags do not apply to an app")
		for _, flagName := range tc.applies {
			require.Contains(t, engineHelp, flagName, "%s -h names %s as applying with --app", tc.cmd, flagName)
			require.Contains(t, appHelp, "  -"+strings.TrimPrefix(flagName, "--"), "%s --app NAME -h lists %s", tc.cmd, flagName)
		}
	}
	require.Contains(t, help("help"), "--app NAME")

	lines := strings.Split(strings.TrimSpace(help("list", "apps")), "\n")
	kinds := map[string]string{}
	for _, line := range lines {
		f := strings.Split(line, "\t")
		require.Len(t, f, 3, line)
		kinds[f[0]] = f[1]
	}
	require.Equal(t, "correct", kinds["gts"])
	require.Equal(t, "correct", kinds["copier"])
	require.Equal(t, "known-bad", kinds["copier-offsets-outside-txn"])
	require.Equal(t, "correct", kinds["engine-two-phase-commit"])

	var out, errOut strings.Builder
	require.Equal(t, exitUsage, runMain([]string{"campaign", "--app", "-h"}, &out, &errOut))
	require.Contains(t, errOut.String(), "--app needs the name of a registered app")
}

// TestAppCampaignJobs: an app campaign gives the same summary and the same
// report (every run's verdict, anomalies and trace hash) with --jobs 1, with
// --jobs 3 (worker processes), and as two shards of --jobs 2 merged.
func TestAppCampaignJobs(t *testing.T) {
	bin := buildSimrun(t)
	tmp := t.TempDir()
	args := []string{"campaign", "--app", "copier-offsets-outside-txn", "--runs", "16", "--seed", "5", "--check-determinism", "4"}
	campaign := func(name string, extra ...string) (string, string) {
		dir := filepath.Join(tmp, name)
		out, stderr, code := run(t, bin, append(append(slices.Clone(args), "--report", dir), extra...)...)
		require.Contains(t, []int{exitOK, exitViolations}, code, out+stderr)
		_, rep := readReport(t, dir)
		return timing.ReplaceAllString(lastLine(out), ""), strings.ReplaceAll(rep, dir, "DIR")
	}
	sum1, rep1 := campaign("jobs1")
	require.Regexp(t, `^runs=16 violations=[1-9]`, sum1, "the twin is caught: the comparison covers violating runs")
	sum3, rep3 := campaign("jobs3", "--jobs", "3")
	require.Equal(t, sum1, sum3)
	require.Equal(t, rep1, rep3)

	for _, shard := range []string{"1/2", "2/2"} {
		campaign("shard"+shard[:1], "--shard", shard, "--jobs", "2")
	}
	merged := filepath.Join(tmp, "merged")
	_, stderr, code := run(t, bin, "merge", filepath.Join(tmp, "shard1"), filepath.Join(tmp, "shard2"), "--out", merged)
	require.Equal(t, exitViolations, code, stderr)
	_, repMerged := readReport(t, merged)
	for _, d := range []string{"shard1", "shard2"} {
		repMerged = strings.ReplaceAll(repMerged, filepath.Join(tmp, d), "DIR")
	}
	require.Equal(t, rep1, repMerged)

	_, stderr, code = run(t, bin, "campaign", "--app", "copier", "--jobs", "0")
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr, "--jobs must be 1..64")
	_, stderr, code = run(t, bin, "campaign", "--app", "copier", "--exhaustive", "--jobs", "2")
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr, "--exhaustive runs in one process")
}

func TestAppShare(t *testing.T) {
	whole := appShare{first: 1, step: 3} // shard 2/3
	var got [][]int
	for j := range 2 {
		w := whole.worker(j, 2)
		var ks []int
		for k := range 20 {
			if w.holds(k) {
				require.True(t, whole.holds(k))
				ks = append(ks, k)
			}
		}
		got = append(got, ks)
	}
	require.Equal(t, [][]int{{1, 7, 13, 19}, {4, 10, 16}}, got)
	_, _, err := parseAppWorker("1/0/1")
	require.Error(t, err)
	s, events, err := parseAppWorker("4/6/1")
	require.NoError(t, err)
	require.Equal(t, appShare{4, 6}, s)
	require.True(t, events)
}
