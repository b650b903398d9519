package sim

import (
	"context"
	"maps"
	"slices"
	"sync"
	"testing"

	"github.com/eosim/eosim/faults"
)

// Campaign is many scenarios of one protocol: run k uses seed
// RunSeed(BaseSeed, k), so a run keeps its seed whatever the shard count or
// the number of parallel jobs.
type Campaign struct {
	// Options is the template for every run; its Seed is replaced.
	Options  Options
	BaseSeed uint64
	Runs     int
	// ShardIndex (0-based) of Shards: this campaign runs only the runs k
	// with k % Shards == ShardIndex.
	ShardIndex, Shards int
	// Jobs is how many scenarios run at once (each in its own bubble).
	Jobs int
	// Plans, when set, are the runs: run k replays Plans[k] with its seed
	// (exhaustive enumeration); Runs and BaseSeed are then ignored.
	Plans []faults.Plan
}

// total is the number of runs of the whole campaign (all shards).
func (c Campaign) total() int {
	if c.Plans != nil {
		return len(c.Plans)
	}
	return c.Runs
}

// Count returns how many runs this shard runs: the runs k < total with
// k % Shards == ShardIndex. It is computed, not enumerated, so that a
// campaign of 10^12 runs holds no per-run state.
func (c Campaign) Count() int {
	shards, total := max(1, c.Shards), c.total()
	if c.ShardIndex >= total {
		return 0
	}
	return (total-1-c.ShardIndex)/shards + 1
}

// runIndex is the run number of this shard's i-th run.
func (c Campaign) runIndex(i int) int { return c.ShardIndex + i*max(1, c.Shards) }

// Run runs the campaign and calls onResult for every finished run in run
// order, from the calling goroutine, whatever Jobs is. When ctx is
// cancelled no new run starts; runs already going finish and are reported.
// It returns how many runs were reported.
func (c Campaign) Run(ctx context.Context, t *testing.T, onResult func(k int, r Result)) int {
	n := c.Count()
	jobs := max(1, c.Jobs)
	type done struct {
		i   int
		res Result
	}
	work := make(chan int)
	results := make(chan done)
	var wg sync.WaitGroup
	for range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				opts := c.Options
				k := c.runIndex(i)
				opts.Seed = RunSeed(c.BaseSeed, k)
				if c.Plans != nil {
					plan := c.Plans[k]
					opts.Seed, opts.Plan, opts.Workload = plan.Seed, &plan, plan.Workload
				}
				results <- done{i, Run(t, opts)}
			}
		}()
	}
	go func() {
		defer close(work)
		for i := range n {
			select {
			case <-ctx.Done():
				return
			case work <- i:
			}
		}
	}()
	go func() {
		wg.Wait()
		close(results)
	}()
	// Deliver in run order: hold results that finish early (at most Jobs
	// of them).
	held := map[int]Result{}
	next, reported := 0, 0
	for d := range results {
		held[d.i] = d.res
		for {
			r, ok := held[next]
			if !ok {
				break
			}
			delete(held, next)
			onResult(c.runIndex(next), r)
			next++
			reported++
		}
	}
	// Interrupted: runs that finished after a gap are still reported.
	for _, i := range slices.Sorted(maps.Keys(held)) {
		onResult(c.runIndex(i), held[i])
		reported++
	}
	return reported
}
