// Package engine is a small exactly-once stream processing engine modelled on
// Flink's Kafka connector (FlinkKafkaConsumer and the two-phase-commit
// FlinkKafkaProducer): a Kafka source, a deterministic transform, a keyed
// stateful operator and a Kafka sink, tied together by a checkpoint
// coordinator.
//
// The engine owns the job graph, its tasks, the checkpoint coordinator, the
// checkpoint store interface, the delivery guarantees and the protocol
// variants (correct ones and the known-bad "bug zoo"), and the named crash
// points a harness may arm.
//
// It must not import anything of the harness (sim, faults, model, reports):
// it is a real engine that runs against a real Kafka with a real clock. Like
// etcd's raft, its tasks are step functions over their own state; time
// (Clock), crash decisions (Crasher) and observation (Observer) come in
// through interfaces. Who calls the steps is not the engine's business: the
// production Driver runs each subtask on its own goroutine, the simulator
// steps them from one seeded scheduler.
package engine
