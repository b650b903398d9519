package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/eosim/eosim/appsim"
	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/examples"
	"github.com/eosim/eosim/faults"
	"github.com/eosim/eosim/model"
)

// cmdList prints one entry per line: name, kind, description, tab-separated.
func init() {
	commands["list"] = func(args []string, stdout, _ io.Writer) (int, error) { return exitOK, cmdList(args, stdout) }
}

func cmdList(args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return usagef("list takes one argument: protocols, apps, faults, phases or anomalies")
	}
	switch args[0] {
	case "protocols":
		for _, p := range engine.Protocols() {
			fmt.Fprintf(stdout, "%s\t%s\t%s\n", p.Name, p.Kind, p.Description)
		}
	case "apps":
		listApps(stdout)
	case "faults":
		for _, f := range faults.Catalogue() {
			desc := f.Description
			if f.OptIn {
				desc += " [opt-in: not in 'all']"
			}
			if f.Kind == faults.KindBroker {
				desc += " [plan field \"phase\": " + strings.Join(faults.Phases(), "|") + ", see 'simrun list phases']"
			}
			if f.IsCrash() {
				desc += " [plan field \"phase\": " + faults.PhaseStop + ", see 'simrun list phases']"
			}
			fmt.Fprintf(stdout, "%s\t%s\t%s\n", f.Name, f.Kind, desc)
		}
	case "phases":
		for _, ph := range faults.Phases() {
			fmt.Fprintf(stdout, "%s\tphase\ta broker fault with \"phase\": %q in a plan is armed at its hit-th checkpoint and fires %s\n", ph, ph, faults.PhaseDescription(ph))
		}
		fmt.Fprintf(stdout, "%s\tphase\ta crash point with \"phase\": %q in a plan %s\n", faults.PhaseStop, faults.PhaseStop, faults.PhaseDescription(faults.PhaseStop))
	case "anomalies":
		for _, a := range model.Anomalies() {
			fmt.Fprintf(stdout, "%s\tanomaly\t%s\n", a.Name, a.Description)
		}
	default:
		return usagef("cannot list %s: want protocols, apps, faults, phases or anomalies", faults.Quote(args[0]))
	}
	return nil
}

// listApps prints the apps `--app NAME` can run: the shipped examples with
// their kind (correct, or known-bad: a campaign must catch it) and what
// they are, and any other registered app.
func listApps(stdout io.Writer) {
	docs := map[string]examples.Example{}
	for _, e := range examples.Examples() {
		docs[e.App.Name] = e
	}
	for _, name := range appsim.Registered() {
		e, ok := docs[name]
		kind, doc := "correct", e.Doc
		switch {
		case !ok:
			kind, doc = "registered", "registered with appsim.Register (not a shipped example)"
		case e.KnownBad:
			kind = "known-bad"
		}
		a, _ := appsim.Lookup(name)
		fmt.Fprintf(stdout, "%s\t%s\t%s [instances %d, input partitions %d]\n", name, kind, doc, a.ProcessCount(), a.Spec.InputPartitions)
	}
}
