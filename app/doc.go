// Package app is the contract between an application under test and the
// harness that runs it (DESIGN.md §5).
//
// A user's exactly-once application is an App: a Run function that is
// started as a process with an Env and runs until it returns or its process
// is killed, plus a Spec that declares what it computes so that an oracle can
// judge what a read_committed reader sees. Several processes of one app may
// run at once (a consumer group).
//
// Everything an app does that must survive or be cut by a crash goes through
// the Env: every Kafka client is built from Env.ClientOpts (the harness owns
// the connections, so a kill can cut them and abandon the client with its
// transactions open), durable state goes through Env.Store, and named crash
// sites are Env.CrashPoint calls, no-ops in production. Time is the standard
// library's: inside the simulator's bubble it is virtual.
//
// Production runs the same App against a real broker (Production).
//
// app imports only the standard library and kgo: it must not import the
// engine or any part of the harness (sim, faults, model, reports).
package app
