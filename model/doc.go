// Package model is the oracle. From the input logs and the job's logic it
// computes the output a correct exactly-once run must make visible and the
// final keyed state; from what a read_committed reader saw after the run it
// classifies anomalies (lost, duplicate, unexpected, reordered,
// aborted-read, state-divergence, stalled, silent-loss) with a three-valued
// verdict: ok, violation, unknown.
//
// Everything here is a pure function of its arguments. The package must not
// import the engine: it restates the job's logic independently, which is
// what lets it catch an engine that computes the wrong thing.
package model
