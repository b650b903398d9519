package realtime

import (
	"context"
	"errors"
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

// fencedStore is one process's handle on the checkpoint store.
type fencedStore struct {
	inner  engine.CheckpointStore
	fenced atomic.Bool
}

func (s *fencedStore) Store(ctx context.Context, cp engine.Checkpoint) error {
	if s.fenced.Load() {
		return errFenced
	}
	return s.inner.Store(ctx, cp)
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
