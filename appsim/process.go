package appsim

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eosim/eosim/app"
)

// process is one attempt of one instance of the app: a goroutine running
// app.Run with its Env.
type process struct {
	s                 *scenario
	instance, attempt int
	ctx               context.Context
	cancel            context.CancelCauseFunc
	// clientCtx is every client's root context (kgo.WithContext): it is
	// cancelled at a kill only, so that an abandoned client's internal
	// retries stop at once. kgo holds its producer-id mutex across the
	// backoff of a retried InitProducerID; a goroutine waiting on a mutex
	// is not durably blocked, so a retrying abandoned client would freeze
	// the bubble's clock (measured: a kill-instance run wedged).
	clientCtx    context.Context
	cancelClient context.CancelFunc
	store        *fencedStore
	logger       *slog.Logger

	cut     atomic.Bool  // killed: no byte in or out, no store access
	paused  atomic.Bool  // its requests are held until resumed
	clients atomic.Int32 // ClientOpts calls so far

	mu       sync.Mutex // guards the fields below
	killedBy string     // the fault that killed it
	downtime time.Duration

	done    chan struct{}
	outcome outcome // valid once done is closed

	reaped bool // scheduler only
}

type outcome struct {
	err      error
	returned bool // Run returned (else it panicked or called Goexit)
	panicked any
	stack    string
}

func (p *process) name() string { return fmt.Sprintf("%d.%d", p.instance, p.attempt) }
func (p *process) isCut() bool  { return p.cut.Load() }
func (p *process) isPaused() bool {
	return p.paused.Load()
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// start runs the process's goroutine.
func (p *process) start(run func(context.Context, app.Env) error) {
	go func() {
		defer close(p.done)
		defer func() {
			if r := recover(); r != nil {
				p.outcome.panicked = r
				p.outcome.stack = string(debug.Stack())
			}
		}()
		err := run(p.ctx, p)
		p.outcome.err, p.outcome.returned = err, true
	}()
}

// kill cuts the process off (connections, store, context) and abandons its
// clients with their transactions open. It is safe from any goroutine and
// reports whether this call killed it.
func (p *process) kill(reason string, downtime time.Duration) bool {
	p.mu.Lock()
	if p.cut.Load() {
		p.mu.Unlock()
		return false
	}
	p.cut.Store(true)
	p.killedBy, p.downtime = reason, downtime
	p.mu.Unlock()
	p.s.net.cutProcess(p)
	p.store.fence()
	p.cancelClient()
	p.cancel(app.ErrKilled)
	// The clients stay open (abandoned, their transactions open, as after
	// a real crash); the app's own deferred Close or the harness's at the
	// end closes them. Closing them here raced the app's Close (kgo's
	// Close is not safe to call twice concurrently: the race detector).
	return true
}

// Env implementation.

// ClientOpts gives each call its own dialer, numbered in call order, so
// that the network can name the client's connections by who made them.
// Build one client per call.
func (p *process) ClientOpts() []kgo.Opt {
	n := int(p.clients.Add(1))
	s := p.s
	return []kgo.Opt{
		kgo.SeedBrokers(s.seeds...),
		kgo.Dialer(s.net.dialFor(p, n)),
		kgo.WithContext(p.clientCtx),
		kgo.WithHooks(s.allClients),
		// Telemetry requests come from the client's own goroutine.
		kgo.DisableClientMetrics(),
		// kgo's default backoff has random jitter.
		kgo.RetryBackoffFn(deterministicBackoff),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
	}
}
func (p *process) Store() app.Store       { return p.store }
func (p *process) Logger() *slog.Logger   { return p.logger }
func (p *process) Instance() int          { return p.instance }
func (p *process) Attempt() int           { return p.attempt }
func (p *process) CrashPoint(name string) { p.s.crashPoint(p, name) }

// crashHere ends the calling goroutine of a killed process: a killed
// process runs no more code that could reach Kafka or the store.
func crashHere() { runtime.Goexit() }

// fencedStore is a process's handle on its instance's store: the store
// outlives the process, the handle dies with it.
type fencedStore struct {
	m *app.MemoryStore
	// mu makes the fence wait for an access in progress, so that no access
	// of a killed process completes after the kill.
	mu     sync.RWMutex
	fenced bool
}

func (f *fencedStore) fence() {
	f.mu.Lock()
	f.fenced = true
	f.mu.Unlock()
}

func (f *fencedStore) Get(ctx context.Context, key string) ([]byte, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.fenced {
		return nil, app.ErrFenced
	}
	return f.m.Get(ctx, key)
}

func (f *fencedStore) Put(ctx context.Context, key string, value []byte) error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.fenced {
		return app.ErrFenced
	}
	return f.m.Put(ctx, key, value)
}

func (f *fencedStore) Delete(ctx context.Context, key string) error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.fenced {
		return app.ErrFenced
	}
	return f.m.Delete(ctx, key)
}

// deterministicBackoff doubles from 50 ms up to 1 s, without jitter.
func deterministicBackoff(fails int) time.Duration {
	return min(time.Second, 50*time.Millisecond<<min(max(fails-1, 0), 5))
}
