package sim

import (
	"flag"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

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
//   - BenchmarkScenarioNoFaults: the default workload without faults.
//
// TestBenchmarkSameScenario compares virtual with real time.
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
	benchReport("ScenarioNoFaults", measure("ScenarioNoFaults", func() {
		plan := noFaults
		Run(t, Options{Protocol: "two-phase-commit", Seed: RunSeed(1, k), Workload: fixed, Plan: &plan})
		k++
	}))
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
