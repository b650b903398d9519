package appsim

import (
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

// clientSet sees every kgo client of the app (a hook in every ClientOpts),
// so that whatever is left open at the end is closed by the harness and the
// bubble ends clean.
type clientSet struct {
	mu   sync.Mutex
	open map[*kgo.Client]bool
}

func newClientSet() *clientSet { return &clientSet{open: map[*kgo.Client]bool{}} }

func (c *clientSet) OnNewClient(cl *kgo.Client) {
	c.mu.Lock()
	c.open[cl] = true
	c.mu.Unlock()
}

func (c *clientSet) OnClientClosed(cl *kgo.Client) {
	c.mu.Lock()
	delete(c.open, cl)
	c.mu.Unlock()
}

// list returns the open clients.
func (c *clientSet) list() []*kgo.Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	open := make([]*kgo.Client, 0, len(c.open))
	for cl := range c.open {
		open = append(open, cl)
	}
	return open
}

// closeAll closes, each on its own goroutine, the clients still open and
// returns how many there were and a channel closed when all are closed.
func (c *clientSet) closeAll() (int, <-chan struct{}) {
	open := c.list()
	var wg sync.WaitGroup
	for _, cl := range open {
		wg.Go(cl.Close)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	return len(open), done
}
