// Package engineapp runs eosim's built-in Flink-style engine through the
// same application API as any user's app: the production driver engine.Run
// is the process, its checkpoints go to the process's durable store, its
// eight crash points are named sites of the app, and its output is declared
// as a keyed transform so the same oracle judges it.
//
// It imports app and engine; engine imports no part of the harness.
package engineapp

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/eosim/eosim/app"
	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/examples/internal/lifecycle"
)

// Options shape one engine app.
type Options struct {
	// Protocol is the engine protocol's name; empty means "two-phase-commit".
	Protocol string
	// Partitions of the input and output topics; 0 means 4.
	Partitions int32
	// Parallelism of the job; 0 means 2.
	Parallelism int
	// CheckpointInterval; 0 means 50ms (virtual under the harness).
	CheckpointInterval time.Duration
}

// New returns the engine running protocol o.Protocol, named
// "engine-<protocol>".
func New(o Options) (app.App, error) {
	if o.Protocol == "" {
		o.Protocol = "two-phase-commit"
	}
	if o.Partitions == 0 {
		o.Partitions = 4
	}
	if o.Parallelism == 0 {
		o.Parallelism = 2
	}
	if o.CheckpointInterval == 0 {
		o.CheckpointInterval = 50 * time.Millisecond
	}
	proto, err := engine.ProtocolByName(o.Protocol)
	if err != nil {
		return app.App{}, fmt.Errorf("engineapp: %w", err)
	}
	name := "engine-" + proto.Name
	spec := app.Spec{
		InputTopic:      name + "-in",
		OutputTopic:     name + "-out",
		InputPartitions: o.Partitions,
		Group:           name, // the engine's job name is its group
		KeyedTransform:  CountAndUpper,
		// A key's records come from one input partition, which one source
		// subtask emits in offset order to one operator subtask.
		OrderedPerKey: true,
	}
	var points []string
	for _, p := range engine.CrashPoints() {
		points = append(points, string(p))
	}
	cfg := engine.Config{
		Protocol: proto, JobName: name, InputTopic: spec.InputTopic, OutputTopic: spec.OutputTopic,
		Partitions: o.Partitions, OutputPartitions: spec.OutputPartitionCount(), Parallelism: o.Parallelism,
	}
	return app.App{
		Name:        name,
		Spec:        spec,
		CrashPoints: points,
		Run: func(ctx context.Context, env app.Env) error {
			return run(ctx, env, cfg, o.CheckpointInterval)
		},
	}, nil
}

// MustNew is New for a protocol name known to exist.
func MustNew(o Options) app.App {
	a, err := New(o)
	if err != nil {
		panic(err)
	}
	return a
}

func run(ctx context.Context, env app.Env, cfg engine.Config, interval time.Duration) error {
	cfg.ClientOpts = env.ClientOpts()
	deps := engine.Deps{
		Crasher: crashSites{ctx: ctx, env: env},
		Store:   CheckpointStore{Durable: env.Store()},
	}
	// A cancelled ctx is the driver's orderly stop: a final checkpoint
	// whose notifications commit every pending transaction. After a kill
	// the harness has cut the connections, so that stop fails and the job
	// is abandoned with its transactions open, as a dead process leaves them.
	err := engine.Run(ctx, cfg, deps, interval, engine.DriverOptions{Logger: env.Logger()})
	if errors.Is(err, engine.ErrTransactionLost) {
		return fmt.Errorf("%w: %w", app.ErrDataLost, err)
	}
	return err
}

// crashSites bridges the engine's crash points to the process's named
// sites. An armed site kills the process inside env.CrashPoint and never
// returns (it ends the calling goroutine). Calling it from an engine
// goroutine would leave the driver waiting for that goroutine forever, so
// the site is reached on a goroutine of its own: if it returns, the site was
// not armed; if instead the process's context ends (the kill), ShouldCrash
// reports the crash and the engine abandons the job as it does at any of
// its crash points, its transactions left open.
type crashSites struct {
	ctx context.Context
	env app.Env
}

func (c crashSites) ShouldCrash(site engine.CrashSite) bool {
	passed := make(chan struct{})
	go func() {
		c.env.CrashPoint(string(site.Point))
		close(passed) // not deferred: an armed site never gets here
	}()
	select {
	case <-passed:
		return false
	case <-c.ctx.Done():
		return !lifecycle.Stopping(c.ctx)
	}
}

// CountAndUpper is the engine's computation restated for the oracle: the
// key's running count, and the output value
// "inPartition:inOffset:key:count:PAYLOAD" with the payload upper-cased
// (the engine's stateless step), keyed by the input key.
func CountAndUpper(state []byte, in app.Record) ([]byte, []app.Record) {
	count, _ := strconv.ParseInt(string(state), 10, 64) // nil state: 0
	count++
	key := string(in.Key)
	value := engine.FormatOutput(in.Partition, in.Offset, key, count, strings.ToUpper(string(in.Value)))
	return strconv.AppendInt(nil, count, 10), []app.Record{{Key: in.Key, Value: []byte(value)}}
}
