// Package reports turns the results of a campaign (or of the gate) into
// files people and CI systems read: report.json (the machine-readable
// record, schema in docs/report-schema.md), summary.md (a few lines for a CI
// step summary), junit.xml (one test case per protocol × fault group) and
// index.html (a self-contained page with a per-task timeline of every
// failing scenario, a sample of clean ones, and charts).
//
// It owns: the report's data model and schema version, the Builder that
// accumulates finished runs, Merge (shard reports into one), Write/Read
// (atomic file output), and the renderers. A report is a pure function of
// its runs: aggregates are recomputed from the per-run rows, so merging the
// shards of a campaign gives the report of the unsharded campaign.
//
// Use (the campaign does this; the gate can do the same with several
// protocols and Options.ExpectCaught for its known-bad variants):
//
//	b := reports.NewBuilder("gate", opts, reports.BuildVersions(commit), reports.Limits{})
//	for each finished run: b.Add(reports.Run{Index: k, Result: res, Replay: cmd})
//	err := reports.Write(dir, b.Report(interrupted, reports.Execution{...}))
//
// Runs keep their trace for a timeline only when the scenario ran with
// sim.Options.KeepEvents. Runs of an application under test (package
// appsim, with appsim.Options.KeepEvents) go in with Builder.AddApp and get
// a timeline with a lane per app instance (apptimeline.go).
//
// Everything taken from a trace or a record is untrusted text: the HTML is
// rendered with html/template only, never by string concatenation.
//
// reports may import sim, appsim, model, faults and engine; it must not import cmd
// (the CLI imports reports, never the other way round).
package reports
