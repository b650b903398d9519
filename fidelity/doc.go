// Package fidelity checks kfake against Apache Kafka. Every broker fact the
// engine, the fault injector and the oracle rely on is a probe: a function
// that runs a few requests against a broker address and records what the
// broker answered as short deterministic text (error codes by name, epochs
// relative to the first one seen, visible records). TestFidelity runs every
// probe against an in-process kfake on loopback TCP and against a real
// Kafka 4.4 broker (kafka/start.sh, address in EOSIM_KAFKA) and tabulates
// them; docs/fidelity.md keeps the table and what each difference means.
//
// The package also gives other packages' tests the real broker's address
// (RealBrokers) and a kfake configured like it (StartFake).
//
// It imports only franz-go (kgo, kmsg, kerr, kfake): it must not import the
// engine or any harness package, so that a probe states a broker fact
// independently of the code that relies on it.
package fidelity
