package sim

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eosim/eosim/model"
)

// readIdle is how long (virtual) the reader waits for more output before it
// concludes it has read everything visible: forty fetch rounds.
const readIdle = 2 * time.Second

// readOutput reads the output topic as a read_committed reader would after
// the run. It also compares the last stable offset with the high watermark:
// a transaction left open pins the LSO, and readers stall behind it.
func readOutput(ctx context.Context, clientOpts []kgo.Opt, partitions int32) ([]model.OutputRecord, string, error) {
	admin, err := kgo.NewClient(clientOpts...)
	if err != nil {
		return nil, "", fmt.Errorf("read output: %w", err)
	}
	defer admin.Close()
	lso, err := listEnds(ctx, admin, partitions, 1)
	if err != nil {
		return nil, "", err
	}
	hwm, err := listEnds(ctx, admin, partitions, 0)
	if err != nil {
		return nil, "", err
	}
	var stalled string
	for p := range partitions {
		if lso[p] < hwm[p] {
			stalled = fmt.Sprintf("an open transaction pins output partition %d: last stable offset %d, high watermark %d", p, lso[p], hwm[p])
			break
		}
	}
	start := map[int32]kgo.Offset{}
	for p := range partitions {
		start[p] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(append(slices.Clone(clientOpts),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{outputTopic: start}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// A fetch the broker holds (default up to 5 s) must come back well
		// within the idle window, or the reader would stop while a
		// partition still has records for it.
		kgo.FetchMaxWait(50*time.Millisecond))...)
	if err != nil {
		return nil, "", fmt.Errorf("read output: %w", err)
	}
	defer cl.Close()
	var out []model.OutputRecord
	for {
		pctx, cancel := context.WithTimeout(ctx, readIdle)
		fs := cl.PollFetches(pctx)
		cancel()
		n := 0
		fs.EachRecord(func(r *kgo.Record) {
			out = append(out, model.OutputRecord{Partition: r.Partition, Offset: r.Offset, Key: string(r.Key), Value: string(r.Value)})
			n++
		})
		if n == 0 {
			break
		}
	}
	slices.SortFunc(out, func(a, b model.OutputRecord) int {
		if a.Partition != b.Partition {
			return int(a.Partition - b.Partition)
		}
		return int(a.Offset - b.Offset)
	})
	return out, stalled, nil
}

// listEnds returns each output partition's end: isolation 1 gives the last
// stable offset, 0 the high watermark.
func listEnds(ctx context.Context, cl *kgo.Client, partitions int32, isolation int8) (map[int32]int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.IsolationLevel = isolation
	t := kmsg.NewListOffsetsRequestTopic()
	t.Topic = outputTopic
	for p := range partitions {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition = p
		rp.Timestamp = -1 // latest
		t.Partitions = append(t.Partitions, rp)
	}
	req.Topics = []kmsg.ListOffsetsRequestTopic{t}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("list offsets: %w", err)
	}
	ends := map[int32]int64{}
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
				return nil, fmt.Errorf("list offsets %s/%d: %w", rt.Topic, rp.Partition, err)
			}
			ends[rp.Partition] = rp.Offset
		}
	}
	return ends, nil
}
