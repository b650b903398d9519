package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// kafkaSource is one subtask of the Kafka source (FlinkKafkaConsumer). It
// keeps, per assigned partition, the offset of the last record emitted
// downstream, and per checkpoint the offsets pending commit to the group.
type kafkaSource struct {
	cfg        *Config
	subtask    int
	client     *kgo.Client
	partitions []int32
	// lastEmitted is the offset of the last record emitted per partition,
	// -1 when none (KafkaTopicPartitionState.offset).
	lastEmitted map[int32]int64
	// buffered holds fetched records per partition so that the order in
	// which records are emitted is chosen by the caller, never by the order
	// fetch responses arrive in.
	buffered map[int32][]*kgo.Record
	// topicID is the input topic's id: OffsetCommit v10+ and OffsetFetch
	// v10+ name topics by id.
	topicID [16]byte
	// settle lets concurrent fetch responses arrive (Deps.Settle).
	settle func()
	// emitted marks partitions that emitted a record in this attempt.
	emitted map[int32]bool
	// fromEnd marks partitions whose start the LATEST startup mode gave
	// (the flink-28303 variant saves those as the placeholder).
	fromEnd map[int32]bool
	// pendingCommit maps checkpoint id → offsets to commit to the group on
	// notifyCheckpointComplete.
	pendingCommit map[int64][]PartitionOffset
	obs           Observer
}

// openSource restores the source from restored offsets (nil without a
// checkpoint) and starts consuming at offset+1 of each partition;
// offsetsInGroup says the group's committed offsets are the state
// (offsets-in-txn).
func openSource(ctx context.Context, cfg *Config, subtask int, admin *kgo.Client, restored []PartitionOffset, fromCheckpoint, offsetsInGroup bool, deps Deps) (*kafkaSource, error) {
	obs := deps.Observer
	s := &kafkaSource{
		cfg: cfg, subtask: subtask, obs: obs, settle: deps.Settle,
		partitions:    PartitionsOf(subtask, cfg.Parallelism, cfg.Partitions),
		lastEmitted:   map[int32]int64{},
		emitted:       map[int32]bool{},
		fromEnd:       map[int32]bool{},
		buffered:      map[int32][]*kgo.Record{},
		pendingCommit: map[int64][]PartitionOffset{},
	}
	s.topicID = cfg.inputTopicID
	start, err := s.startOffsets(ctx, admin, restored, fromCheckpoint, offsetsInGroup)
	if err != nil {
		return nil, err
	}
	assign := map[int32]kgo.Offset{}
	for _, p := range s.partitions {
		s.lastEmitted[p] = start[p] - 1
		assign[p] = kgo.NewOffset().At(start[p])
		obs.Observe(Event{Kind: "source-start", Subtask: subtask, Partition: p, Offset: start[p]})
	}
	isolation := kgo.ReadCommitted()
	if cfg.Protocol.Has(BugReadUncommitted) {
		isolation = kgo.ReadUncommitted() // the bug: kgo's default
	}
	opts := append(slices.Clone(cfg.ClientOpts), kgo.FetchIsolationLevel(isolation))
	if s.client, err = kgo.NewClient(opts...); err != nil {
		return nil, fmt.Errorf("source %d: %w", subtask, err)
	}
	s.client.AddConsumePartitions(map[string]map[int32]kgo.Offset{cfg.InputTopic: assign})
	return s, nil
}

// startOffsets is initializeState: the restored offset + 1 where the
// checkpoint (or the job's startup record) has the partition, otherwise
// the startup mode decides; offsetsInGroup says the group's committed
// offsets are the state (offsets-in-txn).
func (s *kafkaSource) startOffsets(ctx context.Context, admin *kgo.Client, restored []PartitionOffset, fromCheckpoint, offsetsInGroup bool) (map[int32]int64, error) {
	start := map[int32]int64{}
	for _, po := range restored {
		if po.Topic != s.cfg.InputTopic || !slices.Contains(s.partitions, po.Partition) {
			continue
		}
		if po.Offset == latestPlaceholder {
			ends, err := listOffsets(ctx, admin, s.cfg.InputTopic, []int32{po.Partition}, listEnd)
			if err != nil {
				return nil, fmt.Errorf("source %d: %w", s.subtask, err)
			}
			po.Offset = ends[po.Partition] - 1
			s.fromEnd[po.Partition] = s.cfg.StartupMode == StartLatest
		}
		start[po.Partition] = po.Offset + 1
		if s.cfg.Protocol.Has(BugSeekWithoutPlusOne) {
			start[po.Partition] = max(po.Offset, 0)
		}
	}
	if fromCheckpoint && s.cfg.Protocol.Has(BugStartupModeOnRestore) {
		// The bug: the checkpointed offsets are ignored, the startup mode
		// is applied again.
		clear(start)
		clear(s.fromEnd)
	}
	// The group's offsets are the state of offsets-in-txn (committed with
	// the output) unless the restored state was written under at-least-once
	// (a switched guarantee); the rest keep the startup record's.
	if s.cfg.Protocol.OffsetsInSinkTransaction() && offsetsInGroup || fromCheckpoint && s.cfg.Protocol.Has(BugGroupOffsetsOnRestore) {
		committed, err := fetchGroupOffsets(ctx, admin, s.cfg.JobName, s.cfg.InputTopic, s.topicID, s.partitions)
		if err != nil {
			return nil, fmt.Errorf("source %d: %w", s.subtask, err)
		}
		for p, off := range committed {
			if slices.Contains(s.partitions, p) {
				start[p] = off
				delete(s.fromEnd, p)
			}
		}
	}
	var rest []int32
	for _, p := range s.partitions {
		if _, ok := start[p]; !ok {
			rest = append(rest, p)
		}
	}
	if len(rest) == 0 {
		return start, nil
	}
	resolved, err := s.resolveStartup(ctx, admin, rest)
	if err != nil {
		return nil, fmt.Errorf("source %d: startup mode %s: %w", s.subtask, s.cfg.StartupMode, err)
	}
	maps.Copy(start, resolved)
	return start, nil
}

// resolveStartup applies the startup mode to partitions (OffsetsInitializer).
func (s *kafkaSource) resolveStartup(ctx context.Context, admin *kgo.Client, partitions []int32) (map[int32]int64, error) {
	out := map[int32]int64{}
	for _, p := range partitions {
		out[p] = 0 // earliest: input topics are never truncated here
	}
	topic := s.cfg.InputTopic
	switch s.cfg.StartupMode {
	case StartGroupOffsets:
		committed, err := fetchGroupOffsets(ctx, admin, s.cfg.JobName, topic, s.topicID, partitions)
		if err != nil {
			return nil, err
		}
		for p, off := range committed {
			if _, ok := out[p]; ok {
				out[p] = off
			}
		}
	case StartLatest:
		ends, err := listOffsets(ctx, admin, topic, partitions, listEnd)
		if err != nil {
			return nil, err
		}
		for _, p := range partitions {
			out[p], s.fromEnd[p] = ends[p], true
		}
	case StartSpecificOffsets:
		ends, err := listOffsets(ctx, admin, topic, partitions, listEnd)
		if err != nil {
			return nil, err
		}
		for _, p := range partitions {
			if off, ok := s.cfg.StartupOffsets[p]; ok && off >= 0 && off <= ends[p] {
				out[p] = off
			}
		}
	case StartTimestamp:
		at, err := listOffsets(ctx, admin, topic, partitions, s.cfg.StartupTimestamp.UnixMilli())
		if err != nil {
			return nil, err
		}
		ends, err := listOffsets(ctx, admin, topic, partitions, listEnd)
		if err != nil {
			return nil, err
		}
		for _, p := range partitions {
			out[p] = ends[p] // no record that late yet
			if off := at[p]; off >= 0 {
				out[p] = off
			}
		}
	}
	return out, nil
}

// latestPlaceholder is the offset the flink-28303 variant saves for a
// partition without an emitted record: "resolve to the end on restore".
const latestPlaceholder = -2

// listEnd is ListOffsets' timestamp for a partition's end (high watermark).
const listEnd = -1

// listOffsets answers ListOffsets for partitions of topic at timestamp
// (listEnd for the end); -1 where no record is that late.
func listOffsets(ctx context.Context, admin *kgo.Client, topic string, partitions []int32, timestamp int64) (map[int32]int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	t := kmsg.NewListOffsetsRequestTopic()
	t.Topic = topic
	for _, partition := range partitions {
		p := kmsg.NewListOffsetsRequestTopicPartition()
		p.Partition, p.Timestamp = partition, timestamp
		t.Partitions = append(t.Partitions, p)
	}
	req.Topics = []kmsg.ListOffsetsRequestTopic{t}
	resp, err := req.RequestWith(ctx, admin)
	if err != nil {
		return nil, fmt.Errorf("list offsets of %s at %d: %w", topic, timestamp, err)
	}
	out := map[int32]int64{}
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
				return nil, fmt.Errorf("list offsets of %s/%d: %w", topic, rp.Partition, err)
			}
			out[rp.Partition] = rp.Offset
		}
	}
	for _, p := range partitions {
		if _, ok := out[p]; !ok {
			return nil, fmt.Errorf("list offsets of %s/%d: no answer", topic, p)
		}
	}
	return out, nil
}

func topicID(ctx context.Context, admin *kgo.Client, topic string) ([16]byte, error) {
	req := kmsg.NewPtrMetadataRequest()
	t := kmsg.NewMetadataRequestTopic()
	t.Topic = kmsg.StringPtr(topic)
	req.Topics = []kmsg.MetadataRequestTopic{t}
	resp, err := req.RequestWith(ctx, admin)
	if err != nil {
		return [16]byte{}, fmt.Errorf("metadata of %s: %w", topic, err)
	}
	for _, rt := range resp.Topics {
		if rt.Topic != nil && *rt.Topic == topic {
			if err := kerr.ErrorForCode(rt.ErrorCode); err != nil {
				return [16]byte{}, fmt.Errorf("metadata of %s: %w", topic, err)
			}
			return rt.TopicID, nil
		}
	}
	return [16]byte{}, fmt.Errorf("metadata of %s: topic missing from the answer", topic)
}

func fetchGroupOffsets(ctx context.Context, admin *kgo.Client, group, topic string, id [16]byte, partitions []int32) (map[int32]int64, error) {
	// A transaction that is still open with offsets of the group makes the
	// broker answer UNSTABLE_OFFSET_COMMIT: wait until it ends.
	for {
		out, err := fetchGroupOffsetsOnce(ctx, admin, group, topic, id, partitions)
		if !errors.Is(err, kerr.UnstableOffsetCommit) {
			return out, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("fetch group offsets: %w (last: %w)", ctx.Err(), err)
		case <-time.After(unstableOffsetsBackoff):
		}
	}
}

// unstableOffsetsBackoff is the wait between stable-offset fetches.
const unstableOffsetsBackoff = 100 * time.Millisecond

func fetchGroupOffsetsOnce(ctx context.Context, admin *kgo.Client, group, topic string, id [16]byte, partitions []int32) (map[int32]int64, error) {
	req := kmsg.NewPtrOffsetFetchRequest()
	req.RequireStable = true
	// The request names the group and topic both ways: v0-7 at the top
	// level, v8+ per group, v10+ by topic id.
	req.Group = group
	t := kmsg.NewOffsetFetchRequestTopic()
	t.Topic, t.Partitions = topic, partitions
	req.Topics = []kmsg.OffsetFetchRequestTopic{t}
	g := kmsg.NewOffsetFetchRequestGroup()
	g.Group = group
	gt := kmsg.NewOffsetFetchRequestGroupTopic()
	gt.Topic, gt.TopicID, gt.Partitions = topic, id, partitions
	g.Topics = []kmsg.OffsetFetchRequestGroupTopic{gt}
	req.Groups = []kmsg.OffsetFetchRequestGroup{g}
	resp, err := req.RequestWith(ctx, admin)
	if err != nil {
		return nil, fmt.Errorf("fetch group offsets: %w", err)
	}
	// Gather the answers of both layouts as (partition, offset, error).
	type answer struct {
		partition int32
		offset    int64
		code      int16
	}
	answers := []answer{}
	codes := []int16{resp.ErrorCode}
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			answers = append(answers, answer{rp.Partition, rp.Offset, rp.ErrorCode})
		}
	}
	for _, rg := range resp.Groups {
		codes = append(codes, rg.ErrorCode)
		for _, rt := range rg.Topics {
			for _, rp := range rt.Partitions {
				answers = append(answers, answer{rp.Partition, rp.Offset, rp.ErrorCode})
			}
		}
	}
	for _, a := range answers {
		codes = append(codes, a.code)
	}
	for _, code := range codes {
		// A group that never committed has no offsets.
		if err := kerr.ErrorForCode(code); err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
			return nil, fmt.Errorf("fetch group offsets of %s: %w", topic, err)
		}
	}
	out := map[int32]int64{}
	for _, a := range answers {
		if a.code == 0 && a.offset >= 0 {
			out[a.partition] = a.offset
		}
	}
	return out, nil
}

// Next returns the next record of partition p, fetching until one is there.
//
// Each blocking poll is followed by Deps.Settle and a poll that takes only
// what is already fetched: with several brokers, fetch responses that are
// ready at the same moment then always land in the same poll, whatever the
// goroutine order (in production Settle does nothing).
func (s *kafkaSource) next(ctx context.Context, p int32) (*kgo.Record, error) {
	for len(s.buffered[p]) == 0 {
		fs := s.client.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("source %d: poll partition %d: %w", s.subtask, p, err)
		}
		s.settle()
		// A nil context makes kgo return at once with what is buffered.
		more := s.client.PollFetches(nil) //nolint:staticcheck // documented kgo behaviour
		if err := s.take(fs, more); err != nil {
			return nil, err
		}
	}
	r := s.buffered[p][0]
	s.buffered[p] = s.buffered[p][1:]
	s.lastEmitted[p] = r.Offset
	s.emitted[p] = true
	return r, nil
}

// take buffers the records of the polls; of their errors it returns the one
// of the lowest partition, so that which broker answered first never shows.
func (s *kafkaSource) take(polls ...kgo.Fetches) error {
	var ferr error
	lowest := int32(-1)
	for _, fs := range polls {
		fs.EachError(func(t string, part int32, err error) {
			if ferr == nil || part < lowest {
				ferr, lowest = fmt.Errorf("source %d: fetch %s/%d: %w", s.subtask, t, part, err), part
			}
		})
	}
	if ferr != nil {
		return ferr
	}
	for _, fs := range polls {
		fs.EachRecord(func(r *kgo.Record) { s.buffered[r.Partition] = append(s.buffered[r.Partition], r) })
	}
	return nil
}

// hasBuffered reports whether partition p has a fetched record waiting.
func (s *kafkaSource) hasBuffered(p int32) bool { return len(s.buffered[p]) > 0 }

// poll fetches once and buffers what arrives (for the production driver).
func (s *kafkaSource) poll(ctx context.Context) error {
	fs := s.client.PollFetches(ctx)
	var ferr error
	fs.EachError(func(t string, part int32, err error) {
		if ferr == nil && ctx.Err() == nil {
			ferr = fmt.Errorf("source %d: fetch %s/%d: %w", s.subtask, t, part, err)
		}
	})
	fs.EachRecord(func(r *kgo.Record) { s.buffered[r.Partition] = append(s.buffered[r.Partition], r) })
	return ferr
}

// snapshot is snapshotState: the last emitted offsets, also kept pending
// commit under the checkpoint id.
func (s *kafkaSource) snapshot(checkpoint int64) []PartitionOffset {
	out := s.positions()
	s.pendingCommit[checkpoint] = out
	return out
}

// positions are the offsets of the last emitted records, as checkpoint
// state.
func (s *kafkaSource) positions() []PartitionOffset {
	out := make([]PartitionOffset, 0, len(s.partitions))
	for _, p := range s.partitions {
		off := s.lastEmitted[p]
		if s.cfg.Protocol.Has(BugEmptyPartitionPlaceholder) && !s.emitted[p] && (off < 0 || s.fromEnd[p]) {
			off = latestPlaceholder // the bug: no concrete offset yet
		}
		out = append(out, PartitionOffset{Topic: s.cfg.InputTopic, Partition: p, Offset: off})
	}
	return out
}

// commitOffsets is the source half of notifyCheckpointComplete: commit
// offset+1 of that checkpoint to the group. It is for monitoring only, so a
// failure is reported and otherwise ignored, as Flink does.
func (s *kafkaSource) commitOffsets(ctx context.Context, checkpoint int64) {
	if s.cfg.Protocol.OffsetsInSinkTransaction() {
		clear(s.pendingCommit) // the sink's transaction committed them
		return
	}
	offsets, ok := s.pendingCommit[checkpoint]
	for id := range s.pendingCommit {
		if id <= checkpoint {
			delete(s.pendingCommit, id)
		}
	}
	if !ok {
		return
	}
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group = s.cfg.JobName
	req.Generation = -1
	t := kmsg.NewOffsetCommitRequestTopic()
	t.Topic, t.TopicID = s.cfg.InputTopic, s.topicID
	for _, po := range offsets {
		if po.Offset < 0 {
			continue
		}
		p := kmsg.NewOffsetCommitRequestTopicPartition()
		p.Partition = po.Partition
		p.Offset = po.Offset + 1
		t.Partitions = append(t.Partitions, p)
	}
	if len(t.Partitions) == 0 {
		return
	}
	req.Topics = append(req.Topics, t)
	detail := "ok"
	resp, err := req.RequestWith(ctx, s.client)
	if err == nil {
		for _, rt := range resp.Topics {
			for _, rp := range rt.Partitions {
				if e := kerr.ErrorForCode(rp.ErrorCode); e != nil && err == nil {
					err = e
				}
			}
		}
	}
	if err != nil {
		detail = "failed" // the message may carry addresses: keep it out of traces
	}
	s.obs.Observe(Event{Kind: "group-offsets-commit", Subtask: s.subtask, Checkpoint: checkpoint, Detail: detail})
}

func (s *kafkaSource) close() {
	if s.client != nil {
		s.client.Close()
	}
}
