package main

import (
	"slices"
	"strings"

	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/faults"
	"github.com/eosim/eosim/sim"
)

// checkFilter selects the gate's checks (--checks): a family runs all of
// its checks, FAMILY:SUBJECT one. A pre-commit hook that only replays the
// corpus, or a test of the gate itself, need not pay for the rest.
type checkFilter struct {
	families map[string]bool
	subjects map[string]bool // "detect:commit-on-snapshot"
	text     string          // as given, for the notice
}

// gateFamilies are the --checks families; "clean" also selects the
// at-least-once no-loss check, which is a clean campaign judged for loss.
// "loud": the correct protocols under the faults that break their
// assumptions must fail loudly, never lose silently.
var gateFamilies = []string{"corpus", "detect", "clean", "loud"}

func familyOf(kind string) string {
	if kind == "no-loss" {
		return "clean"
	}
	return kind
}

func (f checkFilter) wants(kind, subject string) bool {
	if f.families == nil && f.subjects == nil {
		return true
	}
	fam := familyOf(kind)
	return f.families[fam] || f.subjects[fam+":"+subject]
}

// parseChecks resolves --checks, refusing a family or a subject the gate
// would never run, so a typo cannot turn the gate into a no-op that passes.
func parseChecks(s string, corpus []sim.CorpusEntry) (checkFilter, error) {
	f := checkFilter{text: strings.TrimSpace(s)}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		fam, subject, named := strings.Cut(item, ":")
		if !slices.Contains(gateFamilies, fam) {
			return f, usagef("--checks %s: want a family (%s) or FAMILY:SUBJECT", faults.Quote(item), strings.Join(gateFamilies, ", "))
		}
		if !named {
			if f.families == nil {
				f.families = map[string]bool{}
			}
			f.families[fam] = true
			continue
		}
		if !gateRuns(fam, subject, corpus) {
			return f, usagef("--checks %s: the gate has no %s check of %s", faults.Quote(item), fam, faults.Quote(subject))
		}
		if f.subjects == nil {
			f.subjects = map[string]bool{}
		}
		f.subjects[fam+":"+subject] = true
	}
	return f, nil
}

// gateRuns reports whether runGate has a check of family fam named subject.
func gateRuns(fam, subject string, corpus []sim.CorpusEntry) bool {
	switch fam {
	case "corpus":
		for _, e := range corpus {
			if e.Name == subject {
				return true
			}
		}
		return false
	case "loud":
		p, err := engine.ProtocolByName(subject)
		return err == nil && p.Kind == engine.KindCorrect
	case "clean":
		if subject == "at-least-once" {
			_, err := engine.ProtocolByName(subject)
			return err == nil
		}
		p, err := engine.ProtocolByName(subject)
		return err == nil && p.Kind == engine.KindCorrect
	default: // detect
		p, err := engine.ProtocolByName(subject)
		return err == nil && p.Kind == engine.KindKnownBad
	}
}
