package eosimtest_test

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/leanovate/gopter"
	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/eosimtest"
)

func TestCheckCleanCopier(t *testing.T) {
	eosimtest.Check(t, copier(false), eosimtest.Options{Runs: 25, Seed: 3})
}

// The known-bad twin fails the test with a seed, a shrunk plan and a
// replay command; running that command fails again the same way.
func TestCheckFailsWithAReplayableSeed(t *testing.T) {
	if os.Getenv("EOSIMTEST_CHILD") == "1" {
		eosimtest.Check(t, copier(true), eosimtest.Options{Runs: 200, Seed: 3})
		return
	}
	child := func(env ...string) string {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCheckFailsWithAReplayableSeed$", "-test.count=1", "-test.v")
		cmd.Env = append(append(os.Environ(), "EOSIMTEST_CHILD=1"), env...)
		out, err := cmd.CombinedOutput()
		require.Error(t, err, "the known-bad copier passed:\n%s", out)
		return string(out)
	}
	out := child()
	m := regexp.MustCompile(`replay: EOSIM_SEED=(\d+) EOSIM_PLAN=(\S+) go test`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	require.Contains(t, out, "duplicate=")
	require.Contains(t, out, `"faults": [`)
	require.Contains(t, out, "eosim.seed")
	plan, err := os.ReadFile(m[2])
	require.NoError(t, err)
	require.Equal(t, 1, strings.Count(string(plan), `"fault":`), "the shrunk plan keeps one fault:\n%s", plan)

	again := child("EOSIM_SEED="+m[1], "EOSIM_PLAN="+m[2])
	require.Contains(t, again, "seed "+m[1]+":", again)
}

func TestPropertyHelper(t *testing.T) {
	params := gopter.DefaultTestParameters()
	params.MinSuccessfulTests = 8
	params.Rng.Seed(5)
	props := gopter.NewProperties(params)
	props.Property("the copier is clean under generated crashes", eosimtest.Property(t, copier(false), eosimtest.Options{}))
	props.TestingRun(t)

	params.MinSuccessfulTests = 100
	bad := gopter.NewProperties(params)
	bad.Property("the known-bad twin", eosimtest.Property(t, copier(true), eosimtest.Options{}))
	res := bad.Run(gopter.NewFormatedReporter(false, 80, os.Stderr))
	require.False(t, res, "the property must fail for the known-bad twin")
}
