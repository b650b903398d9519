package appsim

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eosim/eosim/app"
	"github.com/eosim/eosim/faults"
	"github.com/eosim/eosim/model"
)

func TestEndTxnCommitAndAbortToldApart(t *testing.T) {
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("some-client"))
	for _, version := range []int16{0, 3, 5} {
		for _, commit := range []bool{true, false} {
			req := kmsg.NewPtrEndTxnRequest()
			req.SetVersion(version)
			req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = "txn", 7, 1, commit
			got := parseRequest(f.AppendRequest(nil, req, 42))
			require.Equal(t, int16(26), got.key)
			require.Equal(t, int32(42), got.corr)
			require.Equal(t, commit, got.commit, "v%d", version)
			want := map[bool]string{true: "end-txn-commit", false: "end-txn-abort"}[commit]
			require.Equal(t, want, got.kind())
		}
	}
	prod := kmsg.NewPtrProduceRequest()
	prod.SetVersion(9)
	require.Equal(t, "produce", parseRequest(f.AppendRequest(nil, prod, 1)).kind())
}

// A crash between produce and offset commit duplicates records of the
// naive copier; the named site and the protocol site both show it.
func TestKilledNaiveCopierDuplicates(t *testing.T) {
	for _, op := range []faults.Op{
		{Fault: "crash-at:before-commit", Hit: 1, RestartDelayMS: 100},
		{Fault: "crash-before-offset-commit", Hit: 1, RestartDelayMS: 100},
	} {
		t.Run(op.Fault, func(t *testing.T) {
			res := Run(t, naiveCopier(), Options{Seed: 3, Plan: &faults.Plan{Faults: []faults.Op{op}}})
			require.Equal(t, Violation, res.Verdict, res.Inconclusive)
			require.Positive(t, res.Check.Counts[model.Duplicate])
			require.Equal(t, 1, res.Fired[op.Fault])
			require.Equal(t, 1, res.Kills)
			require.Equal(t, 1, res.Restarts)
			require.Empty(t, res.Unfired)
			// Without the crash the same copier is clean.
			clean := Run(t, naiveCopier(), Options{Seed: 3})
			require.Equal(t, Clean, clean.Verdict, "%v", clean.Violations)
		})
	}
}

// Every protocol site the transactional copier reaches (kgo 1.22 against
// kfake sends neither AddPartitionsToTxn nor AddOffsetsToTxn: KIP-890's
// transaction version 2 adds partitions implicitly), before and after,
// leaves it clean (it is correct), and each fires.
func TestProtocolSitesFireOnTheCopier(t *testing.T) {
	a := txnCopier("copier", nil)
	for _, kind := range []string{"init-producer-id", "produce", "txn-offset-commit", "end-txn-commit", "join-group", "sync-group", "heartbeat"} {
		for _, name := range []string{faults.CrashBefore(kind), faults.CrashAfter(kind)} {
			res := Run(t, a, Options{Seed: 5, Plan: &faults.Plan{Faults: []faults.Op{{Fault: name, Hit: 1, RestartDelayMS: 50}}}})
			require.Equal(t, Clean, res.Verdict, "%s: %s %v", name, res.Inconclusive, res.Violations)
			require.Equal(t, 1, res.Fired[name], name)
		}
	}
}

// A killed process's store handle is fenced, its context's cause is
// ErrKilled, and the next attempt of the instance sees what the first one
// stored.
func TestKillFencesTheStoreAndRestartsTheInstance(t *testing.T) {
	type seen struct {
		attempt  int
		stored   string
		fenced   bool
		cause    error
		instance int
	}
	var log []seen
	a := txnCopier("store-user", nil)
	copier := a.Run
	a.CrashPoints = append(a.CrashPoints, "after-put")
	a.Run = func(ctx context.Context, env app.Env) error {
		v, _ := env.Store().Get(ctx, "attempts")
		log = append(log, seen{attempt: env.Attempt(), stored: string(v), instance: env.Instance()})
		if err := env.Store().Put(ctx, "attempts", fmt.Appendf(v, "%d", env.Attempt())); err != nil {
			return err
		}
		if env.Attempt() == 0 {
			go func() {
				<-ctx.Done()
				err := env.Store().Put(context.Background(), "attempts", []byte("zombie"))
				log = append(log, seen{attempt: -1, fenced: errors.Is(err, app.ErrFenced), cause: context.Cause(ctx)})
			}()
			env.CrashPoint("after-put")
		}
		return copier(ctx, env)
	}
	res := Run(t, a, Options{Seed: 2, Plan: &faults.Plan{Faults: []faults.Op{{Fault: "crash-at:after-put", Hit: 1, RestartDelayMS: 10}}}})
	require.Equal(t, Clean, res.Verdict, "%s %v", res.Inconclusive, res.Violations)
	require.Len(t, log, 3)
	require.Equal(t, seen{attempt: 0}, log[0])
	require.Equal(t, seen{attempt: -1, fenced: true, cause: app.ErrKilled}, log[1])
	require.Equal(t, seen{attempt: 1, stored: "0"}, log[2])
}

// Exhaustive mode: one plan per request boundary of the fault-free run.
// The transactional copier survives every one; the naive copier does not.
func TestEnumerateEveryBoundary(t *testing.T) {
	opts := Options{Seed: 11, Records: 12}
	for _, tc := range []struct {
		a       app.App
		wantBad bool
	}{{txnCopier("copier", nil), false}, {naiveCopier(), true}} {
		plans := Enumerate(t, tc.a, opts, 100)
		require.Greater(t, len(plans), 20, tc.a.Name)
		bad, unfired := 0, 0
		for _, p := range plans {
			o := opts
			o.Plan = &p
			res := Run(t, tc.a, o)
			require.NotEqual(t, Inconclusive, res.Verdict, "%s %v: %s", tc.a.Name, p.Faults, res.Inconclusive)
			if res.Verdict == Violation {
				bad++
			}
			unfired += len(res.Unfired)
		}
		require.Zero(t, unfired, "%s: a boundary of the fault-free run was not reached again", tc.a.Name)
		require.Equal(t, tc.wantBad, bad > 0, "%s: %d of %d plans failed", tc.a.Name, bad, len(plans))
	}
}
