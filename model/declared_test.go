package model_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/model"
)

func declaredClean() model.DeclaredObservation {
	exp := []model.DeclaredExpected{
		{Input: model.ID{Partition: 0, Offset: 0}, InputKey: "a", Seq: 0, Key: "a", Value: "id0"},
		{Input: model.ID{Partition: 0, Offset: 1}, InputKey: "a", Seq: 1, Key: "a", Value: "id1"},
		{Input: model.ID{Partition: 1, Offset: 0}, InputKey: "b", Seq: 0, Key: "b", Value: "id2"},
	}
	// Output partitions differ from input partitions: b lands in 0, a in 1.
	vis := []model.DeclaredOutput{
		{Key: "b", Value: "id2", Partition: 0, Offset: 0},
		{Key: "a", Value: "id0", Partition: 1, Offset: 0},
		{Key: "a", Value: "id1", Partition: 1, Offset: 1},
	}
	return model.DeclaredObservation{Expected: exp, Visible: vis, LiveSeen: vis, OrderedPerKey: true}
}

func TestCheckDeclaredCleanAndEachAnomaly(t *testing.T) {
	require.Equal(t, model.OK, model.CheckDeclared(declaredClean()).Verdict)
	tests := []struct {
		name   string
		mutate func(*model.DeclaredObservation)
		want   map[string]int
	}{
		{"lost loudly", func(o *model.DeclaredObservation) { o.Visible = o.Visible[:2]; o.LoudLoss = true },
			map[string]int{model.Lost: 1}},
		{"lost silently", func(o *model.DeclaredObservation) { o.Visible = o.Visible[1:] },
			map[string]int{model.Lost: 1, model.SilentLoss: 1}},
		{"duplicate", func(o *model.DeclaredObservation) {
			o.Visible = append(o.Visible, model.DeclaredOutput{Key: "a", Value: "id0", Partition: 1, Offset: 2})
		}, map[string]int{model.Duplicate: 1}},
		{"unexpected", func(o *model.DeclaredObservation) {
			o.Visible = append(o.Visible, model.DeclaredOutput{Key: "a", Value: "ID0", Partition: 1, Offset: 2})
		}, map[string]int{model.Unexpected: 1}},
		{"reordered as the live reader saw it", func(o *model.DeclaredObservation) {
			o.LiveSeen = []model.DeclaredOutput{o.Visible[0], o.Visible[2], o.Visible[1]}
		}, map[string]int{model.Reordered: 1}},
		{"order not promised", func(o *model.DeclaredObservation) {
			o.LiveSeen = []model.DeclaredOutput{o.Visible[0], o.Visible[2], o.Visible[1]}
			o.OrderedPerKey = false
		}, map[string]int{}},
		{"aborted read", func(o *model.DeclaredObservation) {
			o.Aborted = []model.DeclaredOutput{o.Visible[1]}
		}, map[string]int{model.AbortedRead: 1}},
		{"stalled", func(o *model.DeclaredObservation) { o.StalledReason = "an open transaction pins output partition 1" },
			map[string]int{model.Stalled: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			obs := declaredClean()
			tc.mutate(&obs)
			res := model.CheckDeclared(obs)
			for _, k := range model.AnomalyNames() {
				require.Equal(t, tc.want[k], res.Counts[k], "%s: %v", k, res.Anomalies)
			}
			require.Equal(t, len(tc.want) > 0, res.Verdict == model.Violation)
		})
	}
	obs := declaredClean()
	obs.HarnessError = "x"
	require.Equal(t, model.Unknown, model.CheckDeclared(obs).Verdict)
}

func TestCheckDeclaredNamesInputsAndIsDeterministic(t *testing.T) {
	obs := declaredClean()
	obs.Visible = nil
	a, b := model.CheckDeclared(obs), model.CheckDeclared(obs)
	require.Equal(t, a, b)
	require.Equal(t, model.Lost, a.Anomalies[0].Kind)
	require.Equal(t, &model.ID{Partition: 0, Offset: 0}, a.Anomalies[0].Input)
	require.Equal(t, model.SilentLoss, a.Anomalies[len(a.Anomalies)-1].Kind)
}
