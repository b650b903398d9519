package properties

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/sim"
)

// corpusDir is the regression corpus, shared with `simrun gate`.
const corpusDir = "../testdata/corpus"

// Every plan of the regression corpus replays to what its protocol's kind
// demands: a known-bad variant shows a violation (and the correct protocol
// is clean on the same plan), a correct or weaker protocol shows none.
func TestRegressionCorpus(t *testing.T) {
	entries, err := sim.LoadCorpus(corpusDir)
	require.NoError(t, err)
	require.NotEmpty(t, entries)
	covered := map[string]bool{}
	for _, e := range entries {
		covered[e.Plan.Protocol] = true
		t.Run(e.Name, func(t *testing.T) {
			c := sim.CheckCorpusEntry(t, e, nil)
			require.True(t, c.OK, "%s: %s\nreplay: go run ./cmd/simrun replay --plan testdata/corpus/%s", e.Name, c.Detail, e.Name)
			t.Log(c.Detail)
		})
	}
	// One counterexample at least per known-bad variant: a variant added to
	// the zoo needs its shrunk plan here (simrun shrink --search N --out
	// testdata/corpus/NAME.json).
	for _, p := range engine.Protocols() {
		if p.Kind == engine.KindKnownBad && !covered[p.Name] {
			t.Errorf("the corpus has no plan for known-bad %s: add one with go run ./cmd/simrun shrink --protocol %s --search 300 --out testdata/corpus/%s.json",
				p.Name, p.Name, p.Name)
		}
	}
	require.True(t, covered["two-phase-commit"], "the corpus must hold clean plans of the correct protocol")
}
