package model

import (
	"cmp"
	"fmt"
	"slices"
)

// recorder builds a checker's Result: every anomaly kind counted from zero,
// anomalies in a deterministic order (kind, then input, then detail: the
// order they were found in may follow a log's interleaving, which is not
// judged), and the verdict at the end.
type recorder struct{ res Result }

func newRecorder() *recorder {
	r := &recorder{res: Result{Verdict: OK, Counts: map[string]int{}}}
	for _, k := range AnomalyNames() {
		r.res.Counts[k] = 0
	}
	return r
}

// unknown is the Result of an observation the harness could not make.
func (r *recorder) unknown() Result {
	r.res.Verdict = Unknown
	return r.res
}

func (r *recorder) add(kind string, id *ID, format string, args ...any) {
	r.res.Anomalies = append(r.res.Anomalies, Anomaly{Kind: kind, Input: id, Detail: fmt.Sprintf(format, args...)})
	r.res.Counts[kind]++
}

// result sorts the anomalies and sets the verdict.
func (r *recorder) result() Result {
	rank := map[string]int{}
	for i, k := range AnomalyNames() {
		rank[k] = i
	}
	inputOf := func(a Anomaly) ID {
		if a.Input == nil {
			return ID{Partition: -1, Offset: -1}
		}
		return *a.Input
	}
	slices.SortStableFunc(r.res.Anomalies, func(a, b Anomaly) int {
		ai, bi := inputOf(a), inputOf(b)
		return cmp.Or(cmp.Compare(rank[a.Kind], rank[b.Kind]), cmp.Compare(ai.Partition, bi.Partition),
			cmp.Compare(ai.Offset, bi.Offset), cmp.Compare(a.Detail, b.Detail))
	})
	if len(r.res.Anomalies) > 0 {
		r.res.Verdict = Violation
	}
	return r.res
}
