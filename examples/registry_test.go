package examples

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEveryExampleIsValidAndNamedOnce(t *testing.T) {
	seen := map[string]bool{}
	for _, e := range Examples() {
		require.NoError(t, e.App.Validate(), e.App.Name)
		require.False(t, seen[e.App.Name], "%s registered twice", e.App.Name)
		seen[e.App.Name] = true
		require.NotEmpty(t, e.Doc, e.App.Name)
	}
	for _, name := range []string{"gts", "gts-3", "copier", "copier-offsets-outside-txn", "engine-two-phase-commit"} {
		a, err := Lookup(name)
		require.NoError(t, err)
		require.Equal(t, name, a.Name)
	}
	_, err := Lookup("nope")
	require.ErrorContains(t, err, `unknown app "nope"`)
}
