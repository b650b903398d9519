package sim

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/faults"
	"github.com/eosim/eosim/model"
)

func TestSmaller(t *testing.T) {
	for _, tc := range []struct {
		v, lo int
		want  []int
	}{
		{1000, 1, []int{1, 125, 250, 500, 750, 999}},
		{4, 1, []int{1, 2, 3}},
		{2, 1, []int{1}},
		{1, 1, nil},
		{0, 0, nil},
		{2000, 0, []int{0, 250, 500, 1000, 1500, 1999}},
	} {
		require.Equal(t, tc.want, smaller(tc.v, tc.lo), "smaller(%d, %d)", tc.v, tc.lo)
	}
}

func TestSizeOrder(t *testing.T) {
	base := faults.Plan{Version: faults.PlanVersion, Workload: faults.DefaultWorkload(),
		Faults: []faults.Op{{Fault: "crash-after-ack", Hit: 3, RestartDelayMS: 100}}}
	fewerRecords := base
	fewerRecords.Workload.Records = 10
	noFaults := base
	noFaults.Faults = nil
	earlier := base
	earlier.Faults = []faults.Op{{Fault: "crash-after-ack", Hit: 1, RestartDelayMS: 100}}
	for _, tc := range []struct {
		name          string
		small, big    faults.Plan
		strictlySmall bool
	}{
		{"fewer faults beat fewer records", noFaults, fewerRecords, true},
		{"fewer records", fewerRecords, base, true},
		{"an earlier crash", earlier, base, true},
		{"equal is not smaller", base, base, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.strictlySmall, SizeOf(tc.small).Less(SizeOf(tc.big)))
		})
	}
}

// Every candidate is valid, keeps the protocol, and is strictly smaller:
// the search and gopter's shrinking both terminate.
func TestShrinkCandidatesAreValidAndSmaller(t *testing.T) {
	for _, p := range []faults.Plan{
		{Version: faults.PlanVersion, Protocol: "commit-on-snapshot", Seed: 7, Workload: faults.DefaultWorkload(),
			Faults: []faults.Op{{Fault: "crash-after-precommit", Hit: 5, RestartDelayMS: 1500}, {Fault: "crash-mid-commit", Hit: 2, RestartDelayMS: 10}}},
		{Version: faults.PlanVersion, Protocol: "two-phase-commit", Seed: 8,
			Workload: faults.Workload{Partitions: 1, Parallelism: 1, Records: 1, KeysPerPartition: 1, CheckpointIntervalMS: 1}},
		{Version: faults.PlanVersion, Protocol: "abort-on-checkpoint-aborted", Seed: 9,
			Workload: faults.Workload{Partitions: 1, Parallelism: 1, Records: 1, KeysPerPartition: 1, CheckpointIntervalMS: 1, MaxConcurrentCheckpoints: 3}},
	} {
		cands := ShrinkCandidates(p)
		for _, c := range cands {
			require.NoError(t, c.Validate(), "%+v", c)
			require.Equal(t, p.Protocol, c.Protocol)
			require.True(t, SizeOf(c).Less(SizeOf(p)), "%v is not smaller than %v", SizeOf(c), SizeOf(p))
		}
		if p.Workload.MaxConcurrentCheckpoints > 1 {
			require.True(t, slices.ContainsFunc(cands, func(c faults.Plan) bool { return c.Workload.MaxConcurrentCheckpoints == 1 }),
				"one checkpoint in flight is a candidate")
			continue
		}
		if len(p.Faults) == 0 && p.Workload.Records == 1 {
			require.Empty(t, cands, "a minimal plan has no candidates")
		} else {
			require.NotEmpty(t, cands)
			require.Empty(t, cands[0].Faults, "dropping every fault comes first")
		}
	}
}

func TestWorkloadCandidates(t *testing.T) {
	w := faults.Workload{Partitions: 4, Parallelism: 2, Records: 100, KeysPerPartition: 3, CheckpointIntervalMS: 10}
	cands := WorkloadCandidates(w)
	require.Contains(t, cands, faults.Workload{Partitions: 4, Parallelism: 2, Records: 50, KeysPerPartition: 3, CheckpointIntervalMS: 5},
		"fewer records with the interval scaled along")
	require.Contains(t, cands, faults.Workload{Partitions: 4, Parallelism: 2, Records: 50, KeysPerPartition: 3, CheckpointIntervalMS: 10})
	require.Contains(t, cands, faults.Workload{Partitions: 2, Parallelism: 2, Records: 100, KeysPerPartition: 3, CheckpointIntervalMS: 10})
	require.Contains(t, cands, faults.Workload{Partitions: 4, Parallelism: 1, Records: 100, KeysPerPartition: 3, CheckpointIntervalMS: 10})
	require.Contains(t, cands, faults.Workload{Partitions: 4, Parallelism: 2, Records: 100, KeysPerPartition: 3, CheckpointIntervalMS: 20},
		"fewer checkpoints")
	for _, c := range cands {
		require.NoError(t, c.Validate())
		require.GreaterOrEqual(t, c.Partitions, c.Parallelism)
	}
}

func TestFailsLike(t *testing.T) {
	res := func(kinds ...string) Result {
		var r Result
		for _, k := range kinds {
			r.Violations = append(r.Violations, model.Anomaly{Kind: k})
		}
		return r
	}
	want := []string{model.Lost, model.SilentLoss}
	for _, tc := range []struct {
		name  string
		r     Result
		match ShrinkMatch
		ok    bool
	}{
		{"same set", res(model.SilentLoss, model.Lost, model.Lost), MatchSame, true},
		{"subset under same", res(model.Lost), MatchSame, false},
		{"subset under subset", res(model.Lost), MatchSubset, true},
		{"other kind", res(model.Duplicate), MatchSubset, false},
		{"superset", res(model.Lost, model.SilentLoss, model.Duplicate), MatchSubset, false},
		{"clean", res(), MatchSubset, false},
		{"harness error", Result{HarnessError: "boom", Violations: res(model.Lost).Violations}, MatchSubset, false},
	} {
		t.Run(tc.name, func(t *testing.T) { require.Equal(t, tc.ok, FailsLike(tc.r, want, tc.match)) })
	}
	_, err := ParseShrinkMatch("roughly")
	require.Error(t, err)
	m, err := ParseShrinkMatch("")
	require.NoError(t, err)
	require.Equal(t, MatchSame, m)
}

func TestDefaultContrast(t *testing.T) {
	require.Equal(t, "two-phase-commit", DefaultContrast("commit-on-snapshot"))
	require.Equal(t, "", DefaultContrast("two-phase-commit"))
	require.Equal(t, "", DefaultContrast("at-least-once"))
	require.Equal(t, "", DefaultContrast("no-such-protocol"))
}

// The done-when of shrinking: a catch of a known-bad variant shrinks to at
// most 3 faults and 50 records, fails the same way, the correct protocol is
// clean on it, and it replays.
func TestShrinkKnownBadVariant(t *testing.T) {
	crash, err := faults.Resolve("crash")
	require.NoError(t, err)
	for _, protocol := range []string{"commit-on-snapshot", "init-before-resume"} {
		t.Run(protocol, func(t *testing.T) {
			opts := Options{Protocol: protocol, Workload: faults.DefaultWorkload(), Faults: crash}
			so := ShrinkOptions{Contrast: DefaultContrast(protocol)}
			var res ShrinkResult
			found := false
			for k := 0; k < 100 && !found; k++ {
				opts.Seed = RunSeed(404, k)
				if !Run(t, opts).Failed() {
					continue
				}
				if res, err = Shrink(t, opts, so); errors.Is(err, ErrContrastFails) {
					continue // the correct protocol fails this one too: not the variant's bug
				}
				require.NoError(t, err)
				found = true
			}
			require.True(t, found, "no failing run of %s", protocol)
			require.False(t, res.Exhausted)
			if !res.Replayed {
				t.Logf("the shrunk plan's second run gave another trace (the scenario is not deterministic): %+v", res.Plan)
			}
			require.LessOrEqual(t, res.After.Faults, 3)
			require.LessOrEqual(t, res.After.Records, 50)
			require.Equal(t, res.Kinds, ViolatedKinds(res.Shrunk))
			again := RunPlan(t, res.Plan)
			require.Equal(t, res.Kinds, ViolatedKinds(again))
			contrast := res.Plan
			contrast.Protocol = DefaultContrast(protocol)
			require.False(t, RunPlan(t, contrast).Failed(), "the correct protocol must be clean on the counterexample")
		})
	}
}

func TestShrinkRefusesCleanScenario(t *testing.T) {
	w := faults.Workload{Partitions: 1, Parallelism: 1, Records: 20, KeysPerPartition: 1, CheckpointIntervalMS: 5}
	opts := Options{Protocol: "two-phase-commit", Seed: 1, Workload: w, Plan: &faults.Plan{Version: faults.PlanVersion, Workload: w}}
	_, err := Shrink(t, opts, ShrinkOptions{})
	require.ErrorIs(t, err, ErrNotFailing)
}

func TestLoadCorpus(t *testing.T) {
	good := faults.Plan{Version: faults.PlanVersion, Protocol: "two-phase-commit", Seed: 3,
		Workload: faults.Workload{Partitions: 1, Parallelism: 1, Records: 10, KeysPerPartition: 1, CheckpointIntervalMS: 5},
		Faults:   []faults.Op{{Fault: string(engine.CrashAfterCheckpointStored), Hit: 1}}}
	unknown := good
	unknown.Protocol = "no-such-protocol"
	for _, tc := range []struct {
		name  string
		files map[string][]byte
		want  string // error substring; "" for success
		n     int
	}{
		{"plans sorted, other files ignored", map[string][]byte{"b.json": good.Marshal(), "a.json": good.Marshal(), "README": []byte("x")}, "", 2},
		{"bad json", map[string][]byte{"bad.json": []byte("{")}, "bad.json", 0},
		{"unknown protocol", map[string][]byte{"u.json": unknown.Marshal()}, "unknown protocol", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, b := range tc.files {
				require.NoError(t, os.WriteFile(filepath.Join(dir, name), b, 0o644))
			}
			es, err := LoadCorpus(dir)
			if tc.want != "" {
				require.ErrorContains(t, err, tc.want)
				return
			}
			require.NoError(t, err)
			require.Len(t, es, tc.n)
			require.Equal(t, "a.json", es[0].Name)
		})
	}
	_, err := LoadCorpus(filepath.Join(t.TempDir(), "missing"))
	require.Error(t, err)
}

func TestCheckCorpusEntry(t *testing.T) {
	w := faults.Workload{Partitions: 1, Parallelism: 1, Records: 10, KeysPerPartition: 1, CheckpointIntervalMS: 5}
	plan := func(protocol string) CorpusEntry {
		return CorpusEntry{Name: protocol + ".json", Plan: faults.Plan{Version: faults.PlanVersion, Protocol: protocol, Seed: 1,
			Workload: w, Faults: []faults.Op{{Fault: string(engine.CrashAfterAck), Hit: 1}}}}
	}
	clean := CheckCorpusEntry(t, plan("two-phase-commit"), nil)
	require.True(t, clean.OK, clean.Detail)
	require.False(t, clean.MustFail)
	caught := CheckCorpusEntry(t, plan("commit-on-snapshot"), nil)
	require.True(t, caught.OK, caught.Detail)
	require.True(t, caught.MustFail)
	require.Equal(t, "two-phase-commit", caught.Contrast)
	// Broken on purpose: the correct protocol runs as the variant.
	broken := CheckCorpusEntry(t, plan("two-phase-commit"), func(p string) string {
		if p == "two-phase-commit" {
			return "commit-on-snapshot"
		}
		return p
	})
	require.False(t, broken.OK)
	require.Contains(t, broken.Detail, "two-phase-commit")
}
