package engineapp_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/app"
	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/examples/engineapp"
	"github.com/eosim/eosim/examples/internal/loopback"
)

// TestEngineRunsExactlyOnceOnLoopback runs the production driver through
// the app API for real, in two lives: the second restores from the
// checkpoint the first left in the app store.
func TestEngineRunsExactlyOnceOnLoopback(t *testing.T) {
	for _, proto := range []string{"two-phase-commit", "offsets-in-txn"} {
		t.Run(proto, func(t *testing.T) {
			a := engineapp.MustNew(engineapp.Options{Protocol: proto})
			require.Len(t, a.CrashPoints, len(engine.CrashPoints()))
			res := loopback.Run(t, a, 200, 60*time.Second)
			loopback.RequireExactlyOnce(t, a.Spec, res)
		})
	}
}

func TestUnknownProtocolIsRejected(t *testing.T) {
	_, err := engineapp.New(engineapp.Options{Protocol: "no-such"})
	require.ErrorContains(t, err, `unknown protocol "no-such"`)
}

func TestCheckpointStoreKeepsTheLatest(t *testing.T) {
	ctx := context.Background()
	s := engineapp.CheckpointStore{Durable: app.NewMemoryStore()}
	_, ok, err := s.Latest(ctx)
	require.NoError(t, err)
	require.False(t, ok)
	for _, id := range []int64{1, 2} {
		require.NoError(t, s.Store(ctx, engine.Checkpoint{ID: id}))
	}
	cp, ok, err := s.Latest(ctx)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, int64(2), cp.ID)

	broken := app.NewMemoryStore()
	require.NoError(t, broken.Put(ctx, "engine-checkpoint", []byte("{")))
	_, _, err = engineapp.CheckpointStore{Durable: broken}.Latest(ctx)
	require.ErrorContains(t, err, "decode checkpoint")
}

func TestCountAndUpperCountsPerKey(t *testing.T) {
	var state []byte
	var values []string
	for off, v := range []string{"a", "b"} {
		var out []app.Record
		state, out = engineapp.CountAndUpper(state, app.Record{Key: []byte("k"), Value: []byte(v), Partition: 3, Offset: int64(off)})
		require.Len(t, out, 1)
		values = append(values, string(out[0].Value))
	}
	require.Equal(t, []string{"3:0:k:1:A", "3:1:k:2:B"}, values)
}

// TestEngineSurvivesItsCrashPointsOnLoopback kills the engine process at
// each of a few of its crash points, reached through the app's named sites,
// and restarts it from the checkpoint in its store: the output stays
// exactly once.
func TestEngineSurvivesItsCrashPointsOnLoopback(t *testing.T) {
	for _, point := range []engine.CrashPoint{engine.CrashAfterPrecommit, engine.CrashAfterCheckpointStored, engine.CrashAfterSourceSnapshot} {
		t.Run(string(point), func(t *testing.T) {
			a := engineapp.MustNew(engineapp.Options{})
			res := loopback.RunWithFaults(t, a, 200, 60*time.Second, loopback.Faults{Crash: map[string]int{string(point): 2}})
			require.Empty(t, loopback.Mismatch(a.Spec, res))
		})
	}
}
