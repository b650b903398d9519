// Package lifecycle holds what every example app does with its process
// context: tell a graceful stop from a kill, and keep the Kafka calls that
// finish a transaction alive through a graceful stop.
//
// It imports only package app.
package lifecycle

import (
	"context"
	"errors"

	"github.com/eosim/eosim/app"
)

// Stopping reports whether ctx was cancelled for a graceful stop.
func Stopping(ctx context.Context) bool {
	return ctx.Err() != nil && errors.Is(context.Cause(ctx), app.ErrStop)
}

// Exit is what Run returns once its context is done: nil after a graceful
// stop (the app finished what it owed), the cause otherwise (a kill, or a
// cancelled parent).
func Exit(ctx context.Context) error {
	if Stopping(ctx) {
		return nil
	}
	return context.Cause(ctx)
}

// WorkContext returns a context for the calls that end a transaction: it is
// not cancelled by a graceful stop (a transaction begun must be committed or
// aborted, and kgo warns that cancelling EndTransaction leaves the client in
// an unknown state), but it is cancelled as soon as ctx is cancelled for any
// other reason (a kill: nothing more may reach Kafka anyway).
func WorkContext(ctx context.Context) (context.Context, context.CancelFunc) {
	work, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		if !errors.Is(context.Cause(ctx), app.ErrStop) {
			cancel(context.Cause(ctx))
		}
	})
	return work, func() { stop(); cancel(nil) }
}

// Killed reports whether ctx was cancelled for any reason but a graceful
// stop: the process's clients are cut and must be abandoned, not closed.
func Killed(ctx context.Context) bool {
	return ctx.Err() != nil && !errors.Is(context.Cause(ctx), app.ErrStop)
}
