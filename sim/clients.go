package sim

import (
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

// clientTracker sees every kgo client a scenario creates (a hook in every
// client's options). Whatever the engine leaves open when the scenario ends
// is closed here, so a leaking engine (a mutation, a bug variant) cannot
// keep the bubble alive: synctest would panic instead of reporting.
type clientTracker struct {
	mu   sync.Mutex
	open map[*kgo.Client]bool
}

func newClientTracker() *clientTracker { return &clientTracker{open: map[*kgo.Client]bool{}} }

// OnNewClient implements kgo.HookNewClient.
func (c *clientTracker) OnNewClient(cl *kgo.Client) {
	c.mu.Lock()
	c.open[cl] = true
	c.mu.Unlock()
}

// OnClientClosed implements kgo.HookClientClosed.
func (c *clientTracker) OnClientClosed(cl *kgo.Client) {
	c.mu.Lock()
	delete(c.open, cl)
	c.mu.Unlock()
}

// closeAll closes the clients still open and returns how many there were.
func (c *clientTracker) closeAll() int {
	c.mu.Lock()
	open := make([]*kgo.Client, 0, len(c.open))
	for cl := range c.open {
		open = append(open, cl)
	}
	c.mu.Unlock()
	for _, cl := range open {
		cl.Close()
	}
	return len(open)
}
