package reports

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/eosim/eosim/faults"
)

// Merge combines the reports of shards of one campaign into one report.
// The shards must come from the same options (but the shard), the same
// versions and limits, and hold disjoint runs. Merging every shard of a
// campaign gives the report of the unsharded campaign (Execution aside:
// WallMS is the longest shard's, as shards run side by side, and
// ScenariosPerSecond the sum of the shards' rates).
func Merge(parts ...Report) (Report, error) {
	if len(parts) == 0 {
		return Report{}, errors.New("merge: no reports")
	}
	first := parts[0]
	base, err := comparable(first)
	if err != nil {
		return Report{}, err
	}
	shards := Shard{Count: first.Options.Shard.Count}
	var rows []RunRow
	var viols []Violation
	var harness []HarnessError
	var tls []Timeline
	interrupted := false
	var exec Execution
	seen := map[string]int{}
	for i, p := range parts {
		if p.SchemaVersion != SchemaVersion {
			return Report{}, fmt.Errorf("merge: report %d has schema version %d, want %d", i+1, p.SchemaVersion, SchemaVersion)
		}
		if p.Command != first.Command {
			return Report{}, fmt.Errorf("merge: report %d is of %q, report 1 of %q", i+1, p.Command, first.Command)
		}
		c, err := comparable(p)
		if err != nil {
			return Report{}, err
		}
		if c != base {
			return Report{}, fmt.Errorf("merge: report %d differs from report 1 in %s", i+1, firstDifference(base, c))
		}
		if p.Options.Shard.Count != shards.Count {
			return Report{}, fmt.Errorf("merge: report %d is a shard of %d, report 1 of %d", i+1, p.Options.Shard.Count, shards.Count)
		}
		for _, idx := range p.Options.Shard.Indexes {
			if slices.Contains(shards.Indexes, idx) {
				return Report{}, fmt.Errorf("merge: shard %d/%d appears twice", idx, shards.Count)
			}
			shards.Indexes = append(shards.Indexes, idx)
		}
		for _, row := range p.Runs {
			key := fmt.Sprintf("%s/%d", row.Protocol, row.Run)
			if j, dup := seen[key]; dup {
				return Report{}, fmt.Errorf("merge: run %d of %s is in reports %d and %d", row.Run, row.Protocol, j+1, i+1)
			}
			seen[key] = i
		}
		if len(rows)+len(p.Runs) > MaxRuns {
			return Report{}, fmt.Errorf("merge: more than %d runs in all: a report holds at most that many", MaxRuns)
		}
		rows = append(rows, p.Runs...)
		viols = append(viols, p.Violations...)
		harness = append(harness, p.HarnessErrors...)
		tls = append(tls, p.Timelines...)
		interrupted = interrupted || p.Outcome.Interrupted
		exec.Jobs = max(exec.Jobs, p.Execution.Jobs)
		exec.Shards += max(1, p.Execution.Shards)
		exec.WallMS = max(exec.WallMS, p.Execution.WallMS)
		exec.ScenariosPerSecond += p.Execution.ScenariosPerSecond
	}
	opts := first.Options
	opts.Shard = shards
	r := assemble(first.Command, opts, first.Versions, first.Limits, rows, viols, harness, tls, interrupted, exec)
	markMissingShards(&r)
	return r, nil
}

// markMissingShards makes a merge that lacks shards say so: the runs
// planned are the whole campaign's, the missing shards are listed, and a
// status that would otherwise read pass or inconclusive reads incomplete
// (a violation found is still a fail, an interrupt still interrupted).
func markMissingShards(r *Report) {
	s := r.Options.Shard
	if s.Count <= 1 {
		return
	}
	for i := 1; i <= s.Count; i++ {
		if !slices.Contains(s.Indexes, i) {
			r.Outcome.MissingShards = append(r.Outcome.MissingShards, i)
		}
	}
	r.Outcome.RunsPlanned = r.Options.Runs * len(r.Options.Protocols)
	if r.Outcome.Status == StatusPass || r.Outcome.Status == StatusInconclusive {
		r.Outcome.Status = StatusIncomplete
	}
}

// firstDifference names the first field in which two comparable renderings
// differ and its two values, shortened: "options.base_seed (3 vs 4)".
func firstDifference(a, b string) string {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return "options, versions or limits"
	}
	if path, va, vb, ok := diffJSON("", x, y); ok {
		return fmt.Sprintf("%s (%s vs %s)", path, shortJSON(va), shortJSON(vb))
	}
	return "options, versions or limits"
}

// diffJSON walks two decoded JSON values and returns the path of the first
// difference, in sorted key order.
func diffJSON(path string, a, b any) (string, any, any, bool) {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		keys := slices.Sorted(maps.Keys(am))
		for k := range bm {
			if _, ok := am[k]; !ok {
				keys = append(keys, k)
			}
		}
		for _, k := range keys {
			sub := k
			if path != "" {
				sub = path + "." + k
			}
			if p, va, vb, ok := diffJSON(sub, am[k], bm[k]); ok {
				return p, va, vb, true
			}
		}
		return "", nil, nil, false
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) {
		return path, a, b, true
	}
	return "", nil, nil, false
}

// shortJSON renders v as JSON of at most 40 characters.
func shortJSON(v any) string {
	b, _ := json.Marshal(v)
	if v == nil {
		return "absent"
	}
	return faults.Clip(string(b), 40)
}

// comparable renders what shards must share as one string.
func comparable(r Report) (string, error) {
	o := r.Options
	o.Shard = Shard{}
	b, err := json.Marshal(struct {
		Options  Options  `json:"options"`
		Versions Versions `json:"versions"`
		Limits   Limits   `json:"limits"`
	}{o, r.Versions, r.Limits})
	if err != nil {
		return "", fmt.Errorf("merge: %w", err)
	}
	return string(b), nil
}
