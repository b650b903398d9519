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

// readBound bounds the whole read-back in virtual time.
const readBound = 10 * time.Minute

// readIdle is how long (virtual) the reader waits for more output before it
// concludes it has read everything visible: forty fetch rounds.
const readIdle = 2 * time.Second

// readOutput reads the output topic as a read_committed reader would after
// the run. It also compares the last stable offset with the high watermark:
// a transaction left open pins the LSO, and readers stall behind it.
func readOutput(ctx context.Context, clientOpts []kgo.Opt, partitions int32) (visible, abortedVisible []model.OutputRecord, stalled string, err error) {
	admin, err := kgo.NewClient(clientOpts...)
	if err != nil {
		return nil, nil, "", fmt.Errorf("read output: %w", err)
	}
	defer admin.Close()
	lso, err := listEnds(ctx, admin, partitions, 1)
	if err != nil {
		return nil, nil, "", err
	}
	hwm, err := listEnds(ctx, admin, partitions, 0)
	if err != nil {
		return nil, nil, "", err
	}
	for p := range partitions {
		if lso[p] < hwm[p] {
			stalled = fmt.Sprintf("an open transaction pins output partition %d: last stable offset %d, high watermark %d", p, lso[p], hwm[p])
			break
		}
	}
	committed, err := readAll(ctx, clientOpts, partitions, kgo.ReadCommitted(), lso)
	if err != nil {
		return nil, nil, "", err
	}
	out := slices.DeleteFunc(committed, func(r logRecord) bool { return r.control })
	// The whole log, aborted data and transaction markers included, tells
	// which transactional records were aborted: none of them may be
	// visible to the read_committed reader.
	all, err := readAll(ctx, clientOpts, partitions, kgo.ReadUncommitted(), hwm)
	if err != nil {
		return nil, nil, "", err
	}
	aborted := abortedRecords(all)
	visible = make([]model.OutputRecord, len(out))
	for i, r := range out {
		visible[i] = r.OutputRecord
		if aborted[[2]int64{int64(r.Partition), r.Offset}] {
			abortedVisible = append(abortedVisible, r.OutputRecord)
		}
	}
	return visible, abortedVisible, stalled, nil
}

// logRecord is an output record with what the transaction check needs.
type logRecord struct {
	model.OutputRecord
	producerID    int64
	transactional bool
	control       bool
}

// readAll reads every output partition from the start, control records
// included, until it has read up to ends (the last stable offsets for a
// read_committed reader, the high watermarks otherwise), sorted by
// partition and offset. Should a partition never get there, the reader
// stops once it sees nothing new for readIdle.
func readAll(ctx context.Context, clientOpts []kgo.Opt, partitions int32, isolation kgo.IsolationLevel, ends map[int32]int64) ([]logRecord, error) {
	start := map[int32]kgo.Offset{}
	for p := range partitions {
		start[p] = kgo.NewOffset().AtStart()
	}
	opts := append(slices.Clone(clientOpts),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{outputTopic: start}),
		kgo.FetchIsolationLevel(isolation),
		// A fetch the broker holds (default up to 5 s) must come back well
		// within the idle window, or the reader would stop while a
		// partition still has records for it.
		kgo.FetchMaxWait(50*time.Millisecond),
		// Markers end every transaction, so the reader knows when it has
		// reached the end (aborted records are still left out for a
		// read_committed reader).
		kgo.KeepControlRecords())
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("read output: %w", err)
	}
	defer cl.Close()
	// Stop when a poll brings nothing new: kgo may hand a trailing control
	// record out again (measured: with KeepControlRecords the reader never
	// went quiet), so "new" means an offset beyond what was seen.
	var out []logRecord
	next := map[int32]int64{}
	for {
		pctx, cancel := context.WithTimeout(ctx, readIdle)
		fs := cl.PollFetches(pctx)
		cancel()
		fresh := 0
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset < next[r.Partition] {
				return
			}
			next[r.Partition] = r.Offset + 1
			out = append(out, logRecord{
				OutputRecord:  model.OutputRecord{Partition: r.Partition, Offset: r.Offset, Key: string(r.Key), Value: string(r.Value)},
				producerID:    r.ProducerID,
				transactional: r.Attrs.IsTransactional(),
				control:       r.Attrs.IsControl(),
			})
			fresh++
		})
		if fresh == 0 || readUpTo(next, ends) {
			break
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("read output: %w", err)
		}
	}
	slices.SortFunc(out, func(a, b logRecord) int {
		if a.Partition != b.Partition {
			return int(a.Partition - b.Partition)
		}
		return int(a.Offset - b.Offset)
	})
	return out, nil
}

// readUpTo reports whether the reader has read every partition up to its
// end offset (exclusive).
func readUpTo(next, ends map[int32]int64) bool {
	for p, end := range ends {
		if next[p] < end {
			return false
		}
	}
	return true
}

// abortedRecords replays the log of each partition: a transactional record
// belongs to its producer's next marker in that partition; an ABORT marker
// (control key version 0, type 0) aborts them, COMMIT (type 1) commits.
func abortedRecords(log []logRecord) map[[2]int64]bool {
	aborted := map[[2]int64]bool{}
	open := map[[2]int64][]int64{} // (partition, producer) → offsets awaiting a marker
	for _, r := range log {
		key := [2]int64{int64(r.Partition), r.producerID}
		switch {
		case r.control:
			if len(r.Key) >= 4 && r.Key[2] == 0 && r.Key[3] == 0 { // type 0: abort
				for _, off := range open[key] {
					aborted[[2]int64{int64(r.Partition), off}] = true
				}
			}
			delete(open, key)
		case r.transactional:
			open[key] = append(open[key], r.Offset)
		}
	}
	return aborted
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
