package sim

import "github.com/eosim/eosim/faults"

// workloadOptions counts a workload's options that differ from the default
// scenario: a startup mode other than group-offsets, an output partition
// count of its own, the forward topology and pinned pre-KIP-890 request
// versions. Each one a counterexample can do without is one less thing
// its reader must account for.
func workloadOptions(w faults.Workload) int {
	n := 0
	for _, set := range []bool{
		w.StartupMode != "" && w.StartupMode != "group-offsets",
		w.OutputPartitions != 0,
		w.Topology != "",
		w.RequestVersions != "" && w.RequestVersions != faults.RequestVersionsKIP890,
	} {
		if set {
			n++
		}
	}
	return n
}

// OptionCandidates drop the plan's workload options one at a time (back
// to the default): startup from group offsets (without offsets or a
// timestamp), as many output partitions as input partitions, the keyBy
// topology unless an op needs forward (region-failover has no smaller
// region without it), and today's request versions. The search accepts
// each only if the plan still fails the same way.
func OptionCandidates(p faults.Plan) []faults.Workload {
	w := p.Workload
	var out []faults.Workload
	if w.StartupMode != "" && w.StartupMode != "group-offsets" {
		c := w
		c.StartupMode, c.StartupOffsets, c.StartupTimestampMS = "", nil, 0
		out = append(out, c)
	}
	if w.OutputPartitions != 0 {
		c := w
		c.OutputPartitions = 0
		out = append(out, c)
	}
	if w.Topology != "" && !needsForward(p.Faults) {
		c := w
		c.Topology = ""
		out = append(out, c)
	}
	if w.RequestVersions != "" && w.RequestVersions != faults.RequestVersionsKIP890 {
		c := w
		c.RequestVersions = ""
		out = append(out, c)
	}
	return out
}

// needsForward reports whether an op only means something in the forward
// topology (PlanFor sets it for them).
func needsForward(ops []faults.Op) bool {
	for _, op := range ops {
		if op.Fault == "region-failover" {
			return true
		}
	}
	return false
}
