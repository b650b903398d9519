package appsim

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRegistry(t *testing.T) {
	a := txnCopier("registry-test-copier", nil)
	require.NoError(t, Register(a))
	require.ErrorContains(t, Register(a), "twice")
	bad := a
	bad.Name, bad.Spec.OutputTopic = "registry-test-bad", ""
	require.ErrorContains(t, Register(bad), "OutputTopic")
	got, ok := Lookup(a.Name)
	require.True(t, ok)
	require.Equal(t, a.Name, got.Name)
	require.Contains(t, Registered(), a.Name)
	_, ok = Lookup("no-such-app")
	require.False(t, ok)
}
