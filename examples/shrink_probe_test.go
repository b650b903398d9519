package examples

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/eosim/eosim/appsim"
	"github.com/eosim/eosim/eosimtest"
)

func TestShrinkProbe(t *testing.T) {
	target := uint64(4291198716231382536)
	k := 0
	for ; appsim.RunSeed(1, k) != target; k++ {
	}
	a, _ := Lookup("gts")
	all, _ := appsim.ResolveFaults(a, "all")
	enabled := slices.DeleteFunc(all, func(f string) bool { return f == "join-instance" })
	prof := appsim.ProfileOf(t, a, appsim.Options{Faults: enabled, Seed: 1})
	res := appsim.Run(t, a, appsim.Options{Faults: enabled, Profile: &prof, Seed: target})
	fmt.Println("k", k, res.Verdict, res.Plan.Faults, res.Check.Counts)
	plan, sres := eosimtest.Shrink(t, a, res)
	b, _ := json.MarshalIndent(plan, "", "  ")
	os.WriteFile("/tmp/ex/gts-shrunk.json", b, 0o644)
	fmt.Println(string(b), sres.Verdict, sres.Check.Counts)
	f, _ := os.Create("/tmp/ex/gts-shrunk-trace.jsonl")
	lf, _ := os.Create("/tmp/ex/gts-shrunk-log.txt")
	again := appsim.Run(t, a, appsim.Options{Seed: target, Plan: &plan, Trace: f, Log: lf})
	fmt.Println("again", again.Verdict, again.Check.Counts, again.TraceHash)
}
