package engineapp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/eosim/eosim/app"
	"github.com/eosim/eosim/engine"
)

// checkpointKey is where the latest completed checkpoint lives in the store.
const checkpointKey = "engine-checkpoint"

// CheckpointStore is an engine.CheckpointStore over the process's durable
// app.Store: the latest completed checkpoint, JSON-encoded under one key.
type CheckpointStore struct{ Durable app.Store }

// Store durably replaces the latest checkpoint with cp.
func (s CheckpointStore) Store(ctx context.Context, cp engine.Checkpoint) error {
	b, err := json.Marshal(cp)
	if err != nil {
		return fmt.Errorf("engineapp: encode checkpoint %d: %w", cp.ID, err)
	}
	if err := s.Durable.Put(ctx, checkpointKey, b); err != nil {
		return fmt.Errorf("engineapp: store checkpoint %d: %w", cp.ID, err)
	}
	return nil
}

// Latest returns the stored checkpoint, or ok=false when none was stored.
func (s CheckpointStore) Latest(ctx context.Context) (engine.Checkpoint, bool, error) {
	b, err := s.Durable.Get(ctx, checkpointKey)
	if errors.Is(err, app.ErrNotFound) {
		return engine.Checkpoint{}, false, nil
	}
	if err != nil {
		return engine.Checkpoint{}, false, fmt.Errorf("engineapp: load checkpoint: %w", err)
	}
	var cp engine.Checkpoint
	if err := json.Unmarshal(b, &cp); err != nil {
		return engine.Checkpoint{}, false, fmt.Errorf("engineapp: decode checkpoint: %w", err)
	}
	return cp, true, nil
}
