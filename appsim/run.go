package appsim

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eosim/eosim/app"
	"github.com/eosim/eosim/faults"
	"github.com/eosim/eosim/internal/kfakefix"
	"github.com/eosim/eosim/model"
)

const brokerPort = 9092

// abortingTxnID is the transactional id of the harness client that writes
// aborted input (apps must not use it).
const abortingTxnID = "eosim-harness-aborted-input"

// WallLimit is the real time one scenario may take before it is declared
// wedged (they take milliseconds; under the race detector, seconds).
var WallLimit = 3 * time.Minute

// Wedged is called when a scenario keeps stepping but does not end within
// WallLimit of wall time (a backstop: frozen bubbles and processes that
// never return are abandoned and reported as Inconclusive instead). The
// default prints the message and exits with code 3 (inconclusive).
var Wedged = func(msg string) {
	fmt.Fprintln(os.Stderr, msg)
	os.Exit(3)
}

// WedgeAfter is how long (wall time) a scenario may go without a
// scheduler step before it is declared wedged: one step takes microseconds
// to milliseconds, so seconds without one mean the bubble's clock is frozen
// (a goroutine blocked on a mutex across a timer: kgo's group consumer
// holds its join mutex across a rebalance and commits wait for it; or real
// I/O outside the Env).
var WedgeAfter = 5 * time.Second

// Run runs one scenario of a in its own synctest bubble. It must be called
// from a test goroutine (a real test, or simrun's embedded test main).
//
// A wedged scenario (no scheduler step for WedgeAfter of wall time) is
// reported as Inconclusive and its bubble is abandoned, frozen, so that a
// campaign goes on; a scenario that steps but does not end within WallLimit
// goes to Wedged.
func Run(t *testing.T, a app.App, opts Options) Result {
	opts = opts.withDefaults()
	if opts.GOMAXPROCS > 0 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(opts.GOMAXPROCS))
	}
	watchdog := time.AfterFunc(WallLimit, func() {
		Wedged(fmt.Sprintf("eosim: app %s seed %d did not finish within %v of wall time: inconclusive (the app blocks outside the simulator's control: real I/O outside the Env, or a mutex held across a timer); replay with the same seed",
			a.Name, opts.Seed, WallLimit))
	})
	defer watchdog.Stop()
	if opts.Plan == nil && len(opts.Faults) > 0 && opts.Profile == nil && a.Validate() == nil {
		prof := ProfileOf(t, a, opts)
		opts.Profile = &prof
	}
	plan, err := PlanFor(a, opts)
	if err != nil {
		return Result{App: a.Name, Seed: opts.Seed, Verdict: Inconclusive, Inconclusive: err.Error(), BadInput: true}
	}
	w := plan.Workload
	opts.Records, opts.LateRecords, opts.KeysPerPartition, opts.AbortedInput = w.Records, w.LateRecords, w.KeysPerPartition, w.AbortedInput
	var (
		res      Result
		progress atomic.Int64
		done     = make(chan struct{})
		// Created outside the bubble: a scenario that must be abandoned
		// sends its result on abandoned and then waits on never, which
		// freezes its bubble for good (a wait on a channel from outside a
		// bubble is not durably blocking).
		abandoned = make(chan Result, 1)
		never     = make(chan struct{})
	)
	go func() {
		defer close(done)
		synctest.Test(t, func(*testing.T) { res = runScenario(a, opts, plan, &progress, abandoned, never) })
	}()
	tick := time.NewTicker(WedgeAfter / 10)
	defer tick.Stop()
	last, since := int64(-1), time.Now()
	for {
		select {
		case <-done:
			return res
		case r := <-abandoned:
			return r
		case <-tick.C:
		}
		if n := progress.Load(); n != last {
			last, since = n, time.Now()
			continue
		}
		if time.Since(since) >= WedgeAfter {
			return Result{App: a.Name, Seed: opts.Seed, Plan: plan, Verdict: Inconclusive, Wedged: true,
				Inconclusive: fmt.Sprintf("wedged: no scheduler step for %v of wall time after %d steps; the bubble's clock is frozen (a goroutine blocked on a mutex across a timer, as kgo's group consumer does when a commit waits for a rebalance, or I/O outside the Env); the bubble is abandoned", WedgeAfter, last)}
		}
	}
}

// ProfileOf runs a fault-free scenario of a with opts' seed and input and
// returns what it did.
func ProfileOf(t *testing.T, a app.App, opts Options) Profile {
	opts.Faults, opts.Plan, opts.Trace, opts.KeepEvents, opts.recordBoundaries = nil, nil, nil, false, true
	return Run(t, a, opts).Profile()
}

func runScenario(a app.App, opts Options, plan faults.Plan, progress *atomic.Int64, abandoned chan<- Result, never <-chan struct{}) (res Result) {
	s := &scenario{progress: progress, abandoned: abandoned, never: never, a: a, opts: opts, plan: plan, rng: newRand(opts.Seed, "release"),
		res: &res, allClients: newClientSet(), siteHits: map[string]int{}, fault: newFaultRunner(plan.Faults)}
	s.tr = newTrace(opts.Trace, opts.KeepEvents, func() time.Duration { return s.now })
	res = Result{App: a.Name, Seed: opts.Seed, Plan: plan, Fired: map[string]int{}}
	defer func() {
		res.TraceHash = s.tr.sum()
		res.VirtualTime = s.now
		res.Events = s.tr.events
		res.Unfired = s.fault.unfired()
		s.mu.Lock()
		res.siteHits = maps.Clone(s.siteHits)
		s.mu.Unlock()
	}()
	obs, err := s.run()
	if err != nil {
		s.fail(err.Error())
	}
	var bad *badInputError
	if errors.As(err, &bad) || s.in != nil && errors.As(s.in.err, &bad) {
		res.BadInput = true
	}
	if s.inconclusive != "" {
		res.Verdict, res.Inconclusive = Inconclusive, s.inconclusive
		return res
	}
	res.Check = model.CheckDeclared(obs)
	res.Violations = res.Check.Anomalies
	res.Verdict = Clean
	if len(res.Violations) > 0 {
		res.Verdict = Violation
	}
	s.tr.add("verdict", "", string(res.Verdict)+" "+model.Summary(res.Check.Counts))
	return res
}

// run sets up the cluster, runs the app to completion and returns what the
// oracle judges.
func (s *scenario) run() (model.DeclaredObservation, error) {
	spec := s.a.Spec
	obs := model.DeclaredObservation{OrderedPerKey: spec.OrderedPerKey}
	vnet := &kfake.VirtualNetwork{}
	brokers := 1
	if slices.ContainsFunc(s.plan.Faults, func(op faults.Op) bool { return op.Fault == "group-coordinator-move" }) {
		brokers = 3
	}
	ports := make([]int, brokers)
	for i := range ports {
		ports[i] = brokerPort + i
		s.seeds = append(s.seeds, fmt.Sprintf("localhost:%d", ports[i]))
	}
	cluster, err := kfake.NewCluster(kfake.ListenFn(vnet.Listen), kfake.Ports(ports...), kfake.NumBrokers(brokers))
	if err != nil {
		return obs, fmt.Errorf("appsim: start kfake: %w", err)
	}
	defer cluster.Close()
	kfakefix.NewStaleEpochGuard().Install(cluster) // see kfakefix: Kafka begins no transaction for a fenced Produce
	s.cluster = cluster
	outParts := spec.OutputPartitionCount()
	for _, tp := range []struct {
		name string
		n    int32
	}{{spec.InputTopic, spec.InputPartitions}, {spec.OutputTopic, outParts}} {
		if err := cluster.CreateTopic(tp.name, tp.n, nil); err != nil {
			return obs, fmt.Errorf("appsim: create topic %s: %w", tp.name, err)
		}
		// kfake places leaders with the global math/rand: pin them.
		for p := range tp.n {
			if err := cluster.MoveTopicPartition(tp.name, p, p%int32(brokers)); err != nil {
				return obs, fmt.Errorf("appsim: place leader of %s/%d: %w", tp.name, p, err)
			}
		}
	}
	s.net = &heldNet{dial: vnet.DialContext}
	harnessOpts := []kgo.Opt{kgo.SeedBrokers(s.seeds...), kgo.Dialer(vnet.DialContext), kgo.DisableClientMetrics(),
		kgo.RetryBackoffFn(deterministicBackoff), kgo.ProducerLinger(0)}

	// Input: written before the app starts, late records over time.
	recs := drawInput(s.opts.Seed, spec, s.opts.Records, s.opts.KeysPerPartition)
	initial := len(recs) - min(s.opts.LateRecords, len(recs))
	in, err := kgo.NewClient(append(slices.Clone(harnessOpts), kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		return obs, fmt.Errorf("appsim: input producer: %w", err)
	}
	defer in.Close()
	s.in = &inputWriter{cl: in, spec: spec, late: recs[initial:], rng: newRand(s.opts.Seed, "arrival"),
		state: map[string][]byte{}, seq: map[string]int{},
		aborted: drawAborted(s.opts.Seed, spec, s.opts.AbortedInput, len(recs), s.opts.KeysPerPartition),
		abortingOpts: append(slices.Clone(harnessOpts), kgo.RecordPartitioner(kgo.ManualPartitioner()),
			kgo.TransactionalID(abortingTxnID))}
	defer s.in.close()
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.LivenessBound+10*time.Minute)
	defer cancel()
	if err := s.in.write(ctx, recs[:initial]); err != nil {
		return obs, err
	}
	inputDetail := fmt.Sprintf("records=%d late=%d partitions=%d", initial, len(s.in.late), spec.InputPartitions)
	if n := abortedCount(s.in.aborted); n > 0 {
		inputDetail += fmt.Sprintf(" aborted=%d", n)
	}
	s.tr.add("input", "", inputDetail)
	// The live reader's requests go through the held network too (as a
	// pseudo-process that no fault touches): released one at a time, what
	// it sees, and when, is part of the deterministic schedule. On the raw
	// network its fetches raced the app's commits within one settle window
	// (measured: 7 runs in 400 with group faults saw 18 or 22 records at
	// the same step).
	reader := &process{s: s, instance: -1, done: make(chan struct{})}
	readerOpts := []kgo.Opt{kgo.SeedBrokers(s.seeds...), kgo.Dialer(s.net.dialFor(reader, 1)), kgo.DisableClientMetrics(),
		kgo.RetryBackoffFn(deterministicBackoff)}
	s.live, err = startLiveReader(readerOpts, spec.OutputTopic)
	if err != nil {
		return obs, err
	}
	s.live.expect(s.in.expected)

	for i := range s.a.ProcessCount() {
		s.start(i)
	}
	coveredAt := time.Duration(-1)
	finished := func() bool {
		if !s.running() && !s.pendingRestart() {
			return true // nothing left that could make progress
		}
		// Idle counts from the later of the last new output and the last
		// healed fault, and never while a process is paused: a harness
		// that keeps the app off the network has not seen it stall.
		if len(s.in.late) == 0 && !s.anyPaused() && !s.expiring() && s.now-max(s.live.progressAt, s.healedAt) >= idleBound {
			s.tr.add("no-progress", "", fmt.Sprintf("no new output for %v", idleBound))
			return true
		}
		if len(s.in.late) > 0 || !s.live.complete() {
			coveredAt = -1
			return false
		}
		if coveredAt < 0 {
			coveredAt = s.now
		}
		// Faults planned past the end get a grace period to fire (an app
		// keeps heartbeating and fetching); then they count as unfired.
		return s.fault.allFired() || s.now-coveredAt >= faultGrace
	}
	// Missing the bound is not an anomaly by itself: what is missing is
	// lost, and a transaction left open is stalled (the final view).
	// The bound counts from when the faults healed (DESIGN: after faults
	// heal, no progress within the liveness bound): a pause or a downtime
	// that ends near the bound leaves the app idleBound after it (a
	// rebalance waits out a session timeout) before what is missing counts,
	// never more than maxExtension past the bound.
	limit := s.opts.LivenessBound
	for !s.drive(limit, finished) && s.inconclusive == "" {
		next := min(max(limit, s.healedAt+idleBound), s.opts.LivenessBound+maxExtension)
		if next <= limit {
			s.tr.add("liveness-bound", "", limit.String())
			break
		}
		s.tr.add("liveness-extended", "", fmt.Sprintf("healed at %v, bound %v", s.healedAt, next))
		limit = next
	}
	s.shutdown()
	live := s.live.stop()
	if s.inconclusive != "" {
		return obs, nil
	}
	rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer rcancel()
	view, err := readFinal(rctx, slices.Clone(harnessOpts), spec.OutputTopic, outParts)
	if err != nil {
		return obs, err
	}
	s.tr.add("read-output", "", fmt.Sprintf("visible=%d aborted=%d live=%d", len(view.visible), len(view.aborted), len(live)))
	obs.Expected, obs.Visible, obs.LiveSeen, obs.Aborted = s.in.expected, view.visible, live, view.aborted
	if obs.StalledReason == "" {
		obs.StalledReason = view.stalled
	}
	obs.LoudLoss = s.loud
	return obs, nil
}

// abandon ends a scenario that cannot end clean (a process that never
// returns): it reports an inconclusive result to Run and freezes the bubble
// forever, so a campaign goes on.
func (s *scenario) abandon(msg string) {
	s.fail(msg)
	s.abandoned <- Result{App: s.a.Name, Seed: s.opts.Seed, Plan: s.plan, Verdict: Inconclusive, Inconclusive: msg, Wedged: true,
		Fired: map[string]int{}, TraceHash: s.tr.sum(), VirtualTime: s.now}
	<-s.never
}

// shutdown stops every process gracefully (context cause app.ErrStop),
// waits for them and for every killed one to return, then cuts the app off
// and closes the clients it left open.
func (s *scenario) shutdown() {
	s.stopping = true
	for _, p := range s.procs {
		if p != nil && !p.isCut() {
			p.paused.Store(false)
			p.cancel(app.ErrStop)
		}
	}
	allReturned := func() bool {
		return !slices.ContainsFunc(s.procs, func(p *process) bool { return p != nil && !p.exited() })
	}
	if !s.drive(s.now+stopBound, allReturned) && s.inconclusive == "" {
		for _, p := range s.procs {
			if p != nil && !p.exited() {
				why := "its graceful stop (context cause app.ErrStop)"
				if p.isCut() {
					why = "it was killed (context cause app.ErrKilled)"
				}
				s.abandon(fmt.Sprintf("app %s seed %d: instance %d attempt %d did not return within %v of virtual time after %s (Run must return once its context is done); the bubble is abandoned",
					s.a.Name, s.opts.Seed, p.instance, p.attempt, stopBound, why))
			}
		}
	}
	s.reap()
	for _, p := range s.procs {
		if p != nil {
			s.net.cutProcess(p)
		}
	}
	if s.expirer != nil {
		s.expirer.Close()
	}
	if n, done := s.allClients.closeAll(); n > 0 {
		for waited := time.Duration(0); ; waited += 10 * time.Millisecond {
			select {
			case <-done:
				s.tr.add("clients-closed", "", fmt.Sprintf("n=%d", n))
				return
			default:
			}
			if waited > stopBound {
				s.abandon(fmt.Sprintf("app %s seed %d: closing the %d clients the app left open did not finish; the bubble is abandoned", s.a.Name, s.opts.Seed, n))
			}
			time.Sleep(10 * time.Millisecond)
			s.progress.Add(1)
		}
	}
}
