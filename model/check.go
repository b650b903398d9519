package model

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Verdict is the three-valued outcome of a check.
type Verdict string

const (
	OK        Verdict = "ok"
	Violation Verdict = "violation"
	Unknown   Verdict = "unknown" // the harness could not observe enough to judge
)

// Observation is everything the checker judges, gathered after the run has
// quiesced.
type Observation struct {
	Input []InputRecord // per partition in offset order
	// Output is what a read_committed reader saw, per output partition in
	// offset order.
	Output []OutputRecord
	// AbortedVisible are visible output records whose batch the
	// transaction markers say was aborted.
	AbortedVisible []OutputRecord
	// FinalCounts is the engine's keyed state at the end; nil when the run
	// did not complete.
	FinalCounts map[string]int64
	// Completed: the job processed and committed all input and stopped.
	Completed bool
	// StalledReason is set when the run missed its liveness bound.
	StalledReason string
	// LoudFailure is set when the engine reported a failure it could not
	// recover from (for example a pending transaction that could not be
	// committed). Loss with a loud failure is not silent.
	LoudFailure string
	// HarnessError is set when the harness itself failed; the verdict is
	// then Unknown.
	HarnessError string
	// StartOffsets are where the source's startup mode put the job's first
	// start, per input partition (nil or missing: the earliest offset).
	// Records before them are not expected output; an output of one is
	// unexpected.
	StartOffsets map[int32]int64
	// Reread are the input ranges a new job started from a retained
	// checkpoint older than the latest read again: from the restored
	// checkpoint's offsets to the latest checkpoint's. What the first
	// reading committed stays visible, so each record in a range may be
	// visible once more (the user's choice, not a violation); nothing
	// outside them.
	Reread []RereadRange
}

// RereadRange is input partition Partition from offset From up to, not
// including, To.
type RereadRange struct {
	Partition int32 `json:"partition"`
	From      int64 `json:"from"`
	To        int64 `json:"to"`
}

// copiesAllowed is how often input id may be visible: once, and once more
// for every range that read it again.
func (obs Observation) copiesAllowed(id ID) int {
	n := 1
	for _, r := range obs.Reread {
		if r.Partition == id.Partition && id.Offset >= r.From && id.Offset < r.To {
			n++
		}
	}
	return n
}

// Expected returns the input records the job is expected to process: those
// at or after the startup position of their partition.
func (obs Observation) Expected() []InputRecord {
	if len(obs.StartOffsets) == 0 {
		return obs.Input
	}
	out := make([]InputRecord, 0, len(obs.Input))
	for _, r := range obs.Input {
		if r.Offset >= obs.StartOffsets[r.Partition] {
			out = append(out, r)
		}
	}
	return out
}

// Anomaly is one classified deviation from the model.
type Anomaly struct {
	Kind   string `json:"kind"`
	Input  *ID    `json:"input,omitempty"`
	Detail string `json:"detail"`
}

// Result is the checker's judgement.
type Result struct {
	Verdict   Verdict        `json:"verdict"`
	Anomalies []Anomaly      `json:"anomalies,omitempty"`
	Counts    map[string]int `json:"counts"`
	// Reread counts the extra copies visible within Observation.Reread:
	// allowed, not anomalies.
	Reread int `json:"reread,omitempty"`
}

// Violations returns the anomalies not in allowed.
func (r Result) Violations(allowed map[string]bool) []Anomaly {
	var out []Anomaly
	for _, a := range r.Anomalies {
		if !allowed[a.Kind] {
			out = append(out, a)
		}
	}
	return out
}

// Check classifies what was observed against the model. It is a pure
// function; the order of anomalies is deterministic.
func Check(obs Observation) Result {
	rec := newRecorder()
	if obs.HarnessError != "" {
		return rec.unknown()
	}
	add := rec.add
	exp := Expect(obs.Expected())

	seen := map[ID]int{}
	// lastFirst tracks, per key, the input offset of the last first-time-
	// seen record, for the order check. Order is promised per key: records
	// of one input partition with different keys may be processed by
	// different parallel subtasks and interleave in the output.
	lastFirst := map[string]int64{}
	for _, out := range obs.Output {
		got, err := ParseOutput(out.Value)
		if err != nil {
			add(Unexpected, nil, "output in partition %d: %v", out.Partition, err)
			continue
		}
		id := got.Input
		want, known := exp.Outputs[id]
		if !known {
			if start := obs.StartOffsets[id.Partition]; id.Offset >= 0 && id.Offset < start && found(obs.Input, id) {
				add(Unexpected, &id, "an output for input %s, before the startup position %d of its partition: the job must not read it", id, start)
				continue
			}
			add(Unexpected, &id, "an output for input %s, which does not exist", id)
			continue
		}
		if got.Key != want.Key || got.Payload != want.Payload || out.Key != want.Key {
			add(Unexpected, &id, "output %q (key %q), model expects %q", out.Value, out.Key, want.Format())
			continue
		}
		if got.Count != want.Count {
			add(StateDivergence, &id, "the output of input %s carries count %d for key %q, model expects %d",
				id, got.Count, want.Key, want.Count)
		}
		seen[id]++
		if seen[id] > 1 {
			switch allowed := obs.copiesAllowed(id); {
			case seen[id] <= allowed:
				rec.res.Reread++
			case allowed > 1:
				add(Duplicate, &id, "input %s visible %d times (%d allowed: read again after a restore from an older retained checkpoint)", id, seen[id], allowed)
			default:
				add(Duplicate, &id, "input %s visible %d times", id, seen[id])
			}
			continue
		}
		lane := want.Key
		if last, ok := lastFirst[lane]; ok && id.Offset < last {
			add(Reordered, &id, "input %s (key %q) first visible after input %d/%d", id, want.Key, id.Partition, last)
		}
		if last, ok := lastFirst[lane]; !ok || id.Offset > last {
			lastFirst[lane] = id.Offset
		}
	}
	for _, out := range obs.AbortedVisible {
		add(AbortedRead, nil, "output %d/%d (%q) belongs to an aborted transaction", out.Partition, out.Offset, out.Value)
	}

	if obs.StalledReason != "" {
		add(Stalled, nil, "%s", obs.StalledReason)
	} else {
		lost := 0
		for _, p := range sortedPartitions(exp.Order) {
			for _, id := range exp.Order[p] {
				if seen[id] == 0 {
					id := id
					add(Lost, &id, "input %s never became visible", id)
					lost++
				}
			}
		}
		if lost > 0 && obs.LoudFailure == "" {
			add(SilentLoss, nil, "%d records lost while the engine reported success", lost)
		}
	}

	if obs.Completed && obs.FinalCounts != nil {
		keys := make([]string, 0, len(exp.FinalCounts))
		for k := range exp.FinalCounts {
			keys = append(keys, k)
		}
		for k := range obs.FinalCounts {
			if _, ok := exp.FinalCounts[k]; !ok {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			if obs.FinalCounts[k] != exp.FinalCounts[k] {
				add(StateDivergence, nil, "final count of key %q is %d, model expects %d", k, obs.FinalCounts[k], exp.FinalCounts[k])
			}
		}
	}
	// Parallel sink subtasks write one output partition concurrently, so
	// the log order across keys is not part of what is judged: anomalies
	// come out sorted, and their details name inputs, not output offsets.
	return rec.result()
}

func found(input []InputRecord, id ID) bool {
	_, ok := FindInput(input, id)
	return ok
}

// FindInput looks id up in input (sorted by partition and offset).
func FindInput(input []InputRecord, id ID) (InputRecord, bool) {
	i, ok := slices.BinarySearchFunc(input, id, func(r InputRecord, id ID) int {
		if r.Partition != id.Partition {
			return cmp.Compare(r.Partition, id.Partition)
		}
		return cmp.Compare(r.Offset, id.Offset)
	})
	if !ok {
		return InputRecord{}, false
	}
	return input[i], true
}

func sortedPartitions(m map[int32][]ID) []int32 {
	ps := make([]int32, 0, len(m))
	for p := range m {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	return ps
}

// Summary renders counts as "kind=n" fields in the order of Anomalies.
func Summary(counts map[string]int) string {
	var b strings.Builder
	for i, k := range AnomalyNames() {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%d", k, counts[k])
	}
	return b.String()
}
