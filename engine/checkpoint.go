package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// PartitionOffset is the source's per-partition checkpoint state: the offset
// of the last record emitted downstream (-1 before the first record), as
// Flink's KafkaTopicPartitionState keeps it. Restore seeks to Offset+1.
type PartitionOffset struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
}

// KeyCount is one entry of the keyed operator's state.
type KeyCount struct {
	Key   string `json:"key"`
	Count int64  `json:"count"`
	// Partition is the input partition the key's records come from: the
	// forward topology gives a key's state to the subtask reading it.
	Partition int32 `json:"partition,omitempty"`
}

// TransactionHolder identifies a pre-committed Kafka transaction, enough to
// resume and commit it from another process with a raw EndTxn.
type TransactionHolder struct {
	Checkpoint      int64  `json:"checkpoint"`
	TransactionalID string `json:"transactional_id"`
	// Owner is the sink subtask whose id range the transaction is in; after
	// rescaling, sink Owner % parallelism resumes it.
	Owner      int   `json:"owner"`
	ProducerID int64 `json:"producer_id"`
	Epoch      int16 `json:"epoch"`
	// Empty transactions are never resumed: a broker rejects EndTxn for a
	// transaction that never added a partition.
	Empty bool `json:"empty,omitempty"`
}

// SourceSnapshot is what one source subtask acknowledges for a checkpoint.
type SourceSnapshot struct {
	Subtask int               `json:"subtask"`
	Offsets []PartitionOffset `json:"offsets"`
	// OffsetsInGroup: the offsets were also committed inside the sink's
	// transactions (offsets-in-txn), so the group's offsets are the state.
	// A job switched from at-least-once restores from Offsets instead.
	OffsetsInGroup bool `json:"offsets_in_group,omitempty"`
}

// SinkSnapshot is what one operator-and-sink subtask acknowledges: the keyed
// state and the sink's pending transactions.
type SinkSnapshot struct {
	Subtask int                 `json:"subtask"`
	Counts  []KeyCount          `json:"counts"`
	Pending []TransactionHolder `json:"pending"`
	// NextTransactions maps every transactional-id range this subtask is
	// responsible for (its own, and those of subtasks removed by scaling
	// in) to the first id that may be lingering: ids from it upward.
	NextTransactions map[int]int64 `json:"next_transactions"`
	// TransactionalIDPrefixes are the prefixes the transactions of this
	// state were written under (Flink's KafkaWriterState keeps its prefix):
	// the current one and every one restored before it, so that a job
	// restarted with a new prefix still aborts the lingering transactions
	// of the old ones. Empty in a state written before they were recorded
	// (the job name was the prefix then) and in a non-transactional one.
	TransactionalIDPrefixes []string `json:"transactional_id_prefixes,omitempty"`
}

// Checkpoint is a completed, durably stored checkpoint.
type Checkpoint struct {
	ID          int64 `json:"id"`
	Parallelism int   `json:"parallelism"`
	// Savepoint marks the final checkpoint of a stop-with-savepoint.
	Savepoint bool             `json:"savepoint,omitempty"`
	Sources   []SourceSnapshot `json:"sources"`
	Sinks     []SinkSnapshot   `json:"sinks"`
}

// CheckpointStore keeps completed checkpoints durably: it must survive the
// crash of the job process. Store either durably stores the checkpoint and
// returns nil, or returns an error and the checkpoint does not count.
type CheckpointStore interface {
	Store(ctx context.Context, cp Checkpoint) error
	// Latest returns the completed checkpoint with the highest id, or
	// ok=false when none exists.
	Latest(ctx context.Context) (cp Checkpoint, ok bool, err error)
}

// CheckpointIDCounter is implemented by a checkpoint store that also keeps
// the highest checkpoint id ever triggered, durably (Flink's
// CheckpointIDCounter in its high-availability services). A restored attempt
// goes on from there instead of from the checkpoint it restored, so no two
// attempts of one job trigger the same id, and the transactional ids the
// sink derives from checkpoint ids never meet: a cut-off attempt (a zombie)
// that still takes a barrier in flight at the cut-off begins its next
// transaction on an id its replacement skips. A store without it gives the
// restored checkpoint's id: correct without zombies.
type CheckpointIDCounter interface {
	// HighestCheckpointID is the highest id reserved, 0 if none.
	HighestCheckpointID(ctx context.Context) (int64, error)
	// ReserveCheckpointID durably records that id was triggered; the
	// coordinator triggers it only when this returns nil.
	ReserveCheckpointID(ctx context.Context, id int64) error
}

// MemoryStore is a CheckpointStore that lives outside the job process (a
// harness keeps it across simulated crashes). It stores encoded copies so a
// dead process cannot alias what it wrote. It is a CheckpointIDCounter.
type MemoryStore struct {
	mu      sync.Mutex
	latest  []byte
	highest int64
}

// HighestCheckpointID is the highest checkpoint id reserved or stored.
func (s *MemoryStore) HighestCheckpointID(context.Context) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.highest, nil
}

// ReserveCheckpointID records that id was triggered.
func (s *MemoryStore) ReserveCheckpointID(_ context.Context, id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.highest = max(s.highest, id)
	return nil
}

// ResetCheckpointIDs makes id the highest: a new job restored from a
// checkpoint (a savepoint, a retained checkpoint) counts its ids on from
// the restored one, as Flink's does.
func (s *MemoryStore) ResetCheckpointIDs(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.highest = id
}

// Store encodes and keeps cp if it is newer than what is stored.
func (s *MemoryStore) Store(_ context.Context, cp Checkpoint) error {
	b, err := json.Marshal(cp)
	if err != nil {
		return fmt.Errorf("encode checkpoint %d: %w", cp.ID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latest = b
	s.highest = max(s.highest, cp.ID)
	return nil
}

// Latest decodes the newest stored checkpoint.
func (s *MemoryStore) Latest(context.Context) (Checkpoint, bool, error) {
	s.mu.Lock()
	b := s.latest
	s.mu.Unlock()
	return decodeCheckpoint(b)
}

func decodeCheckpoint(b []byte) (Checkpoint, bool, error) {
	if b == nil {
		return Checkpoint{}, false, nil
	}
	var cp Checkpoint
	if err := json.Unmarshal(b, &cp); err != nil {
		return Checkpoint{}, false, fmt.Errorf("decode checkpoint: %w", err)
	}
	return cp, true, nil
}

// FileStore keeps the latest checkpoint in a file, replaced atomically.
type FileStore struct{ Path string }

// Store writes cp to a temporary file, syncs it and renames it into place.
func (s FileStore) Store(_ context.Context, cp Checkpoint) error {
	b, err := json.Marshal(cp)
	if err != nil {
		return fmt.Errorf("encode checkpoint %d: %w", cp.ID, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.Path), ".checkpoint-*")
	if err != nil {
		return fmt.Errorf("store checkpoint %d: %w", cp.ID, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("store checkpoint %d: %w", cp.ID, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("store checkpoint %d: %w", cp.ID, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("store checkpoint %d: %w", cp.ID, err)
	}
	if err := os.Rename(tmp.Name(), s.Path); err != nil {
		return fmt.Errorf("store checkpoint %d: %w", cp.ID, err)
	}
	return nil
}

// Latest reads the stored checkpoint, if any.
func (s FileStore) Latest(context.Context) (Checkpoint, bool, error) {
	b, err := os.ReadFile(s.Path)
	if errors.Is(err, os.ErrNotExist) {
		return Checkpoint{}, false, nil
	}
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("read checkpoint: %w", err)
	}
	return decodeCheckpoint(b)
}
