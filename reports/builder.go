package reports

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/eosim/eosim/appsim"
	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/faults"
	"github.com/eosim/eosim/model"
	"github.com/eosim/eosim/sim"
)

// Run is one finished scenario as the builder takes it.
type Run struct {
	// Index is the run's number k in the campaign (its seed is
	// sim.RunSeed(base seed, k)).
	Index  int
	Result sim.Result
	// Replay is the one command that replays the run.
	Replay string
	// Records optionally supplies the input records (key, value) that
	// anomalies name; without it Result.Records is used, and without those
	// a record is shown by partition/offset.
	Records map[model.ID]model.InputRecord
}

// Builder accumulates finished runs into a Report. Runs may come in any
// order; the report sorts them. It keeps trace events only for the runs
// that may get a timeline. It is not safe for concurrent use.
type Builder struct {
	command    string
	opts       Options
	versions   Versions
	limits     Limits
	rows       []RunRow
	violations []Violation
	harness    []HarnessError
	timelines  []Timeline
}

// NewBuilder starts a report of the given command ("campaign", "gate").
// Zero limits mean DefaultLimits.
func NewBuilder(command string, opts Options, v Versions, limits Limits) *Builder {
	if limits == (Limits{}) {
		limits = DefaultLimits()
	}
	return &Builder{command: command, opts: normalizeOptions(opts), versions: v, limits: limits}
}

func normalizeOptions(o Options) Options {
	o.Protocols = slices.Clone(o.Protocols)
	o.FaultNames = slices.Clone(o.FaultNames)
	o.ExpectCaught = slices.Clone(o.ExpectCaught)
	o.Shard = normalizeShard(o.Shard)
	return o
}

// normalizeShard sorts the indexes and writes a complete set as 1/1.
func normalizeShard(s Shard) Shard {
	if s.Count < 1 {
		s.Count = 1
	}
	idx := slices.Clone(s.Indexes)
	slices.Sort(idx)
	idx = slices.Compact(idx)
	if len(idx) == 0 || len(idx) == s.Count {
		return Shard{Count: 1, Indexes: []int{1}}
	}
	return Shard{Count: s.Count, Indexes: idx}
}

// Add records one finished run.
func (b *Builder) Add(r Run) {
	res := r.Result
	if len(res.Records) > 0 {
		// The run's own records, overlaid by what the caller supplied.
		merged := maps.Clone(res.Records)
		maps.Copy(merged, r.Records)
		r.Records = merged
	}
	if !slices.Contains(b.opts.Protocols, res.Protocol) {
		b.opts.Protocols = append(b.opts.Protocols, res.Protocol)
	}
	row := RunRow{
		Protocol: res.Protocol, Run: r.Index, Seed: res.Seed,
		Verdict: string(res.Check.Verdict), Violating: res.Failed(),
		Checkpoints: res.Checkpoints, Restarts: res.Restarts,
		VirtualMS: res.VirtualTime.Milliseconds(), TraceHash: res.TraceHash,
		HarnessError: res.HarnessError,
	}
	row.Anomalies = nonZeroCounts(res.Check.Counts)
	row.Faults = faultNames(res.Plan)
	row.Crashes = crashSites(res)
	for _, op := range res.Unfired {
		row.Unfired = append(row.Unfired, fmt.Sprintf("%s@%d", op.Fault, op.Hit))
	}
	row.FaultsFired = nonZeroCounts(res.Faults)
	b.rows = append(b.rows, row)

	if res.HarnessError != "" {
		b.harness = append(b.harness, HarnessError{Protocol: res.Protocol, Run: r.Index, Seed: res.Seed,
			Error: res.HarnessError, Replay: r.Replay})
	}
	if res.Failed() {
		b.addViolation(res.Protocol, r.Index, res.Seed, res.Violations, res.Plan, r.Records, r.Replay, res.LoudFailure)
	}
	if len(res.Events) > 0 && b.makeRoom(res.Protocol, r.Index, res.Failed()) {
		tl := b.timeline(res.Protocol, r.Index, res.Seed, res.Failed(), res.Check, res.Plan, res.VirtualTime, r.Records, r.Replay)
		tl.Parallelism = res.Plan.Workload.Parallelism
		events := res.Events
		if n := b.limits.EventsPerTimeline; n > 0 && len(events) > n {
			tl.MoreEvents = len(events) - n
			events = events[:n]
		}
		tl.Events = slices.Clone(events)
		b.timelines = append(b.timelines, tl)
	}
}

// AppRun is one finished scenario of an application under test (package
// appsim) as the builder takes it; Index and Replay are as in Run.
type AppRun struct {
	Index  int
	Result appsim.Result
	Replay string
}

// AddApp records one finished app run: its row, its violation, an
// inconclusive or nondeterministic verdict as a harness error, and (when
// the run kept its events, appsim.Options.KeepEvents) its timeline, with a
// lane per app instance. The app's name stands where a protocol's would.
func (b *Builder) AddApp(r AppRun) {
	res := r.Result
	if !slices.Contains(b.opts.Protocols, res.App) {
		b.opts.Protocols = append(b.opts.Protocols, res.App)
	}
	failing := res.Verdict == appsim.Violation
	row := RunRow{Protocol: res.App, Run: r.Index, Seed: res.Seed, Verdict: string(res.Check.Verdict), Violating: failing,
		Restarts: res.Restarts, VirtualMS: res.VirtualTime.Milliseconds(), TraceHash: res.TraceHash,
		Anomalies: nonZeroCounts(res.Check.Counts), Faults: faultNames(res.Plan), FaultsFired: nonZeroCounts(res.Fired)}
	if res.Verdict != appsim.Clean && res.Verdict != appsim.Violation {
		row.Verdict = string(model.Unknown) // inconclusive or nondeterministic: not judged
	}
	for _, u := range res.Unfired { // "index:fault@hit"
		_, op, _ := strings.Cut(u, ":")
		row.Unfired = append(row.Unfired, op)
	}
	if res.Verdict == appsim.Inconclusive || res.Verdict == appsim.Nondeterministic {
		row.HarnessError = string(res.Verdict) + ": " + firstLine(res.Inconclusive)
		b.harness = append(b.harness, HarnessError{Protocol: res.App, Run: r.Index, Seed: res.Seed, Error: row.HarnessError, Replay: r.Replay})
	}
	b.rows = append(b.rows, row)
	if failing {
		b.addViolation(res.App, r.Index, res.Seed, res.Violations, res.Plan, nil, r.Replay, "")
	}
	if len(res.Events) > 0 && b.makeRoom(res.App, r.Index, failing) {
		tl := b.timeline(res.App, r.Index, res.Seed, failing, res.Check, res.Plan, res.VirtualTime, nil, r.Replay)
		tl.App, tl.Verdict = true, row.Verdict
		events := res.Events
		if n := b.limits.EventsPerTimeline; n > 0 && len(events) > n {
			tl.MoreEvents = len(events) - n
			events = events[:n]
		}
		tl.ProcessEvents = slices.Clone(events)
		tl.Parallelism = instanceCount(tl.ProcessEvents)
		b.timelines = append(b.timelines, tl)
	}
}

func (b *Builder) addViolation(protocol string, run int, seed uint64, violations []model.Anomaly, plan faults.Plan,
	records map[model.ID]model.InputRecord, replay, loud string) {
	v := Violation{Protocol: protocol, Run: run, Seed: seed, Counts: map[string]int{}, LoudFailure: loud, Plan: plan, Replay: replay}
	for _, a := range violations {
		v.Counts[a.Kind]++
	}
	v.Anomalies, v.MoreAnomalies = anomalies(violations, records, b.limits.AnomaliesPerViolation)
	v.Plan.Replay = replay
	b.violations = append(b.violations, v)
}

// makeRoom reports whether run index of protocol is among the
// lowest-numbered failing (or clean) runs of its protocol seen so far, and
// if so drops the highest-numbered one that it displaces.
func (b *Builder) makeRoom(protocol string, index int, failing bool) bool {
	limit := b.limits.CleanTimelines
	if failing {
		limit = b.limits.FailingTimelines
	}
	var same []int
	for i, tl := range b.timelines {
		if tl.Protocol == protocol && tl.Violating == failing {
			same = append(same, i)
		}
	}
	if limit <= 0 {
		return false
	}
	if len(same) >= limit {
		worst := same[0]
		for _, i := range same {
			if b.timelines[i].Run > b.timelines[worst].Run {
				worst = i
			}
		}
		if b.timelines[worst].Run < index {
			return false
		}
		b.timelines = slices.Delete(b.timelines, worst, worst+1)
	}
	return true
}

// timeline is a run's timeline without its events.
func (b *Builder) timeline(protocol string, run int, seed uint64, failing bool, check model.Result, plan faults.Plan,
	virtual time.Duration, records map[model.ID]model.InputRecord, replay string) Timeline {
	tl := Timeline{Protocol: protocol, Run: run, Seed: seed, Violating: failing,
		Verdict: string(check.Verdict), Replay: replay, VirtualMS: virtual.Milliseconds(),
		Faults: slices.Clone(plan.Faults)}
	if tl.Faults == nil {
		tl.Faults = []faults.Op{}
	}
	var withRecord []model.Anomaly
	for _, a := range check.Anomalies {
		if a.Input != nil {
			withRecord = append(withRecord, a)
		}
	}
	tl.Anomalies, tl.MoreAnomalies = anomalies(withRecord, records, b.limits.HighlightsPerTimeline)
	return tl
}

// nonZeroCounts keeps the positive counts (nil when none is).
func nonZeroCounts(m map[string]int) map[string]int {
	var out map[string]int
	for k, n := range m {
		if n > 0 {
			if out == nil {
				out = map[string]int{}
			}
			out[k] = n
		}
	}
	return out
}

func faultNames(p faults.Plan) []string {
	var out []string
	for _, op := range p.Faults {
		out = append(out, op.Fault)
	}
	return out
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func anomalies(in []model.Anomaly, records map[model.ID]model.InputRecord, limit int) ([]Anomaly, int) {
	out := []Anomaly{}
	for i, a := range in {
		if limit > 0 && i == limit {
			return out, len(in) - limit
		}
		x := Anomaly{Kind: a.Kind, Detail: a.Detail}
		if a.Input != nil {
			rec := &Record{Partition: a.Input.Partition, Offset: a.Input.Offset}
			if in, ok := records[*a.Input]; ok {
				rec.Key, rec.Value = in.Key, in.Value
			}
			x.Record = rec
		}
		out = append(out, x)
	}
	return out, 0
}

// crashSites lists the crashes that fired, with the checkpoint each hit.
// The crash event does not carry its checkpoint, so it is inferred from the
// trace: the checkpoint in flight (or, for the commit points, the last one
// stored; for recovery, the one restored). Without a trace the checkpoint
// is unknown (-1).
func crashSites(res sim.Result) []CrashSite {
	var sites []CrashSite
	var trigger, stored, restored int64
	for _, e := range res.Events {
		switch e.Kind {
		case "restore":
			restored, trigger, stored = e.Checkpoint, 0, 0
		case "trigger-checkpoint":
			trigger = e.Checkpoint
		case "checkpoint-stored":
			stored = e.Checkpoint
		case "crash":
			point, _, _ := strings.Cut(e.Detail, " ")
			cp := e.Checkpoint
			if cp == 0 {
				switch engine.CrashPoint(point) {
				case engine.CrashDuringRecovery:
					cp = restored
				case engine.CrashMidCommit, engine.CrashAfterCommit:
					cp = cmp.Or(stored, restored)
				default:
					cp = trigger
				}
			}
			sites = append(sites, CrashSite{Point: point, Checkpoint: cp})
		}
	}
	total := 0
	for _, n := range res.Crashes {
		total += n
	}
	if len(sites) == total {
		return sites
	}
	sites = sites[:0]
	for _, p := range engine.CrashPoints() {
		for range res.Crashes[string(p)] {
			sites = append(sites, CrashSite{Point: string(p), Checkpoint: -1})
		}
	}
	return sites
}

// Runs returns how many runs were added.
func (b *Builder) Runs() int { return len(b.rows) }

// Report assembles the report of the runs added so far. interrupted says
// the campaign was stopped before all its runs were started.
func (b *Builder) Report(interrupted bool, exec Execution) Report {
	return assemble(b.command, b.opts, b.versions, b.limits, b.rows, b.violations, b.harness, b.timelines, interrupted, exec)
}

// assemble computes every aggregate from the rows, so that a report is a
// function of its runs whatever order, sharding or jobs produced them.
func assemble(command string, opts Options, v Versions, limits Limits, rows []RunRow, viols []Violation,
	harness []HarnessError, tls []Timeline, interrupted bool, exec Execution) Report {
	opts = normalizeOptions(opts)
	for _, row := range rows {
		if !slices.Contains(opts.Protocols, row.Protocol) {
			opts.Protocols = append(opts.Protocols, row.Protocol)
		}
	}
	order := func(protocol string, run int) (int, int) {
		i := slices.Index(opts.Protocols, protocol)
		if i < 0 {
			i = len(opts.Protocols)
		}
		return i, run
	}
	byRun := func(pa string, ra int, pb string, rb int) int {
		ia, ka := order(pa, ra)
		ib, kb := order(pb, rb)
		return cmp.Or(cmp.Compare(ia, ib), cmp.Compare(pa, pb), cmp.Compare(ka, kb))
	}
	rows = slices.Clone(rows)
	slices.SortFunc(rows, func(a, b RunRow) int { return byRun(a.Protocol, a.Run, b.Protocol, b.Run) })
	viols = slices.Clone(viols)
	slices.SortFunc(viols, func(a, b Violation) int { return byRun(a.Protocol, a.Run, b.Protocol, b.Run) })
	harness = slices.Clone(harness)
	slices.SortFunc(harness, func(a, b HarnessError) int { return byRun(a.Protocol, a.Run, b.Protocol, b.Run) })
	tls = selectTimelines(tls, limits, func(a, b Timeline) int {
		ia, _ := order(a.Protocol, 0)
		ib, _ := order(b.Protocol, 0)
		failingFirst := func(tl Timeline) int {
			if tl.Violating {
				return 0
			}
			return 1
		}
		return cmp.Or(cmp.Compare(ia, ib), cmp.Compare(a.Protocol, b.Protocol),
			cmp.Compare(failingFirst(a), failingFirst(b)), cmp.Compare(a.Run, b.Run))
	})

	r := Report{SchemaVersion: SchemaVersion, Command: command, Options: opts, Versions: v, Limits: limits,
		Violations: viols, HarnessErrors: harness, Timelines: tls, Runs: rows, Execution: exec}
	if r.Violations == nil {
		r.Violations = []Violation{}
	}
	if r.HarnessErrors == nil {
		r.HarnessErrors = []HarnessError{}
	}
	if r.Timelines == nil {
		r.Timelines = []Timeline{}
	}
	if r.Runs == nil {
		r.Runs = []RunRow{}
	}

	perProtocol := opts.Shard.Share(opts.Runs)
	r.Outcome = Outcome{RunsPlanned: perProtocol * len(opts.Protocols), RunsDone: len(rows), Interrupted: interrupted}
	r.Counts = Counts{Anomalies: zeroCounts(model.AnomalyNames()), CrashPoints: map[string]int{}}
	for _, p := range engine.CrashPoints() {
		r.Counts.CrashPoints[string(p)] = 0
	}
	faultCounts := map[string]*FaultCount{}
	kindCounts := map[string]*FaultCount{}
	for _, name := range opts.FaultNames {
		faultCounts[name] = &FaultCount{Name: name, Kind: faultKind(name)}
	}
	protos := map[string]*ProtocolSummary{}
	for _, name := range opts.Protocols {
		ps := &ProtocolSummary{Name: name, Kind: protocolKind(name), Expect: "clean", Anomalies: zeroCounts(model.AnomalyNames())}
		if slices.Contains(opts.ExpectCaught, name) {
			ps.Expect = "caught"
		}
		protos[name] = ps
	}
	for _, row := range rows {
		r.VirtualTimeMS += row.VirtualMS
		ps := protos[row.Protocol]
		ps.Runs++
		if row.HarnessError != "" {
			ps.HarnessErrors++
			r.Outcome.HarnessErrors++
		}
		r.Outcome.UnfiredOps += len(row.Unfired)
		if row.Violating {
			ps.ViolatingRuns++
			r.Outcome.ViolatingRuns++
			if ps.FirstCatch == nil {
				ps.FirstCatch = &FirstCatch{Run: row.Run, Seed: row.Seed, RunsToFirstCatch: row.Run + 1}
			}
		}
		for kind, n := range row.Anomalies {
			ps.Anomalies[kind] += n
			r.Counts.Anomalies[kind] += n
		}
		fired := maps.Clone(row.FaultsFired)
		if fired == nil {
			fired = map[string]int{}
		}
		for _, c := range row.Crashes {
			r.Counts.CrashPoints[c.Point]++
			fired[c.Point]++
		}
		planned := map[string]bool{}
		kinds := map[string]bool{}
		for _, name := range row.Faults {
			planned[name] = true
			kinds[faultKind(name)] = true
		}
		for name := range planned {
			fc := faultCounts[name]
			if fc == nil {
				fc = &FaultCount{Name: name, Kind: faultKind(name)}
				faultCounts[name] = fc
			}
			fc.PlannedRuns++
			fc.Fired += fired[name]
			if row.Violating {
				fc.ViolatingRuns++
			}
		}
		for kind := range kinds {
			kc := kindCounts[kind]
			if kc == nil {
				kc = &FaultCount{Name: kind}
				kindCounts[kind] = kc
			}
			kc.PlannedRuns++
			if row.Violating {
				kc.ViolatingRuns++
			}
		}
	}
	for _, fc := range faultCounts {
		if kc := kindCounts[fc.Kind]; kc != nil {
			kc.Fired += fc.Fired
		} else {
			kindCounts[fc.Kind] = &FaultCount{Name: fc.Kind}
		}
	}
	r.Counts.Faults = sortedFaultCounts(faultCounts, faultRank)
	r.Counts.FaultKinds = sortedFaultCounts(kindCounts, kindRank)
	r.Coverage = coverage(rows)

	worst := StatusPass
	for _, name := range opts.Protocols {
		ps := protos[name]
		ps.Status = protocolStatus(ps, perProtocol)
		r.Protocols = append(r.Protocols, *ps)
		worst = worse(worst, ps.Status)
	}
	if interrupted {
		worst = StatusInterrupted
	}
	r.Outcome.Status = worst
	return r
}

func protocolStatus(ps *ProtocolSummary, planned int) string {
	incomplete := ps.HarnessErrors > 0 || ps.Runs < planned
	if ps.Expect == "caught" {
		switch {
		case ps.ViolatingRuns > 0:
			return StatusPass
		case incomplete:
			return StatusInconclusive
		}
		return StatusFail
	}
	switch {
	case ps.ViolatingRuns > 0:
		return StatusFail
	case incomplete:
		return StatusInconclusive
	}
	return StatusPass
}

func worse(a, b string) string {
	rank := map[string]int{StatusPass: 0, StatusInconclusive: 1, StatusFail: 2, StatusInterrupted: 3}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

func selectTimelines(tls []Timeline, limits Limits, order func(a, b Timeline) int) []Timeline {
	tls = slices.Clone(tls)
	slices.SortFunc(tls, order)
	var out []Timeline
	kept := map[string]int{}
	for _, tl := range tls {
		key := fmt.Sprintf("%s/%v", tl.Protocol, tl.Violating)
		limit := limits.CleanTimelines
		if tl.Violating {
			limit = limits.FailingTimelines
		}
		if kept[key] < limit {
			kept[key]++
			out = append(out, tl)
		}
	}
	return out
}

func zeroCounts(names []string) map[string]int {
	m := map[string]int{}
	for _, n := range names {
		m[n] = 0
	}
	return m
}

func protocolKind(name string) string {
	p, err := engine.ProtocolByName(name)
	if _, isApp := appsim.Lookup(name); err != nil && isApp {
		return "app"
	}
	if err != nil {
		return "unknown"
	}
	return string(p.Kind)
}

func faultKind(name string) string {
	if info, ok := faults.Lookup(name); ok {
		return string(info.Kind)
	}
	return "other"
}

// faultRank orders faults as the catalogue does, unknown ones last.
func faultRank(name string) int {
	for i, f := range faults.Catalogue() {
		if f.Name == name {
			return i
		}
	}
	return 1 << 20
}

var kindOrder = []string{string(faults.KindCrash), string(faults.KindBroker), string(faults.KindTime),
	string(faults.KindZombie), string(faults.KindStore)}

func kindRank(name string) int {
	if i := slices.Index(kindOrder, name); i >= 0 {
		return i
	}
	return len(kindOrder)
}

func sortedFaultCounts(m map[string]*FaultCount, rank func(string) int) []FaultCount {
	out := make([]FaultCount, 0, len(m))
	for _, fc := range m {
		out = append(out, *fc)
	}
	slices.SortFunc(out, func(a, b FaultCount) int {
		return cmp.Or(cmp.Compare(rank(a.Name), rank(b.Name)), cmp.Compare(a.Name, b.Name))
	})
	return out
}

// Checkpoint columns of the coverage matrix.
var coverageColumns = []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10+"}

func coverage(rows []RunRow) Coverage {
	c := Coverage{Checkpoints: slices.Clone(coverageColumns)}
	for _, p := range engine.CrashPoints() {
		c.CrashPoints = append(c.CrashPoints, string(p))
	}
	unknown := false
	for _, row := range rows {
		for _, s := range row.Crashes {
			if s.Checkpoint < 0 {
				unknown = true
			}
		}
	}
	if unknown {
		c.Checkpoints = append(c.Checkpoints, "?")
	}
	c.Cells = make([][]int, len(c.CrashPoints))
	for i := range c.Cells {
		c.Cells[i] = make([]int, len(c.Checkpoints))
	}
	for _, row := range rows {
		for _, s := range row.Crashes {
			i := slices.Index(c.CrashPoints, s.Point)
			if i < 0 {
				continue
			}
			j := int(min(s.Checkpoint, 10))
			if s.Checkpoint < 0 {
				j = len(c.Checkpoints) - 1
			}
			c.Cells[i][j]++
		}
	}
	c.Combinations = len(c.CrashPoints) * len(coverageColumns)
	for i := range c.Cells {
		for j := range coverageColumns {
			if c.Cells[i][j] > 0 {
				c.Covered++
			}
		}
	}
	return c
}
