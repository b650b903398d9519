package model_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/model"
)

// The fixture: five input records over two partitions. Keys never span
// partitions: "a" and "b" live in partition 0, "c" in partition 1. Payloads
// contain ':' and HTML metacharacters to exercise the output format.
var fixtureInput = []model.InputRecord{
	{Partition: 0, Offset: 0, Key: "a", Value: "x:1"},
	{Partition: 0, Offset: 1, Key: "b", Value: "y"},
	{Partition: 0, Offset: 2, Key: "a", Value: "z"},
	{Partition: 1, Offset: 0, Key: "c", Value: "<b>&"},
	{Partition: 1, Offset: 1, Key: "c", Value: "w"},
}

func id(p int32, off int64) *model.ID { return &model.ID{Partition: p, Offset: off} }

// rec builds a visible output record at outPart/outOff carrying the job's
// output for input inPart/inOff.
func rec(outPart int32, outOff int64, inPart int32, inOff int64, key string, count int64, payload string) model.OutputRecord {
	v := model.Output{Input: model.ID{Partition: inPart, Offset: inOff}, Key: key, Count: count, Payload: payload}
	return model.OutputRecord{Partition: outPart, Offset: outOff, Key: key, Value: v.Format()}
}

// Correct outputs, one per input record, output partition = input partition.
var (
	outA1 = rec(0, 0, 0, 0, "a", 1, "X:1")
	outB1 = rec(0, 1, 0, 1, "b", 1, "Y")
	outA2 = rec(0, 2, 0, 2, "a", 2, "Z")
	outC1 = rec(1, 0, 1, 0, "c", 1, "<B>&")
	outC2 = rec(1, 1, 1, 1, "c", 2, "W")
)

func cleanObservation() model.Observation {
	return model.Observation{
		Input:       append([]model.InputRecord(nil), fixtureInput...),
		Output:      []model.OutputRecord{outA1, outB1, outA2, outC1, outC2},
		FinalCounts: map[string]int64{"a": 2, "b": 1, "c": 2},
		Completed:   true,
	}
}

// counts returns the full Counts map: every anomaly kind at zero except the
// given ones.
func counts(nonZero map[string]int) map[string]int {
	m := map[string]int{
		model.Lost: 0, model.Duplicate: 0, model.Unexpected: 0, model.Reordered: 0,
		model.AbortedRead: 0, model.StateDivergence: 0, model.Stalled: 0, model.SilentLoss: 0,
	}
	for k, v := range nonZero {
		m[k] = v
	}
	return m
}

// want is one expected anomaly: its kind and the input it names (nil: none).
type want struct {
	kind  string
	input *model.ID
}

func TestCheckClean(t *testing.T) {
	res := model.Check(cleanObservation())
	require.Equal(t, model.OK, res.Verdict)
	require.Empty(t, res.Anomalies)
	require.Equal(t, counts(nil), res.Counts)
	require.Len(t, res.Counts, len(model.AnomalyNames()))
}

func TestCheckAnomalies(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(o *model.Observation)
		want   []want
		detail string // a substring of the first anomaly's detail, if set
	}{
		{
			name: "clean, partitions interleaved in one output partition",
			mutate: func(o *model.Observation) {
				o.Output = []model.OutputRecord{
					rec(0, 0, 1, 0, "c", 1, "<B>&"),
					rec(0, 1, 0, 0, "a", 1, "X:1"),
					rec(0, 2, 1, 1, "c", 2, "W"),
					rec(0, 3, 0, 1, "b", 1, "Y"),
					rec(0, 4, 0, 2, "a", 2, "Z"),
				}
			},
			want: nil,
		},
		{
			name:   "clean but not completed: final counts are not judged",
			mutate: func(o *model.Observation) { o.Completed = false; o.FinalCounts = map[string]int64{"a": 99} },
			want:   nil,
		},
		{
			name: "lost with a loud failure is not silent",
			mutate: func(o *model.Observation) {
				o.Output = []model.OutputRecord{outA1, outA2, outC1, outC2}
				o.LoudFailure = "pending transaction could not be committed"
			},
			want:   []want{{model.Lost, id(0, 1)}},
			detail: "input 0/1 never became visible",
		},
		{
			name:   "lost without a loud failure is silent",
			mutate: func(o *model.Observation) { o.Output = []model.OutputRecord{outA1, outA2, outC1, outC2} },
			want:   []want{{model.Lost, id(0, 1)}, {model.SilentLoss, nil}},
		},
		{
			name:   "several lost, reported in partition then offset order",
			mutate: func(o *model.Observation) { o.Output = []model.OutputRecord{outC2, outA1, outB1} },
			want:   []want{{model.Lost, id(0, 2)}, {model.Lost, id(1, 0)}, {model.SilentLoss, nil}},
		},
		{
			name: "duplicate",
			mutate: func(o *model.Observation) {
				o.Output = append(o.Output, rec(0, 3, 0, 1, "b", 1, "Y"))
			},
			want:   []want{{model.Duplicate, id(0, 1)}},
			detail: "input 0/1 visible 2 times",
		},
		{
			name: "unexpected: unknown input id",
			mutate: func(o *model.Observation) {
				o.Output = append(o.Output, rec(0, 3, 0, 7, "a", 3, "Q"))
			},
			want:   []want{{model.Unexpected, id(0, 7)}},
			detail: "does not exist",
		},
		{
			name: "unexpected: wrong payload (not upper-cased)",
			mutate: func(o *model.Observation) {
				o.Output = append(o.Output, rec(0, 3, 0, 1, "b", 1, "y"))
			},
			want: []want{{model.Unexpected, id(0, 1)}},
		},
		{
			name: "unexpected: wrong key in the value",
			mutate: func(o *model.Observation) {
				o.Output = append(o.Output, rec(0, 3, 0, 1, "a", 1, "Y"))
			},
			want: []want{{model.Unexpected, id(0, 1)}},
		},
		{
			name: "unexpected: record key differs from the value's key",
			mutate: func(o *model.Observation) {
				r := rec(0, 3, 1, 0, "c", 1, "<B>&")
				r.Key = "a"
				o.Output = append(o.Output, r)
			},
			want: []want{{model.Unexpected, id(1, 0)}},
		},
		{
			name: "unexpected: unparseable value (too few fields)",
			mutate: func(o *model.Observation) {
				o.Output = append(o.Output, model.OutputRecord{Partition: 0, Offset: 3, Key: "a", Value: "garbage"})
			},
			want:   []want{{model.Unexpected, nil}},
			detail: "want 5 fields",
		},
		{
			name: "unexpected: unparseable value (malformed number)",
			mutate: func(o *model.Observation) {
				o.Output = append(o.Output, model.OutputRecord{Partition: 0, Offset: 3, Key: "a", Value: "0:x:a:1:X:1"})
			},
			want:   []want{{model.Unexpected, nil}},
			detail: "malformed number",
		},
		{
			name: "reordered within a key",
			mutate: func(o *model.Observation) {
				o.Output = []model.OutputRecord{
					rec(0, 0, 0, 2, "a", 2, "Z"),
					rec(0, 1, 0, 0, "a", 1, "X:1"),
					rec(0, 2, 0, 1, "b", 1, "Y"),
					outC1, outC2,
				}
			},
			want: []want{{model.Reordered, id(0, 0)}},
		},
		{
			// Order is promised per key: parallel operator subtasks may
			// interleave the keys of one input partition.
			name: "keys of one partition interleaved",
			mutate: func(o *model.Observation) {
				o.Output = []model.OutputRecord{
					rec(0, 0, 0, 0, "a", 1, "X:1"),
					rec(0, 1, 0, 2, "a", 2, "Z"),
					rec(0, 2, 0, 1, "b", 1, "Y"),
					outC1, outC2,
				}
			},
		},
		{
			name: "aborted read",
			mutate: func(o *model.Observation) {
				o.AbortedVisible = []model.OutputRecord{rec(0, 5, 0, 1, "b", 1, "Y")}
			},
			want:   []want{{model.AbortedRead, nil}},
			detail: "aborted transaction",
		},
		{
			name: "state divergence: wrong count carried in an output",
			mutate: func(o *model.Observation) {
				o.Output[2] = rec(0, 2, 0, 2, "a", 3, "Z")
			},
			want:   []want{{model.StateDivergence, id(0, 2)}},
			detail: "carries count 3 for key \"a\", model expects 2",
		},
		{
			name:   "state divergence: wrong final count",
			mutate: func(o *model.Observation) { o.FinalCounts["c"] = 3 },
			want:   []want{{model.StateDivergence, nil}},
			detail: "final count of key \"c\" is 3, model expects 2",
		},
		{
			name: "state divergence: final counts with an extra and a missing key",
			mutate: func(o *model.Observation) {
				o.FinalCounts = map[string]int64{"a": 2, "c": 2, "d": 1}
			},
			want: []want{{model.StateDivergence, nil}, {model.StateDivergence, nil}},
		},
		{
			name: "stalled: missing outputs are not reported as lost",
			mutate: func(o *model.Observation) {
				o.Output = []model.OutputRecord{outA1, outC1}
				o.Completed = false
				o.FinalCounts = nil
				o.StalledReason = "open transaction pins the last stable offset"
			},
			want:   []want{{model.Stalled, nil}},
			detail: "open transaction pins the last stable offset",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			obs := cleanObservation()
			tc.mutate(&obs)
			res := model.Check(obs)

			nonZero := map[string]int{}
			for _, w := range tc.want {
				nonZero[w.kind]++
			}
			require.Equal(t, counts(nonZero), res.Counts)
			require.Len(t, res.Anomalies, len(tc.want))
			for i, w := range tc.want {
				require.Equal(t, w.kind, res.Anomalies[i].Kind, "anomaly %d", i)
				require.Equal(t, w.input, res.Anomalies[i].Input, "anomaly %d (%s) input", i, w.kind)
			}
			if tc.detail != "" {
				require.Contains(t, res.Anomalies[0].Detail, tc.detail)
			}
			if len(tc.want) == 0 {
				require.Equal(t, model.OK, res.Verdict)
			} else {
				require.Equal(t, model.Violation, res.Verdict)
			}
		})
	}
}

func TestCheckDeterministic(t *testing.T) {
	obs := cleanObservation()
	obs.Output = []model.OutputRecord{outC2, outA2, outA1, outA2, model.OutputRecord{Value: "?"}}
	obs.AbortedVisible = []model.OutputRecord{outB1}
	obs.FinalCounts = map[string]int64{"a": 1, "b": 0, "c": 5, "z": 1}
	first := model.Check(obs)
	for range 20 {
		require.Equal(t, first, model.Check(obs))
	}
}

func TestCheckHarnessErrorIsUnknown(t *testing.T) {
	obs := cleanObservation()
	obs.Output = nil // would be five losses
	obs.AbortedVisible = []model.OutputRecord{outA1}
	obs.HarnessError = "kfake did not start"
	res := model.Check(obs)
	require.Equal(t, model.Unknown, res.Verdict)
	require.Empty(t, res.Anomalies)
	require.Equal(t, counts(nil), res.Counts)
}

func TestResultViolations(t *testing.T) {
	obs := cleanObservation()
	// 0/1 lost silently, 0/0 duplicated, 1/1 reordered before 1/0, one
	// unknown output.
	obs.Output = []model.OutputRecord{
		outA1, outA1, outA2,
		rec(1, 0, 1, 1, "c", 2, "W"),
		rec(1, 1, 1, 0, "c", 1, "<B>&"),
		rec(1, 2, 1, 9, "c", 3, "V"),
	}
	res := model.Check(obs)
	require.Equal(t, counts(map[string]int{
		model.Duplicate: 1, model.Reordered: 1, model.Unexpected: 1, model.Lost: 1, model.SilentLoss: 1,
	}), res.Counts)

	kinds := func(as []model.Anomaly) []string {
		var out []string
		for _, a := range as {
			out = append(out, a.Kind)
		}
		return out
	}
	// Anomalies come out in the order of model.Anomalies.
	require.Equal(t,
		[]string{model.Lost, model.Duplicate, model.Unexpected, model.Reordered, model.SilentLoss},
		kinds(res.Violations(model.Allowed("exactly-once"))))
	require.Equal(t,
		[]string{model.Lost, model.Unexpected, model.SilentLoss},
		kinds(res.Violations(model.Allowed("at-least-once"))))
	require.Equal(t,
		[]string{model.Unexpected},
		kinds(res.Violations(model.Allowed("none"))))

	v := res.Violations(model.Allowed("none"))
	require.Equal(t, id(1, 9), v[0].Input)

	require.Equal(t, map[string]bool{}, model.Allowed("exactly-once"))
	require.Equal(t, map[string]bool{model.Duplicate: true, model.Reordered: true}, model.Allowed("at-least-once"))
	require.Equal(t, map[string]bool{model.Lost: true, model.Duplicate: true, model.SilentLoss: true, model.Reordered: true},
		model.Allowed("none"))
	// None of the guarantees tolerates these.
	for _, g := range []string{"exactly-once", "at-least-once", "none"} {
		for _, k := range []string{model.Unexpected, model.AbortedRead, model.StateDivergence, model.Stalled} {
			require.False(t, model.Allowed(g)[k], "%s allows %s", g, k)
		}
	}
}

func TestParseOutput(t *testing.T) {
	o := model.Output{Input: model.ID{Partition: 3, Offset: 1234567890123}, Key: "k-7", Count: 42, Payload: "A:B::<b>&"}
	s := o.Format()
	require.Equal(t, "3:1234567890123:k-7:42:A:B::<b>&", s)
	got, err := model.ParseOutput(s)
	require.NoError(t, err)
	require.Equal(t, o, got)

	empty := model.Output{Input: model.ID{}, Key: "", Count: 0, Payload: ""}
	got, err = model.ParseOutput(empty.Format())
	require.NoError(t, err)
	require.Equal(t, empty, got)

	for _, bad := range []struct{ value, msg string }{
		{"", "want 5 fields"},
		{"1:2:k:3", "want 5 fields"},
		{"x:2:k:3:P", "malformed number"},
		{"1:y:k:3:P", "malformed number"},
		{"1:2:k:n:P", "malformed number"},
		{"99999999999:2:k:3:P", "malformed number"}, // partition overflows int32
	} {
		_, err := model.ParseOutput(bad.value)
		require.ErrorContains(t, err, bad.msg, "value %q", bad.value)
	}
}

func TestExpect(t *testing.T) {
	e := model.Expect(fixtureInput)
	require.Equal(t, map[string]int64{"a": 2, "b": 1, "c": 2}, e.FinalCounts)
	require.Equal(t, map[int32][]model.ID{
		0: {{Partition: 0, Offset: 0}, {Partition: 0, Offset: 1}, {Partition: 0, Offset: 2}},
		1: {{Partition: 1, Offset: 0}, {Partition: 1, Offset: 1}},
	}, e.Order)
	require.Equal(t, map[model.ID]model.Output{
		{Partition: 0, Offset: 0}: {Input: model.ID{Partition: 0, Offset: 0}, Key: "a", Count: 1, Payload: "X:1"},
		{Partition: 0, Offset: 1}: {Input: model.ID{Partition: 0, Offset: 1}, Key: "b", Count: 1, Payload: "Y"},
		{Partition: 0, Offset: 2}: {Input: model.ID{Partition: 0, Offset: 2}, Key: "a", Count: 2, Payload: "Z"},
		{Partition: 1, Offset: 0}: {Input: model.ID{Partition: 1, Offset: 0}, Key: "c", Count: 1, Payload: "<B>&"},
		{Partition: 1, Offset: 1}: {Input: model.ID{Partition: 1, Offset: 1}, Key: "c", Count: 2, Payload: "W"},
	}, e.Outputs)
	// The fixture's outputs are exactly the model's, formatted.
	for _, r := range []model.OutputRecord{outA1, outB1, outA2, outC1, outC2} {
		p, err := model.ParseOutput(r.Value)
		require.NoError(t, err)
		require.Equal(t, e.Outputs[p.Input].Format(), r.Value)
	}

	// Interleaving partitions does not change the counts.
	inter := []model.InputRecord{fixtureInput[3], fixtureInput[0], fixtureInput[4], fixtureInput[1], fixtureInput[2]}
	require.Equal(t, e, model.Expect(inter))

	empty := model.Expect(nil)
	require.Empty(t, empty.Outputs)
	require.Empty(t, empty.Order)
	require.Empty(t, empty.FinalCounts)
}

func TestSummary(t *testing.T) {
	require.Equal(t,
		"lost=1 duplicate=2 unexpected=3 reordered=4 aborted-read=5 state-divergence=6 stalled=7 silent-loss=8",
		model.Summary(map[string]int{
			model.SilentLoss: 8, model.Stalled: 7, model.StateDivergence: 6, model.AbortedRead: 5,
			model.Reordered: 4, model.Unexpected: 3, model.Duplicate: 2, model.Lost: 1,
		}))
	require.Equal(t,
		"lost=0 duplicate=0 unexpected=0 reordered=0 aborted-read=0 state-divergence=0 stalled=0 silent-loss=0",
		model.Summary(nil))
	require.Equal(t, []string{"lost", "duplicate", "unexpected", "reordered", "aborted-read",
		"state-divergence", "stalled", "silent-loss"}, model.AnomalyNames())
}

// With startup positions the oracle expects only the records at or after
// them: the records before are not lost when absent, an output of one is
// unexpected (named as before the startup position), and the counts start
// at the first expected record of a key.
func TestCheckStartOffsets(t *testing.T) {
	start := map[int32]int64{0: 2, 1: 1} // partition 0 from "a"@2, partition 1 from "c"@1
	obs := model.Observation{
		Input:        append([]model.InputRecord(nil), fixtureInput...),
		Output:       []model.OutputRecord{rec(0, 0, 0, 2, "a", 1, "Z"), rec(1, 0, 1, 1, "c", 1, "W")},
		FinalCounts:  map[string]int64{"a": 1, "c": 1},
		Completed:    true,
		StartOffsets: start,
	}
	require.Len(t, obs.Expected(), 2)
	res := model.Check(obs)
	require.Equal(t, model.OK, res.Verdict, "%v", res.Anomalies)

	obs.Output = append(obs.Output, outB1)
	res = model.Check(obs)
	require.Equal(t, counts(map[string]int{model.Unexpected: 1}), res.Counts)
	require.Equal(t, id(0, 1), res.Anomalies[0].Input)
	require.Contains(t, res.Anomalies[0].Detail, "before the startup position 2 of its partition")

	obs.Output = obs.Output[:1]
	res = model.Check(obs)
	require.Equal(t, counts(map[string]int{model.Lost: 1, model.SilentLoss: 1}), res.Counts)
	require.Equal(t, id(1, 1), res.Anomalies[0].Input, "only records at or after the start are expected")
}
