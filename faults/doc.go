// Package faults owns the fault catalogue and fault plans: process crashes at
// the engine's named crash points, broker faults through kfake, time faults,
// zombies and checkpoint-store faults. A plan is a list of small typed ops
// that serialise to JSON and parse back, so a failing plan can be read,
// edited and replayed (as pebble's metamorphic ops).
//
// It may import the engine for the names of its crash points; it must not
// import sim, model or reports.
package faults
