package examples

import (
	"flag"
	"testing"

	"github.com/eosim/eosim/appsim"
)

var procsSeeds = flag.Int("examples.gomaxprocs-seeds", 0, "seeds per example (gts, copier) run at GOMAXPROCS 1 and 2 whose trace hashes must agree (0: skip)")

// TestSameTraceAtGOMAXPROCS1And2 runs gts and copier with drawn faults
// (sites and protocol sites: one instance) at GOMAXPROCS 1 and 2 (the
// scenario's own setting, appsim.Options.GOMAXPROCS, which Run applies)
// and requires the same trace hash. A measurement behind a flag: kgo's
// producer flush races its drain goroutine in parallel (appsim.Options),
// so it is not a default test.
func TestSameTraceAtGOMAXPROCS1And2(t *testing.T) {
	if *procsSeeds == 0 {
		t.Skip("-examples.gomaxprocs-seeds N runs it")
	}
	for _, name := range []string{"gts", "copier"} {
		a, err := Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		enabled, err := appsim.ResolveFaults(a, "sites,protocol")
		if err != nil {
			t.Fatal(err)
		}
		differ := 0
		for k := range *procsSeeds {
			seed := appsim.RunSeed(*baseSeed, k)
			var hashes [2]string
			for i, procs := range []int{1, 2} {
				r := appsim.Run(t, a, appsim.Options{Seed: seed, Faults: enabled, GOMAXPROCS: procs})
				hashes[i] = r.TraceHash
			}
			if hashes[0] != hashes[1] {
				differ++
				t.Errorf("%s seed %d: trace %.12s at GOMAXPROCS 1, %.12s at 2", name, seed, hashes[0], hashes[1])
			}
		}
		t.Logf("%s: %d of %d seeds gave different traces at GOMAXPROCS 1 and 2", name, differ, *procsSeeds)
	}
}
