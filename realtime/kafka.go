package realtime

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eosim/eosim/model"
)

// markerLag bounds how long the read-back waits for the output's last
// stable offset to reach its high watermark after the job stopped: for
// Kafka's markers (they lag the EndTxn answer) and for a transaction a
// zombie opened after the replacement aborted the lingering ones, which
// only the broker's transaction timeout ends. It outlasts txnTimeout, as
// the simulator's liveness bound outlasts its transaction timeout, so both
// judge such a transaction alike: ended by the timeout, not stalled.
const markerLag = txnTimeout + 5*time.Second

// kafka is the harness's access to the broker.
type kafka struct{ opts []kgo.Opt }

func (k *kafka) client(extra ...kgo.Opt) (*kgo.Client, error) {
	cl, err := kgo.NewClient(append(slices.Clone(k.opts), extra...)...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	return cl, nil
}

// createTopic creates topic and waits until every partition's leader
// answers ListOffsets: right after creation Kafka can still refuse
// produces (docs/fidelity.md).
func (k *kafka) createTopic(ctx context.Context, topic string, partitions int32) error {
	cl, err := k.client()
	if err != nil {
		return err
	}
	defer cl.Close()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, partitions, 1
	req.Topics = []kmsg.CreateTopicsRequestTopic{rt}
	req.TimeoutMillis = 10000
	resp, err := req.RequestWith(ctx, cl)
	if err == nil {
		err = kerr.ErrorForCode(resp.Topics[0].ErrorCode)
	}
	if err != nil {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	for {
		_, err := listEnds(ctx, cl, topic, partitions, 0)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("topic %s never served: %w (last: %w)", topic, ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func listEnds(ctx context.Context, cl *kgo.Client, topic string, partitions int32, isolation int8) (map[int32]int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.IsolationLevel = isolation
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	for p := range partitions {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp = p, -1
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = []kmsg.ListOffsetsRequestTopic{rt}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	ends := map[int32]int64{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return nil, fmt.Errorf("list offsets %s/%d: %w", topic, p.Partition, err)
			}
			ends[p.Partition] = p.Offset
		}
	}
	if len(ends) != int(partitions) {
		return nil, fmt.Errorf("list offsets %s: %d of %d partitions answered", topic, len(ends), partitions)
	}
	return ends, nil
}

// readOutput reads what a read_committed reader sees in every partition of
// topic up to its last stable offset, and which of those records the
// markers say belong to an aborted transaction. pinned is set when an open
// transaction holds the last stable offset below the high watermark.
func (k *kafka) readOutput(ctx context.Context, topic string, partitions int32) (visible, aborted []model.OutputRecord, pinned string, err error) {
	admin, err := k.client()
	if err != nil {
		return nil, nil, "", err
	}
	defer admin.Close()
	// Kafka answers EndTxn before it has written the markers, so right
	// after the job's last commit the last stable offset may still lag
	// (kfake writes markers before it answers; docs/fidelity.md). Wait up
	// to markerLag for it; a transaction still open after that is stalled.
	var lso, hwm map[int32]int64
	deadline := time.Now().Add(markerLag)
	for {
		if lso, err = listEnds(ctx, admin, topic, partitions, 1); err != nil {
			return nil, nil, "", err
		}
		if hwm, err = listEnds(ctx, admin, topic, partitions, 0); err != nil {
			return nil, nil, "", err
		}
		pinned = ""
		for p := range partitions {
			if lso[p] < hwm[p] {
				pinned = fmt.Sprintf("an open transaction pins the last stable offset of output partition %d at %d (high watermark %d) for %v after the job stopped", p, lso[p], hwm[p], markerLag)
				break
			}
		}
		if pinned == "" || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	all, err := k.readAll(ctx, topic, hwm, kgo.ReadUncommitted())
	if err != nil {
		return nil, nil, "", err
	}
	abortedAt := abortedOffsets(all)
	var committed []*kgo.Record
	if pinned == "" {
		// A real read_committed reader. It reaches every end: with nothing
		// open, the last offset is a marker or committed data.
		if committed, err = k.readAll(ctx, topic, lso, kgo.ReadCommitted()); err != nil {
			return nil, nil, "", err
		}
	} else {
		// With a transaction open, aborted data may end the readable part,
		// which a read_committed reader never returns: take what it would
		// see (below the last stable offset, not aborted) from the full log.
		for _, r := range all {
			if r.Offset < lso[r.Partition] && !abortedAt[[2]int64{int64(r.Partition), r.Offset}] {
				committed = append(committed, r)
			}
		}
	}
	for _, r := range committed {
		if r.Attrs.IsControl() {
			continue
		}
		o := model.OutputRecord{Partition: r.Partition, Offset: r.Offset, Key: string(r.Key), Value: string(r.Value)}
		visible = append(visible, o)
		if abortedAt[[2]int64{int64(r.Partition), r.Offset}] {
			aborted = append(aborted, o)
		}
	}
	return visible, aborted, pinned, nil
}

// readAll reads every partition of topic up to ends (exclusive), control
// records included, in partition then offset order.
func (k *kafka) readAll(ctx context.Context, topic string, ends map[int32]int64, iso kgo.IsolationLevel) ([]*kgo.Record, error) {
	start := map[int32]kgo.Offset{}
	left := map[int32]bool{}
	for p, end := range ends {
		start[p] = kgo.NewOffset().AtStart()
		if end > 0 {
			left[p] = true
		}
	}
	cl, err := k.client(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: start}),
		kgo.FetchIsolationLevel(iso), kgo.KeepControlRecords(), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	var out []*kgo.Record
	for len(left) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("read %s: %w (%d partitions not read to the end)", topic, err, len(left))
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset >= ends[r.Partition] {
				return
			}
			out = append(out, r)
			if r.Offset == ends[r.Partition]-1 {
				delete(left, r.Partition)
			}
		})
	}
	slices.SortFunc(out, func(a, b *kgo.Record) int {
		if a.Partition != b.Partition {
			return int(a.Partition - b.Partition)
		}
		return int(a.Offset - b.Offset)
	})
	return out, nil
}

// abortedOffsets returns the (partition, offset) of every transactional
// data record that an abort marker of its producer ended.
func abortedOffsets(log []*kgo.Record) map[[2]int64]bool {
	aborted := map[[2]int64]bool{}
	open := map[[2]int64][]int64{} // (partition, producer id) -> offsets since its last marker
	for _, r := range log {
		pk := [2]int64{int64(r.Partition), r.ProducerID}
		if !r.Attrs.IsControl() {
			if r.Attrs.IsTransactional() {
				open[pk] = append(open[pk], r.Offset)
			}
			continue
		}
		if len(r.Key) >= 4 && r.Key[3] == 0 { // control type 0: abort
			for _, off := range open[pk] {
				aborted[[2]int64{int64(r.Partition), off}] = true
			}
		}
		delete(open, pk)
	}
	return aborted
}

// openTransactions names the job's transactions still open, for the
// stalled anomaly's detail.
func (k *kafka) openTransactions(ctx context.Context, job string) string {
	cl, err := k.client()
	if err != nil {
		return ""
	}
	defer cl.Close()
	req := kmsg.NewPtrListTransactionsRequest()
	req.StateFilters = []string{"Ongoing", "PrepareCommit", "PrepareAbort"}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return ""
	}
	var ids []string
	for _, ts := range resp.TransactionStates {
		if strings.HasPrefix(ts.TransactionalID, job+"-") {
			ids = append(ids, ts.TransactionalID+" "+ts.TransactionState)
		}
	}
	slices.Sort(ids)
	return "; open: " + strings.Join(ids, ",")
}
