package sim

import (
	"context"
	"flag"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/faults"
)

var benchFlag = flag.Bool("sim.bench", false, "run the scenario benchmarks (synctest needs a *testing.T, so they run as tests)")

// TestBenchmarkScenario measures scenarios per second, side by side in one
// run:
//
//   - BenchmarkScenario: the default scenario (1,000 records, 4 partitions,
//     about 10 checkpoints, 1-3 faults) in virtual time;
//   - BenchmarkScenarioNoFaults: the same workload without faults, in
//     virtual time;
//   - BenchmarkRealTCP: that fault-free workload run by the production
//     driver on kfake over real TCP with the real clock.
//
// synctest bubbles need a *testing.T, which a Benchmark function lacks, so
// the benchmarks run through testing.Benchmark inside a test and print
// benchstat-compatible lines:
//
//	go test ./sim -run TestBenchmarkScenario -sim.bench -count 6 -v | tee new.txt
func TestBenchmarkScenario(t *testing.T) {
	if !*benchFlag {
		t.Skip("pass -sim.bench to run")
	}
	all, err := faults.Resolve("all")
	require.NoError(t, err)
	w := faults.DefaultWorkload()
	report := func(name string, r testing.BenchmarkResult) float64 {
		perSec := float64(r.N) / r.T.Seconds()
		fmt.Printf("Benchmark%s\t%d\t%d ns/op\t%.1f scenarios/s\n", name, r.N, r.NsPerOp(), perSec)
		return perSec
	}
	k := 0
	report("Scenario", testing.Benchmark(func(b *testing.B) {
		for b.Loop() {
			Run(t, Options{Protocol: "two-phase-commit", Seed: RunSeed(1, k), Workload: w, Faults: all})
			k++
		}
	}))
	noFaults := faults.Plan{Version: faults.PlanVersion, Workload: w}
	virtual := report("ScenarioNoFaults", testing.Benchmark(func(b *testing.B) {
		for b.Loop() {
			plan := noFaults
			Run(t, Options{Protocol: "two-phase-commit", Seed: RunSeed(1, k), Workload: w, Plan: &plan})
			k++
		}
	}))
	real := report("RealTCP", testing.Benchmark(func(b *testing.B) {
		for b.Loop() {
			require.NoError(t, runRealTCP(w))
		}
	}))
	fmt.Printf("virtual time is %.1fx faster than real TCP and real time for the fault-free scenario\n", virtual/real)
}

// runRealTCP runs the workload (all records produced up front) with the
// production driver on kfake over real TCP and the real clock.
func runRealTCP(w faults.Workload) error {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		return err
	}
	defer cluster.Close()
	for _, topic := range []string{inputTopic, outputTopic} {
		if err := cluster.CreateTopic(topic, int32(w.Partitions), nil); err != nil {
			return err
		}
	}
	opts := []kgo.Opt{kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.DisableClientMetrics()}
	cl, err := kgo.NewClient(append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rng := newRNG(1, "workload")
	recs := make([]*kgo.Record, 0, w.Records)
	for i := range w.Records {
		p := int32(rng.IntN(w.Partitions))
		key := fmt.Sprintf("k%d-%d", p, rng.IntN(w.KeysPerPartition))
		recs = append(recs, &kgo.Record{Topic: inputTopic, Partition: p, Key: []byte(key), Value: []byte(payload(rng, i))})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return err
	}
	ends := map[int32]int64{}
	for _, r := range recs {
		ends[r.Partition] = max(ends[r.Partition], r.Offset+1)
	}
	proto, _ := engine.ProtocolByName("two-phase-commit")
	cfg := engine.Config{Protocol: proto, JobName: jobName, InputTopic: inputTopic, OutputTopic: outputTopic,
		Partitions: int32(w.Partitions), OutputPartitions: int32(w.Partitions), Parallelism: max(1, w.Parallelism),
		StartupMode: engine.StartEarliest, ClientOpts: opts}
	return engine.Run(ctx, cfg, engine.Deps{Store: &engine.MemoryStore{}},
		time.Duration(w.CheckpointIntervalMS)*time.Millisecond, engine.DriverOptions{StopWhen: engine.UntilProcessed(ends)})
}
