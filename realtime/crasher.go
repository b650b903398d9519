package realtime

import (
	"fmt"
	"sync"

	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/faults"
)

// crasher fires each planned crash the Hit-th time the run (over all its
// attempts) reaches the crash point, as the simulator counts them.
type crasher struct {
	mu    sync.Mutex
	ops   []faults.Op
	fired []bool
	hits  map[engine.CrashPoint]int
	last  int // index of the op that fired last
}

func newCrasher(ops []faults.Op) *crasher {
	return &crasher{ops: ops, fired: make([]bool, len(ops)), hits: map[engine.CrashPoint]int{}, last: -1}
}

func (c *crasher) ShouldCrash(site engine.CrashSite) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
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
