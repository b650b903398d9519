package engine

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type fixedClock struct{ now time.Time }

func (c *fixedClock) Now() time.Time { return c.now }

// The coordinator keeps up to maxConcurrent checkpoints in flight, takes
// acknowledgements for any of them, completes the fully acknowledged one
// and aborts one by id without disturbing the others.
func TestCoordinatorConcurrentCheckpoints(t *testing.T) {
	clock := &fixedClock{now: time.Unix(0, 0)}
	deps := Deps{Clock: clock, Crasher: NoCrashes{}, Observer: nopObserver{}, Store: &MemoryStore{}}
	c := newCoordinator(deps, Protocol{}, 1, time.Second, 2, 0)
	require.False(t, c.Due(), "not before the interval")
	clock.now = clock.now.Add(time.Second)
	require.True(t, c.Due())
	id1, err := c.Trigger()
	require.NoError(t, err)
	require.False(t, c.Due(), "the next one waits for the interval")
	clock.now = clock.now.Add(time.Second)
	require.True(t, c.Due(), "a second checkpoint may trigger before the first completes")
	id2, err := c.Trigger()
	require.NoError(t, err)
	require.Equal(t, []int64{id1, id2}, c.InFlightIDs())
	clock.now = clock.now.Add(time.Second)
	require.False(t, c.Due(), "at most 2 in flight")
	_, err = c.Trigger()
	require.ErrorContains(t, err, "max_concurrent_checkpoints 2")

	all, err := c.AcknowledgeSource(id2, SourceSnapshot{})
	require.NoError(t, err)
	require.False(t, all)
	all, err = c.AcknowledgeSink(id2, SinkSnapshot{})
	require.NoError(t, err)
	require.True(t, all)
	got, err := c.Complete(context.Background())
	require.NoError(t, err)
	require.Equal(t, id2, got, "the fully acknowledged checkpoint completes, the older one stays in flight")
	require.Equal(t, id1, c.InFlight())

	c.Abort(id1, "timed out")
	require.Zero(t, c.InFlight())
	_, err = c.AcknowledgeSink(id1, SinkSnapshot{})
	require.ErrorContains(t, err, "not in flight")
	_, err = c.Complete(context.Background())
	require.ErrorContains(t, err, "no fully acknowledged checkpoint")
}

// A savepoint is stored where a failover restores from, except in the
// flink-26783 variant, which keeps it apart (Deps.Savepoints).
func TestSavepointIsStoredForFailover(t *testing.T) {
	bad, err := ProtocolByName("flink-26783-failover-past-savepoint")
	require.NoError(t, err)
	for _, tc := range []struct {
		protocol      Protocol
		inCheckpoints bool
	}{{Protocol{}, true}, {bad, false}} {
		clock := &fixedClock{now: time.Unix(0, 0)}
		checkpoints, savepoints := &MemoryStore{}, &MemoryStore{}
		deps := Deps{Clock: clock, Crasher: NoCrashes{}, Observer: nopObserver{}, Store: checkpoints, Savepoints: savepoints}
		c := newCoordinator(deps, tc.protocol, 1, time.Second, 1, 0)
		clock.now = clock.now.Add(time.Second)
		id, err := c.Trigger()
		require.NoError(t, err)
		require.NoError(t, c.MarkSavepoint(id))
		require.Error(t, c.MarkSavepoint(id+1), "only a checkpoint in flight can be the savepoint")
		_, err = c.AcknowledgeSource(id, SourceSnapshot{Subtask: 0})
		require.NoError(t, err)
		_, err = c.AcknowledgeSink(id, SinkSnapshot{Subtask: 0})
		require.NoError(t, err)
		_, err = c.Complete(context.Background())
		require.NoError(t, err)
		cp, ok, err := checkpoints.Latest(context.Background())
		require.NoError(t, err)
		require.Equal(t, tc.inCheckpoints, ok)
		sp, ok, err := savepoints.Latest(context.Background())
		require.NoError(t, err)
		require.Equal(t, !tc.inCheckpoints, ok)
		if tc.inCheckpoints {
			require.True(t, cp.Savepoint)
		} else {
			require.True(t, sp.Savepoint)
		}
	}
}
