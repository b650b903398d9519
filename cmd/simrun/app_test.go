package main

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHasAppFlag(t *testing.T) {
	require.True(t, hasAppFlag([]string{"--runs", "3", "--app", "x"}))
	require.True(t, hasAppFlag([]string{"-app=x"}))
	require.False(t, hasAppFlag([]string{"--protocol", "two-phase-commit"}))
	require.False(t, hasAppFlag([]string{"--", "--app"}))
}

func TestAppCampaignAndReplay(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "simrun")
	out, err := exec.Command("go", "build", "-tags", "eosim_demoapp", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, string(out))

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
