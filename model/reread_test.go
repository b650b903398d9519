package model_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/model"
)

// A new job started from an older retained checkpoint reads the records
// between its offsets and the latest checkpoint's again: each may be
// visible once more, with the count it had the first time (the state is
// the older checkpoint's). Nothing else is allowed: a copy outside the
// range, a third copy inside it, a copy counted twice into the state.
func TestCheckReread(t *testing.T) {
	p0 := []model.RereadRange{{Partition: 0, From: 1, To: 3}}
	for _, tc := range []struct {
		name   string
		reread []model.RereadRange
		extra  []model.OutputRecord // visible after the clean output
		want   map[string]int
		copies int // extra copies allowed
	}{
		{"the range read again", p0, []model.OutputRecord{rec(0, 3, 0, 1, "b", 1, "Y"), rec(0, 4, 0, 2, "a", 2, "Z")}, nil, 2},
		{"part of the range read again", p0, []model.OutputRecord{rec(0, 3, 0, 2, "a", 2, "Z")}, nil, 1},
		{"a copy outside the range", p0, []model.OutputRecord{rec(1, 2, 1, 1, "c", 2, "W")}, map[string]int{model.Duplicate: 1}, 0},
		{"a copy before the range", p0, []model.OutputRecord{rec(0, 3, 0, 0, "a", 1, "X:1")}, map[string]int{model.Duplicate: 1}, 0},
		{"the range's end is not in it", []model.RereadRange{{Partition: 0, From: 1, To: 2}}, []model.OutputRecord{rec(0, 3, 0, 2, "a", 2, "Z")}, map[string]int{model.Duplicate: 1}, 0},
		{"a third copy inside the range", p0, []model.OutputRecord{rec(0, 3, 0, 1, "b", 1, "Y"), rec(0, 4, 0, 1, "b", 1, "Y")}, map[string]int{model.Duplicate: 1}, 1},
		{"two restores back allow a third copy", append(p0, model.RereadRange{Partition: 0, From: 0, To: 2}),
			[]model.OutputRecord{rec(0, 3, 0, 1, "b", 1, "Y"), rec(0, 4, 0, 1, "b", 1, "Y")}, nil, 2},
		{"a copy counted twice into the state", p0, []model.OutputRecord{rec(0, 3, 0, 2, "a", 3, "Z")}, map[string]int{model.StateDivergence: 1}, 1},
		{"no range: a copy is a duplicate", nil, []model.OutputRecord{rec(0, 3, 0, 1, "b", 1, "Y")}, map[string]int{model.Duplicate: 1}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obs := cleanObservation()
			obs.Reread = tc.reread
			obs.Output = append(obs.Output, tc.extra...)
			res := model.Check(obs)
			require.Equal(t, counts(tc.want), res.Counts, "%+v", res.Anomalies)
			require.Equal(t, tc.copies, res.Reread)
			if tc.want == nil {
				require.Equal(t, model.OK, res.Verdict)
			} else {
				require.Equal(t, model.Violation, res.Verdict)
			}
		})
	}
}

// A third copy inside a range says how many were allowed.
func TestCheckRereadDetail(t *testing.T) {
	obs := cleanObservation()
	obs.Reread = []model.RereadRange{{Partition: 0, From: 1, To: 3}}
	obs.Output = append(obs.Output, rec(0, 3, 0, 1, "b", 1, "Y"), rec(0, 4, 0, 1, "b", 1, "Y"))
	res := model.Check(obs)
	require.Len(t, res.Anomalies, 1)
	require.Equal(t, "input 0/1 visible 3 times (2 allowed: read again after a restore from an older retained checkpoint)", res.Anomalies[0].Detail)
}
