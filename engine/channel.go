package engine

import "sync"

// channel carries records and barriers from one source subtask to one
// operator subtask, in order. It is the network between tasks; its content
// is lost with the process. A mutex makes it safe for the production
// driver, where the two ends run on different goroutines.
type channel struct {
	mu    sync.Mutex
	items []item
}

// item is a record or, when barrier is non-zero, the barrier of that
// checkpoint, carrying the source's snapshot offsets.
type item struct {
	record  inputRecord
	barrier int64
	offsets []PartitionOffset
}

type inputRecord struct {
	partition int32
	offset    int64
	key       []byte
	value     []byte
}

func (c *channel) push(it item) {
	c.mu.Lock()
	c.items = append(c.items, it)
	c.mu.Unlock()
}

func (c *channel) pop() (item, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.items) == 0 {
		return item{}, false
	}
	it := c.items[0]
	c.items = c.items[1:]
	return it, true
}

func (c *channel) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items)
}

// clear drops every item: the channel's content dies with its tasks.
func (c *channel) clear() {
	c.mu.Lock()
	c.items = nil
	c.mu.Unlock()
}
