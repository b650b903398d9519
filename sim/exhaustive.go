package sim

import (
	"fmt"
	"testing"

	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/faults"
)

// Site is one arrival of the job at a crash point: the Hit-th arrival at
// Point, during checkpoint Checkpoint.
type Site struct {
	Point      string `json:"point"`
	Hit        int    `json:"hit"`
	Checkpoint int64  `json:"checkpoint"`
	Subtask    int    `json:"subtask"`
}

// Exhaustive is an enumeration of crash plans over one schedule.
type Exhaustive struct {
	// Seed is the schedule's seed: the first seed derived from the
	// requested one whose fault-free run reaches every crash point.
	Seed uint64
	// Sites are the crash-point arrivals of the fault-free run, in order.
	Sites []Site
	// Plans crash at each site (one fault each) and, with pairs, at each
	// ordered pair of sites (two faults).
	Plans []faults.Plan
	// Coverage maps a crash point to the checkpoints at which the plans
	// crash the job there.
	Coverage map[string][]int64
}

// EnumerateCrashes runs opts without faults, records every arrival at a
// crash point, and returns a plan per arrival (and per ordered pair of
// arrivals when pairs is set). Every plan runs with Exhaustive.Seed, so its
// schedule is the fault-free one up to its first crash: a single-crash plan
// crashes the job exactly at its site. The downtime is fixed (restartDelay).
//
// Notifications are lost now and then (Options.LoseNotifications) so that
// crash-mid-commit is reached too; the plans' runs must use the same option.
func EnumerateCrashes(t *testing.T, opts Options, pairs bool, restartDelay int) (Exhaustive, error) {
	opts.LoseNotifications = true
	var ex Exhaustive
	var plan faults.Plan
	for try := range maxScheduleTries {
		seed := opts.Seed
		if try > 0 {
			seed = Derive(opts.Seed, "exhaustive/"+itoa(try))
		}
		base := opts
		base.Seed = seed
		p, err := PlanFor(base)
		if err != nil {
			return Exhaustive{}, err
		}
		p.Faults, p.LoseNotifications = nil, true
		base.Plan = &p
		base.recordSites = true
		res := Run(t, base)
		if res.HarnessError != "" {
			return Exhaustive{}, fmt.Errorf("fault-free run: %s", res.HarnessError)
		}
		ex = Exhaustive{Seed: seed, Sites: res.sites, Coverage: map[string][]int64{}}
		for _, s := range ex.Sites {
			ex.Coverage[s.Point] = appendOnce(ex.Coverage[s.Point], s.Checkpoint)
		}
		plan = p
		if len(ex.Coverage) == len(engine.CrashPoints()) {
			break
		}
	}
	op := func(s Site) faults.Op {
		return faults.Op{Fault: s.Point, Hit: s.Hit, RestartDelayMS: restartDelay}
	}
	withFaults := func(ops ...faults.Op) faults.Plan {
		p := plan
		p.Faults = ops
		return p
	}
	for _, s := range ex.Sites {
		ex.Plans = append(ex.Plans, withFaults(op(s)))
	}
	if pairs {
		for i, a := range ex.Sites {
			for j, b := range ex.Sites {
				if i != j {
					ex.Plans = append(ex.Plans, withFaults(op(a), op(b)))
				}
			}
		}
	}
	return ex, nil
}

// maxScheduleTries bounds the search for a schedule reaching every point.
const maxScheduleTries = 64

func appendOnce(xs []int64, x int64) []int64 {
	for _, y := range xs {
		if y == x {
			return xs
		}
	}
	return append(xs, x)
}

// recordSite notes an arrival at a crash point (exhaustive enumeration).
func (c *planCrasher) recordSite(site engine.CrashSite) {
	if c.sites != nil {
		*c.sites = append(*c.sites, Site{Point: string(site.Point), Hit: c.hits[site.Point], Checkpoint: site.Checkpoint, Subtask: site.Subtask})
	}
}
