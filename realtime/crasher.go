package realtime

import (
	"fmt"
	"slices"
	"sync"

	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/faults"
)

// crasher fires each planned crash the Hit-th time the run (over all its
// attempts) reaches the crash point, as the simulator counts them, with
// one difference real time forces: at the points that leave a
// checkpoint's pre-committed transactions pending (after pre-commit, ack
// and store) an arrival of a transactional run counts only when those
// transactions hold records.
// In virtual time the input's arrival is part of the plan; in real time a
// checkpoint can fall in a gap of the input (a loaded machine), and a
// crash there puts nothing at stake, so a known-bad protocol it should
// catch passes (abort-on-recovery did once in CI). A
// planned rescale fires at the Hit-th checkpoint trigger: the job dies at
// the next crash site it passes and restarts at the new parallelism (the
// simulator also abandons the job for a rescale). It is the run's
// Observer too, to count the triggers.
type crasher struct {
	mu    sync.Mutex
	ops   []faults.Op
	fired []bool
	hits  map[engine.CrashPoint]int
	// staked counts the records pre-committed per checkpoint and
	// subtask (subtask -1: the checkpoint's total).
	staked map[stake]int
	// transactional: the run pre-commits transactions (an at-least-once
	// run has none, and counts every arrival).
	transactional bool
	last          int // index of the op that fired last
	triggers      int
	rescale       int // index of an armed rescale, -1 for none
	// zombie receives when a planned zombie fires.
	zombie chan struct{}
}

type stake struct {
	checkpoint int64
	subtask    int
}

func (c *crasher) Observe(ev engine.Event) {
	if ev.Kind == "precommit" {
		var records int
		if _, err := fmt.Sscanf(ev.Detail, "records=%d", &records); err == nil && records > 0 {
			c.mu.Lock()
			c.staked[stake{ev.Checkpoint, ev.Subtask}] += records
			c.staked[stake{ev.Checkpoint, -1}] += records
			c.mu.Unlock()
		}
		return
	}
	if ev.Kind != "trigger-checkpoint" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.triggers++
	for i, op := range c.ops {
		if c.fired[i] || op.Hit != c.triggers {
			continue
		}
		switch op.Fault {
		case "rescale":
			c.fired[i], c.rescale = true, i
		case "zombie":
			c.fired[i] = true
			select {
			case c.zombie <- struct{}{}:
			default:
			}
		}
	}
}

// rescaledTo returns the parallelism of the rescale that made the last
// crash, or 0.
func (c *crasher) rescaledTo() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last >= 0 && c.ops[c.last].Fault == "rescale" {
		return c.ops[c.last].Count
	}
	return 0
}

// exhausted reports whether every planned fault has fired.
func (c *crasher) exhausted() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !slices.Contains(c.fired, false)
}

func newCrasher(ops []faults.Op, transactional bool) *crasher {
	return &crasher{ops: ops, fired: make([]bool, len(ops)), hits: map[engine.CrashPoint]int{}, staked: map[stake]int{},
		transactional: transactional, last: -1, rescale: -1, zombie: make(chan struct{}, 1)}
}

// atStake reports whether an arrival at site counts toward a Hit: at the
// points after pre-commit only when the checkpoint's pending transactions
// (the subtask's own at crash-after-precommit) hold records.
func (c *crasher) atStake(site engine.CrashSite) bool {
	if !c.transactional {
		return true
	}
	switch site.Point {
	case engine.CrashAfterPrecommit:
		return c.staked[stake{site.Checkpoint, site.Subtask}] > 0
	case engine.CrashAfterAck, engine.CrashAfterCheckpointStored:
		return c.staked[stake{site.Checkpoint, -1}] > 0
	}
	return true
}

func (c *crasher) ShouldCrash(site engine.CrashSite) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rescale >= 0 {
		c.last, c.rescale = c.rescale, -1
		return true
	}
	if !c.atStake(site) {
		return false
	}
	c.hits[site.Point]++
	for i, op := range c.ops {
		if !c.fired[i] && engine.CrashPoint(op.Fault) == site.Point && c.hits[site.Point] == op.Hit {
			c.fired[i], c.last = true, i
			return true
		}
	}
	return false
}

func (c *crasher) lastDelayMS() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last < 0 {
		return 0
	}
	return c.ops[c.last].RestartDelayMS
}

func (c *crasher) unfired() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for i, op := range c.ops {
		if !c.fired[i] {
			out = append(out, fmt.Sprintf("%s hit=%d", op.Fault, op.Hit))
		}
	}
	return out
}
