package appsim

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/app"
	"github.com/eosim/eosim/faults"
	"github.com/eosim/eosim/model"
)

func TestCampaignCleanCopierAndCaughtNaiveCopier(t *testing.T) {
	all := func(a app.App) []string {
		// Group faults are tested on their own: with several brokers or
		// instances kgo can freeze the bubble's clock (see
		// TestTwoInstanceRebalanceWedgeIsReported).
		f, err := ResolveFaults(a, "sites,protocol")
		require.NoError(t, err)
		return f
	}
	good := txnCopier("copier", nil)
	res := Campaign(t, good, CampaignOptions{Runs: 12, BaseSeed: 7, CheckDeterminism: 3, Scenario: Options{Faults: all(good)}})
	require.Equal(t, 12, res.Clean, "first failure: %+v", res.First)
	require.NotEmpty(t, res.Fired)

	bad := naiveCopier()
	res = Campaign(t, bad, CampaignOptions{Runs: 40, BaseSeed: 7, StopAtFirst: true, Scenario: Options{Faults: all(bad)}})
	require.Equal(t, 1, res.Violations, "the naive copier must be caught within 40 runs: %+v %s %+v", res, res.First.Inconclusive, res.First.Plan)
	require.Positive(t, res.First.Check.Counts[model.Duplicate])
	require.NotEmpty(t, res.First.Plan.Faults)
}

// An app whose timing depends on state outside the seed (here a
// process-wide count of its starts, as a global random source or a
// package-level cache would be) gives two traces for one seed: the
// self-check flags it as its own verdict, never as a violation. The count
// makes the two executions differ for certain; a random draw made the
// test pass only when the draws happened to change the trace.
func TestDeterminismSelfCheckFlagsStateOutsideTheSeed(t *testing.T) {
	var starts atomic.Int64
	a := txnCopier("jittery", nil)
	copier := a.Run
	a.Run = func(ctx context.Context, env app.Env) error {
		if starts.Add(1)%2 == 0 {
			time.Sleep(3 * time.Second) // only the replay waits
		}
		return copier(ctx, env)
	}
	res := Campaign(t, a, CampaignOptions{Runs: 2, BaseSeed: 1, CheckDeterminism: 1})
	require.Equal(t, 2, res.Nondeterministic, "%+v %+v", res, res.First)
	require.Zero(t, res.Violations)
	require.Contains(t, res.First.Inconclusive, "two different traces")
}

// Two goroutines of one process interleave as the Go scheduler likes
// (outside the held network) and the app's timing depends on the order.
// The self-check flags it when the scenario runs in parallel.
func TestDeterminismSelfCheckFlagsGoroutineOrder(t *testing.T) {
	a := txnCopier("racy", nil)
	copier := a.Run
	a.Run = func(ctx context.Context, env app.Env) error {
		var mu sync.Mutex
		h := 0
		done := make(chan struct{}, 2)
		for g := range 2 {
			go func() {
				for range 2000 {
					mu.Lock()
					h = h*31 + g + 1 // the interleaving decides h
					mu.Unlock()
					runtime.Gosched()
				}
				done <- struct{}{}
			}()
		}
		<-done
		<-done
		time.Sleep(time.Duration(uint(h)%997) * time.Millisecond)
		return copier(ctx, env)
	}
	flagged := 0
	// Single-threaded (the default) the Go scheduler runs the two
	// goroutines in the same order every time; in parallel it does not.
	res := Campaign(t, a, CampaignOptions{Runs: 4, BaseSeed: 1, CheckDeterminism: 1, Scenario: Options{Records: 10, GOMAXPROCS: 2}, OnResult: func(_ int, r Result) {
		if r.Verdict == Nondeterministic {
			flagged++
		}
	}})
	require.Zero(t, res.Violations)
	require.Positive(t, flagged, "4 self-checked runs never saw the race change the trace")
}

func TestGroupFaultsOnOneInstance(t *testing.T) {
	a := txnCopier("copier", nil)
	for _, op := range []faults.Op{
		{Fault: "kill-instance", Hit: 30, RestartDelayMS: 500},
		{Fault: "pause-instance", Hit: 30, RestartDelayMS: 60_000},
		{Fault: "group-coordinator-move", Hit: 25},
	} {
		t.Run(op.Fault, func(t *testing.T) {
			res := Run(t, a, Options{Seed: 4, Records: 60, Plan: &faults.Plan{Faults: []faults.Op{op}}})
			require.Equal(t, Clean, res.Verdict, "%s %v", res.Inconclusive, res.Violations)
			require.Equal(t, 1, res.Fired[op.Fault])
		})
	}
}

// Two GroupTransactSession instances rebalance at start; a commit that
// waits for kgo's join mutex while the other member's join is held freezes
// the bubble's clock (the synctest mutex limit). The harness reports the
// wedge as inconclusive instead of hanging.
func TestTwoInstanceRebalanceWedgeIsReported(t *testing.T) {
	old := WedgeAfter
	WedgeAfter = time.Second
	t.Cleanup(func() { WedgeAfter = old })
	a := txnCopier("copier-2", nil)
	a.Instances = 2
	res := Run(t, a, Options{Seed: 4, Records: 60})
	if res.Verdict == Clean {
		t.Skip("this seed did not wedge (the limit may be gone)")
	}
	require.Equal(t, Inconclusive, res.Verdict, "%v", res.Violations)
	require.True(t, res.Wedged)
	require.Contains(t, res.Inconclusive, "wedged")
}

func TestInconclusiveApps(t *testing.T) {
	base := txnCopier("x", nil)
	panics := base
	panics.Run = func(context.Context, app.Env) error { panic("boom") }
	res := Run(t, panics, Options{Seed: 9})
	require.Equal(t, Inconclusive, res.Verdict)
	require.Contains(t, res.Inconclusive, "panicked: boom")

	badTransform := base
	badTransform.Spec.Transform = func(app.Record) []app.Record { panic("no") }
	res = Run(t, badTransform, Options{Seed: 9})
	require.Equal(t, Inconclusive, res.Verdict)
	require.True(t, res.BadInput)
	require.Contains(t, res.Inconclusive, "transform panicked")

	noOutput := base
	noOutput.Spec.OutputTopic = ""
	res = Run(t, noOutput, Options{Seed: 9})
	require.True(t, res.BadInput)
	require.Contains(t, res.Inconclusive, "OutputTopic")

	// A process that ignores its stop for longer than the bound is
	// reported and its bubble abandoned.
	stubborn := base
	stubborn.Run = func(ctx context.Context, env app.Env) error {
		<-ctx.Done()
		time.Sleep(2 * stopBound)
		return nil
	}
	res = Run(t, stubborn, Options{Seed: 9, Records: 4})
	require.Equal(t, Inconclusive, res.Verdict)
	require.True(t, res.Wedged)
	require.True(t, strings.Contains(res.Inconclusive, "did not return") && strings.Contains(res.Inconclusive, "seed 9"), res.Inconclusive)
}

func TestShortHashOfAnUnfinishedRun(t *testing.T) {
	require.Equal(t, "none: the run did not finish", shortHash(""))
	require.Equal(t, "0123456789ab", shortHash("0123456789abcdef"))
	require.Equal(t, "abc", shortHash("abc"))
}
