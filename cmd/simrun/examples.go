package main

// The shipped example apps register themselves with appsim, so that
// `simrun campaign --app NAME` runs them (gts, copier and its twins,
// engine-<protocol>; see examples.Apps).
import _ "github.com/eosim/eosim/examples"
