package properties

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leanovate/gopter"
	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/faults"
)

var (
	casesFlag = flag.Int("properties.cases", 25,
		"generated cases per property of the correct protocols (and command sequences per stateful property); CI runs 200")
	batchFlag = flag.Int("properties.batch", 300,
		"generated cases a known-bad variant gets to be caught in (the search stops at the first catch)")
	zooFlag = flag.Bool("properties.zoo", false,
		"search for every known-bad variant in TestKnownBadVariantsAreFalsified, not only three (about 45 CPU-seconds; CI runs it)")
	seedFlag = flag.Int64("properties.seed", 1,
		"gopter seed; 0 draws one from the clock (it is printed either way)")
	shrinksFlag = flag.Int("properties.shrinks", 20,
		"successful shrink steps gopter may take on a falsified property")
	commandsFlag = flag.Int("properties.commands", 30,
		"maximum commands in one sequence of the stateful test")
	failDirFlag = flag.String("properties.faildir", "",
		"directory for the plans of failing cases (default: a directory under the system temp dir)")
)

// gopterSeed is the seed every property of this run uses.
var gopterSeed = sync.OnceValue(func() int64 {
	if *seedFlag != 0 {
		return *seedFlag
	}
	return time.Now().UnixNano()
})

// params are the gopter test parameters for one property.
func params(minSuccess int) *gopter.TestParameters {
	p := gopter.DefaultTestParametersWithSeed(gopterSeed())
	p.MinSuccessfulTests = minSuccess
	p.MaxShrinkCount = *shrinksFlag
	p.MaxSize = *commandsFlag // bounds command sequences; the scenario generators ignore it
	return p
}

// checkProperty runs one gopter property and reports it with gopter's
// formatted reporter through t.Log, so its "+ name: OK, passed N tests."
// line shows with go test -v (and with every failure).
func checkProperty(t *testing.T, name string, p gopter.Prop, minSuccess int) *gopter.TestResult {
	t.Helper()
	res := p.Check(params(minSuccess))
	var b bytes.Buffer
	gopter.NewFormatedReporter(false, 160, &b).ReportTestResult(name, res)
	t.Log(strings.TrimRight(b.String(), "\n"))
	return res
}

// requireHolds fails the test when the property did not pass, naming the
// gopter seed and how to rerun it.
func requireHolds(t *testing.T, name string, res *gopter.TestResult) {
	t.Helper()
	if !res.Passed() {
		t.Errorf("property %q does not hold (gopter seed %d; rerun with -properties.seed=%d)", name, gopterSeed(), gopterSeed())
		if c, ok := shrunkCase(res); ok {
			t.Errorf("minimal counterexample: %s", c)
		}
	}
}

// shrunkCase returns the (shrunk) case gopter reports for a falsified
// property whose single argument is a Case.
func shrunkCase(res *gopter.TestResult) (Case, bool) {
	if len(res.Args) == 0 {
		return Case{}, false
	}
	c, ok := res.Args[0].Arg.(Case)
	return c, ok
}

// failDir is where plans of failing cases go, so a replay command can name
// them after the test's temporary directories are gone.
func failDir(t testing.TB) string {
	dir := *failDirFlag
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "eosim-properties")
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	return dir
}

// writeFailure stores the plan of a failing case and returns the command
// that replays it.
func writeFailure(t testing.TB, p faults.Plan) string {
	path := filepath.Join(failDir(t), fmt.Sprintf("%s-%d.json", p.Protocol, p.Seed))
	p.Replay = "go run ./cmd/simrun replay --plan " + path
	require.NoError(t, os.WriteFile(path, p.Marshal(), 0o644))
	return p.Replay
}

// describe renders the anomalies of a failing case for a property label.
func describe(kinds []string, extra string) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "violations: %s", strings.Join(kinds, ","))
	if extra != "" {
		fmt.Fprintf(&b, " (%s)", extra)
	}
	return b.String()
}
