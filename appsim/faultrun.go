package appsim

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing/synctest"
	"time"

	"github.com/eosim/eosim/faults"
)

func siteFault(site string) string { return faults.SiteFault(site) }

// faultRunner fires a plan's faults. siteArmed is called from app
// goroutines; everything else from the scheduler.
type faultRunner struct {
	mu    sync.Mutex
	ops   []faults.Op
	fired []bool

	kindHits map[string]int
	// resumeAt is when a paused process gets its network back.
	resumeAt map[*process]time.Duration
}

func newFaultRunner(ops []faults.Op) *faultRunner {
	return &faultRunner{ops: ops, fired: make([]bool, len(ops)), kindHits: map[string]int{}, resumeAt: map[*process]time.Duration{}}
}

// arm finds the unfired op named name that fires at hit, and marks it
// fired.
func (f *faultRunner) arm(name string, hit int) (faults.Op, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, op := range f.ops {
		if !f.fired[i] && op.Fault == name && op.Hit == hit {
			f.fired[i] = true
			return op, true
		}
	}
	return faults.Op{}, false
}

func (f *faultRunner) siteArmed(site string, hit int) (faults.Op, bool) {
	return f.arm(siteFault(site), hit)
}

// unfired lists the plan entries that never fired.
func (f *faultRunner) unfired() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for i, op := range f.ops {
		if !f.fired[i] {
			out = append(out, fmt.Sprintf("%d:%s@%d", i, op.Fault, op.Hit))
		}
	}
	return out
}

func (f *faultRunner) allFired() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, fired := range f.fired {
		if !fired {
			return false
		}
	}
	return true
}

func delay(op faults.Op) time.Duration { return time.Duration(op.RestartDelayMS) * time.Millisecond }

// release sends one held request to the broker, firing the protocol-site
// crashes and request-count faults that fall on it.
func (s *scenario) release(h heldFrame) {
	p := h.conn.owner
	kind := h.req.kind()
	if p.instance < 0 { // the harness's live reader: no faults, no counts
		if data, ok := s.net.take(h, false); ok {
			h.conn.Conn.Write(data)
		}
		who := "reader-request"
		if p.instance == -2 {
			who = "harness-request" // the member expiry's LeaveGroup (expiry.go)
		}
		s.tr.add(who, "", fmt.Sprintf("%s corr=%d", kind, h.req.corr))
		return
	}
	s.fault.kindHits[kind]++
	hit := s.fault.kindHits[kind]
	s.res.Requests++
	if s.opts.recordBoundaries {
		s.res.Boundaries = append(s.res.Boundaries, Boundary{Kind: kind, Hit: hit})
	}
	s.tr.add("request", p.name(), fmt.Sprintf("c%d %s %s#%d corr=%d", h.conn.id.client, h.conn.id.addr, kind, hit, h.req.corr))
	if op, ok := s.fault.arm(faults.CrashBefore(kind), hit); ok {
		s.net.drop(h)
		s.killed(p, op)
		return
	}
	after, isAfter := s.fault.arm(faults.CrashAfter(kind), hit)
	data, ok := s.net.take(h, isAfter)
	if !ok {
		return
	}
	h.conn.Conn.Write(data) // an error means the broker closed it: kgo sees that itself
	if h.req.key == 11 {
		s.noteJoin(p, data, h.req.version)
	}
	if isAfter {
		synctest.Wait() // the broker applies it; the muted answer never arrives
		s.killed(p, after)
	}
	s.groupFaults(s.res.Requests)
	s.brokerFaults(s.res.Requests)
}

// killed kills p for op (counted in Fired when reaped).
func (s *scenario) killed(p *process, op faults.Op) { p.kill(op.Fault, delay(op)) }

// groupFaults fires the faults planned at the n-th app request.
func (s *scenario) groupFaults(n int) {
	for _, name := range faults.GroupFaults {
		if name == "join-instance" && s.stopping {
			continue // a process started during the graceful stop would never be stopped
		}
		op, ok := s.fault.arm(name, n)
		if !ok {
			continue
		}
		if name != "kill-instance" { // a kill counts when reaped
			s.res.Fired[name]++
		}
		target := s.procs[op.Count%len(s.procs)]
		switch name {
		case "kill-instance":
			target.kill(name, delay(op))
		case "pause-instance":
			if !target.isCut() {
				target.paused.Store(true)
				s.fault.resumeAt[target] = s.now + delay(op)
				s.tr.add("paused", target.name(), fmt.Sprintf("for %v", delay(op)))
			}
		case "join-instance":
			s.start(len(s.procs))
		case "group-coordinator-move":
			s.cluster.RehashCoordinators()
			s.tr.add("coordinator-move", "", "")
		}
	}
}

// resume gives paused processes their network back when due (in instance
// order, so the trace is deterministic).
func (f *faultRunner) resume(s *scenario) {
	for _, p := range s.procs {
		if at, ok := f.resumeAt[p]; ok && at <= s.now {
			delete(f.resumeAt, p)
			p.paused.Store(false)
			s.healedAt = s.now
			s.tr.add("resumed", p.name(), "")
		}
	}
}

// appliesTo reports whether a fault name is one appsim implements for a.
func appliesTo(name string, sites []string) bool {
	if site, ok := strings.CutPrefix(name, faults.SitePrefix); ok {
		for _, s := range sites {
			if s == site {
				return true
			}
		}
		return false
	}
	for _, k := range faults.ProtocolKinds {
		if name == faults.CrashBefore(k) || name == faults.CrashAfter(k) {
			return true
		}
	}
	return slices.Contains(faults.GroupFaults, name) || slices.Contains(BrokerFaults, name)
}

// anyPaused reports whether a pause-instance fault holds a process now.
func (s *scenario) anyPaused() bool {
	return slices.ContainsFunc(s.procs, func(p *process) bool { return p != nil && p.paused.Load() })
}
