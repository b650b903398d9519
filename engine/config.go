package engine

import (
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// StartupMode says where the source starts on the job's first start
// (Flink's KafkaSource OffsetsInitializer); a restore starts from the
// checkpoint.
type StartupMode string

const (
	StartGroupOffsets StartupMode = "group-offsets" // Flink's default; no committed offset: earliest
	StartEarliest     StartupMode = "earliest"
	// StartLatest starts at each partition's end at the first start.
	StartLatest StartupMode = "latest"
	// StartSpecificOffsets starts at Config.StartupOffsets; a partition
	// without one, or with one past its end, starts at the earliest offset
	// (KafkaSource's reset strategy for specified offsets).
	StartSpecificOffsets StartupMode = "specific-offsets"
	// StartTimestamp starts at the first record whose timestamp is at or
	// after Config.StartupTimestamp; a partition without one at its end.
	StartTimestamp StartupMode = "timestamp"
)

// StartupModes lists the startup modes in a stable order.
func StartupModes() []StartupMode {
	return []StartupMode{StartGroupOffsets, StartEarliest, StartLatest, StartSpecificOffsets, StartTimestamp}
}

// resolvedOnce reports whether the mode's start positions depend on when
// they are resolved (the partition's end moves): the job then resolves them
// at its first start and keeps them in the store (a startup record), so a
// restart before the first checkpoint starts where the first start did.
func (m StartupMode) resolvedOnce() bool {
	return m == StartLatest || m == StartSpecificOffsets || m == StartTimestamp
}

// Config describes one job.
type Config struct {
	Protocol Protocol
	JobName  string // consumer group (and the default transactional-id prefix)
	// TransactionalIDPrefix is the prefix of the sink's transactional ids
	// (Flink's setTransactionalIdPrefix); empty means JobName. A new job
	// restored from another job's checkpoint may use a new prefix: the
	// checkpoint carries the prefixes its transactions were written under.
	TransactionalIDPrefix string
	// RanTransactional: an earlier job of this one wrote with transactions
	// (a guarantee switched from exactly-once). A non-transactional sink
	// then still aborts their lingering transactions, even with no
	// checkpoint to restore from.
	RanTransactional bool
	// RetainedCheckpoint is the id of the retained checkpoint an operator
	// started this job from when it was older than the latest (flink run
	// -s), 0 for none. The job that wrote it committed its pending
	// transactions already and may have reused their ids since (pooled
	// ids): a resume of one of them, from a checkpoint up to this id, that
	// the broker fences is taken as done, as FlinkKafkaProducer's
	// recoverAndCommit logs it and goes on. A loss it hides is still
	// judged: those records are before the checkpoint's offsets and not
	// read again.
	RetainedCheckpoint int64
	InputTopic         string
	OutputTopic        string
	// Partitions of the input topic; output record for input partition p
	// goes to output partition p % OutputPartitions.
	Partitions       int32
	OutputPartitions int32
	Parallelism      int
	StartupMode      StartupMode
	// StartupOffsets are the specific-offsets mode's start offsets per
	// input partition.
	StartupOffsets map[int32]int64
	// StartupTimestamp is the timestamp mode's start time.
	StartupTimestamp time.Time
	// TransactionTimeout is transaction.timeout.ms of the sink's producers.
	TransactionTimeout time.Duration
	// MaxConcurrentCheckpoints is how many checkpoints may be in flight at
	// once (Flink's setMaxConcurrentCheckpoints); 0 means 1.
	MaxConcurrentCheckpoints int
	// ProducerPoolSize is the size of the transactional-id pool of a
	// protocol with pooled ids (FlinkKafkaProducer's kafkaProducersPoolSize);
	// 0 means DefaultProducerPoolSize.
	ProducerPoolSize int
	// ClientOpts are added to every Kafka client (seed brokers, dialer).
	ClientOpts []kgo.Opt
	// Forward is the pointwise topology: source subtask i feeds only
	// operator-and-sink subtask i (keys never span partitions, so each key
	// is counted where its partition is read) instead of the keyBy
	// exchange, where every source feeds every sink. Only under it does a
	// job have failover regions smaller than the whole job (Flink's
	// pipelined regions): region i is source i with its chained sink i.
	Forward bool

	checkpointInterval time.Duration // set by StartJob
	inputTopicID       [16]byte      // set by StartJob
}

// Deps are what the surrounding process supplies.
type Deps struct {
	Clock    Clock
	Crasher  Crasher
	Observer Observer
	Store    CheckpointStore
	// Savepoints is where the coordinator writes savepoints that are not
	// registered for failover (only the flink-26783 variant has such):
	// Flink's savepoint directory, which a user restores from by hand.
	// nil: such savepoints go to Store.
	Savepoints CheckpointStore
	// Settle, when set, returns once everything the process set off has
	// come to rest (a simulator's synctest.Wait); nil does nothing.
	Settle func()
}

func (c *Config) validate() error {
	switch {
	case c.JobName == "" || c.InputTopic == "" || c.OutputTopic == "":
		return fmt.Errorf("config: job name, input and output topic are required")
	case c.Partitions < 1 || c.OutputPartitions < 1:
		return fmt.Errorf("config: partitions must be at least 1")
	case c.Parallelism < 1:
		return fmt.Errorf("config: parallelism must be at least 1")
	case c.MaxConcurrentCheckpoints < 0 || c.ProducerPoolSize < 0:
		return fmt.Errorf("config: max concurrent checkpoints and producer pool size must not be negative")
	}
	c.MaxConcurrentCheckpoints = max(1, c.MaxConcurrentCheckpoints)
	if c.ProducerPoolSize == 0 {
		c.ProducerPoolSize = DefaultProducerPoolSize
	}
	if c.TransactionalIDPrefix == "" {
		c.TransactionalIDPrefix = c.JobName
	}
	if c.StartupMode == "" {
		c.StartupMode = StartGroupOffsets
	}
	if !slices.Contains(StartupModes(), c.StartupMode) {
		return fmt.Errorf("config: unknown startup mode %q", c.StartupMode)
	}
	if c.TransactionTimeout == 0 {
		c.TransactionTimeout = time.Minute
	}
	if c.Protocol.Has(BugShortTxnTimeout) {
		c.TransactionTimeout = 3 * c.checkpointInterval
	}
	return nil
}

// DefaultProducerPoolSize is FlinkKafkaProducer's default
// kafkaProducersPoolSize.
const DefaultProducerPoolSize = 5

// PartitionsOf returns the input partitions that subtask i of n reads:
// partition p belongs to subtask p % n. Keys never span partitions, so
// keyed state follows its partition.
func PartitionsOf(subtask, parallelism int, partitions int32) []int32 {
	var ps []int32
	for p := int32(0); p < partitions; p++ {
		if int(p)%parallelism == subtask {
			ps = append(ps, p)
		}
	}
	return ps
}
