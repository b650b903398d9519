package lifecycle

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/app"
)

func TestStopAndKillAreToldApart(t *testing.T) {
	tests := []struct {
		name          string
		cause         error
		stopping      bool
		killed        bool
		exit          error
		workCancelled bool
	}{
		{"running", nil, false, false, nil, false},
		{"graceful stop", app.ErrStop, true, false, nil, false},
		{"kill", app.ErrKilled, false, true, app.ErrKilled, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			work, done := WorkContext(ctx)
			defer done()
			if tc.cause != nil {
				cancel(tc.cause)
			}
			require.Equal(t, tc.stopping, Stopping(ctx))
			require.Equal(t, tc.killed, Killed(ctx))
			if tc.cause != nil {
				require.True(t, errors.Is(Exit(ctx), tc.exit) || tc.exit == nil && Exit(ctx) == nil)
			}
			if tc.workCancelled {
				<-work.Done()
				require.ErrorIs(t, context.Cause(work), app.ErrKilled)
			} else {
				require.NoError(t, work.Err())
			}
		})
	}
}
