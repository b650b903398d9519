package faults_test

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/faults"
)

func samplePlan() faults.Plan {
	return faults.Plan{
		Version:  faults.PlanVersion,
		Protocol: "two-phase-commit",
		Seed:     1<<63 + 12345, // beyond float64's exact range: must survive JSON
		Workload: faults.Workload{Partitions: 3, Parallelism: 2, Records: 120, KeysPerPartition: 5, CheckpointIntervalMS: 25},
		Faults: []faults.Op{
			{Fault: "crash-after-precommit", Hit: 2, RestartDelayMS: 0},
			{Fault: "crash-mid-commit", Hit: 3, RestartDelayMS: 1500},
		},
		Replay: "go run ./cmd/simrun run --plan plan.json",
	}
}

func TestPlanRoundTrip(t *testing.T) {
	for _, p := range []faults.Plan{
		samplePlan(),
		{Version: faults.PlanVersion, Protocol: "none", Seed: 0, Workload: faults.DefaultWorkload()},
	} {
		data := p.Marshal()
		require.True(t, bytes.HasSuffix(data, []byte("}\n")), "Marshal ends with a newline")
		got, err := faults.ParsePlan(data)
		require.NoError(t, err, "%s", data)
		require.Equal(t, p, got)
		require.Equal(t, data, got.Marshal())
	}

	// The JSON field names are the documented ones.
	var m map[string]any
	require.NoError(t, json.Unmarshal(samplePlan().Marshal(), &m))
	require.ElementsMatch(t, []string{"version", "protocol", "seed", "workload", "faults", "replay"}, mapKeys(m))
	require.ElementsMatch(t,
		[]string{"partitions", "parallelism", "records", "keys_per_partition", "checkpoint_interval_ms"},
		mapKeys(m["workload"].(map[string]any)))
	require.ElementsMatch(t, []string{"fault", "hit", "restart_delay_ms"},
		mapKeys(m["faults"].([]any)[0].(map[string]any)))

	require.NoError(t, faults.DefaultWorkload().Validate())
}

// A region failover names its region in count and runs under the forward
// topology (workload field topology); both round-trip and are validated.
func TestRegionFailoverPlan(t *testing.T) {
	p := samplePlan()
	p.Workload.Topology = faults.TopologyForward
	p.Faults = []faults.Op{{Fault: "region-failover", Hit: 3, RestartDelayMS: 150, Count: 2}}
	data := p.Marshal()
	require.Contains(t, string(data), `"topology": "forward"`)
	got, err := faults.ParsePlan(data)
	require.NoError(t, err)
	require.Equal(t, p, got)
	require.NotContains(t, string(samplePlan().Marshal()), "topology", "the keyBy default is not written")

	info, ok := faults.Lookup("region-failover")
	require.True(t, ok)
	require.Equal(t, faults.KindFailover, info.Kind)
	require.False(t, info.OptIn)
	fs, err := faults.Resolve("failover")
	require.NoError(t, err)
	require.Equal(t, []string{"region-failover"}, fs)

	bad := p
	bad.Workload.Topology = "ring"
	require.ErrorContains(t, bad.Validate(), `topology must be "forward" or absent (keyBy), got "ring"`)
	bad = p
	bad.Faults = []faults.Op{{Fault: "region-failover", Hit: 1, Count: 68}}
	require.ErrorContains(t, bad.Validate(), "plan fault 0 (region-failover): count must be the failing region's subtask index, 0..67")

	// Drawn ops name a region of the drawn parallelism and a downtime.
	enabled := []string{"region-failover"}
	for seed := range uint64(50) {
		for _, op := range faults.RandomFaults(rand.New(rand.NewPCG(seed, 1)), enabled, 10, 3, 4) {
			require.Equal(t, "region-failover", op.Fault)
			require.Less(t, op.Count, 3)
			require.Less(t, op.RestartDelayMS, 2000)
		}
	}
}

func mapKeys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// mutated renders samplePlan as generic JSON, applies f and renders it back.
func mutated(t *testing.T, f func(m map[string]any)) []byte {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(samplePlan().Marshal()))
	dec.UseNumber()
	var m map[string]any
	require.NoError(t, dec.Decode(&m))
	f(m)
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

func workload(m map[string]any) map[string]any { return m["workload"].(map[string]any) }
func op(m map[string]any, i int) map[string]any {
	return m["faults"].([]any)[i].(map[string]any)
}

func TestParsePlanRejects(t *testing.T) {
	tests := []struct {
		name string
		data func(t *testing.T) []byte
		msg  []string // every one must appear in the error
	}{
		{"not JSON", func(*testing.T) []byte { return []byte("{version: 1}") }, []string{"parse plan"}},
		{"unknown top-level field (typo)", func(t *testing.T) []byte {
			return mutated(t, func(m map[string]any) { m["protocl"] = m["protocol"]; delete(m, "protocol") })
		}, []string{"parse plan", `unknown field "protocl"`}},
		{"unknown op field (typo)", func(t *testing.T) []byte {
			return mutated(t, func(m map[string]any) { o := op(m, 1); o["hits"] = o["hit"]; delete(o, "hit") })
		}, []string{`unknown field "hits"`}},
		{"unknown workload field (typo)", func(t *testing.T) []byte {
			return mutated(t, func(m map[string]any) { workload(m)["keys_per_partiton"] = 3 })
		}, []string{`unknown field "keys_per_partiton"`}},
		{"wrong version", func(t *testing.T) []byte {
			return mutated(t, func(m map[string]any) { m["version"] = 2 })
		}, []string{"plan version 2 is not supported (want 1)"}},
		{"missing version", func(t *testing.T) []byte {
			return mutated(t, func(m map[string]any) { delete(m, "version") })
		}, []string{"plan version 0 is not supported"}},
		{"unknown fault name", func(t *testing.T) []byte {
			return mutated(t, func(m map[string]any) { op(m, 1)["fault"] = "crash-after-lunch" })
		}, []string{"plan fault 1", `unknown fault "crash-after-lunch"`}},
		{"group name is not a fault", func(t *testing.T) []byte {
			return mutated(t, func(m map[string]any) { op(m, 0)["fault"] = "crash" })
		}, []string{"plan fault 0", `unknown fault "crash"`}},
		{"count out of range", func(t *testing.T) []byte {
			return mutated(t, func(m map[string]any) { op(m, 0)["count"] = -2 })
		}, []string{"count must be 0..1000, got -2"}},
		{"hit 0", func(t *testing.T) []byte {
			return mutated(t, func(m map[string]any) { op(m, 1)["hit"] = 0 })
		}, []string{"plan fault 1 (crash-mid-commit)", "hit must be 1..1000000, got 0"}},
		{"hit missing", func(t *testing.T) []byte {
			return mutated(t, func(m map[string]any) { delete(op(m, 0), "hit") })
		}, []string{"plan fault 0 (crash-after-precommit)", "hit must be 1..1000000, got 0"}},
		{"hit negative", func(t *testing.T) []byte {
			return mutated(t, func(m map[string]any) { op(m, 0)["hit"] = -3 })
		}, []string{"hit must be 1..1000000, got -3"}},
		{"negative restart delay", func(t *testing.T) []byte {
			return mutated(t, func(m map[string]any) { op(m, 1)["restart_delay_ms"] = -1 })
		}, []string{"plan fault 1 (crash-mid-commit)", "restart_delay_ms must be 0..600000, got -1"}},
		{"partitions 0", func(t *testing.T) []byte {
			return mutated(t, func(m map[string]any) { workload(m)["partitions"] = 0 })
		}, []string{"plan workload", "partitions must be 1..64, got 0"}},
		{"partitions 65", func(t *testing.T) []byte {
			return mutated(t, func(m map[string]any) { workload(m)["partitions"] = 65 })
		}, []string{"plan workload", "partitions must be 1..64, got 65"}},
		{"parallelism above partitions+4", func(t *testing.T) []byte {
			return mutated(t, func(m map[string]any) { workload(m)["parallelism"] = 8 })
		}, []string{"plan workload", "parallelism must be 1..partitions+4 (7), got 8"}},
		{"parallelism 0", func(t *testing.T) []byte {
			return mutated(t, func(m map[string]any) { workload(m)["parallelism"] = 0 })
		}, []string{"parallelism must be 1..partitions+4 (7), got 0"}},
		{"output_partitions 65", func(t *testing.T) []byte {
			return mutated(t, func(m map[string]any) { workload(m)["output_partitions"] = 65 })
		}, []string{"plan workload", "output_partitions must be 0..64 (0: as many as partitions), got 65"}},
		{"negative records", func(t *testing.T) []byte {
			return mutated(t, func(m map[string]any) { workload(m)["records"] = -1 })
		}, []string{"plan workload", "records must be 1..1000000, got -1"}},
		{"keys_per_partition 0", func(t *testing.T) []byte {
			return mutated(t, func(m map[string]any) { workload(m)["keys_per_partition"] = 0 })
		}, []string{"plan workload", "keys_per_partition must be 1..1000, got 0"}},
		{"checkpoint_interval_ms 0", func(t *testing.T) []byte {
			return mutated(t, func(m map[string]any) { workload(m)["checkpoint_interval_ms"] = 0 })
		}, []string{"plan workload", "checkpoint_interval_ms must be 1..30000, got 0"}},
		{"workload missing", func(t *testing.T) []byte {
			return mutated(t, func(m map[string]any) { delete(m, "workload") })
		}, []string{"plan workload", "partitions must be 1..64, got 0"}},
		{"records 0", func(t *testing.T) []byte {
			return mutated(t, func(m map[string]any) { workload(m)["records"] = 0 })
		}, []string{"plan workload", "records must be 1..1000000, got 0"}},
		{"interval beyond the transaction timeout", func(t *testing.T) []byte {
			return mutated(t, func(m map[string]any) { workload(m)["checkpoint_interval_ms"] = 60001 })
		}, []string{"checkpoint_interval_ms must be 1..30000, got 60001", "transaction.timeout.ms of 60000"}},
		{"hit beyond any run", func(t *testing.T) []byte {
			return mutated(t, func(m map[string]any) { op(m, 0)["hit"] = 1_000_001 })
		}, []string{"plan fault 0 (crash-after-precommit)", "hit must be 1..1000000, got 1000001"}},
		{"restart delay that overflows virtual time", func(t *testing.T) []byte {
			return mutated(t, func(m map[string]any) { op(m, 1)["restart_delay_ms"] = int64(1e13) })
		}, []string{"restart_delay_ms must be 0..600000, got 10000000000000"}},
		{"restart delay of the largest int", func(t *testing.T) []byte {
			return mutated(t, func(m map[string]any) { op(m, 1)["restart_delay_ms"] = int64(math.MaxInt64) })
		}, []string{"restart_delay_ms must be 0..600000, got 9223372036854775807"}},
		{"restart delay beyond the bound", func(t *testing.T) []byte {
			return mutated(t, func(m map[string]any) { op(m, 1)["restart_delay_ms"] = 600_001 })
		}, []string{"plan fault 1 (crash-mid-commit)", "restart_delay_ms must be 0..600000, got 600001"}},
		{"downtimes adding up beyond the bound", func(t *testing.T) []byte {
			return mutated(t, func(m map[string]any) {
				op(m, 0)["restart_delay_ms"] = 400_000
				op(m, 1)["restart_delay_ms"] = 400_000
			})
		}, []string{"plan fault 1 (crash-mid-commit)", "add up to at most 600000, got 800000"}},
		{"too many ops", func(t *testing.T) []byte {
			return mutated(t, func(m map[string]any) {
				ops := m["faults"].([]any)
				for len(ops) <= faults.MaxOps {
					ops = append(ops, ops[0])
				}
				m["faults"] = ops
			})
		}, []string{"plan faults: at most 64 ops, got 65"}},
		{"huge fault name quoted short", func(t *testing.T) []byte {
			return mutated(t, func(m map[string]any) { op(m, 0)["fault"] = strings.Repeat("n", 100_000) })
		}, []string{`unknown fault "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn…" (100000 bytes)`}},
		{"huge unknown field name clipped", func(t *testing.T) []byte {
			return mutated(t, func(m map[string]any) { m[strings.Repeat("k", 100_000)] = 1 })
		}, []string{"unknown field", "…"}},
		{"duplicate top-level key", func(*testing.T) []byte {
			return []byte(`{"version":1,"version":1,"protocol":"none","workload":{"partitions":1,"parallelism":1,"records":1,"keys_per_partition":1,"checkpoint_interval_ms":10},"faults":[]}`)
		}, []string{`parse plan: duplicate key "version"`}},
		{"duplicate faults", func(*testing.T) []byte {
			return []byte(`{"version":1,"protocol":"none","faults":[],"workload":{"partitions":1,"parallelism":1,"records":1,"keys_per_partition":1,"checkpoint_interval_ms":10},"faults":[]}`)
		}, []string{`duplicate key "faults"`}},
		{"duplicate key in an op", func(*testing.T) []byte {
			return []byte(`{"version":1,"protocol":"none","workload":{"partitions":1,"parallelism":1,"records":1,"keys_per_partition":1,"checkpoint_interval_ms":10},"faults":[{"fault":"zombie","hit":1},{"fault":"zombie","hit":1,"hit":2}]}`)
		}, []string{`duplicate key "faults[1].hit"`}},
		{"too large", func(*testing.T) []byte {
			return append(samplePlan().Marshal(), bytes.Repeat([]byte(" "), faults.MaxPlanBytes)...)
		}, []string{"larger than 1048576 bytes"}},
		{"wrong type", func(t *testing.T) []byte {
			return mutated(t, func(m map[string]any) { op(m, 0)["hit"] = "2" })
		}, []string{"parse plan"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := tc.data(t)
			p, err := faults.ParsePlan(data)
			require.Error(t, err, "%s", data)
			for _, msg := range tc.msg {
				require.ErrorContains(t, err, msg)
			}
			require.Equal(t, faults.Plan{}, p)
		})
	}
}

// A plan file with anything after its JSON object (a second plan pasted
// below, a stray brace from hand-editing) should be rejected like an
// unknown field is, not silently truncated to its first object.
func TestParsePlanRejectsTrailingData(t *testing.T) {
	for _, tail := range []string{`{"version": 1}`, `}`, `x`} {
		data := append(samplePlan().Marshal(), []byte(tail)...)
		_, err := faults.ParsePlan(data)
		require.ErrorContains(t, err, "unexpected data after the plan object", tail)
	}
}

func TestReadPlan(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	require.NoError(t, os.WriteFile(good, samplePlan().Marshal(), 0o644))
	p, err := faults.ReadPlan(good)
	require.NoError(t, err)
	require.Equal(t, samplePlan(), p)

	bad := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(bad, mutated(t, func(m map[string]any) { m["version"] = 7 }), 0o644))
	_, err = faults.ReadPlan(bad)
	require.ErrorContains(t, err, bad)
	require.ErrorContains(t, err, "plan version 7 is not supported")

	_, err = faults.ReadPlan(filepath.Join(dir, "missing.json"))
	require.ErrorContains(t, err, "read plan")

	// An endless file is read only up to the limit.
	if _, err := os.Stat("/dev/zero"); err == nil {
		_, err = faults.ReadPlan("/dev/zero")
		require.ErrorContains(t, err, "larger than")
	}
}

func crashNames() []string {
	var out []string
	for _, p := range engine.CrashPoints() {
		out = append(out, string(p))
	}
	return out
}

func TestResolve(t *testing.T) {
	allCrash := []string{
		"crash-before-snapshot", "crash-after-source-snapshot", "crash-after-precommit", "crash-after-ack",
		"crash-after-checkpoint-stored", "crash-mid-commit", "crash-after-commit", "crash-during-recovery",
	}
	require.Equal(t, allCrash, crashNames())

	got, err := faults.Resolve("crash")
	require.NoError(t, err)
	require.Equal(t, allCrash, got)

	got, err = faults.Resolve("all")
	require.NoError(t, err)
	var want []string
	for _, f := range faults.Catalogue() {
		if !f.OptIn {
			want = append(want, f.Name)
		}
	}
	require.Equal(t, want, got)
	for _, name := range got {
		info, ok := faults.Lookup(name)
		require.True(t, ok)
		require.False(t, info.OptIn, name)
	}
	require.NotContains(t, got, "outage-beyond-txn-timeout")
	require.NotContains(t, got, "outage-beyond-txn-id-expiry")
	require.Contains(t, got, "lost-ack-produce")
	require.Contains(t, got, "leader-move")
	require.Contains(t, got, "zombie")
	// Opt-in faults are used only when named.
	got, err = faults.Resolve("outage-beyond-txn-timeout,crash-after-ack")
	require.NoError(t, err)
	require.Equal(t, []string{"crash-after-ack", "outage-beyond-txn-timeout"}, got)

	// Names come back in catalogue order, deduplicated, spaces trimmed.
	got, err = faults.Resolve(" crash-after-commit ,crash-before-snapshot,,crash-after-commit")
	require.NoError(t, err)
	require.Equal(t, []string{"crash-before-snapshot", "crash-after-commit"}, got)

	got, err = faults.Resolve("crash-mid-commit,crash")
	require.NoError(t, err)
	require.Equal(t, allCrash, got)

	for _, tc := range []struct{ list, msg string }{
		{"crash-after-lunch", `unknown fault "crash-after-lunch"`},
		{"crash,bogus", `unknown fault "bogus"`},
		{"", `selects no fault`},
		{",", `selects no fault`},
	} {
		got, err := faults.Resolve(tc.list)
		require.ErrorContains(t, err, tc.msg, "--faults %q", tc.list)
		require.Nil(t, got)
	}
}

func TestCatalogue(t *testing.T) {
	cat := faults.Catalogue()
	seen := map[string]bool{}
	for _, f := range cat {
		require.False(t, seen[f.Name], "duplicate %s", f.Name)
		seen[f.Name] = true
		require.NotEmpty(t, f.Description, f.Name)
		got, ok := faults.Lookup(f.Name)
		require.True(t, ok)
		require.Equal(t, f, got)
		// A name may equal a group only when it is that group's one
		// fault (zombie): then both select the same.
		if f.Name != string(f.Kind) {
			require.False(t, slices.Contains(faults.Groups, f.Name), "%s is also a group", f.Name)
		}
		if f.Kind == faults.KindProtocol || f.Kind == faults.KindGroup {
			continue // app-only faults: appsim resolves their groups (sites, protocol, group)
		}
		require.Contains(t, faults.Groups, string(f.Kind), "--faults accepts every kind as a group")
	}
	require.Equal(t, crashNames(), func() []string {
		var out []string
		for _, f := range cat[:8] {
			require.Equal(t, faults.KindCrash, f.Kind)
			out = append(out, f.Name)
		}
		return out
	}())
	_, ok := faults.Lookup("crash")
	require.False(t, ok)
}

func TestRandomFaults(t *testing.T) {
	enabled := crashNames()
	const checkpoints, parallelism = 10, 2
	span := map[string]int{
		"crash-before-snapshot":         checkpoints * parallelism,
		"crash-after-source-snapshot":   checkpoints * parallelism,
		"crash-after-precommit":         checkpoints * parallelism,
		"crash-after-ack":               checkpoints,
		"crash-after-checkpoint-stored": checkpoints,
		"crash-mid-commit":              1, // its first arrival: a run may reach it only once
		"crash-after-commit":            checkpoints * parallelism,
	}
	lengths := map[int]bool{}
	names := map[string]bool{}
	distinct := map[string]bool{}
	maxHit := map[string]int{}
	// 3,000 seeds: a plan of two crash-mid-commit (one is dropped) and a
	// crash-during-recovery is rare (its hit once counted the dropped one).
	for seed := range uint64(3000) {
		ops := faults.RandomFaults(rand.New(rand.NewPCG(seed, 7)), enabled, checkpoints, parallelism, 4)
		again := faults.RandomFaults(rand.New(rand.NewPCG(seed, 7)), enabled, checkpoints, parallelism, 4)
		require.Equal(t, ops, again, "seed %d not deterministic", seed)

		require.GreaterOrEqual(t, len(ops), 1)
		require.LessOrEqual(t, len(ops), 3)
		lengths[len(ops)] = true
		require.True(t, slices.IsSortedFunc(ops, func(a, b faults.Op) int { return a.Hit - b.Hit }), "seed %d: %v", seed, ops)
		// crash-during-recovery aims at the restores the plan makes: the
		// first start and one per other crash op (two consults per sink).
		others := len(slices.DeleteFunc(slices.Clone(ops), func(o faults.Op) bool { return o.Fault == "crash-during-recovery" }))
		span["crash-during-recovery"] = 2 * parallelism * (1 + others)
		for _, o := range ops {
			require.Contains(t, enabled, o.Fault)
			require.GreaterOrEqual(t, o.Hit, 1)
			require.LessOrEqual(t, o.Hit, span[o.Fault], "seed %d: %v", seed, o)
			require.GreaterOrEqual(t, o.RestartDelayMS, 0)
			require.Less(t, o.RestartDelayMS, 2000)
			names[o.Fault] = true
			maxHit[o.Fault] = max(maxHit[o.Fault], o.Hit)
		}
		// Every drawn plan must be a valid plan.
		p := faults.Plan{Version: faults.PlanVersion, Protocol: "two-phase-commit", Seed: seed,
			Workload: faults.DefaultWorkload(), Faults: ops}
		require.NoError(t, p.Validate())
		b, _ := json.Marshal(ops)
		distinct[string(b)] = true
	}
	require.Equal(t, map[int]bool{1: true, 2: true, 3: true}, lengths)
	require.Len(t, names, len(enabled), "every crash point drawn at least once over 3,000 seeds")
	require.Greater(t, len(distinct), 100, "different seeds give different plans")
	// Points reached once per subtask draw hits beyond the checkpoint count.
	require.Greater(t, maxHit["crash-after-precommit"], checkpoints, "%v", maxHit)

	// Only enabled names; unknown names are ignored; non-crash faults fire
	// at a checkpoint and have no downtime.
	drawn := map[string]bool{}
	for seed := range uint64(50) {
		ops := faults.RandomFaults(rand.New(rand.NewPCG(seed, seed)), []string{"no-such-fault", "crash-after-ack", "lost-ack-produce"}, 4, 1, 4)
		require.NotEmpty(t, ops)
		for _, o := range ops {
			require.Contains(t, []string{"crash-after-ack", "lost-ack-produce"}, o.Fault)
			drawn[o.Fault] = true
			require.GreaterOrEqual(t, o.Hit, 1)
			require.LessOrEqual(t, o.Hit, 4)
			if o.Fault == "lost-ack-produce" {
				require.Zero(t, o.RestartDelayMS)
			}
		}
	}
	require.Len(t, drawn, 2)

	// No checkpoints: hits still start at 1.
	for seed := range uint64(50) {
		for _, o := range faults.RandomFaults(rand.New(rand.NewPCG(seed, 1)), enabled, 0, 1, 4) {
			require.GreaterOrEqual(t, o.Hit, 1)
		}
	}

	// No fault name enabled (group names are not fault names): nothing to draw.
	for _, en := range [][]string{nil, {}, {"no-such-fault"}, {"crash", "all"}} {
		require.Nil(t, faults.RandomFaults(rand.New(rand.NewPCG(1, 2)), en, checkpoints, parallelism, 4), "%v", en)
	}
}

func TestPhaseIsValidatedAndRoundTrips(t *testing.T) {
	base := faults.Plan{Version: faults.PlanVersion, Protocol: "two-phase-commit", Workload: faults.DefaultWorkload()}
	for _, tc := range []struct {
		op   faults.Op
		want string
	}{
		{faults.Op{Fault: "endtxn-rejected", Hit: 1, Phase: "recovery"}, ""},
		{faults.Op{Fault: "lost-ack-endtxn", Hit: 2, Phase: "notify"}, ""},
		{faults.Op{Fault: "produce-rejected", Hit: 2, Phase: "precommit"}, ""},
		{faults.Op{Fault: "endtxn-rejected", Hit: 1, Phase: "sometime"}, `unknown phase "sometime"`},
		{faults.Op{Fault: "crash-after-ack", Hit: 1, Phase: "notify"}, "broker faults only"},
		{faults.Op{Fault: "crash-after-commit", Hit: 1, Phase: "stop"}, ""},
		{faults.Op{Fault: "endtxn-rejected", Hit: 1, Phase: "stop"}, `unknown phase "stop"`},
		{faults.Op{Fault: "endtxn-rejected", Hit: 1, Phase: strings.Repeat("x", 10_000)}, "(10000 bytes)"},
	} {
		p := base
		p.Faults = []faults.Op{tc.op}
		err := p.Validate()
		if tc.want == "" {
			require.NoError(t, err)
			back, perr := faults.ParsePlan(p.Marshal())
			require.NoError(t, perr)
			require.Equal(t, tc.op.Phase, back.Faults[0].Phase)
			continue
		}
		require.ErrorContains(t, err, tc.want)
		require.Less(t, len(err.Error()), 300, "the message quotes a short prefix")
	}
}

func TestDrawnPhasesAimRecoveryOnlyWithARestart(t *testing.T) {
	enabled, err := faults.Resolve("all")
	require.NoError(t, err)
	phases := map[string]int{}
	for seed := range uint64(2000) {
		ops := faults.RandomFaults(rand.New(rand.NewPCG(seed, 1)), enabled, 10, 2, 4)
		restarts := slices.ContainsFunc(ops, func(op faults.Op) bool {
			info, _ := faults.Lookup(op.Fault)
			return info.RestartsJob()
		})
		for _, op := range ops {
			if op.Phase == "" {
				continue
			}
			if op.Phase == faults.PhaseStop {
				// aimAtStop: a crash aimed at a drawn stop-with-savepoint.
				info, _ := faults.Lookup(op.Fault)
				require.True(t, info.IsCrash(), "seed %d: %+v", seed, op)
				require.True(t, slices.ContainsFunc(ops, func(o faults.Op) bool { return o.Fault == "stop-with-savepoint" }), "seed %d: a stop-aimed crash without a stop: %+v", seed, ops)
				continue
			}
			phases[op.Phase]++
			info, _ := faults.Lookup(op.Fault)
			require.Equal(t, faults.KindBroker, info.Kind, "seed %d: %+v", seed, op)
			if op.Phase == faults.PhaseRecovery {
				require.True(t, restarts, "seed %d: a recovery-aimed op without a restart: %+v", seed, ops)
			}
			if slices.Contains([]string{"produce-rejected", "lost-ack-produce", "delayed-produce"}, op.Fault) {
				require.Equal(t, faults.PhasePrecommit, op.Phase, "seed %d: only the pre-commit's flush sends a Produce: %+v", seed, op)
			}
		}
	}
	for _, ph := range faults.Phases() {
		require.Positive(t, phases[ph], "phase %s is drawn", ph)
	}
}

// A drawn lost checkpoint write is often paired with a crash before the next
// checkpoint is stored, the window where the lost write matters.
func TestLostWritesDrawACrashBeforeTheNextStore(t *testing.T) {
	enabled, err := faults.Resolve("all")
	require.NoError(t, err)
	lost, paired := 0, 0
	for seed := range uint64(3000) {
		ops := faults.RandomFaults(rand.New(rand.NewPCG(seed, 3)), enabled, 10, 2, 4)
		for _, op := range ops {
			if op.Fault != "checkpoint-write-lost" {
				continue
			}
			lost++
			if slices.ContainsFunc(ops, func(o faults.Op) bool { return o.Fault == "crash-after-ack" && o.Hit == op.Hit+1 }) {
				paired++
			}
		}
	}
	require.Positive(t, lost)
	require.Greater(t, paired, lost*2/3, "about three in four lost writes are paired (lost %d, paired %d)", lost, paired)
	require.Less(t, paired, lost, "some lost writes stay alone (lost %d, paired %d)", lost, paired)
	// Without crashes enabled nothing is added.
	for seed := range uint64(300) {
		ops := faults.RandomFaults(rand.New(rand.NewPCG(seed, 3)), []string{"checkpoint-write-lost"}, 10, 2, 4)
		require.LessOrEqual(t, len(ops), 3)
	}
}

// The topology fields round-trip, are left out when unset (older plans
// stay byte-identical) and allow idle source subtasks up to partitions+4.
func TestWorkloadTopologyFields(t *testing.T) {
	p := samplePlan()
	p.Workload.Parallelism = p.Workload.Partitions + faults.MaxIdleSubtasks
	p.Workload.OutputPartitions = 7
	data := p.Marshal()
	got, err := faults.ParsePlan(data)
	require.NoError(t, err)
	require.Equal(t, p, got)
	require.Contains(t, string(data), `"output_partitions": 7`)
	require.Equal(t, 7, got.Workload.OutputPartitionCount())
	require.NotContains(t, string(samplePlan().Marshal()), "output_partitions")
	require.Equal(t, 3, samplePlan().Workload.OutputPartitionCount(), "0 means as many as the input")

	rescale := samplePlan()
	rescale.Faults = []faults.Op{{Fault: "rescale", Hit: 1, Count: rescale.Workload.Partitions + faults.MaxIdleSubtasks}}
	require.NoError(t, rescale.Validate())
	rescale.Faults[0].Count++
	require.ErrorContains(t, rescale.Validate(), "count must be the new parallelism, 1..partitions+4 (7), got 8")
}

// max_concurrent_checkpoints and producer_pool_size round-trip, are left
// out when unset (older plans stay byte-identical) and are range-checked.
func TestWorkloadCheckpointConcurrencyFields(t *testing.T) {
	p := samplePlan()
	p.Workload.MaxConcurrentCheckpoints, p.Workload.ProducerPoolSize = 3, 7
	data := p.Marshal()
	got, err := faults.ParsePlan(data)
	require.NoError(t, err)
	require.Equal(t, p, got)
	require.Contains(t, string(data), `"max_concurrent_checkpoints": 3`)
	require.Contains(t, string(data), `"producer_pool_size": 7`)
	old := string(samplePlan().Marshal())
	require.NotContains(t, old, "max_concurrent_checkpoints")
	require.NotContains(t, old, "producer_pool_size")

	for _, tc := range []struct {
		set  func(w *faults.Workload)
		want string
	}{
		{func(w *faults.Workload) { w.MaxConcurrentCheckpoints = faults.MaxConcurrentCheckpoints + 1 }, "max_concurrent_checkpoints must be 0..8, got 9"},
		{func(w *faults.Workload) { w.MaxConcurrentCheckpoints = -1 }, "max_concurrent_checkpoints must be 0..8, got -1"},
		{func(w *faults.Workload) { w.ProducerPoolSize = faults.MaxProducerPoolSize + 1 }, "producer_pool_size must be 0..64, got 65"},
	} {
		q := samplePlan()
		tc.set(&q.Workload)
		require.ErrorContains(t, q.Validate(), tc.want)
		_, err := faults.ParsePlan(q.Marshal())
		require.ErrorContains(t, err, tc.want)
	}
}

// request_versions and the delayed-* faults round-trip through a plan
// file; a request version set that does not exist is refused by name.
func TestRequestVersionsAndDelayedFaultsRoundTrip(t *testing.T) {
	for _, versions := range []string{"", faults.RequestVersionsKIP890, faults.RequestVersionsPreKIP890} {
		p := faults.Plan{Version: faults.PlanVersion, Protocol: "two-phase-commit", Seed: 3, Workload: faults.DefaultWorkload(),
			Faults: []faults.Op{{Fault: "delayed-endtxn", Hit: 2, Count: 2, Phase: "notify"}, {Fault: "delayed-produce", Hit: 1}}}
		p.Workload.RequestVersions = versions
		data := p.Marshal()
		got, err := faults.ParsePlan(data)
		require.NoError(t, err, "%s", data)
		require.Equal(t, p, got)
		require.Equal(t, versions == faults.RequestVersionsPreKIP890, got.Workload.PreKIP890())
		require.Equal(t, versions != "", bytes.Contains(data, []byte(`"request_versions"`)), "omitted when unset")
	}
	p := faults.Plan{Version: faults.PlanVersion, Protocol: "two-phase-commit", Workload: faults.DefaultWorkload()}
	p.Workload.RequestVersions = "kip-891"
	_, err := faults.ParsePlan(p.Marshal())
	require.ErrorContains(t, err, `plan workload: request_versions must be kip-890 or pre-kip-890, got "kip-891"`)
	for _, name := range []string{"delayed-produce", "delayed-endtxn"} {
		info, ok := faults.Lookup(name)
		require.True(t, ok, name)
		require.Equal(t, faults.KindBroker, info.Kind)
		// Both are in the default set, and drawn when named alone.
		require.False(t, info.OptIn, name)
		all, err := faults.Resolve("all")
		require.NoError(t, err)
		require.Contains(t, all, name)
		ops := faults.RandomFaults(rand.New(rand.NewPCG(1, 2)), []string{name}, 10, 1, 1)
		require.NotEmpty(t, ops, name)
		require.Equal(t, name, ops[0].Fault)
	}
}

// The startup fields round-trip and are validated by name: a known mode,
// offsets only with specific-offsets (at most one per partition, -1
// unset), a timestamp only with timestamp.
func TestWorkloadStartupFields(t *testing.T) {
	p := samplePlan()
	p.Workload.StartupMode, p.Workload.StartupOffsets = "specific-offsets", []int64{19, -1, 22}
	data := p.Marshal()
	got, err := faults.ParsePlan(data)
	require.NoError(t, err)
	require.Equal(t, p, got)
	require.True(t, p.Workload.Equal(got.Workload))
	require.Equal(t, int64(22), got.Workload.StartupOffset(2))
	require.Equal(t, int64(-1), got.Workload.StartupOffset(1))
	require.Equal(t, int64(-1), got.Workload.StartupOffset(7), "past the list: unset")
	for _, k := range []string{"startup_mode", "startup_offsets", "startup_timestamp_ms"} {
		require.NotContains(t, string(samplePlan().Marshal()), k, "unset fields are left out")
	}

	ts := samplePlan()
	ts.Workload.StartupMode, ts.Workload.StartupTimestampMS = "timestamp", 80
	got, err = faults.ParsePlan(ts.Marshal())
	require.NoError(t, err)
	require.Equal(t, ts, got)

	for _, mode := range faults.StartupModes {
		w := samplePlan().Workload
		w.StartupMode = mode
		require.NoError(t, w.Validate(), mode)
	}
	for _, tc := range []struct {
		name  string
		shape func(*faults.Workload)
		want  string
	}{
		{"unknown mode", func(w *faults.Workload) { w.StartupMode = "newest" },
			`startup_mode must be one of group-offsets, earliest, latest, specific-offsets, timestamp, got "newest"`},
		{"offsets without their mode", func(w *faults.Workload) { w.StartupMode, w.StartupOffsets = "latest", []int64{1} },
			"startup_offsets must be empty, got 1 offsets (read only by startup_mode specific-offsets)"},
		{"more offsets than partitions", func(w *faults.Workload) {
			w.StartupMode, w.StartupOffsets = "specific-offsets", []int64{1, 2, 3, 4}
		}, "startup_offsets must be 0..partitions (3) offsets long, got 4"},
		{"offset below -1", func(w *faults.Workload) { w.StartupMode, w.StartupOffsets = "specific-offsets", []int64{-2} },
			"startup_offsets must be offsets in -1..1000000 (-1: unset), got -2"},
		{"timestamp without its mode", func(w *faults.Workload) { w.StartupTimestampMS = 5 },
			"startup_timestamp_ms must be 0, got 5 (read only by startup_mode timestamp)"},
		{"negative timestamp", func(w *faults.Workload) { w.StartupMode, w.StartupTimestampMS = "timestamp", -1 },
			"startup_timestamp_ms must be 0..1000000, got -1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := samplePlan()
			tc.shape(&p.Workload)
			_, err := faults.ParsePlan(p.Marshal())
			require.ErrorContains(t, err, "plan workload: "+tc.want)
		})
	}
}

// stop-with-savepoint is in the operator group and in "all", round-trips in
// a plan with its downtime, and half the drawn ones get a crash aimed at
// the stop (phase stop), never more than one per stop.
func TestStopWithSavepointIsCataloguedAndDrawn(t *testing.T) {
	ops, err := faults.Resolve("operator")
	require.NoError(t, err)
	require.Contains(t, ops, "stop-with-savepoint")
	all, err := faults.Resolve("all")
	require.NoError(t, err)
	require.Contains(t, all, "stop-with-savepoint")
	p := faults.Plan{Version: faults.PlanVersion, Protocol: "two-phase-commit", Workload: faults.DefaultWorkload(),
		Faults: []faults.Op{{Fault: "stop-with-savepoint", Hit: 3, RestartDelayMS: 500}, {Fault: "crash-after-commit", Hit: 1, Phase: faults.PhaseStop}}}
	back, err := faults.ParsePlan(p.Marshal())
	require.NoError(t, err)
	require.Equal(t, p.Faults, back.Faults)

	stops, aimed := 0, 0
	for seed := range uint64(3000) {
		drawn := faults.RandomFaults(rand.New(rand.NewPCG(seed, 5)), all, 10, 2, 4)
		n, a := 0, 0
		for _, op := range drawn {
			if op.Fault == "stop-with-savepoint" {
				n++
			}
			if op.Phase == faults.PhaseStop {
				a++
			}
		}
		require.LessOrEqual(t, a, n, "seed %d: %+v", seed, drawn)
		stops, aimed = stops+n, aimed+a
	}
	require.Positive(t, stops)
	require.Greater(t, aimed, stops/3, "about half the stops get an aimed crash (stops %d, aimed %d)", stops, aimed)
	require.Less(t, aimed, stops*2/3, "about half the stops get an aimed crash (stops %d, aimed %d)", stops, aimed)
}
