package realtime

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eosim/eosim/engine"
)

// A zombie is an attempt of the job that was cut off at a checkpoint
// trigger while a replacement restored from the store and started: the
// old process does not know it is dead, keeps processing and committing
// what it had pre-committed, but its checkpoint store is fenced (no
// checkpoint of it completes any more), as in the simulator. It stops when
// a store write fails, or after zombieLife.
const zombieLife = 2 * time.Second

var errFenced = errors.New("checkpoint store fenced: this process was replaced")

// fencedStore is one process's handle on the checkpoint store. The check
// and the write are one step under mu, and fence takes mu too: once fence
// returns, no write of the fenced process is under way, so the
// replacement's Latest sees every checkpoint the old process stored and
// none can land after it (a write that passed the check before the fence
// and landed after the replacement read Latest let the zombie commit a
// checkpoint the replacement never restored: duplicates on a correct
// protocol, TestOnFakeOverTCP under load).
type fencedStore struct {
	inner  engine.CheckpointStore
	mu     sync.Mutex
	fenced bool
}

func (s *fencedStore) Store(ctx context.Context, cp engine.Checkpoint) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fenced {
		return errFenced
	}
	return s.inner.Store(ctx, cp)
}

// fence cuts the process off the store, after its write under way, if any.
func (s *fencedStore) fence() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fenced = true
}

func (s *fencedStore) Latest(ctx context.Context) (engine.Checkpoint, bool, error) {
	return s.inner.Latest(ctx)
}

// process is one attempt's view of the run's crasher: once it is a
// zombie, its arrivals at crash points and its triggers no longer count.
type process struct {
	c     *crasher
	muted atomic.Bool
}

func (p *process) ShouldCrash(site engine.CrashSite) bool {
	return !p.muted.Load() && p.c.ShouldCrash(site)
}

func (p *process) Observe(ev engine.Event) {
	if !p.muted.Load() {
		p.c.Observe(ev)
	}
}
