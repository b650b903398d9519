package sim

import "testing"

// TestCampaignCount: a shard's run count is computed, so that a campaign of
// 10^12 runs builds no per-run state, and it agrees with enumeration.
func TestCampaignCount(t *testing.T) {
	for _, tc := range []struct{ runs, index, shards int }{
		{10, 0, 1}, {10, 0, 3}, {10, 1, 3}, {10, 2, 3}, {2, 2, 3}, {0, 0, 1}, {1, 0, 4}, {7, 3, 4},
	} {
		c := Campaign{Runs: tc.runs, ShardIndex: tc.index, Shards: tc.shards}
		want := 0
		for k := range tc.runs {
			if k%tc.shards == tc.index {
				if c.runIndex(want) != k {
					t.Errorf("%+v: run %d of the shard is %d, want %d", tc, want, c.runIndex(want), k)
				}
				want++
			}
		}
		if got := c.Count(); got != want {
			t.Errorf("%+v: Count() = %d, want %d", tc, got, want)
		}
	}
	huge := Campaign{Runs: 1_000_000_000_000, ShardIndex: 1, Shards: 4}
	if got := huge.Count(); got != 250_000_000_000 {
		t.Errorf("Count() of 10^12 runs in 4 shards = %d", got)
	}
	if allocs := testing.AllocsPerRun(10, func() { huge.Count() }); allocs != 0 {
		t.Errorf("Count allocates %v times", allocs)
	}
}
