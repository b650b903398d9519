package gts_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/appsim"
	"github.com/eosim/eosim/examples/gts"
)

func TestSessionCleanFaultFree(t *testing.T) {
	res := appsim.Run(t, gts.New(gts.Options{Instances: 1}), appsim.Options{Seed: 1})
	require.Equal(t, appsim.Clean, res.Verdict, "%s %v", res.Inconclusive, res.Violations)
	t.Logf("instances=1 requests=%d virtual=%v", res.Requests, res.VirtualTime)
}

// Three sessions rebalance, and kgo's group consumer holds its join mutex
// across a JoinGroup that the held network has not released yet: a
// goroutine waiting on a mutex is not durably blocked, so the bubble can
// freeze (README, "Limits found"; about half the runs, depending on
// goroutine timing). Such a run must be reported as wedged, inconclusive,
// never as a violation; a run that finishes must be clean.
func TestThreeSessionsCleanOrReportedWedged(t *testing.T) {
	res := appsim.Run(t, gts.New(gts.Options{Instances: 3}), appsim.Options{Seed: 1})
	switch res.Verdict {
	case appsim.Clean:
	case appsim.Inconclusive:
		require.True(t, strings.HasPrefix(res.Inconclusive, "wedged:"), res.Inconclusive)
		t.Logf("wedged, as the kgo mutex limit allows: %s", res.Inconclusive)
	default:
		t.Fatalf("verdict %s: %s %v", res.Verdict, res.Inconclusive, res.Violations)
	}
}
