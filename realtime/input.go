package realtime

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eosim/eosim/faults"
	"github.com/eosim/eosim/model"
)

// input is a plan's input records, drawn from its seed: Records over
// Partitions, KeysPerPartition keys per partition (keys never span
// partitions), random payloads.
type input struct {
	pending []*kgo.Record
	records []model.InputRecord // as produced, with offsets, sorted
}

func newInput(p faults.Plan) *input {
	w := p.Workload
	rng := rand.New(rand.NewPCG(p.Seed, 0x7265616c74696d65)) // "realtime"
	in := &input{}
	for i := range w.Records {
		part := int32(rng.IntN(w.Partitions))
		key := fmt.Sprintf("k%d-%d", part, rng.IntN(w.KeysPerPartition))
		in.pending = append(in.pending, &kgo.Record{Partition: part, Key: []byte(key),
			Value: []byte(fmt.Sprintf("payload-%d-%x", i, rng.Uint32()))})
	}
	return in
}

// produce writes the records to topic spread evenly over span, in batches
// every 10 ms, and returns each partition's end offset.
func (in *input) produce(ctx context.Context, cl *kgo.Client, topic string, span time.Duration) (map[int32]int64, error) {
	ends := map[int32]int64{}
	const tick = 10 * time.Millisecond
	batches := max(1, int(span/tick))
	per := (len(in.pending) + batches - 1) / max(1, batches)
	for start := 0; start < len(in.pending); start += per {
		batch := in.pending[start:min(start+per, len(in.pending))]
		for _, r := range batch {
			r.Topic = topic
		}
		if err := cl.ProduceSync(ctx, batch...).FirstErr(); err != nil {
			return ends, fmt.Errorf("produce input: %w", err)
		}
		for _, r := range batch {
			in.records = append(in.records, model.InputRecord{Partition: r.Partition, Offset: r.Offset, Key: string(r.Key), Value: string(r.Value)})
			ends[r.Partition] = max(ends[r.Partition], r.Offset+1)
		}
		sleep(ctx, tick)
	}
	slices.SortFunc(in.records, func(a, b model.InputRecord) int {
		if a.Partition != b.Partition {
			return int(a.Partition - b.Partition)
		}
		return int(a.Offset - b.Offset)
	})
	return ends, nil
}
