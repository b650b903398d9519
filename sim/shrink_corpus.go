package sim

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/faults"
)

// A regression corpus is a directory of plan files (*.json), usually
// counterexamples written by Shrink plus clean plans of the correct
// protocols with crashes at interesting points. What a plan must show
// follows from its protocol's kind:
//
//   - known-bad: at least one violation; and the correct protocol with the
//     same guarantee (DefaultContrast) must show none on the same plan, so
//     the entry keeps exercising the correct protocol at the point where
//     the variant breaks;
//   - correct or weaker: no violation (for a weaker protocol, no anomaly
//     beyond what it allows: at-least-once may duplicate, never lose).
//
// A harness error is never a pass.

// CorpusEntry is one plan file of a corpus.
type CorpusEntry struct {
	Name string // file name
	Path string
	Plan faults.Plan
}

// LoadCorpus reads every *.json plan of dir, sorted by name. A file that
// does not parse is an error naming it.
func LoadCorpus(dir string) ([]CorpusEntry, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("corpus %s: %w", dir, err)
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("corpus: %w", err)
	}
	slices.Sort(paths)
	var out []CorpusEntry
	for _, path := range paths {
		p, err := faults.ReadPlan(path)
		if err != nil {
			return nil, err
		}
		if _, err := engine.ProtocolByName(p.Protocol); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, CorpusEntry{Name: filepath.Base(path), Path: path, Plan: p})
	}
	return out, nil
}

// CorpusCheck is the outcome of replaying one corpus entry.
type CorpusCheck struct {
	Entry CorpusEntry
	Kind  engine.Kind
	// MustFail is set for known-bad protocols.
	MustFail bool
	// Result is the run of the plan (as RunAs, when it substitutes).
	Result Result
	// Contrast names the protocol that must stay clean on a known-bad
	// plan, and ContrastResult is its run.
	Contrast       string
	ContrastResult *Result
	OK             bool
	Detail         string
}

// CheckCorpusEntry replays e and judges it. runAs, when not nil, maps a
// protocol name to the protocol that actually runs in its place (the gate
// uses it to break a correct protocol on purpose); the expectation always
// follows the plan's own protocol.
func CheckCorpusEntry(t *testing.T, e CorpusEntry, runAs func(string) string) CorpusCheck {
	if runAs == nil {
		runAs = func(s string) string { return s }
	}
	c := CorpusCheck{Entry: e}
	proto, err := engine.ProtocolByName(e.Plan.Protocol)
	if err != nil {
		c.Detail = err.Error()
		return c
	}
	c.Kind, c.MustFail = proto.Kind, proto.Kind == engine.KindKnownBad
	p := e.Plan
	p.Protocol = runAs(p.Protocol)
	c.Result = RunPlan(t, p)
	c.Result.Protocol = e.Plan.Protocol
	kinds := strings.Join(ViolatedKinds(c.Result), ",")
	switch {
	case c.Result.HarnessError != "":
		c.Detail = "harness error: " + c.Result.HarnessError
		return c
	case c.MustFail && !c.Result.Failed():
		c.Detail = fmt.Sprintf("%s is no longer caught by this plan", e.Plan.Protocol)
		return c
	case !c.MustFail && c.Result.Failed():
		c.Detail = fmt.Sprintf("%s (%s) shows violations: %s", e.Plan.Protocol, proto.Kind, kinds)
		return c
	}
	if !c.MustFail {
		c.OK, c.Detail = true, fmt.Sprintf("%s clean", e.Plan.Protocol)
		return c
	}
	c.Detail = fmt.Sprintf("%s caught (%s)", e.Plan.Protocol, kinds)
	if c.Contrast = DefaultContrast(e.Plan.Protocol); c.Contrast != "" {
		q := e.Plan
		q.Protocol = runAs(c.Contrast)
		r := RunPlan(t, q)
		r.Protocol = c.Contrast
		c.ContrastResult = &r
		switch {
		case r.HarnessError != "":
			c.Detail += fmt.Sprintf("; %s: harness error: %s", c.Contrast, r.HarnessError)
			return c
		case r.Failed():
			c.Detail += fmt.Sprintf("; but %s fails the same plan: %s", c.Contrast, strings.Join(ViolatedKinds(r), ","))
			return c
		}
		c.Detail += fmt.Sprintf("; %s clean", c.Contrast)
	}
	c.OK = true
	return c
}
