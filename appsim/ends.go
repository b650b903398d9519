package appsim

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// listEnds returns the high watermark of every partition of topic.
func listEnds(ctx context.Context, cl *kgo.Client, topic string, partitions int32) ([]int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	for p := range partitions {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp = p, -1
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("appsim: list output offsets: %w", err)
	}
	ends := make([]int64, partitions)
	got := 0
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return nil, fmt.Errorf("appsim: list offsets of %s/%d: %w", topic, p.Partition, err)
			}
			if p.Partition >= 0 && p.Partition < partitions {
				ends[p.Partition] = p.Offset
				got++
			}
		}
	}
	if got != int(partitions) {
		return nil, errNoPartition
	}
	return ends, nil
}
