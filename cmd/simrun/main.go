// Command simrun runs eosim scenarios: fault campaigns, single replays and
// listings of the vocabulary. See the README for the CLI contract.
//
// Scenarios run inside testing/synctest bubbles, which need a *testing.T, so
// simrun validates its input first and then runs its work as the single test
// of an embedded testing.Main; it exits with its own codes from there.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"testing"

	"github.com/eosim/eosim/faults"
)

// Exit codes of the CLI contract.
const (
	exitOK           = 0
	exitViolations   = 1
	exitUsage        = 2
	exitInconclusive = 3
)

// errUsage marks bad usage or bad input: exit code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

const usage = `usage: simrun <command> [flags]

commands:
  campaign   run many seeded scenarios of one protocol (or, with --app NAME,
             of a registered app) and report violations
  replay     run one scenario (optionally from a plan file) and write its trace
  shrink     reduce a failing scenario to a minimal plan that fails the same way
  gate       regression gate: corpus, bug-zoo detection, clean campaigns
  zoo        runs to the first catch of every known-bad variant over several seeds
  merge      combine the reports of a sharded campaign into one
  realrun    run plans on a real Kafka broker in real time (--brokers HOST:PORT)
  list       list protocols, apps, faults, phases or anomalies (one per line:
             name, kind, description; 'simrun list apps': what --app runs)
  help       show this text

Run 'simrun <command> -h' for the flags of a command; campaign, replay and
shrink run a registered app with --app NAME ('simrun <command> --app NAME -h'
for the flags that apply then).
`

// commands maps a command name to its implementation; each command's file
// registers itself in an init function.
var commands = map[string]func(args []string, stdout, stderr io.Writer) (int, error){}

func main() {
	if os.Getenv("GOGC") == "" {
		// Scenarios allocate briskly and keep little: measured +29%
		// runs/s at one core with 400 (campaign, two-phase-commit, 200
		// runs: 39 → 50 runs/s). GOGC in the environment wins.
		debug.SetGCPercent(400)
	}
	os.Exit(runMain(os.Args[1:], os.Stdout, os.Stderr))
}

func runMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	var err error
	code := exitOK
	if cmd, ok := commands[args[0]]; ok {
		code, err = cmd(args[1:], stdout, stderr)
	} else if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stdout, usage)
	} else {
		err = usagef("unknown command %s (see 'simrun help')", faults.Quote(args[0]))
	}
	var ue usageError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "simrun: %v\n", err)
		return exitUsage
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case err != nil:
		fmt.Fprintf(stderr, "simrun: %v\n", err)
		return exitInconclusive
	}
	return code
}

// inTest runs fn as the only test of an embedded test main, so that fn can
// open synctest bubbles, and exits the process with fn's code.
func inTest(fn func(t *testing.T) int) {
	os.Args = []string{os.Args[0]}
	testing.Init()
	flag.Parse()
	testing.Main(func(string, string) (bool, error) { return true, nil },
		[]testing.InternalTest{{Name: "simrun", F: func(t *testing.T) { os.Exit(fn(t)) }}}, nil, nil)
	os.Exit(exitInconclusive) // testing.Main exits itself; this is a backstop
}
