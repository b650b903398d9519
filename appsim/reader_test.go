package appsim

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eosim/eosim/app"
	"github.com/eosim/eosim/model"
)

// copyThenTxn copies its input with the transactional copier, and on the
// start also writes a junk record in a transaction that it aborts (or, with
// leaveOpen, never ends: with a transaction timeout beyond the liveness
// bound it pins the last stable offset; with kgo's default 40 s the
// coordinator aborts it and the run heals).
func copyThenTxn(name string, leaveOpen bool) app.App {
	a := txnCopier(name, nil)
	copier := a.Run
	a.Run = func(ctx context.Context, env app.Env) error {
		cl, err := kgo.NewClient(append(env.ClientOpts(), kgo.TransactionalID("junk"), kgo.TransactionTimeout(10*time.Minute))...)
		if err != nil {
			return err
		}
		defer cl.Close()
		if err := cl.BeginTransaction(); err != nil {
			return err
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: copySpec.OutputTopic, Key: []byte("junk"), Value: []byte("junk")}).FirstErr(); err != nil {
			return err
		}
		if !leaveOpen {
			if err := cl.EndTransaction(ctx, kgo.TryAbort); err != nil {
				return err
			}
		}
		return copier(ctx, env)
	}
	return a
}

func TestFinalViewAppliesTransactionMarkers(t *testing.T) {
	res := Run(t, copyThenTxn("aborts-junk", false), Options{Seed: 6})
	require.Equal(t, Clean, res.Verdict, "aborted junk must not be visible: %s %v", res.Inconclusive, res.Violations)

	res = Run(t, copyThenTxn("leaves-junk-open", true), Options{Seed: 6, LivenessBound: time.Minute})
	require.Equal(t, Violation, res.Verdict, res.Inconclusive)
	require.Equal(t, 1, res.Check.Counts[model.Stalled], "%v", res.Violations)
	require.Contains(t, res.Violations[len(res.Violations)-2].Detail, "open transaction pins")
}
