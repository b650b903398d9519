package app

import (
	"context"
	"errors"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Env is what a process gets from the harness (or from Production).
type Env interface {
	// ClientOpts are the options every Kafka client of the process starts
	// from (seed brokers, the harness's dialer and hooks); append your own
	// after them. A client built otherwise escapes the harness: its
	// connections are not cut at a kill and its requests are not ordered.
	ClientOpts() []kgo.Opt
	// Store is durable state that survives crashes of the process.
	Store() Store
	// Logger is the process's logger.
	Logger() *slog.Logger
	// CrashPoint marks a named site. In production it does nothing; under
	// the harness an armed site kills the process there and does not
	// return.
	CrashPoint(name string)
	// Instance is which of the app's processes this is, from 0.
	Instance() int
	// Attempt counts the restarts of this instance, from 0.
	Attempt() int
}

// Store is a process's durable key-value state.
type Store interface {
	// Get returns the value of key, or an error wrapping ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, error)
	// Put durably sets key to value.
	Put(ctx context.Context, key string, value []byte) error
	// Delete removes key; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
}

// ErrNotFound is wrapped by Store.Get for a missing key.
var ErrNotFound = errors.New("app: key not found")

// ErrFenced is returned by a store handle of a killed process.
var ErrFenced = errors.New("app: store handle fenced (the process was killed)")
