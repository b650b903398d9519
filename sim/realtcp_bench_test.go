package sim

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/faults"
	"github.com/eosim/eosim/internal/cputime"
	"github.com/eosim/eosim/model"
)

var (
	benchRounds = flag.Int("sim.bench.rounds", 3, "with -sim.bench: alternating rounds of the same scenario in virtual and in real time")
	benchOutage = flag.Bool("sim.bench.outage", false, "with -sim.bench: also run the outage beyond the transaction timeout in real time (over a minute per round)")
)

// TestBenchmarkSameScenario runs one scenario twice, side by side and
// alternating: in virtual time (Run) and with the production driver
// (engine.Run) on kfake over real TCP with the real clock. Both do the same
// work: the same input records (800 at the start, 200 arriving in the
// bursts and at the times the virtual run drew), the same checkpoint
// interval, the same crash (crash-after-checkpoint-stored, third hit), the
// same downtime, a restore from the same kind of store, at least as many
// checkpoints, the same read-back and the same check, which must give the
// same anomaly kinds. It prints benchstat lines and the ratio of real to
// virtual wall time per scenario:
//
//	go test ./sim -run TestBenchmarkSameScenario -sim.bench -v
//	go test ./sim -run TestBenchmarkSameScenario -sim.bench -sim.bench.outage -sim.bench.rounds 1 -v -timeout 30m
//
// With -sim.bench.outage the downtime exceeds the sink's transaction
// timeout (one minute): the broker aborts the pending transaction, the
// restore's resume-commit fails and the job fails loudly (lost, never
// silent-loss), in both runs.
func TestBenchmarkSameScenario(t *testing.T) {
	if !*benchFlag {
		t.Skip("pass -sim.bench to run")
	}
	w := faults.DefaultWorkload()
	w.Parallelism = 2
	cases := []struct {
		name     string
		downtime time.Duration
	}{{"Crash", 200 * time.Millisecond}}
	if *benchOutage {
		cases = append(cases, struct {
			name     string
			downtime time.Duration
		}{"OutageBeyondTxnTimeout", engineTxnTimeout + 10*time.Second})
	}
	for _, c := range cases {
		plan := faults.Plan{Version: faults.PlanVersion, Workload: w, Faults: []faults.Op{
			{Fault: string(engine.CrashAfterCheckpointStored), Hit: 3, RestartDelayMS: int(c.downtime.Milliseconds())}}}
		opts := Options{Protocol: "two-phase-commit", Seed: 1, Workload: w, Plan: &plan, KeepEvents: true}
		var virtualWall, realWall time.Duration
		var kinds []string
		for range *benchRounds {
			const virtualRuns = 10 // one virtual scenario is too short to time alone
			var res Result
			t0, cpu0 := time.Now(), cputime.Process()
			for range virtualRuns {
				res = Run(t, opts)
			}
			wall, cpu := time.Since(t0)/virtualRuns, (cputime.Process()-cpu0)/virtualRuns
			virtualWall += wall
			require.Empty(t, res.HarnessError)
			fmt.Printf("BenchmarkSameScenario/%s/virtual\t%d\t%d ns/op\t%d cpu-ns/op\t%d last-checkpoint\t%d virtual-ms\n",
				c.name, virtualRuns, wall.Nanoseconds(), cpu.Nanoseconds(), lastStored(res.Events), res.VirtualTime.Milliseconds())

			t0, cpu0 = time.Now(), cputime.Process()
			real, err := runRealTCP(opts.Seed, w, plan.Faults[0], res)
			require.NoError(t, err)
			wall, cpu = time.Since(t0), cputime.Process()-cpu0
			realWall += wall
			fmt.Printf("BenchmarkSameScenario/%s/real-tcp\t1\t%d ns/op\t%d cpu-ns/op\t%d last-checkpoint\n",
				c.name, wall.Nanoseconds(), cpu.Nanoseconds(), real.checkpoints)
			kinds = ViolatedKinds(res)
			require.Equal(t, kinds, real.violated, "virtual and real runs of the same scenario disagree: %s", model.Summary(real.check.Counts))
			require.Equal(t, res.LoudFailure != "", real.loud != "", "loud failure: virtual %q, real %q", res.LoudFailure, real.loud)
		}
		fmt.Printf("%s: virtual time is %.1fx faster than real TCP and real time (wall per scenario, %d alternating rounds, violations %v in both)\n",
			c.name, realWall.Seconds()/virtualWall.Seconds(), *benchRounds, kinds)
	}
}

// realResult is what the real-time run observed.
type realResult struct {
	check       model.Result
	violated    []string
	checkpoints int
	loud        string
}

// runRealTCP runs the scenario the virtual run res ran, with the
// production driver on kfake over real TCP and the real clock: the same
// input, the late bursts at the virtual run's times, the crash op, its
// downtime and the restore, until all input is processed and at least as
// many checkpoints completed; then the same read-back and check.
func runRealTCP(seed uint64, w faults.Workload, crash faults.Op, res Result) (realResult, error) {
	var out realResult
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1),
		kfake.BrokerConfigs(map[string]string{"transactional.id.expiration.ms": fmt.Sprint(txnIDExpiration.Milliseconds())}))
	if err != nil {
		return out, err
	}
	defer cluster.Close()
	for _, topic := range []string{inputTopic, outputTopic} {
		if err := cluster.CreateTopic(topic, int32(w.Partitions), nil); err != nil {
			return out, err
		}
	}
	opts := []kgo.Opt{kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.DisableClientMetrics(), kgo.RetryBackoffFn(deterministicBackoff)}
	cl, err := kgo.NewClient(append(slices.Clone(opts), kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		return out, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	recs, initial := workloadInput(seed, w)
	in := &realInput{ends: map[int32]int64{}}
	if err := in.produce(ctx, cl, recs[:initial]); err != nil {
		return out, err
	}
	start := time.Now()
	arrived := make(chan error, 1)
	go func() { arrived <- in.arrive(ctx, cl, start, recs[initial:], res.Events) }()

	// The virtual run's last completed checkpoint: the real one stops
	// (with its final checkpoint) only once it got at least that far.
	lastVirtual := lastStored(res.Events)
	store := &engine.MemoryStore{}
	proto, _ := engine.ProtocolByName("two-phase-commit")
	cfg := engine.Config{Protocol: proto, JobName: jobName, InputTopic: inputTopic, OutputTopic: outputTopic,
		Partitions: int32(w.Partitions), OutputPartitions: int32(w.Partitions), Parallelism: w.Parallelism,
		StartupMode: engine.StartGroupOffsets, ClientOpts: opts}
	crasher := &hitCrasher{op: crash}
	stop := func(p engine.Progress) bool {
		done, ends := in.snapshot()
		return done && engine.UntilProcessed(ends)(p) && p.LastCompleted >= lastVirtual-1
	}
	interval := time.Duration(w.CheckpointIntervalMS) * time.Millisecond
	for {
		err := engine.Run(ctx, cfg, engine.Deps{Store: store, Crasher: crasher}, interval, engine.DriverOptions{StopWhen: stop})
		if errors.Is(err, engine.ErrCrashed) {
			time.Sleep(time.Duration(crash.RestartDelayMS) * time.Millisecond)
			continue
		}
		if errors.Is(err, engine.ErrTransactionLost) {
			out.loud = err.Error()
			break
		}
		if err != nil {
			return out, err
		}
		break
	}
	if err := <-arrived; err != nil && out.loud == "" {
		return out, err
	}
	cp, _, _ := store.Latest(ctx)
	out.checkpoints = int(cp.ID)
	obs := model.Observation{Input: in.records, LoudFailure: out.loud, Completed: out.loud == ""}
	if obs.Completed {
		obs.FinalCounts = map[string]int64{}
		for _, s := range cp.Sinks {
			for _, kc := range s.Counts {
				obs.FinalCounts[kc.Key] = kc.Count
			}
		}
	}
	slices.SortFunc(obs.Input, func(a, b model.InputRecord) int {
		if a.Partition != b.Partition {
			return int(a.Partition - b.Partition)
		}
		return int(a.Offset - b.Offset)
	})
	obs.Output, obs.AbortedVisible, obs.StalledReason, err = readOutput(ctx, opts, int32(w.Partitions))
	if err != nil {
		return out, err
	}
	out.check = model.Check(obs)
	out.violated = ViolatedKinds(Result{Violations: out.check.Violations(model.Allowed("exactly-once"))})
	return out, nil
}

// lastStored is the id of the last checkpoint a trace shows stored.
func lastStored(events []TraceEvent) int64 {
	var last int64
	for _, e := range events {
		if e.Kind == "checkpoint-stored" {
			last = max(last, e.Checkpoint)
		}
	}
	return last
}

// realInput is the input of a real-time run: produced up front, then in
// the virtual run's late bursts while the job runs.
type realInput struct {
	mu      sync.Mutex
	ends    map[int32]int64
	records []model.InputRecord
	done    bool
}

func (in *realInput) produce(ctx context.Context, cl *kgo.Client, recs []*kgo.Record) error {
	if len(recs) > 0 {
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			return fmt.Errorf("produce input: %w", err)
		}
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, r := range recs {
		in.records = append(in.records, model.InputRecord{Partition: r.Partition, Offset: r.Offset, Key: string(r.Key), Value: string(r.Value)})
		in.ends[r.Partition] = max(in.ends[r.Partition], r.Offset+1)
	}
	return nil
}

// arrive produces the late records in the bursts of the virtual run's
// "arrive" events, each at its virtual time after start.
func (in *realInput) arrive(ctx context.Context, cl *kgo.Client, start time.Time, late []*kgo.Record, events []TraceEvent) error {
	defer func() {
		in.mu.Lock()
		in.done = true
		in.mu.Unlock()
	}()
	for _, e := range events {
		if e.Kind != "arrive" || len(late) == 0 {
			continue
		}
		var n int
		if _, err := fmt.Sscanf(e.Detail, "n=%d", &n); err != nil {
			return fmt.Errorf("arrive event %q: %w", e.Detail, err)
		}
		time.Sleep(time.Until(start.Add(time.Duration(e.T) * time.Millisecond)))
		n = min(n, len(late))
		if err := in.produce(ctx, cl, late[:n]); err != nil {
			return err
		}
		late = late[n:]
	}
	return in.produce(ctx, cl, late) // none left unless the virtual run ended early
}

func (in *realInput) snapshot() (bool, map[int32]int64) {
	in.mu.Lock()
	defer in.mu.Unlock()
	ends := make(map[int32]int64, len(in.ends))
	for p, e := range in.ends {
		ends[p] = e
	}
	return in.done, ends
}

// hitCrasher crashes the process at the Hit-th arrival at one crash point,
// once, as the virtual run's plan does.
type hitCrasher struct {
	op    faults.Op
	hits  int
	fired bool
}

func (c *hitCrasher) ShouldCrash(site engine.CrashSite) bool {
	if c.fired || string(site.Point) != c.op.Fault {
		return false
	}
	c.hits++
	c.fired = c.hits == c.op.Hit
	return c.fired
}
