package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/faults"
)

// buildSimrun builds the CLI once per test binary and build tags, and
// returns its path: the scenarios run in an embedded testing.Main, so they
// are exercised through the real binary. The tests only run it; a link
// costs seconds of CPU, and nine tests use it.
func buildSimrun(t *testing.T, tags ...string) string {
	t.Helper()
	key := strings.Join(tags, ",")
	builtMu.Lock()
	defer builtMu.Unlock()
	if bin, ok := built[key]; ok {
		return bin
	}
	if builtDir == "" {
		dir, err := os.MkdirTemp("", "simrun-test-")
		require.NoError(t, err)
		builtDir = dir
	}
	bin := filepath.Join(builtDir, fmt.Sprintf("simrun%d", len(built)))
	args := []string{"build", "-o", bin}
	if key != "" {
		args = append(args, "-tags", key)
	}
	out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
	require.NoError(t, err, string(out))
	built[key] = bin
	return bin
}

var (
	builtMu  sync.Mutex
	builtDir string
	built    = map[string]string{}
)

// removeBuilt removes what buildSimrun built (from TestMain).
func removeBuilt() {
	if builtDir != "" {
		os.RemoveAll(builtDir)
	}
}

func run(t *testing.T, bin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return o.String(), e.String(), code
}

func TestCLI(t *testing.T) {
	bin := buildSimrun(t)
	tmp := t.TempDir()
	badPlan := filepath.Join(tmp, "bad.json")
	require.NoError(t, os.WriteFile(badPlan, []byte(`{"version":1,"faults":[{"fault":"crash-after-ack","hitt":1}]}`), 0o644))
	goodPlan := filepath.Join(tmp, "good.json")
	plan := faults.Plan{Version: faults.PlanVersion, Protocol: "two-phase-commit", Seed: 3, Workload: faults.DefaultWorkload()}
	plan.Workload.Records, plan.Workload.LateRecords = 50, 10
	require.NoError(t, os.WriteFile(goodPlan, plan.Marshal(), 0o644))
	hugeName := plan
	hugeName.Protocol = strings.Repeat("p", 500_000)
	hugePlan := filepath.Join(tmp, "huge-protocol.json")
	require.NoError(t, os.WriteFile(hugePlan, hugeName.Marshal(), 0o644))
	tpc := []string{"replay", "--protocol", "two-phase-commit", "--seed", "1"}
	with := func(base []string, extra ...string) []string { return append(append([]string{}, base...), extra...) }

	usage := []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "usage"},
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"unknown protocol", []string{"campaign", "--protocol", "nope"}, `unknown protocol "nope"`},
		{"missing protocol", []string{"campaign"}, "--protocol is required"},
		{"zero runs", []string{"campaign", "--protocol", "two-phase-commit", "--runs", "0"}, "--runs must be at least 1"},
		{"unknown fault", []string{"campaign", "--protocol", "two-phase-commit", "--faults", "meteor"}, `unknown fault "meteor"`},
		{"unknown flag", []string{"campaign", "--protocol", "two-phase-commit", "--bogus"}, "bogus"},
		{"bad shard", []string{"campaign", "--protocol", "two-phase-commit", "--shard", "3/2"}, "--shard"},
		{"bad workload", []string{"replay", "--protocol", "two-phase-commit", "--seed", "1", "--parallelism", "9"}, "--parallelism must be 1..partitions+4 (8), got 9"},
		{"bad startup mode", []string{"replay", "--protocol", "two-phase-commit", "--seed", "1", "--startup-mode", "newest"}, `--startup-mode must be one of group-offsets, earliest, latest, specific-offsets, timestamp, got "newest"`},
		{"startup offsets without their mode", []string{"replay", "--protocol", "two-phase-commit", "--seed", "1", "--startup-mode", "latest", "--startup-offsets", "3"}, "--startup-offsets must be empty"},
		{"malformed startup offsets", []string{"replay", "--protocol", "two-phase-commit", "--seed", "1", "--startup-offsets", "3,x"}, `want comma-separated offsets, got "x"`},
		{"bad output partitions", []string{"replay", "--protocol", "two-phase-commit", "--seed", "1", "--output-partitions", "65"}, "--output-partitions must be 0..64"},
		{"missing plan", []string{"replay", "--protocol", "two-phase-commit", "--plan", "/nonexistent/plan.json"}, "read plan"},
		{"malformed plan", []string{"replay", "--plan", badPlan}, "hitt"},
		{"bad list", []string{"list", "colours"}, `cannot list "colours"`},
		{"runs with exhaustive", []string{"campaign", "--protocol", "two-phase-commit", "--exhaustive", "--runs", "5"}, "exclude each other"},
		{"zoo seeds", []string{"zoo", "--seeds", "0"}, "--seeds must be 1..1000"},
		{"pairs without exhaustive", []string{"campaign", "--protocol", "two-phase-commit", "--pairs"}, "--pairs needs --exhaustive"},
		{"sites without exhaustive", []string{"campaign", "--protocol", "two-phase-commit", "--sites", "store"}, "--sites needs --exhaustive"},
		{"unknown site family", []string{"campaign", "--protocol", "two-phase-commit", "--exhaustive", "--sites", "crash,disk"}, `unknown site family "disk"`},
		{"unknown required point", []string{"campaign", "--protocol", "two-phase-commit", "--exhaustive", "--require-points", "crash-late"}, `unknown crash point "crash-late"`},
		{"negative max plans", []string{"campaign", "--protocol", "two-phase-commit", "--exhaustive", "--max-plans", "-1"}, "--max-plans must be 0"},
		// Validation names the flag the user typed, not the plan's field.
		{"interval 0 names the flag", with(tpc, "--interval", "0"), "--interval must be 1..30000, got 0"},
		{"too many concurrent checkpoints names the flag", with(tpc, "--max-concurrent-checkpoints", "9"), "--max-concurrent-checkpoints must be 0..8, got 9"},
		{"negative producer pool names the flag", with(tpc, "--producer-pool-size", "-1"), "--producer-pool-size must be 0..64, got -1"},
		{"interval beyond the transaction timeout", with(tpc, "--interval", "60001"), "--interval must be 1..30000, got 60001 (at most half the sink's transaction.timeout.ms of 60000"},
		{"records 0", with(tpc, "--records", "0"), "--records must be 1..1000000, got 0"},
		{"keys names the flag", with(tpc, "--keys", "0"), "--keys must be 1..1000, got 0"},
		{"late names the flag", with(tpc, "--records", "10", "--late", "11"), "--late must be 0..records (10), got 11"},
		{"replay without seed", []string{"replay", "--protocol", "two-phase-commit"}, "replay needs --seed"},
		{"plan with workload flags", []string{"replay", "--plan", goodPlan, "--records", "10", "--interval", "5", "--faults", "crash"}, "--plan fixes the workload and faults: drop --faults, --records, --interval"},
		{"plan from /dev/zero", []string{"replay", "--plan", "/dev/zero"}, "larger than 1048576 bytes"},
		{"huge protocol name quoted short", []string{"replay", "--plan", hugePlan}, `unknown protocol "pppppppppppppppppppppppppppppppppppppppp…" (500000 bytes)`},
		{"huge unknown command quoted short", []string{strings.Repeat("x", 10000)}, "(10000 bytes)"},
		{"huge flag value clipped", []string{"campaign", "--runs", strings.Repeat("9", 10000)}, "…"},
		{"records times jobs beyond memory", []string{"campaign", "--protocol", "two-phase-commit", "--records", "1000000", "--jobs", "256"}, "--records 1000000 with --jobs 256 needs about 976.6 GB of memory"},
		{"report rows bounded", []string{"campaign", "--protocol", "two-phase-commit", "--runs", "1000000000000", "--report", filepath.Join(tmp, "r")}, "at most 200000 runs with --report"},
		{"plan-out in a missing dir", with(tpc, "--plan-out", "/nonexistent/dir/p.json"), "--plan-out"},
	}
	for _, tc := range usage {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := run(t, bin, tc.args...)
			require.Equal(t, exitUsage, code, stderr)
			require.Contains(t, stderr, tc.want)
			require.NotContains(t, stderr, "goroutine", "no stack traces on bad input")
			if tc.name != "no command" {
				require.Equal(t, 1, strings.Count(strings.TrimSpace(stderr), "\n")+1, "one line: %q", stderr)
				require.Less(t, len(stderr), 400, "a short line: %q", faults.Clip(stderr, 500))
			}
		})
	}

	t.Run("list", func(t *testing.T) {
		out, _, code := run(t, bin, "list", "protocols")
		require.Equal(t, 0, code)
		require.Contains(t, out, "two-phase-commit\tcorrect\t")
		require.Contains(t, out, "commit-on-snapshot\tknown-bad\t")
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			require.Len(t, strings.Split(line, "\t"), 3, line)
		}
		out, _, _ = run(t, bin, "list", "anomalies")
		require.Contains(t, out, "silent-loss\tanomaly\t")
		out, _, _ = run(t, bin, "list", "faults")
		require.Contains(t, out, "crash-after-precommit\tcrash\t")
		require.Contains(t, out, `[plan field "phase": recovery|notify|precommit`)
		out, _, code = run(t, bin, "list", "phases")
		require.Equal(t, 0, code)
		require.Contains(t, out, "recovery\tphase\t")
		require.Contains(t, out, "precommit\tphase\t")
	})

	t.Run("help lists every command and every fault group", func(t *testing.T) {
		out, _, code := run(t, bin, "help")
		require.Equal(t, exitOK, code)
		for name := range commands {
			require.Regexp(t, "(?m)^  "+name+" ", out, "simrun help lists %s", name)
		}
		out, _, code = run(t, bin, "campaign", "-h")
		require.Equal(t, exitOK, code)
		groups := map[string]bool{"all": true}
		for _, f := range faults.Catalogue() {
			if f.Kind != faults.KindProtocol && f.Kind != faults.KindGroup { // app-only, resolved by appsim
				groups[string(f.Kind)] = true
			}
		}
		for g := range groups {
			require.Contains(t, faults.Groups, g, "faults.Groups has every kind of the catalogue")
			require.Regexp(t, `-faults string\n[^\n]*\b`+g+`\b`, out, "--faults help names group %s", g)
		}
	})

	t.Run("replay words and --plan-out", func(t *testing.T) {
		planOut := filepath.Join(tmp, "out.json")
		out, _, code := run(t, bin, "replay", "--protocol", "commit-on-snapshot", "--seed", "5", "--records", "200", "--faults", "crash", "--plan-out", planOut)
		last := lastLine(strings.TrimSuffix(out, "wrote plan "+planOut+"\n"))
		if code == exitViolations {
			require.Regexp(t, `^runs=1 violations=1 anomalies=[1-9]\d* `, last, "violations counts runs, anomalies the anomalies")
		} else {
			require.Equal(t, exitOK, code, out)
			require.Regexp(t, `^runs=1 violations=0 anomalies=0 `, last)
		}
		p, err := faults.ReadPlan(planOut)
		require.NoError(t, err)
		require.Equal(t, uint64(5), p.Seed)
		require.Equal(t, "go run ./cmd/simrun replay --plan "+planOut, p.Replay)
		again, _, code2 := run(t, bin, "replay", "--plan", planOut)
		require.Equal(t, code, code2)
		hash := regexp.MustCompile(`trace_hash=\S+`)
		require.Equal(t, hash.FindString(out), hash.FindString(again), "the written plan replays the same scenario")
	})

	t.Run("clean campaign", func(t *testing.T) {
		out, _, code := run(t, bin, "campaign", "--protocol", "two-phase-commit", "--runs", "10", "--seed", "5")
		require.Equal(t, exitOK, code, out)
		last := lastLine(out)
		require.True(t, strings.HasPrefix(last, "runs=10 violations=0 "), last)
		for _, field := range []string{"lost=0", "duplicate=0", "silent-loss=0", "crash-after-precommit=", "wall=", "virtual=", "first_failing_seed=none"} {
			require.Contains(t, last, field)
		}
	})

	t.Run("exhaustive", func(t *testing.T) {
		out, _, code := run(t, bin, "campaign", "--protocol", "two-phase-commit", "--exhaustive",
			"--records", "120", "--partitions", "2", "--parallelism", "1", "--interval", "40", "--jobs", "2")
		require.Equal(t, exitOK, code, out)
		require.Regexp(t, `exhaustive: schedule seed \d+, \d+ crash sites, \d+ crash point x checkpoint cells \(.*\), unreached=none, [1-9]\d* broker sites, [1-9]\d* store sites, [1-9]\d* scale sites, [1-9]\d* correlated, \d+ plans\n`, out)
		require.Regexp(t, `^runs=[1-9]\d* violations=0 .* unfired=0 `, lastLine(out))
	})

	t.Run("exhaustive names a required point never reached", func(t *testing.T) {
		// One checkpoint: no notification is lost, no commit ends two
		// transactions, so crash-mid-commit is never reached.
		small := []string{"campaign", "--protocol", "two-phase-commit", "--exhaustive", "--sites", "store",
			"--records", "8", "--late", "0", "--partitions", "2", "--interval", "1000"}
		out, errOut, code := run(t, bin, small...)
		require.Equal(t, exitInconclusive, code, out+errOut)
		require.Contains(t, out, "unreached=crash-mid-commit,")
		require.Contains(t, errOut, "required crash points never reached by the fault-free schedule (searched 64 schedules): crash-mid-commit;")
		out, errOut, code = run(t, bin, append(small, "--require-points", "crash-after-ack,crash-during-recovery")...)
		require.Equal(t, exitOK, code, out+errOut)
		require.Contains(t, out, "unreached=crash-mid-commit,")

		out, errOut, code = run(t, bin, "campaign", "--protocol", "two-phase-commit", "--exhaustive", "--sites", "crash",
			"--pairs", "--max-plans", "3", "--records", "60", "--partitions", "2", "--interval", "20")
		require.Equal(t, exitOK, code, out+errOut)
		require.Regexp(t, `3 plans of \d+ enumerated \(capped by --max-plans 3\)`, out)
		require.Contains(t, errOut, "an even spread of the")
	})

	t.Run("caught variant replays", func(t *testing.T) {
		out, _, code := run(t, bin, "campaign", "--protocol", "commit-on-snapshot", "--runs", "20", "--seed", "5")
		require.Equal(t, exitViolations, code, out)
		require.Regexp(t, `runs=20 violations=[1-9]`, lastLine(out))
		var replay string
		for _, line := range strings.Split(out, "\n") {
			if r, ok := strings.CutPrefix(strings.TrimSpace(line), "replay: go run ./cmd/simrun "); ok {
				replay = r
				break
			}
		}
		require.NotEmpty(t, replay, out)
		tr1, tr2 := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
		args := strings.Fields(replay)
		out1, _, code1 := run(t, bin, append(args, "--trace", tr1)...)
		_, _, code2 := run(t, bin, append(args, "--trace", tr2)...)
		require.Equal(t, exitViolations, code1, out1)
		require.Equal(t, exitViolations, code2)
		require.Contains(t, out1, "duplicate")
		a, err := os.ReadFile(tr1)
		require.NoError(t, err)
		b, err := os.ReadFile(tr2)
		require.NoError(t, err)
		require.NotEmpty(t, a)
		require.Equal(t, string(a), string(b), "replay twice must give byte-identical traces")
	})
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
