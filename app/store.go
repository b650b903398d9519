package app

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// MemoryStore is a Store in memory. A harness keeps one per instance for
// the whole run, so that it outlives the process's crashes.
type MemoryStore struct {
	mu   sync.Mutex
	data map[string][]byte
}

// NewMemoryStore returns an empty store.
func NewMemoryStore() *MemoryStore { return &MemoryStore{data: map[string][]byte{}} }

// Get returns a copy of key's value.
func (m *MemoryStore) Get(_ context.Context, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.data[key]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, key)
	}
	return append([]byte(nil), v...), nil
}

// Put stores a copy of value.
func (m *MemoryStore) Put(_ context.Context, key string, value []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.data[key] = append([]byte(nil), value...)
	return nil
}

// Delete removes key.
func (m *MemoryStore) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.data, key)
	return nil
}

// Snapshot returns a copy of every key and value (for traces and tests).
func (m *MemoryStore) Snapshot() map[string][]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.data)
}

// FileStore is a Store in a directory, one file per key, each written to a
// temporary file and renamed so that a crash never leaves half a value.
type FileStore struct{ Dir string }

func (f FileStore) path(key string) (string, error) {
	if key == "" || strings.ContainsAny(key, `/\`) || key == "." || key == ".." {
		return "", fmt.Errorf("app: store key %q must be a plain file name", key)
	}
	return filepath.Join(f.Dir, key), nil
}

// Get reads key's file.
func (f FileStore) Get(_ context.Context, key string) ([]byte, error) {
	p, err := f.path(key)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, key)
	}
	return b, err
}

// Put writes key's file durably.
func (f FileStore) Put(_ context.Context, key string, value []byte) error {
	p, err := f.path(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(f.Dir, 0o755); err != nil {
		return fmt.Errorf("app: store: %w", err)
	}
	tmp, err := os.CreateTemp(f.Dir, ".tmp-"+key+"-")
	if err != nil {
		return fmt.Errorf("app: store: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(value); err != nil {
		tmp.Close()
		return fmt.Errorf("app: store %q: %w", key, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("app: store %q: %w", key, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("app: store %q: %w", key, err)
	}
	return os.Rename(tmp.Name(), p)
}

// Delete removes key's file.
func (f FileStore) Delete(_ context.Context, key string) error {
	p, err := f.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("app: store %q: %w", key, err)
	}
	return nil
}
