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
// It also keeps the input partition of each key (keys never span
// partitions), which the forward topology redistributes state by.
type keyedCounter struct {
	counts     map[string]int64
	partitions map[string]int32
}

func newKeyedCounter(restored []KeyCount) *keyedCounter {
	k := &keyedCounter{counts: make(map[string]int64, len(restored)), partitions: make(map[string]int32, len(restored))}
	for _, kc := range restored {
		k.counts[kc.Key] = kc.Count
		k.partitions[kc.Key] = kc.Partition
	}
	return k
}

func (k *keyedCounter) process(key string, partition int32) int64 {
	k.counts[key]++
	k.partitions[key] = partition
	return k.counts[key]
}

// snapshot returns the state sorted by key, so it never depends on map order.
func (k *keyedCounter) snapshot() []KeyCount {
	out := make([]KeyCount, 0, len(k.counts))
	for key, n := range k.counts {
		out = append(out, KeyCount{Key: key, Count: n, Partition: k.partitions[key]})
	}
	slices.SortFunc(out, func(a, b KeyCount) int { return strings.Compare(a.Key, b.Key) })
	return out
}
