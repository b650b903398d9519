package loopback

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eosim/eosim/app"
)

// crashes arms named sites: the hit-th time any process of the run reaches
// site (counted over the whole run), that process is killed there.
type crashes struct {
	mu   sync.Mutex
	arm  map[string]int
	hits map[string]int
}

func (c *crashes) fires(site string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hits[site]++
	return c.arm[site] != 0 && c.hits[site] == c.arm[site]
}

// process is the Env of one attempt of one instance on loopback: its
// connections are tracked so that a kill cuts them and refuses new ones,
// which abandons its clients with their transactions open, as a dead
// process leaves them.
type process struct {
	brokers  []string
	store    app.Store
	instance int
	attempt  int
	crashes  *crashes
	cancel   context.CancelCauseFunc

	mu    sync.Mutex
	dead  bool
	conns []net.Conn
}

func (p *process) ClientOpts() []kgo.Opt {
	// Short group timeouts: a killed member is noticed on a real clock.
	return []kgo.Opt{kgo.SeedBrokers(p.brokers...), kgo.DisableClientMetrics(), kgo.Dialer(p.dial),
		kgo.SessionTimeout(500 * time.Millisecond), kgo.HeartbeatInterval(100 * time.Millisecond)}
}
func (p *process) Store() app.Store     { return p.store }
func (p *process) Logger() *slog.Logger { return slog.New(slog.DiscardHandler) }
func (p *process) Instance() int        { return p.instance }
func (p *process) Attempt() int         { return p.attempt }

func (p *process) dial(ctx context.Context, network, host string) (net.Conn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dead {
		return nil, errors.New("loopback: process killed")
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, host)
	if err == nil {
		p.conns = append(p.conns, conn)
	}
	return conn, err
}

// CrashPoint kills the process at an armed site and does not return.
func (p *process) CrashPoint(site string) {
	if !p.crashes.fires(site) {
		return
	}
	p.kill()
	runtime.Goexit()
}

func (p *process) kill() {
	p.mu.Lock()
	p.dead = true
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.cancel(app.ErrKilled)
}

// maxRestarts bounds how often one instance is restarted after a kill or a
// failure; a test that needs more is broken.
const maxRestarts = 10

// supervise runs instance i of a until appCtx is done: a killed or failed
// process is restarted after a short downtime with its store kept; a
// graceful stop ends it. It returns the last attempt's error.
func supervise(t *testing.T, appCtx context.Context, a app.App, i int, brokers []string, store app.Store, cr *crashes) error {
	for attempt := 0; ; attempt++ {
		pctx, cancel := context.WithCancelCause(context.Background())
		stop := context.AfterFunc(appCtx, func() { cancel(app.ErrStop) })
		p := &process{brokers: brokers, store: store, instance: i, attempt: attempt, crashes: cr, cancel: cancel}
		var err error
		done := make(chan struct{})
		go func() {
			defer close(done)
			err = a.Run(pctx, p)
		}()
		<-done
		stop()
		killed := errors.Is(context.Cause(pctx), app.ErrKilled)
		p.kill() // a returned process keeps nothing open either
		switch {
		case appCtx.Err() != nil && !killed:
			return err
		case attempt == maxRestarts:
			return fmt.Errorf("instance %d: %d restarts, last: %w", i, attempt, err)
		}
		t.Logf("instance %d attempt %d ended (killed %v): %v; restarting", i, attempt, killed, err)
		time.Sleep(50 * time.Millisecond)
	}
}
