package appsim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing/synctest"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eosim/eosim/app"
	"github.com/eosim/eosim/faults"
)

// scenario is one run. Its fields are touched by the scheduler goroutine
// only, except where a comment says otherwise.
type scenario struct {
	a    app.App
	opts Options
	plan faults.Plan
	rng  *rand.Rand // release order
	tr   *trace
	res  *Result
	now  time.Duration // logical clock

	cluster    *kfake.Cluster
	seeds      []string
	net        *heldNet
	allClients *clientSet

	procs  []*process // current process per instance
	stores []*app.MemoryStore
	// restartAt is when a down instance starts again; -1: not down.
	restartAt []time.Duration
	failures  int
	loud      bool // a process returned an error wrapping app.ErrDataLost
	stopping  bool
	// healedAt is when a fault last healed: a paused process resumed or a
	// killed one restarted.
	healedAt time.Duration

	in    *inputWriter
	live  *liveReader
	fault *faultRunner

	// members is each process's classic group member as its last
	// JoinGroup named it; expiries are the dead ones to remove, in order
	// (expiry.go), through expirer.
	members  map[*process]groupMember
	expiries []expiry
	expirer  *kgo.Client

	// mu guards what app goroutines touch: site hits.
	mu       sync.Mutex
	siteHits map[string]int

	inconclusive string
	burst        int
	progress     *atomic.Int64 // scheduler steps, for the wedge detector
	abandoned    chan<- Result // see Run
	never        <-chan struct{}
}

// start starts a new process of instance i.
func (s *scenario) start(i int) {
	attempt := 0
	if i < len(s.procs) && s.procs[i] != nil {
		attempt = s.procs[i].attempt + 1
	}
	for len(s.procs) <= i {
		s.procs = append(s.procs, nil)
		s.stores = append(s.stores, app.NewMemoryStore())
		s.restartAt = append(s.restartAt, -1)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	cctx, ccancel := context.WithCancel(context.Background())
	p := &process{s: s, instance: i, attempt: attempt, ctx: ctx, cancel: cancel, clientCtx: cctx, cancelClient: ccancel,
		store: &fencedStore{m: s.stores[i]}, done: make(chan struct{})}
	var h slog.Handler = slog.DiscardHandler
	if s.opts.Log != nil {
		h = slog.NewTextHandler(s.opts.Log, nil)
	}
	p.logger = slog.New(h).With("app", s.a.Name, "instance", i, "attempt", attempt)
	s.procs[i], s.restartAt[i] = p, -1
	if attempt > 0 {
		s.res.Restarts++
	}
	s.tr.add("start", p.name(), "")
	p.start(s.a.Run)
}

// reap notes processes that were killed or returned since the last look,
// in instance order, and plans restarts.
func (s *scenario) reap() {
	for i, p := range s.procs {
		if p == nil || p.reaped {
			continue
		}
		p.mu.Lock()
		killedBy, downtime := p.killedBy, p.downtime
		p.mu.Unlock()
		if killedBy != "" {
			p.reaped = true
			s.res.Kills++
			s.res.Fired[killedBy]++
			s.tr.add("killed", p.name(), killedBy)
			s.scheduleExpiry(p)
			if !s.stopping {
				s.restartAt[i] = s.now + downtime
			}
			continue
		}
		if !p.exited() {
			continue
		}
		p.reaped = true
		o := p.outcome
		switch {
		case o.panicked != nil:
			s.fail(fmt.Sprintf("app %s instance %d panicked: %v\n%s", s.a.Name, i, o.panicked, o.stack))
		case !o.returned:
			s.fail(fmt.Sprintf("app %s instance %d: its Run goroutine exited without returning (runtime.Goexit, or t.FailNow/Fatal from inside the app)", s.a.Name, i))
		case o.err == nil || s.stopping && errors.Is(o.err, context.Canceled):
			s.tr.add("returned", p.name(), "ok")
		default:
			if errors.Is(o.err, app.ErrDataLost) {
				s.loud = true
			}
			s.tr.add("returned", p.name(), "error")
			s.failures++
			if !s.stopping && s.failures <= maxFailures {
				s.restartAt[i] = s.now + failureDelay
			}
		}
	}
}

// fail ends the run as inconclusive.
func (s *scenario) fail(msg string) {
	if s.inconclusive == "" {
		s.inconclusive = msg
		s.tr.add("inconclusive", "", firstLine(msg))
	}
}

// crashPoint is Env.CrashPoint: called from app goroutines.
func (s *scenario) crashPoint(p *process, site string) {
	if p.isCut() {
		crashHere() // a killed process runs no further
	}
	s.mu.Lock()
	s.siteHits[site]++
	hit := s.siteHits[site]
	s.mu.Unlock()
	if op, ok := s.fault.siteArmed(site, hit); ok {
		p.kill(siteFault(site), time.Duration(op.RestartDelayMS)*time.Millisecond)
		crashHere()
	}
}

// step is one iteration of the scheduler: settle, look, then release one
// held request or advance the clock. It reports whether it released one.
func (s *scenario) step() bool {
	s.progress.Add(1)
	synctest.Wait()
	s.reap()
	s.live.observe(s)
	if s.inconclusive != "" {
		return false
	}
	if s.burst < burstLimit {
		if c := s.net.candidates(); len(c) > 0 {
			s.burst++
			s.release(c[s.rng.IntN(len(c))])
			return true
		}
	}
	s.burst = 0
	return false
}

// tick advances the logical clock by d and does what falls due.
func (s *scenario) tick(d time.Duration) {
	time.Sleep(d)
	s.now += d
	s.in.arrive(s)
	s.fault.resume(s)
	s.expireMembers()
	for i, at := range s.restartAt {
		if at >= 0 && at <= s.now && !s.stopping {
			s.healedAt = s.now
			s.start(i)
		}
	}
}

// drive steps until done reports true, the run turns inconclusive, or the
// logical clock reaches limit; it reports whether done was reached.
func (s *scenario) drive(limit time.Duration, done func() bool) bool {
	idle := 0
	for {
		if s.step() {
			idle = 0
			continue
		}
		if s.inconclusive != "" {
			return false
		}
		if done() {
			return true
		}
		if s.now >= limit {
			return false
		}
		// Idle steps grow from 1 ms to 16 ms: timers inside the app fire
		// at their own virtual times either way.
		s.tick(time.Millisecond << min(idle, 4))
		idle++
	}
}

// running reports whether any process is alive (not killed, not exited).
func (s *scenario) running() bool {
	for _, p := range s.procs {
		if p != nil && !p.isCut() && !p.exited() {
			return true
		}
	}
	return false
}

// pendingRestart reports whether an instance is down and will restart.
func (s *scenario) pendingRestart() bool {
	for _, at := range s.restartAt {
		if at >= 0 {
			return true
		}
	}
	return false
}

func firstLine(s string) string {
	for i := range len(s) {
		if s[i] == '\n' {
			return s[:i]
		}
	}
	return s
}
