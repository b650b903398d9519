package app

import (
	"context"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kgo"
)

// ProductionOptions configure Production.
type ProductionOptions struct {
	// Brokers are the seed brokers of the real cluster.
	Brokers []string
	// Store is the durable store; nil means a FileStore in StoreDir.
	Store Store
	// StoreDir is the FileStore's directory when Store is nil.
	StoreDir string
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// Instance and Attempt are reported by the Env.
	Instance, Attempt int
	// ClientOpts are added after the seed brokers.
	ClientOpts []kgo.Opt
}

// Production returns the Env of a process outside the harness: real
// brokers, a real store, crash points that do nothing.
func Production(o ProductionOptions) Env {
	if o.Store == nil {
		o.Store = FileStore{Dir: o.StoreDir}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return productionEnv{o}
}

type productionEnv struct{ o ProductionOptions }

func (e productionEnv) ClientOpts() []kgo.Opt {
	return append([]kgo.Opt{kgo.SeedBrokers(e.o.Brokers...)}, e.o.ClientOpts...)
}
func (e productionEnv) Store() Store         { return e.o.Store }
func (e productionEnv) Logger() *slog.Logger { return e.o.Logger }
func (productionEnv) CrashPoint(string)      {}
func (e productionEnv) Instance() int        { return e.o.Instance }
func (e productionEnv) Attempt() int         { return e.o.Attempt }

// RunProduction runs one process of a until it returns or ctx is done; a
// cancelled ctx is a graceful stop (cause ErrStop).
func RunProduction(ctx context.Context, a App, o ProductionOptions) error {
	if err := a.Validate(); err != nil {
		return err
	}
	pctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	stop := context.AfterFunc(ctx, func() { cancel(ErrStop) })
	defer stop()
	return a.Run(pctx, Production(o))
}
