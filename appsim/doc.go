// Package appsim runs a user's exactly-once application (an app.App) under
// the simulator: one scenario is a kfake cluster on a virtual network inside
// a testing/synctest bubble, input written by the harness, the app's
// processes started with a harness Env, a deterministic network that holds
// every request of the app until the bubble is quiescent and releases them
// one at a time in an order drawn from the seed, faults (named crash sites,
// protocol-site crashes, consumer-group faults), and the declared-transform
// oracle (model.CheckDeclared) on what read_committed readers saw.
//
// appsim owns the free-running (black-box) side of DESIGN.md §5: Run,
// Campaign, the held network, the process lifecycle (start, kill, restart,
// pause), the app registry used by `simrun --app`, and enumeration of
// request boundaries for exhaustive mode.
//
// appsim must not import the engine or sim. It imports faults for plans and
// the fault catalogue; faults still imports engine for the engine's
// crash-point names, so engine is a transitive (never a direct) dependency
// until that catalogue takes its names from the adapter.
package appsim
