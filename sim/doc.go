// Package sim runs one scenario: a seed plus options. Inside a
// testing/synctest bubble it starts a kfake cluster on a buffered
// in-memory network (memnet.go), produces the input, and steps the engine's job from
// one seeded scheduler in virtual time, firing the planned faults; then it
// reads the output back as a read_committed reader and asks the model for a
// verdict. Every random choice comes from one root seed; the trace of
// observable events is byte-identical for the same seed and options.
//
// sim imports engine, faults and model; it must not import reports or cmd.
package sim
