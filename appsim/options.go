package appsim

import (
	"io"
	"time"

	"github.com/eosim/eosim/faults"
	"github.com/eosim/eosim/model"
)

// Options are one scenario of an app: everything that determines its trace.
type Options struct {
	Seed uint64
	// Records is how many input records the harness writes (default 40);
	// LateRecords of them arrive over time while the app runs (default a
	// quarter; -1 for none). KeysPerPartition defaults to 3.
	Records, LateRecords, KeysPerPartition int
	// AbortedInput is how many more input records the harness writes in
	// transactions it aborts, placed among the committed ones (default an
	// eighth of Records, at least 1; -1 for none). A read_committed app
	// never sees them; an app that copies one shows it as unexpected
	// output.
	AbortedInput int
	// Faults are the enabled fault names (and groups) a drawn plan takes
	// from; none means a fault-free run. Plan, when set, fixes the faults.
	Faults []string
	Plan   *faults.Plan
	// Profile bounds the hits of drawn faults; nil: Run takes it from a
	// fault-free run with the same seed (a campaign takes one per base
	// seed).
	Profile *Profile
	// Trace receives the JSON-lines trace; KeepEvents keeps it in Result.
	Trace      io.Writer
	KeepEvents bool
	// Log receives the app's log lines; nil discards them.
	Log io.Writer
	// LivenessBound is how long (virtual) the app may take to make every
	// expected output visible (default five minutes).
	LivenessBound time.Duration

	// GOMAXPROCS is what the scenario runs at (restored afterwards):
	// default 1, -1 leaves the process's setting. At 2, kgo's producer
	// flush races its drain goroutine, so a transaction's records are
	// split into produce requests differently now and then (measured about
	// 1 run in 200-400 between GOMAXPROCS 1 and 2); single-threaded, like
	// FoundationDB's simulator, the race does not occur.
	GOMAXPROCS int

	recordBoundaries bool // Boundaries: list every request the app sent
	// defaulted: withDefaults ran (it must run once: a -1 it turned into 0
	// would become the default again).
	defaulted bool
}

// Verdict is the outcome of one scenario.
type Verdict string

const (
	// Clean: no anomaly.
	Clean Verdict = "clean"
	// Violation: the oracle found anomalies (Result.Violations).
	Violation Verdict = "violation"
	// Inconclusive: the harness or the app broke a rule the harness needs
	// (a panic, a wedge, a bad declaration); see Result.Inconclusive.
	Inconclusive Verdict = "inconclusive"
	// Nondeterministic: the same seed gave two different traces (the
	// determinism self-check of a campaign).
	Nondeterministic Verdict = "nondeterministic"
)

// Result is what one scenario observed and concluded.
type Result struct {
	App        string          `json:"app"`
	Seed       uint64          `json:"seed"`
	Plan       faults.Plan     `json:"plan"`
	Verdict    Verdict         `json:"verdict"`
	Check      model.Result    `json:"check"`
	Violations []model.Anomaly `json:"violations,omitempty"`
	// Inconclusive says why no verdict could be reached; BadInput is set
	// when that is the app's declaration (exit 2 in the CLI).
	Inconclusive string `json:"inconclusive,omitempty"`
	BadInput     bool   `json:"bad_input,omitempty"`
	// Wedged: the bubble's clock froze and the scenario was abandoned.
	Wedged bool `json:"wedged,omitempty"`
	// Fired counts faults that fired by name; Unfired lists plan entries
	// (by index and name) that never did.
	Fired    map[string]int `json:"fired"`
	Unfired  []string       `json:"unfired,omitempty"`
	Kills    int            `json:"kills"`
	Restarts int            `json:"restarts"`
	// Requests is how many app requests the network released.
	Requests    int           `json:"requests"`
	TraceHash   string        `json:"trace_hash"`
	VirtualTime time.Duration `json:"virtual_time_ns"`
	Events      []TraceEvent  `json:"-"`
	// Boundaries lists every request the app sent, in release order (only
	// when enumerating).
	Boundaries []Boundary `json:"-"`

	siteHits map[string]int
}

// Profile returns what this run did, for bounding drawn faults.
func (r Result) Profile() Profile {
	p := Profile{Kinds: map[string]int{}, Sites: r.siteHits, Requests: r.Requests}
	for _, b := range r.Boundaries {
		p.Kinds[b.Kind] = max(p.Kinds[b.Kind], b.Hit)
	}
	return p
}

// Failed reports whether the scenario found violations.
func (r Result) Failed() bool { return r.Verdict == Violation }

// Boundary is one request the app sent: its kind and how many of that kind
// the run had sent, this one included.
type Boundary struct {
	Kind string
	Hit  int
}

const (
	defaultRecords  = 40
	defaultKeys     = 3
	defaultLiveness = 5 * time.Minute
	// stopBound is how long (virtual) a process may take to return after
	// its context is cancelled: longer than kgo's own request timeouts (a
	// SyncGroup answer lost after a pause is waited for up to the
	// rebalance timeout, 60 s, plus 10 s), so that a process kgo keeps
	// busy by the book is not called wedged.
	stopBound = 2 * time.Minute
	// faultGrace is how long a covered run waits for unfired faults.
	faultGrace = 5 * time.Second
	// idleBound ends a run whose output made no progress for this long
	// after all input arrived (longer than kgo's default session timeout of 45 s,
	// which a rebalance after a kill waits for).
	idleBound = 3 * time.Minute
	// maxExtension bounds how far past the liveness bound a late heal may
	// push it.
	maxExtension = 5 * time.Minute
	// arrivalEvery spaces late input bursts.
	arrivalEvery = 25 * time.Millisecond
	// failureDelay is how long a process that returned an error stays down.
	failureDelay = 200 * time.Millisecond
	maxFailures  = 50
	// burstLimit forces a clock step after this many releases at one
	// instant, so an app retrying in a tight loop cannot stop time.
	burstLimit = 200
)

func (o Options) withDefaults() Options {
	if o.defaulted {
		return o
	}
	o.defaulted = true
	if o.Records == 0 {
		o.Records = defaultRecords
	}
	switch {
	case o.LateRecords == 0:
		o.LateRecords = o.Records / 4
	case o.LateRecords < 0:
		o.LateRecords = 0
	}
	switch {
	case o.AbortedInput == 0:
		o.AbortedInput = max(1, o.Records/8)
	case o.AbortedInput < 0:
		o.AbortedInput = 0
	}
	if o.KeysPerPartition == 0 {
		o.KeysPerPartition = defaultKeys
	}
	if o.GOMAXPROCS == 0 {
		o.GOMAXPROCS = 1
	}
	if o.LivenessBound == 0 {
		o.LivenessBound = defaultLiveness
	}
	return o
}
