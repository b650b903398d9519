package fidelity

import (
	"context"
	"fmt"
	"strings"
)

// Outcome is what a probe saw: one short line per step, deterministic for
// a given broker (no producer ids, topic ids or timings; epochs relative to
// the first one seen). Err is set when the probe itself could not run (a
// topic could not be created, a wait ran out): the row is then an error,
// not a fact about the broker.
type Outcome struct {
	Steps []string
	Err   string
}

// String renders the outcome on one line.
func (o Outcome) String() string {
	s := strings.Join(o.Steps, "; ")
	if o.Err != "" {
		if s != "" {
			s += "; "
		}
		s += "PROBE ERROR: " + o.Err
	}
	return s
}

// Probe is one broker fact eosim relies on.
type Probe struct {
	Name string
	// ReliedOn says who depends on the fact (engine, fault, oracle) and how.
	ReliedOn string
	Run      func(ctx context.Context, brokers []string) Outcome
}

// Probes lists every probe in table order.
func Probes() []Probe {
	var all []Probe
	for _, family := range [][]Probe{versionProbes, resumeProbes, fencingProbes, timeoutProbes,
		readProbes, adminProbes, offsetProbes, retryProbes, delayedProbes} {
		all = append(all, family...)
	}
	return all
}

// run executes body on a fresh session and returns what it recorded; the
// session's clients are closed afterwards.
func run(ctx context.Context, brokers []string, name string, body func(s *session)) Outcome {
	s := newSession(ctx, brokers, name)
	defer s.close()
	func() {
		defer func() {
			if r := recover(); r != nil {
				if a, ok := r.(abort); ok {
					s.err = a.err
					return
				}
				panic(r)
			}
		}()
		body(s)
	}()
	out := Outcome{Steps: s.steps}
	if s.err != nil {
		out.Err = s.err.Error()
	}
	return out
}

// abort carries a harness failure out of a probe body (see session.must).
type abort struct{ err error }

func (s *session) must(err error, what string) {
	if err != nil {
		panic(abort{fmt.Errorf("%s: %w", what, err)})
	}
}
