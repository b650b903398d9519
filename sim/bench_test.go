package sim

import (
	"context"
	"flag"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/faults"
	"github.com/eosim/eosim/internal/cputime"
)

var (
	benchFlag  = flag.Bool("sim.bench", false, "run the scenario benchmarks (synctest needs a *testing.T, so they run as tests)")
	benchMatch = flag.String("sim.bench.run", "", "with -sim.bench: run only the benchmarks whose name matches this regexp")
)

// TestBenchmarkScenario measures scenarios per second and CPU per scenario,
// side by side in one run:
//
//   - BenchmarkScenario: the default campaign scenario of two-phase-commit
//     (1,000 records of which 200 arrive late, 4 partitions, parallelism
//     drawn per run, about 10 checkpoints, 1-3 faults of the default set)
//     in virtual time;
//   - BenchmarkCampaignMix: the same scenario over every protocol in turn
//     (correct, weaker and the bug zoo), as the gate runs them;
//   - BenchmarkScenarioNoFaults: the default workload without faults;
//   - BenchmarkRealTCP: that fault-free workload run by the production
//     driver on kfake over real TCP with the real clock.
//
// synctest bubbles need a *testing.T, which a Benchmark function lacks, so
// the benchmarks run through testing.Benchmark inside a test and print
// benchstat-compatible lines (cpu-ns/op is user + system CPU of the whole
// process per scenario; under GOMAXPROCS=1 scenarios/s is per core):
//
//	GOMAXPROCS=1 go test ./sim -run TestBenchmarkScenario -sim.bench -count 6 -v | tee new.txt
func TestBenchmarkScenario(t *testing.T) {
	if !*benchFlag {
		t.Skip("pass -sim.bench to run")
	}
	all, err := faults.Resolve("all")
	require.NoError(t, err)
	w := campaignWorkload()
	k := 0
	benchReport("Scenario", measure("Scenario", func() {
		Run(t, Options{Protocol: "two-phase-commit", Seed: RunSeed(1, k), Workload: w, Faults: all})
		k++
	}))
	protocols := engine.Protocols()
	benchReport("CampaignMix", measure("CampaignMix", func() {
		Run(t, Options{Protocol: protocols[k%len(protocols)].Name, Seed: RunSeed(1, k), Workload: w, Faults: all})
		k++
	}))
	fixed := faults.DefaultWorkload()
	noFaults := faults.Plan{Version: faults.PlanVersion, Workload: fixed}
	virtual := benchReport("ScenarioNoFaults", measure("ScenarioNoFaults", func() {
		plan := noFaults
		Run(t, Options{Protocol: "two-phase-commit", Seed: RunSeed(1, k), Workload: fixed, Plan: &plan})
		k++
	}))
	real := benchReport("RealTCP", measure("RealTCP", func() { require.NoError(t, runRealTCP(fixed)) }))
	if virtual > 0 && real > 0 {
		fmt.Printf("virtual time is %.1fx faster than real TCP and real time for the fault-free scenario\n", virtual/real)
	}
}

// campaignWorkload is the workload `simrun campaign` runs by default.
func campaignWorkload() faults.Workload {
	w := faults.DefaultWorkload()
	w.Parallelism = 0 // drawn per run from its seed
	return w
}

// measured is one benchmark's result with the CPU time it used.
type measured struct {
	testing.BenchmarkResult
	cpu time.Duration
	ran bool // false: filtered out by -sim.bench.run
}

// measure runs one scenario per iteration under testing.Benchmark.
func measure(name string, scenario func()) measured {
	if ok, _ := regexp.MatchString(*benchMatch, name); !ok {
		return measured{}
	}
	var cpu time.Duration
	r := testing.Benchmark(func(b *testing.B) {
		cpu0 := cputime.Process()
		for b.Loop() {
			scenario()
		}
		cpu = cputime.Process() - cpu0
	})
	return measured{r, cpu, true}
}

// benchReport prints one benchstat line and returns scenarios per second
// (0 for a benchmark that did not run).
func benchReport(name string, m measured) float64 {
	if !m.ran {
		return 0
	}
	perSec := float64(m.N) / m.T.Seconds()
	fmt.Printf("Benchmark%s\t%d\t%d ns/op\t%d cpu-ns/op\t%.2f scenarios/s\n",
		name, m.N, m.NsPerOp(), m.cpu.Nanoseconds()/int64(max(1, m.N)), perSec)
	return perSec
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
