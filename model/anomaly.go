package model

// Anomaly kinds. The names are stable: the CLI, reports and plans use them.
const (
	Lost            = "lost"
	Duplicate       = "duplicate"
	Unexpected      = "unexpected"
	Reordered       = "reordered"
	AbortedRead     = "aborted-read"
	StateDivergence = "state-divergence"
	Stalled         = "stalled"
	SilentLoss      = "silent-loss"
)

// AnomalyInfo describes one anomaly kind for 'simrun list anomalies'.
type AnomalyInfo struct{ Name, Description string }

// Anomalies lists every anomaly kind in a stable order.
func Anomalies() []AnomalyInfo {
	return []AnomalyInfo{
		{Lost, "an input record whose output never became visible to a read_committed reader"},
		{Duplicate, "an output visible more than once"},
		{Unexpected, "a visible output the model never produces (unknown input, wrong key or payload)"},
		{Reordered, "per-key order broken in the visible output (a key's records are first visible out of input-offset order)"},
		{AbortedRead, "data of an aborted transaction became visible"},
		{StateDivergence, "operator state (final or carried in an output) differs from the model's"},
		{Stalled, "after faults healed, no completion within the liveness bound (for example an open transaction pins the last stable offset)"},
		{SilentLoss, "loss while the engine reported success (worse than lost with a loud failure)"},
	}
}

// AnomalyNames returns the anomaly kinds in the order of Anomalies.
func AnomalyNames() []string {
	var out []string
	for _, a := range Anomalies() {
		out = append(out, a.Name)
	}
	return out
}

// Allowed returns the anomaly kinds a delivery guarantee permits:
// "exactly-once" none; "at-least-once" duplicates and reordering (a failed
// asynchronous send is replayed after later records of its partition became
// visible); "none" also loss.
func Allowed(guarantee string) map[string]bool {
	switch guarantee {
	case "at-least-once":
		return map[string]bool{Duplicate: true, Reordered: true}
	case "none":
		return map[string]bool{Lost: true, Duplicate: true, SilentLoss: true, Reordered: true}
	}
	return map[string]bool{}
}
