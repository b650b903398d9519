package realtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/faults"
	"github.com/eosim/eosim/model"
)

// Options are one real-time run.
type Options struct {
	Brokers []string
	// Plan gives the protocol, the workload and the faults (crash points
	// only). Its seed drives the input's payloads.
	Plan faults.Plan
	// Dir holds the checkpoint store (a file, as a job would keep it).
	Dir string
}

// Result is what one real-time run observed and concluded.
type Result struct {
	Plan       faults.Plan     `json:"plan"`
	Check      model.Result    `json:"check"`
	Violations []model.Anomaly `json:"violations,omitempty"`
	Crashes    int             `json:"crashes"`
	// Unfired lists the planned crashes the run never reached.
	Unfired      []string      `json:"unfired,omitempty"`
	Restarts     int           `json:"restarts"`
	Zombies      int           `json:"zombies"`
	LoudFailure  string        `json:"loud_failure,omitempty"`
	HarnessError string        `json:"harness_error,omitempty"`
	Interval     time.Duration `json:"checkpoint_interval_ns"`
	Wall         time.Duration `json:"wall_ns"`
}

// Failed reports whether the run found violations.
func (r Result) Failed() bool { return len(r.Violations) > 0 }

const (
	// minInterval is the shortest checkpoint interval used in real time: a
	// checkpoint costs a few broker round trips (corpus plans use 1 ms in
	// virtual time).
	minInterval = 20 * time.Millisecond
	// maxFailures bounds restarts after failures that are not crashes.
	maxFailures = 10
	// failureRestartDelay is the fixed-delay restart strategy's delay.
	failureRestartDelay = 200 * time.Millisecond
	// faultGrace is how long a job whose input is processed keeps running
	// for planned faults that have not fired yet.
	faultGrace = 3 * time.Second
	// txnTimeout is the sink's transaction.timeout.ms in real time: longer
	// than any downtime (maxDowntime), short enough for the read-back to
	// wait it out (markerLag).
	txnTimeout = 10 * time.Second
	// maxDowntime caps a planned restart delay in real time.
	maxDowntime = 5 * time.Second
)

// Run runs opts.Plan on the real broker. ctx bounds the whole run.
func Run(ctx context.Context, opts Options) (res Result) {
	start := time.Now()
	res = Result{Plan: opts.Plan}
	defer func() { res.Wall = time.Since(start) }()
	obs, err := run(ctx, opts, &res)
	if err != nil {
		res.HarnessError = err.Error()
		obs.HarnessError = res.HarnessError
	}
	res.Check = model.Check(obs)
	proto, _ := engine.ProtocolByName(opts.Plan.Protocol)
	res.Violations = res.Check.Violations(model.Allowed(proto.Guarantee.DeliveryName()))
	return res
}

func run(ctx context.Context, opts Options, res *Result) (model.Observation, error) {
	var obs model.Observation
	if err := Supported(opts.Plan); err != nil {
		return obs, err
	}
	proto, err := engine.ProtocolByName(opts.Plan.Protocol)
	if err != nil {
		return obs, err
	}
	w := opts.Plan.Workload
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	name := "rt-" + hex.EncodeToString(suffix)
	k := &kafka{opts: []kgo.Opt{kgo.SeedBrokers(opts.Brokers...), kgo.DisableClientMetrics()}}
	in, out := name+"-input", name+"-output"
	outPartitions := int32(w.OutputPartitionCount())
	for topic, partitions := range map[string]int32{in: int32(w.Partitions), out: outPartitions} {
		if err := k.createTopic(ctx, topic, partitions); err != nil {
			return obs, err
		}
	}
	producer, err := k.client(kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return obs, err
	}
	defer producer.Close()

	res.Interval = max(time.Duration(w.CheckpointIntervalMS)*time.Millisecond, minInterval)
	cfg := jobConfig(opts.Plan, proto, name, k.opts)
	// The input arrives while the job runs, a record a millisecond as in
	// the simulator, but over at least four checkpoint intervals, so that
	// crashes planned at later checkpoints are reached.
	input := newInput(opts.Plan)
	var (
		ends     atomic.Pointer[map[int32]int64]
		inputErr error
		wg       sync.WaitGroup
	)
	wg.Go(func() {
		e, err := input.produce(ctx, producer, in, max(time.Duration(w.Records)*time.Millisecond, 4*res.Interval))
		inputErr = err
		ends.Store(&e)
	})
	crasher := newCrasher(opts.Plan.Faults, proto.Guarantee == engine.TwoPhaseCommit)
	// The job stops once the input is processed and every planned fault
	// has fired, or faultGrace after the input is processed (a fault
	// that never fired is reported unfired), as the simulator runs on
	// until its faults are spent.
	var processedAt atomic.Pointer[time.Time]
	stopWhen := func(p engine.Progress) bool {
		e := ends.Load()
		if e == nil || !engine.UntilProcessed(*e)(p) {
			return false
		}
		now := time.Now()
		processedAt.CompareAndSwap(nil, &now)
		return crasher.exhausted() || now.Sub(*processedAt.Load()) > faultGrace
	}
	store := engine.FileStore{Path: filepath.Join(opts.Dir, name+"-checkpoint.json")}
	failures := 0
	var zombies sync.WaitGroup
	defer zombies.Wait()
	for {
		proc := &process{c: crasher}
		st := &fencedStore{inner: store}
		attempt, cancelAttempt := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			done <- engine.Run(attempt, cfg, engine.Deps{Store: st, Crasher: proc, Observer: proc}, res.Interval,
				engine.DriverOptions{StopWhen: stopWhen, CheckpointTimeout: 30 * time.Second})
		}()
		var err error
		select {
		case err = <-done:
			cancelAttempt()
		case <-crasher.zombie:
			// Cut off: the attempt lives on as a zombie; a replacement
			// restores now.
			st.fence()
			proc.muted.Store(true)
			res.Zombies++
			res.Restarts++
			zombies.Go(func() {
				stop := time.AfterFunc(zombieLife, cancelAttempt)
				<-done
				stop.Stop()
				cancelAttempt()
			})
			continue
		}
		if err == nil {
			obs.Completed = true
			break
		}
		if ctx.Err() != nil {
			wg.Wait()
			return obs, fmt.Errorf("run ran out of time: %w (last: %w)", ctx.Err(), err)
		}
		if errors.Is(err, engine.ErrCrashed) {
			res.Restarts++
			if p := crasher.rescaledTo(); p > 0 {
				cfg.Parallelism = p
				continue
			}
			res.Crashes++
			sleep(ctx, min(time.Duration(crasher.lastDelayMS())*time.Millisecond, maxDowntime))
			continue
		}
		if errors.Is(err, engine.ErrTransactionLost) {
			obs.LoudFailure = err.Error()
			break
		}
		failures++
		res.Restarts++
		if failures > maxFailures {
			obs.StalledReason = fmt.Sprintf("job failed %d times; last: %v", failures, err)
			obs.LoudFailure = "restart loop"
			break
		}
		sleep(ctx, failureRestartDelay)
	}
	wg.Wait()
	if inputErr != nil {
		return obs, inputErr
	}
	res.Unfired = crasher.unfired()
	res.LoudFailure = obs.LoudFailure
	obs.Input = input.records
	if obs.Completed {
		cp, ok, err := store.Latest(ctx)
		if err != nil || !ok {
			return obs, fmt.Errorf("final checkpoint: ok=%v: %w", ok, err)
		}
		obs.FinalCounts = map[string]int64{}
		for _, st := range cp.Sinks {
			for _, kc := range st.Counts {
				obs.FinalCounts[kc.Key] = kc.Count
			}
		}
	}
	read, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	visible, aborted, pinned, err := k.readOutput(read, out, outPartitions)
	if err != nil {
		return obs, err
	}
	obs.Output, obs.AbortedVisible = visible, aborted
	if pinned != "" && obs.StalledReason == "" {
		obs.StalledReason = pinned + k.openTransactions(read, name)
	}
	return obs, nil
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// jobConfig is the engine configuration of a plan's real run: every
// workload field Supported accepts maps onto it as sim/scenario.go maps
// it, so that the plan runs on Kafka as it runs on kfake.
func jobConfig(p faults.Plan, proto engine.Protocol, name string, clientOpts []kgo.Opt) engine.Config {
	w := p.Workload
	cfg := engine.Config{
		Protocol: proto, JobName: name, InputTopic: name + "-input", OutputTopic: name + "-output",
		Partitions: int32(w.Partitions), OutputPartitions: int32(w.OutputPartitionCount()), Parallelism: w.Parallelism,
		StartupMode: engine.StartupMode(w.StartupMode), ClientOpts: slices.Clone(clientOpts), TransactionTimeout: txnTimeout,
		MaxConcurrentCheckpoints: w.MaxConcurrentCheckpoints, ProducerPoolSize: w.ProducerPoolSize,
		Forward: w.Topology == faults.TopologyForward,
	}
	if cfg.StartupMode == "" {
		cfg.StartupMode = engine.StartGroupOffsets
	}
	if engine.RequestVersionsFor(proto, w.RequestVersions) == engine.RequestVersionsPreKIP890 {
		cfg.ClientOpts = append(cfg.ClientOpts, kgo.MaxVersions(engine.PreKIP890Versions()))
	}
	return cfg
}
