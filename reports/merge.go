package reports

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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
			return Report{}, fmt.Errorf("merge: report %d differs from report 1 in options, versions or limits:\n  %s\n  %s", i+1, base, c)
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
	return assemble(first.Command, opts, first.Versions, first.Limits, rows, viols, harness, tls, interrupted, exec), nil
}

// comparable renders what shards must share as one string.
func comparable(r Report) (string, error) {
	o := r.Options
	o.Shard = Shard{}
	b, err := json.Marshal(struct {
		Options  Options
		Versions Versions
		Limits   Limits
	}{o, r.Versions, r.Limits})
	if err != nil {
		return "", fmt.Errorf("merge: %w", err)
	}
	return string(b), nil
}
