package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseShard(t *testing.T) {
	env := func(v string) func(string) string {
		return func(name string) string {
			if name == jobIndexEnv {
				return v
			}
			return ""
		}
	}
	cases := []struct {
		shard, index string
		i, n         int
		err          string
	}{
		{"", "", 0, 1, ""},
		{"1/1", "", 0, 1, ""},
		{"3/4", "", 2, 4, ""},
		{"k8s/4", "0", 0, 4, ""},
		{"k8s/4", "3", 3, 4, ""},
		{"k8s/4", "4", 0, 0, "JOB_COMPLETION_INDEX must be 0..3 (set by a Kubernetes Indexed Job with completions 4), got \"4\""},
		{"k8s/4", "", 0, 0, `got ""`},
		{"k8s/4", "x", 0, 0, `got "x"`},
		{"k8s/0", "0", 0, 0, "want k8s/n with n >= 1"},
		{"5/4", "", 0, 0, "want i/n with 1 <= i <= n, or k8s/n"},
		{"k8s", "1", 0, 0, "want i/n"},
	}
	for _, tc := range cases {
		i, n, err := parseShard(tc.shard, env(tc.index))
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err, "%s with index %q", tc.shard, tc.index)
			continue
		}
		require.NoError(t, err, tc.shard)
		require.Equal(t, []int{tc.i, tc.n}, []int{i, n}, "%s with index %q", tc.shard, tc.index)
	}
}
