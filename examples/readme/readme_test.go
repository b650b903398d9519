package upper_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eosim/eosim/app"
	"github.com/eosim/eosim/eosimtest"
)

// TestREADMEShowsThisTest checks that the README's "Testing your own
// application" section shows upper_test.go as it is (after its package
// comment), so that the test a user copies is the one CI runs.
func TestREADMEShowsThisTest(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("upper_test.go")
	if err != nil {
		t.Fatal(err)
	}
	code := string(src[bytes.Index(src, []byte("package upper_test")):])
	_, section, ok := strings.Cut(string(readme), "## Testing your own application")
	if !ok {
		t.Fatal(`README.md has no section "Testing your own application"`)
	}
	_, block, ok := strings.Cut(section, "```go\n")
	if !ok {
		t.Fatal("the section has no Go code block")
	}
	block, _, _ = strings.Cut(block, "```")
	if block != code {
		t.Fatalf("README.md's example differs from examples/readme/upper_test.go: update one from the other\n--- README\n%s\n--- upper_test.go\n%s", block, code)
	}
	if n := strings.Count(code, "\n"); n > 70 {
		t.Fatalf("the example is %d lines: the README promises a short test", n)
	}
}

// buggyRun is the README's app with the mistake its text describes: the
// output is produced with a plain client and the input offsets committed
// after the produce, outside any transaction (at-least-once). A kill
// between the produce and the offset commit copies a batch twice.
func buggyRun(ctx context.Context, env app.Env) error {
	cl, err := kgo.NewClient(append(env.ClientOpts(), kgo.ConsumerGroup("upper"), kgo.ConsumeTopics("in"),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.DefaultProduceTopic("out"), kgo.DisableAutoCommit())...)
	if err != nil {
		return err
	}
	defer cl.Close()
	for ctx.Err() == nil {
		fetches := cl.PollFetches(ctx)
		var out []*kgo.Record
		fetches.EachRecord(func(r *kgo.Record) {
			for _, o := range upper(app.Record{Key: r.Key, Value: r.Value}) {
				out = append(out, &kgo.Record{Key: o.Key, Value: o.Value})
			}
		})
		if len(out) == 0 {
			continue
		}
		if err := cl.ProduceSync(ctx, out...).FirstErr(); err != nil {
			return err
		}
		if err := cl.CommitUncommittedOffsets(ctx); err != nil {
			return err
		}
	}
	return nil
}

// TestBuggyUpper is the buggy app under the README's check. It must fail,
// so it runs only as the subprocess of
// TestBuggyUpperFailsWithAReplayableSeed (EOSIM_README_BUGGY=1).
func TestBuggyUpper(t *testing.T) {
	if os.Getenv("EOSIM_README_BUGGY") == "" {
		t.Skip("runs as a subprocess of TestBuggyUpperFailsWithAReplayableSeed (it must fail)")
	}
	eosimtest.Check(t, app.App{
		Name: "upper-buggy",
		Run:  buggyRun,
		Spec: app.Spec{InputTopic: "in", OutputTopic: "out", InputPartitions: 2, Group: "upper", Transform: upper},
	}, eosimtest.Options{Runs: 200})
}

// TestBuggyUpperFailsWithAReplayableSeed runs TestBuggyUpper as a `go test`
// user would: it must fail with a seed and a replay command, and the
// replay command must fail the same way with that seed.
func TestBuggyUpperFailsWithAReplayableSeed(t *testing.T) {
	if os.Getenv("EOSIM_README_BUGGY") != "" {
		t.Skip("this is the subprocess")
	}
	runBuggy := func(env ...string) string {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestBuggyUpper$", "-test.count", "1", "-test.v")
		cmd.Env = append(append(os.Environ(), "EOSIM_README_BUGGY=1"), env...)
		out, err := cmd.CombinedOutput()
		if _, failed := err.(*exec.ExitError); !failed {
			t.Fatalf("TestBuggyUpper did not fail (%v):\n%s", err, out)
		}
		return string(out)
	}
	out := runBuggy()
	m := regexp.MustCompile(`eosim: app upper-buggy seed (\d+): .*duplicate=[1-9]`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no failing seed with duplicates in the output:\n%s", out)
	}
	replay := regexp.MustCompile(`replay: EOSIM_SEED=(\d+) EOSIM_PLAN=(\S+) go test -run '\^TestBuggyUpper\$' -count=1 \.`).FindStringSubmatch(out)
	if replay == nil || replay[1] != m[1] {
		t.Fatalf("no replay command for seed %s in the output:\n%s", m[1], out)
	}
	again := runBuggy("EOSIM_SEED="+replay[1], "EOSIM_PLAN="+replay[2])
	if !strings.Contains(again, "eosim: app upper-buggy seed "+m[1]+": ") || !strings.Contains(again, "duplicate: ") {
		t.Fatalf("the replay command did not fail the same way:\n%s", again)
	}
	if strings.Contains(again, "runs=") {
		t.Fatalf("the replay ran a campaign instead of the one seed:\n%s", again)
	}
}
