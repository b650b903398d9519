package reports

import (
	"github.com/eosim/eosim/appsim"
	"github.com/eosim/eosim/faults"
	"github.com/eosim/eosim/sim"
)

// MaxRuns bounds the runs (of all protocols) one report holds: it keeps a
// row per run (about 300 bytes of report.json each), so a campaign with
// --report, and a merge, stays within about 60 MB.
const MaxRuns = 200_000

// SchemaVersion is the version of report.json's schema
// (docs/report-schema.md). It changes when a field changes meaning or goes
// away; adding a field does not change it.
const SchemaVersion = 1

// Report is report.json. Every field except Execution is a deterministic
// function of the options and the runs: two reports of the same campaign
// differ only in Execution, whatever --jobs or sharding produced them.
type Report struct {
	SchemaVersion int `json:"schema_version"`
	// Command is what produced the runs: "campaign" or "gate".
	Command  string   `json:"command"`
	Options  Options  `json:"options"`
	Versions Versions `json:"versions"`
	Limits   Limits   `json:"limits"`
	Outcome  Outcome  `json:"outcome"`
	// Protocols has one entry per protocol, in the order of Options.Protocols.
	Protocols []ProtocolSummary `json:"protocols"`
	Counts    Counts            `json:"counts"`
	Coverage  Coverage          `json:"coverage"`
	// VirtualTimeMS is the virtual time of all runs added up.
	VirtualTimeMS int64 `json:"virtual_time_ms"`
	// Violations has one entry per run with anomalies its protocol does not
	// allow, in protocol then run order.
	Violations    []Violation    `json:"violations"`
	HarnessErrors []HarnessError `json:"harness_errors"`
	// Timelines are the trace events of the first failing runs and a few
	// clean ones of each protocol (see Limits), by protocol, failing first,
	// then by run.
	Timelines []Timeline `json:"timelines"`
	// Runs has one row per finished run, in protocol then run order.
	Runs      []RunRow  `json:"runs"`
	Execution Execution `json:"execution"`
}

// Options say what was run.
type Options struct {
	Protocols []string `json:"protocols"`
	BaseSeed  uint64   `json:"base_seed"`
	// Runs is the number of runs per protocol of the whole campaign (all
	// shards); run k uses seed sim.RunSeed(BaseSeed, k).
	Runs int `json:"runs"`
	// Faults is the fault selection as given (--faults), FaultNames what
	// it resolved to.
	Faults     string          `json:"faults"`
	FaultNames []string        `json:"fault_names"`
	Workload   faults.Workload `json:"workload"`
	Shard      Shard           `json:"shard"`
	// ExpectCaught lists protocols whose runs are expected to violate (the
	// gate's known-bad variants): their test cases pass when caught.
	ExpectCaught []string `json:"expect_caught,omitempty"`
}

// Shard says which runs this report holds: runs k with k % Count + 1 in
// Indexes. An unsharded campaign, and a merge of all shards of one, is
// {Count: 1, Indexes: [1]}.
type Shard struct {
	Count   int   `json:"count"`
	Indexes []int `json:"indexes"`
}

// Holds reports whether run k belongs to the shard.
func (s Shard) Holds(k int) bool {
	n := max(1, s.Count)
	for _, i := range s.Indexes {
		if k%n == i-1 {
			return true
		}
	}
	return len(s.Indexes) == 0 && n == 1
}

// Share is how many of runs 0..runs-1 the shard holds, computed rather
// than counted so that a huge campaign costs nothing here.
func (s Shard) Share(runs int) int {
	n := max(1, s.Count)
	if len(s.Indexes) == 0 {
		if n == 1 {
			return runs
		}
		return 0
	}
	total := 0
	for _, i := range s.Indexes {
		if i >= 1 && i <= n && i-1 < runs {
			total += (runs-i)/n + 1
		}
	}
	return total
}

// Versions name the code that ran.
type Versions struct {
	Go      string `json:"go"`
	FranzGo string `json:"franz_go"`
	Kfake   string `json:"kfake"`
	Commit  string `json:"commit"`
}

// Limits bound what the report keeps of each run.
type Limits struct {
	// FailingTimelines and CleanTimelines are how many failing and clean
	// runs per protocol get a timeline (the lowest run numbers).
	FailingTimelines int `json:"failing_timelines"`
	CleanTimelines   int `json:"clean_timelines"`
	// AnomaliesPerViolation caps the anomalies listed per violation.
	AnomaliesPerViolation int `json:"anomalies_per_violation"`
	// HighlightsPerTimeline caps the anomalous records a timeline marks.
	HighlightsPerTimeline int `json:"highlights_per_timeline"`
	// EventsPerTimeline caps the trace events a timeline keeps.
	EventsPerTimeline int `json:"events_per_timeline"`
}

// DefaultLimits are the limits of a Builder made with zero Limits.
func DefaultLimits() Limits {
	return Limits{FailingTimelines: 10, CleanTimelines: 2, AnomaliesPerViolation: 5,
		HighlightsPerTimeline: 200, EventsPerTimeline: 20000}
}

// Status values of Outcome.Status and ProtocolSummary.Status.
const (
	StatusPass         = "pass"
	StatusFail         = "fail"
	StatusInconclusive = "inconclusive"
	StatusInterrupted  = "interrupted"
	// StatusIncomplete is a merge that lacks some shards: its runs may be
	// clean, but the campaign's verdict is unknown.
	StatusIncomplete = "incomplete"
)

// Outcome is the verdict of the whole report.
type Outcome struct {
	// Status is "pass", "fail" (some protocol failed its expectation),
	// "inconclusive" (harness errors, or runs missing without an
	// interrupt), "interrupted" (stopped before all runs finished) or
	// "incomplete" (a merge without every shard, and no violation).
	Status string `json:"status"`
	// RunsPlanned is the runs this report should hold: its shards' share,
	// or, for a merge, the whole campaign's (so a merge that lacks shards
	// shows fewer runs done than planned).
	RunsPlanned   int `json:"runs_planned"`
	RunsDone      int `json:"runs_done"`
	ViolatingRuns int `json:"violating_runs"`
	HarnessErrors int `json:"harness_errors"`
	// UnfiredOps counts plan ops, over all runs, that never fired.
	UnfiredOps  int  `json:"unfired_ops"`
	Interrupted bool `json:"interrupted"`
	// MissingShards lists the 1-based shards a merge lacks (of
	// options.shard.count); absent when none is missing.
	MissingShards []int `json:"missing_shards,omitempty"`
}

// ProtocolSummary is one protocol's share of the runs.
type ProtocolSummary struct {
	Name string `json:"name"`
	// Kind is correct, weaker or known-bad; Expect is "clean" (no
	// violation allowed) or "caught" (at least one violation wanted).
	Kind          string         `json:"kind"`
	Expect        string         `json:"expect"`
	Status        string         `json:"status"`
	Runs          int            `json:"runs"`
	ViolatingRuns int            `json:"violating_runs"`
	HarnessErrors int            `json:"harness_errors"`
	Anomalies     map[string]int `json:"anomalies"`
	FirstCatch    *FirstCatch    `json:"first_catch"`
}

// FirstCatch is the first violating run of a protocol in run order.
type FirstCatch struct {
	Run  int    `json:"run"`
	Seed uint64 `json:"seed"`
	// RunsToFirstCatch is how many runs of an unsharded campaign it takes
	// to see it: Run + 1.
	RunsToFirstCatch int `json:"runs_to_first_catch"`
}

// Counts are totals over all runs.
type Counts struct {
	// Anomalies counts every anomaly, allowed or not, per kind.
	Anomalies map[string]int `json:"anomalies"`
	// Faults and FaultKinds count runs per planned fault and per fault kind.
	Faults     []FaultCount `json:"faults"`
	FaultKinds []FaultCount `json:"fault_kinds"`
	// CrashPoints counts crashes that fired, per crash point.
	CrashPoints map[string]int `json:"crash_points"`
}

// FaultCount is how often a fault (or fault kind) was planned, how often it
// fired, and how many violating runs had it in their plan.
type FaultCount struct {
	Name          string `json:"name"`
	Kind          string `json:"kind,omitempty"`
	PlannedRuns   int    `json:"planned_runs"`
	Fired         int    `json:"fired"`
	ViolatingRuns int    `json:"violating_runs"`
}

// Coverage is which crash point × checkpoint combinations ran: Cells[i][j]
// counts crashes at CrashPoints[i] while checkpoint Checkpoints[j] was the
// one being taken, stored or committed ("0": before the first checkpoint;
// "10+": checkpoint 10 or later; "?": unknown, the run kept no trace).
type Coverage struct {
	CrashPoints  []string `json:"crash_points"`
	Checkpoints  []string `json:"checkpoints"`
	Cells        [][]int  `json:"cells"`
	Combinations int      `json:"combinations"`
	Covered      int      `json:"covered"`
}

// Violation is one run with anomalies its protocol does not allow.
type Violation struct {
	Protocol string         `json:"protocol"`
	Run      int            `json:"run"`
	Seed     uint64         `json:"seed"`
	Counts   map[string]int `json:"counts"`
	// Anomalies lists the first Limits.AnomaliesPerViolation violations;
	// MoreAnomalies says how many were left out.
	Anomalies     []Anomaly   `json:"anomalies"`
	MoreAnomalies int         `json:"more_anomalies"`
	LoudFailure   string      `json:"loud_failure,omitempty"`
	Plan          faults.Plan `json:"plan"`
	Replay        string      `json:"replay"`
}

// Anomaly is one anomaly with the input record involved, when there is one.
type Anomaly struct {
	Kind   string  `json:"kind"`
	Detail string  `json:"detail"`
	Record *Record `json:"record,omitempty"`
}

// Record is an input record. Key and Value are empty when the run did not
// supply them; they are untrusted text.
type Record struct {
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Key       string `json:"key,omitempty"`
	Value     string `json:"value,omitempty"`
}

// HarnessError is a run whose verdict is unknown because the harness failed.
type HarnessError struct {
	Protocol string `json:"protocol"`
	Run      int    `json:"run"`
	Seed     uint64 `json:"seed"`
	Error    string `json:"error"`
	Replay   string `json:"replay"`
}

// Timeline is what index.html draws for one run.
type Timeline struct {
	Protocol  string `json:"protocol"`
	Run       int    `json:"run"`
	Seed      uint64 `json:"seed"`
	Violating bool   `json:"violating"`
	Verdict   string `json:"verdict"`
	Replay    string `json:"replay"`
	// Parallelism is the number of subtask lanes.
	Parallelism int `json:"parallelism"`
	// Faults is the run's fault plan.
	Faults []faults.Op `json:"faults"`
	// Anomalies are the anomalies (allowed or not) whose records the
	// timeline marks, at most Limits.HighlightsPerTimeline.
	Anomalies     []Anomaly        `json:"anomalies"`
	MoreAnomalies int              `json:"more_anomalies"`
	Events        []sim.TraceEvent `json:"events"`
	MoreEvents    int              `json:"more_events"`
	VirtualMS     int64            `json:"virtual_ms"`
	// App is set for a run of an application under test (package appsim):
	// ProcessEvents holds its trace instead of Events, and the timeline has
	// a lane per app instance (Parallelism counts them).
	App           bool                `json:"app,omitempty"`
	ProcessEvents []appsim.TraceEvent `json:"process_events,omitempty"`
}

// EventCount is how many trace events the timeline kept.
func (tl Timeline) EventCount() int { return len(tl.Events) + len(tl.ProcessEvents) }

// RunRow is one finished run.
type RunRow struct {
	Protocol string `json:"protocol"`
	Run      int    `json:"run"`
	Seed     uint64 `json:"seed"`
	// Verdict is the checker's (ok, violation, unknown); Violating is
	// true when some anomaly is not allowed by the protocol.
	Verdict   string `json:"verdict"`
	Violating bool   `json:"violating"`
	// Anomalies counts anomalies of the run per kind (only kinds seen).
	Anomalies map[string]int `json:"anomalies,omitempty"`
	// Faults are the planned fault names, in plan order.
	Faults []string `json:"faults,omitempty"`
	// Crashes are the crashes that fired, in order.
	Crashes []CrashSite `json:"crashes,omitempty"`
	// FaultsFired counts the non-crash faults that fired.
	FaultsFired map[string]int `json:"faults_fired,omitempty"`
	// Unfired are the plan ops that never fired ("fault@hit"): the run did
	// not test them.
	Unfired      []string `json:"unfired,omitempty"`
	Checkpoints  int      `json:"checkpoints"`
	Restarts     int      `json:"restarts"`
	VirtualMS    int64    `json:"virtual_ms"`
	TraceHash    string   `json:"trace_hash"`
	HarnessError string   `json:"harness_error,omitempty"`
}

// CrashSite is where a crash fired. Checkpoint is -1 when unknown.
type CrashSite struct {
	Point      string `json:"point"`
	Checkpoint int64  `json:"checkpoint"`
}

// Execution is how the runs were executed: the only part of a report that
// depends on the machine and on --jobs.
type Execution struct {
	Jobs               int     `json:"jobs"`
	Shards             int     `json:"shards"`
	WallMS             int64   `json:"wall_ms"`
	ScenariosPerSecond float64 `json:"scenarios_per_second"`
	// Snapshot names one Write: the four files of a report directory
	// carry it (report.json here, index.html in a meta tag, junit.xml as a
	// property, summary.md in its last line), so a reader can tell that
	// they belong together (CheckSnapshot).
	Snapshot string `json:"snapshot,omitempty"`
}
