// Package realtime runs one plan with the engine's production driver
// (engine.Run: goroutines and a real clock) against a real Kafka broker:
// it creates the plan's topics, produces its input while the job runs,
// crashes the job at the plan's named crash points (the job is torn down
// with its transactions left as they are, and restored from its
// checkpoint store after the planned downtime), reads the output back as a
// read_committed reader and asks the model for a verdict, like the
// simulator does on kfake.
//
// Results are real-time evidence, not replayable byte for byte: which
// checkpoint a crash hits depends on timing, so a crash may also not fire
// (reported as unfired), and a crash after pre-commit waits for a
// checkpoint whose pending transactions hold records. Only crash points, rescale and zombie can be injected; broker,
// time and store faults need kfake's levers and stay in the simulator.
//
// realtime imports engine, faults and model; it must not import sim,
// reports or cmd.
package realtime
