package gts_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/appsim"
	"github.com/eosim/eosim/examples/gts"
)

func TestSessionCleanFaultFree(t *testing.T) {
	for _, a := range []struct{ inst int }{{1}, {3}} {
		ex := gts.New(gts.Options{Instances: a.inst})
		res := appsim.Run(t, ex, appsim.Options{Seed: 1})
		require.Equal(t, appsim.Clean, res.Verdict, "%s %v", res.Inconclusive, res.Violations)
		t.Logf("instances=%d requests=%d virtual=%v", a.inst, res.Requests, res.VirtualTime)
	}
}
