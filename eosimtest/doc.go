// Package eosimtest is the `go test` entry point for testing your own
// exactly-once Kafka application under the simulator:
//
//	func TestMyApp(t *testing.T) {
//		eosimtest.Check(t, myApp(), eosimtest.Options{Runs: 200})
//	}
//
// Check runs a seeded campaign (package appsim) with crash, protocol-site
// and group faults; on the first failing run it shrinks the plan and fails
// the test with the seed, the minimal plan (JSON, also written to a file)
// and a one-line command that replays it. Property gives the same check as
// a gopter property over seeds and fault plans.
//
// eosimtest imports app, appsim, faults and model; it must not import the
// engine, sim or properties.
package eosimtest
