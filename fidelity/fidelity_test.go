package fidelity

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

var tableFlag = flag.String("fidelity.table", "", "write the fidelity table (Markdown) to this file")

// probeDeadline bounds one probe; the expiry probe waits about 21 s.
const probeDeadline = 60 * time.Second

// runAll runs every probe against brokers, all at once (each probe has its
// own topics and ids), and returns the outcomes in table order.
func runAll(brokers []string) []Outcome {
	probes := Probes()
	out := make([]Outcome, len(probes))
	var wg sync.WaitGroup
	for i, p := range probes {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), probeDeadline)
			defer cancel()
			out[i] = p.Run(ctx, brokers)
		})
	}
	wg.Wait()
	return out
}

func TestProbeNamesAreUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range Probes() {
		if seen[p.Name] || p.Name == "" || p.ReliedOn == "" || p.Run == nil {
			t.Fatalf("probe %q: duplicate or incomplete", p.Name)
		}
		seen[p.Name] = true
	}
	if len(seen) < 15 {
		t.Fatalf("%d probes, want at least 15", len(seen))
	}
}

// TestProbesOnFake runs the suite on kfake alone (no real broker needed):
// every probe must run to its end.
func TestProbesOnFake(t *testing.T) {
	outs := runAll(StartFake(t))
	for i, p := range Probes() {
		t.Logf("%s: %s", p.Name, outs[i])
		if outs[i].Err != "" || len(outs[i].Steps) == 0 {
			t.Errorf("probe %s did not run on kfake: %s", p.Name, outs[i])
		}
	}
}

// TestFidelity runs the suite on kfake and on the real broker and compares
// them row by row. A difference must be one of knownDifferences (each is
// explained and handled in docs/fidelity.md), and every known difference
// must still differ, so the list and the doc stay true.
func TestFidelity(t *testing.T) {
	real := RealBrokers(t)
	fake := StartFake(t)
	var fakeOut, realOut []Outcome
	var wg sync.WaitGroup
	wg.Go(func() { fakeOut = runAll(fake) })
	wg.Go(func() { realOut = runAll(real) })
	wg.Wait()
	table := Table(Probes(), fakeOut, realOut)
	t.Logf("fidelity table (kfake vs Apache Kafka at %s):\n%s", strings.Join(real, ","), table)
	if *tableFlag != "" {
		if err := os.WriteFile(*tableFlag, []byte(table), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i, p := range Probes() {
		if fakeOut[i].Err != "" || realOut[i].Err != "" {
			t.Errorf("probe %s could not run: kfake %q, Kafka %q", p.Name, fakeOut[i].Err, realOut[i].Err)
			continue
		}
		same := fakeOut[i].String() == realOut[i].String()
		_, known := knownDifferences[p.Name]
		switch {
		case !same && !known:
			t.Errorf("probe %s differs and is not a known difference:\n  kfake: %s\n  Kafka: %s", p.Name, fakeOut[i], realOut[i])
		case same && known:
			t.Errorf("probe %s is listed as a known difference but agrees now: update knownDifferences and docs/fidelity.md", p.Name)
		}
	}
}

// Table renders the comparison as a Markdown table.
func Table(probes []Probe, fake, real []Outcome) string {
	var b strings.Builder
	b.WriteString("| probe | kfake | Kafka 4.4 | same? |\n|---|---|---|---|\n")
	for i, p := range probes {
		same := "same"
		if fake[i].String() != real[i].String() {
			same = "**differs**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", p.Name, cell(fake[i]), cell(real[i]), same)
	}
	return b.String()
}

func cell(o Outcome) string { return strings.ReplaceAll(o.String(), "|", "\\|") }
