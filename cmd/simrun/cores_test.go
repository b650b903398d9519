package main

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestUseCores(t *testing.T) {
	t.Cleanup(func(old int) func() { return func() { runtime.GOMAXPROCS(old) } }(runtime.GOMAXPROCS(0)))
	tests := []struct {
		name string
		env  string
		jobs int
		want int
	}{
		{"one job runs on one core", "", 1, 1},
		{"jobs beyond the machine's cores get every core", "", 1000, runtime.NumCPU()},
		{"GOMAXPROCS in the environment wins", "3", 1, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("GOMAXPROCS", tc.env)
			runtime.GOMAXPROCS(3)
			useCores(tc.jobs)
			require.Equal(t, tc.want, runtime.GOMAXPROCS(0))
		})
	}
}
