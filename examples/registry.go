// Package examples lists every example application that ships with eosim,
// correct ones and known-bad twins, by the names `simrun campaign --app`
// and the tests use.
//
// It imports the example packages and app; no part of the harness imports
// it except the command that runs examples by name.
package examples

import (
	"fmt"
	"slices"
	"strings"

	"github.com/eosim/eosim/app"
	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/examples/copier"
	"github.com/eosim/eosim/examples/engineapp"
	"github.com/eosim/eosim/examples/gts"
)

// Example is one registered app and what it is expected to show.
type Example struct {
	App app.App
	// KnownBad is true for an app that models a mistake: a campaign must
	// catch it.
	KnownBad bool
	// Doc says what the app is, or which mistake it makes.
	Doc string
}

// Examples returns every example in a stable order.
func Examples() []Example {
	out := []Example{
		{App: gts.App(), Doc: "franz-go's GroupTransactSession loop, one instance"},
		{App: gts.New(gts.Options{Name: "gts-3", Instances: 3}), Doc: "franz-go's GroupTransactSession loop, three instances in one group"},
		{App: copier.App(), Doc: "hand-written kgo transactional copier, offsets in the transaction"},
	}
	twinDocs := map[string]string{
		"copier-offsets-outside-txn":            "offsets committed with a plain OffsetCommit after the transaction",
		"copier-offsets-before-produce":         "offsets committed with a plain OffsetCommit before producing (at-most-once)",
		"copier-commit-after-failed-flush":      "a failed produce or flush is logged and the transaction committed anyway",
		"copier-no-rewind-after-abort":          "an aborted batch is not rewound: the consumer skips it",
		"copier-read-uncommitted":               "input read read_uncommitted: copies the records of the aborted input transactions the harness writes",
		"copier-commit-despite-offsets-failure": "the output is committed although sending the offsets into the transaction failed",
	}
	for _, t := range copier.Twins() {
		out = append(out, Example{App: t, KnownBad: true, Doc: twinDocs[t.Name]})
	}
	for _, p := range engine.Protocols() {
		out = append(out, Example{
			App:      engineapp.MustNew(engineapp.Options{Protocol: p.Name}),
			KnownBad: p.Kind != engine.KindCorrect,
			Doc:      "the built-in engine: " + p.Description,
		})
	}
	return out
}

// Apps returns every example app (correct and known-bad) in a stable order.
func Apps() []app.App {
	var out []app.App
	for _, e := range Examples() {
		out = append(out, e.App)
	}
	return out
}

// Lookup returns the example app called name.
func Lookup(name string) (app.App, error) {
	var names []string
	for _, a := range Apps() {
		if a.Name == name {
			return a, nil
		}
		names = append(names, a.Name)
	}
	slices.Sort(names)
	return app.App{}, fmt.Errorf("unknown app %q (known: %s)", name, strings.Join(names, ", "))
}
