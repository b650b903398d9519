package model

// DeclaredOutput is one output record of an application under test as the
// declared-transform oracle sees it: key and value as text, where it was
// read. The oracle never compares offsets across partitions.
type DeclaredOutput struct {
	Key, Value string
	Partition  int32
	Offset     int64
}

// DeclaredExpected is one output that the app's declared transform produces
// for one input record.
type DeclaredExpected struct {
	Input    ID     // the input record it comes from
	InputKey string // that record's key
	// Seq numbers the outputs of InputKey in input order: under a promise
	// of per-key order they must first become visible in Seq order (within
	// one output partition; an app partitions its output as it likes).
	Seq        int
	Key, Value string
}

// DeclaredObservation is what CheckDeclared judges. It is plain data: the
// harness computes Expected by applying the app's declared transform to the
// input it wrote.
type DeclaredObservation struct {
	Expected []DeclaredExpected
	// Visible is what a read_committed reader sees after the run, per
	// output partition in offset order.
	Visible []DeclaredOutput
	// LiveSeen is what a read_committed reader saw while the run went on,
	// per partition in the order it saw them.
	LiveSeen []DeclaredOutput
	// Aborted are the output records whose transaction was aborted
	// (partition and offset count; key and value are for the message).
	Aborted []DeclaredOutput
	// OrderedPerKey: the app promises per-key order.
	OrderedPerKey bool
	// StalledReason is set when the run missed its liveness bound or an
	// open transaction pins the last stable offset.
	StalledReason string
	// LoudLoss: a process returned an error wrapping app.ErrDataLost, so a
	// loss is not silent.
	LoudLoss bool
	// HarnessError makes the verdict Unknown.
	HarnessError string
}

type declaredKV struct{ key, value string }

// CheckDeclared compares the multiset of visible outputs with the declared
// transform's outputs. It is a pure function; anomalies come out sorted by
// kind (in the order of Anomalies) and then by input.
func CheckDeclared(obs DeclaredObservation) Result {
	rec := newRecorder()
	if obs.HarnessError != "" {
		return rec.unknown()
	}
	add := rec.add
	// want lists, per output, the indexes into Expected still unmatched.
	want := map[declaredKV][]int{}
	for i, e := range obs.Expected {
		kv := declaredKV{e.Key, e.Value}
		want[kv] = append(want[kv], i)
	}
	matched := make([]bool, len(obs.Expected))
	firstMatch := map[declaredKV]int{}
	for _, out := range obs.Visible {
		kv := declaredKV{out.Key, out.Value}
		idx := want[kv]
		if len(idx) > 0 {
			matched[idx[0]] = true
			if _, ok := firstMatch[kv]; !ok {
				firstMatch[kv] = idx[0]
			}
			want[kv] = idx[1:]
			continue
		}
		if first, ok := firstMatch[kv]; ok {
			id := obs.Expected[first].Input
			add(Duplicate, &id, "output %q (key %q) of input %s visible once more at %d/%d", out.Value, out.Key, id, out.Partition, out.Offset)
			continue
		}
		add(Unexpected, nil, "output %q (key %q) at %d/%d: the declared transform produces it for no input", out.Value, out.Key, out.Partition, out.Offset)
	}
	aborted := map[[2]int64]bool{}
	for _, a := range obs.Aborted {
		aborted[[2]int64{int64(a.Partition), a.Offset}] = true
	}
	for _, seen := range [][]DeclaredOutput{obs.LiveSeen, obs.Visible} {
		for _, out := range seen {
			if aborted[[2]int64{int64(out.Partition), out.Offset}] {
				add(AbortedRead, nil, "output %q at %d/%d was read but belongs to an aborted transaction", out.Value, out.Partition, out.Offset)
				aborted[[2]int64{int64(out.Partition), out.Offset}] = false // once
			}
		}
	}
	if obs.OrderedPerKey {
		checkDeclaredOrder(obs, add)
	}
	lost := 0
	for i, e := range obs.Expected {
		if !matched[i] {
			id := e.Input
			add(Lost, &id, "output %q (key %q) of input %s never became visible", e.Value, e.Key, id)
			lost++
		}
	}
	if obs.StalledReason != "" {
		add(Stalled, nil, "%s", obs.StalledReason)
	}
	if lost > 0 && !obs.LoudLoss {
		add(SilentLoss, nil, "%d outputs lost while no process reported data loss", lost)
	}
	return rec.result()
}

// checkDeclaredOrder judges per-key order on what the live reader saw (or,
// without a live reader, on the final view): in each output partition, the
// outputs of one input key must first appear in Seq order.
func checkDeclaredOrder(obs DeclaredObservation, add func(string, *ID, string, ...any)) {
	seen := obs.LiveSeen
	if len(seen) == 0 {
		seen = obs.Visible
	}
	byKV := map[declaredKV][]int{}
	for i, e := range obs.Expected {
		kv := declaredKV{e.Key, e.Value}
		byKV[kv] = append(byKV[kv], i)
	}
	type lane struct {
		partition int32
		inputKey  string
	}
	last := map[lane]int{}
	for _, out := range seen {
		kv := declaredKV{out.Key, out.Value}
		idx := byKV[kv]
		if len(idx) == 0 {
			continue // a duplicate or unexpected output, judged elsewhere
		}
		e := obs.Expected[idx[0]]
		byKV[kv] = idx[1:]
		l := lane{out.Partition, e.InputKey}
		if prev, ok := last[l]; ok && e.Seq < prev {
			id := e.Input
			add(Reordered, &id, "output %q of input %s (key %q) seen after a later output of that key in partition %d", out.Value, id, e.InputKey, out.Partition)
			continue
		}
		last[l] = e.Seq
	}
}
