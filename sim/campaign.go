package sim

import (
	"context"
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

// RunIndexes returns the run numbers this shard runs, in order.
func (c Campaign) RunIndexes() []int {
	shards := max(1, c.Shards)
	runs := c.Runs
	if c.Plans != nil {
		runs = len(c.Plans)
	}
	var ks []int
	for k := range runs {
		if k%shards == c.ShardIndex {
			ks = append(ks, k)
		}
	}
	return ks
}

// Run runs the campaign and calls onResult for every finished run in run
// order, from the calling goroutine, whatever Jobs is. When ctx is
// cancelled no new run starts; runs already going finish and are reported.
// It returns how many runs were reported.
func (c Campaign) Run(ctx context.Context, t *testing.T, onResult func(k int, r Result)) int {
	ks := c.RunIndexes()
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
				opts.Seed = RunSeed(c.BaseSeed, ks[i])
				if c.Plans != nil {
					plan := c.Plans[ks[i]]
					opts.Seed, opts.Plan, opts.Workload = plan.Seed, &plan, plan.Workload
				}
				results <- done{i, Run(t, opts)}
			}
		}()
	}
	go func() {
		defer close(work)
		for i := range ks {
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
	// Deliver in run order: hold results that finish early.
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
			onResult(ks[next], r)
			next++
			reported++
		}
	}
	// Interrupted: runs that finished after a gap are still reported.
	for i := next; i < len(ks); i++ {
		if r, ok := held[i]; ok {
			onResult(ks[i], r)
			reported++
		}
	}
	return reported
}
