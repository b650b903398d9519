package engine

import (
	"fmt"
	"slices"
	"strings"
)

// transform is the job's stateless step: it upper-cases the payload.
func transform(value string) string { return strings.ToUpper(value) }

// FormatOutput is the sink record value for an input record: its identity
// (input partition and offset), key, the key's running count after this
// record, and the transformed payload. The model parses the same format.
func FormatOutput(partition int32, offset int64, key string, count int64, payload string) string {
	return fmt.Sprintf("%d:%d:%s:%d:%s", partition, offset, key, count, payload)
}

// keyedCounter is the keyed stateful operator: a running count per key,
// checkpointed with the subtask.
type keyedCounter struct{ counts map[string]int64 }

func newKeyedCounter(restored []KeyCount) *keyedCounter {
	k := &keyedCounter{counts: make(map[string]int64, len(restored))}
	for _, kc := range restored {
		k.counts[kc.Key] = kc.Count
	}
	return k
}

func (k *keyedCounter) process(key string) int64 {
	k.counts[key]++
	return k.counts[key]
}

// snapshot returns the state sorted by key, so it never depends on map order.
func (k *keyedCounter) snapshot() []KeyCount {
	out := make([]KeyCount, 0, len(k.counts))
	for key, n := range k.counts {
		out = append(out, KeyCount{Key: key, Count: n})
	}
	slices.SortFunc(out, func(a, b KeyCount) int { return strings.Compare(a.Key, b.Key) })
	return out
}
