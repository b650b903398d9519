package app

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestValidateRejectsNonsense(t *testing.T) {
	run := func(context.Context, Env) error { return nil }
	good := App{Name: "copier", Run: run, Spec: Spec{InputTopic: "in", OutputTopic: "out", InputPartitions: 2}}
	require.NoError(t, good.Validate())
	tests := []struct {
		name   string
		mutate func(*App)
		want   string
	}{
		{"no name", func(a *App) { a.Name = "" }, "Name is empty"},
		{"no run", func(a *App) { a.Run = nil }, "Run is nil"},
		{"no output topic", func(a *App) { a.Spec.OutputTopic = "" }, "OutputTopic is empty"},
		{"same topics", func(a *App) { a.Spec.OutputTopic = "in" }, "both"},
		{"no partitions", func(a *App) { a.Spec.InputPartitions = 0 }, "InputPartitions"},
		{"two transforms", func(a *App) {
			a.Spec.Transform = func(Record) []Record { return nil }
			a.Spec.KeyedTransform = func([]byte, Record) ([]byte, []Record) { return nil, nil }
		}, "not both"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := good
			tc.mutate(&a)
			require.ErrorContains(t, a.Validate(), tc.want)
		})
	}
}

func TestStoresKeepValuesAndReportMissingKeys(t *testing.T) {
	ctx := context.Background()
	for name, s := range map[string]Store{"memory": NewMemoryStore(), "file": FileStore{Dir: t.TempDir()}} {
		t.Run(name, func(t *testing.T) {
			_, err := s.Get(ctx, "cp")
			require.True(t, errors.Is(err, ErrNotFound), "missing key: %v", err)
			require.NoError(t, s.Put(ctx, "cp", []byte("one")))
			require.NoError(t, s.Put(ctx, "cp", []byte("two")))
			v, err := s.Get(ctx, "cp")
			require.NoError(t, err)
			require.Equal(t, "two", string(v))
			require.NoError(t, s.Delete(ctx, "cp"))
			require.NoError(t, s.Delete(ctx, "cp"))
			_, err = s.Get(ctx, "cp")
			require.ErrorIs(t, err, ErrNotFound)
		})
	}
	require.Error(t, FileStore{Dir: t.TempDir()}.Put(ctx, "../escape", nil))
}

func TestRunProductionStopsWithErrStop(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	a := App{Name: "waiter", Spec: Spec{InputTopic: "in", OutputTopic: "out", InputPartitions: 1},
		Run: func(ctx context.Context, env Env) error {
			env.CrashPoint("anywhere") // a no-op in production
			cancel()
			<-ctx.Done()
			if !errors.Is(context.Cause(ctx), ErrStop) {
				return context.Cause(ctx)
			}
			return nil
		}}
	require.NoError(t, RunProduction(ctx, a, ProductionOptions{Brokers: []string{"127.0.0.1:1"}, StoreDir: t.TempDir()}))
}
