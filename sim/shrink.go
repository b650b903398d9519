package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/faults"
)

// Shrinking reduces a failing scenario to a small one that still fails the
// same way. A scenario is a seed plus a plan (workload and faults); the seed
// is kept, so the scheduler's choices still come from it, but a smaller
// workload changes the schedule: every candidate is therefore run, never
// assumed.
//
// "Fails the same way" is decided on the set of violated anomaly kinds (the
// anomalies the protocol does not allow, see Result.Violations):
//
//   - MatchSame (the default): the candidate's set equals the original's.
//   - MatchSubset: the candidate's set is a non-empty subset of the
//     original's; it may lose a kind (for example keep "lost" without
//     "silent-loss") but never gain one.
//
// A candidate with a harness error never counts as failing.

// ShrinkMatch says when a candidate fails "the same way" as the original.
type ShrinkMatch string

const (
	MatchSame   ShrinkMatch = "same"
	MatchSubset ShrinkMatch = "subset"
)

// ParseShrinkMatch validates a match mode name ("" is MatchSame).
func ParseShrinkMatch(s string) (ShrinkMatch, error) {
	switch ShrinkMatch(s) {
	case "", MatchSame:
		return MatchSame, nil
	case MatchSubset:
		return MatchSubset, nil
	}
	return "", fmt.Errorf("match mode %q: want %q or %q", s, MatchSame, MatchSubset)
}

// ErrNotFailing is returned by Shrink when the scenario to shrink shows no
// violation: there is nothing to shrink.
var ErrNotFailing = errors.New("the scenario shows no violation: nothing to shrink")

// ShrinkOptions bound the search.
type ShrinkOptions struct {
	Match ShrinkMatch
	// MaxRuns bounds the scenario runs the search spends after the
	// original (default 400).
	MaxRuns int
	// Budget bounds the search's wall time (default: none).
	Budget time.Duration
	// Contrast, when set, names a protocol that must show no violation on
	// the original and on every accepted plan: a counterexample for a
	// known-bad variant then shows the variant's own bug, not a failure
	// the correct protocol shares. DefaultContrast picks it.
	Contrast string
	// OnAccept, when set, is called for every accepted (smaller, still
	// failing) plan.
	OnAccept func(p faults.Plan, r Result)
}

// DefaultContrast is the protocol a counterexample of protocol is checked
// against: for a known-bad variant the correct protocol with the same
// delivery guarantee, offset placement and id scheme (the first with the
// same guarantee if none has them), otherwise none ("").
func DefaultContrast(protocol string) string {
	p, err := engine.ProtocolByName(protocol)
	if err != nil || p.Kind != engine.KindKnownBad {
		return ""
	}
	first := ""
	for _, c := range engine.Protocols() {
		if c.Kind != engine.KindCorrect || c.Guarantee != p.Guarantee {
			continue
		}
		if c.OffsetsInTransaction == p.OffsetsInTransaction && c.PooledTransactionalIDs == p.PooledTransactionalIDs {
			return c.Name // the variant's own correct protocol
		}
		if first == "" {
			first = c.Name
		}
	}
	return first
}

// ErrContrastFails is returned by Shrink when the contrast protocol fails
// the original scenario too.
var ErrContrastFails = errors.New("the contrast protocol fails this scenario too")

// PlanSize is what shrinking reduces, in order of importance.
type PlanSize struct {
	Faults      int `json:"faults"`
	Records     int `json:"records"`
	Late        int `json:"late_records"`
	Aborted     int `json:"aborted_input,omitempty"`
	Partitions  int `json:"partitions"`
	Keys        int `json:"keys_per_partition"`
	Parallelism int `json:"parallelism"`
	// Checkpoints is about how many checkpoints the workload takes
	// (records at 1 ms each over the interval, per subtask).
	Checkpoints int `json:"checkpoints"`
	// HitSum, DelaySum and CountSum: later faults, longer downtimes and
	// more affected requests are bigger.
	HitSum   int `json:"hit_sum"`
	DelaySum int `json:"delay_sum_ms"`
	CountSum int `json:"count_sum"`
	// Concurrent is max_concurrent_checkpoints (at least 1): one
	// checkpoint in flight at a time is the simpler schedule.
	Concurrent int `json:"max_concurrent_checkpoints,omitempty"`
	// Options are the workload's options other than the default's
	// (workloadOptions): fewer is the plainer scenario.
	Options int `json:"options,omitempty"`
}

// SizeOf measures a plan.
func SizeOf(p faults.Plan) PlanSize {
	w := p.Workload
	s := PlanSize{Faults: len(p.Faults), Records: w.Records, Late: w.LateRecords, Aborted: w.AbortedInput, Partitions: w.Partitions,
		Keys: w.KeysPerPartition, Parallelism: w.Parallelism, Concurrent: max(1, w.MaxConcurrentCheckpoints),
		Options: workloadOptions(w)}
	if w.CheckpointIntervalMS > 0 && w.Parallelism > 0 {
		s.Checkpoints = w.Records / w.Parallelism / w.CheckpointIntervalMS
	}
	for _, op := range p.Faults {
		s.HitSum += op.Hit
		s.DelaySum += op.RestartDelayMS
		s.CountSum += op.Count
	}
	return s
}

func (s PlanSize) vector() []int {
	return []int{s.Faults, s.Records, s.Late, s.Aborted, s.Partitions, s.Keys, s.Parallelism, s.Checkpoints, s.HitSum, s.DelaySum, s.CountSum, s.Concurrent, s.Options}
}

// Less orders sizes lexicographically: fewer faults first, then records,
// partitions, keys, parallelism, checkpoints, hits and downtime.
func (s PlanSize) Less(o PlanSize) bool { return slices.Compare(s.vector(), o.vector()) < 0 }

func (s PlanSize) String() string {
	return fmt.Sprintf("faults=%d records=%d partitions=%d keys=%d parallelism=%d checkpoints=%d",
		s.Faults, s.Records, s.Partitions, s.Keys, s.Parallelism, s.Checkpoints)
}

// ShrinkResult is the outcome of a search.
type ShrinkResult struct {
	// Original is the run of the scenario as given; Shrunk the run of the
	// smallest plan found that fails the same way.
	Original, Shrunk Result
	// Plan is the smallest failing plan (protocol, seed, workload, faults).
	Plan faults.Plan
	// Kinds are the original's violated anomaly kinds, sorted.
	Kinds []string
	// Before and After measure the original and the shrunk plan.
	Before, After PlanSize
	// Contrast is the protocol the plan was checked against ("" if none).
	Contrast string
	// Runs is how many scenarios the search ran (candidates and contrast
	// runs); Accepted how many candidates became the new smallest plan.
	Runs, Accepted int
	// Exhausted is set when MaxRuns or Budget stopped the search before it
	// reached a plan no candidate could reduce.
	Exhausted bool
	// Replayed is set when the shrunk plan, run once more, gave the same
	// trace and the same violated kinds.
	Replayed bool
	Wall     time.Duration
}

// ViolatedKinds returns the sorted set of anomaly kinds r violates.
func ViolatedKinds(r Result) []string {
	var kinds []string
	for _, a := range r.Violations {
		if !slices.Contains(kinds, a.Kind) {
			kinds = append(kinds, a.Kind)
		}
	}
	slices.Sort(kinds)
	return kinds
}

// FailsLike reports whether r fails the way the original with violated
// kinds want did, under match.
func FailsLike(r Result, want []string, match ShrinkMatch) bool {
	if r.HarnessError != "" || !r.Failed() {
		return false
	}
	got := ViolatedKinds(r)
	if match == MatchSubset {
		for _, k := range got {
			if !slices.Contains(want, k) {
				return false
			}
		}
		return true
	}
	return slices.Equal(got, want)
}

// RunPlan runs the scenario a plan describes: its protocol, seed, workload
// and faults.
func RunPlan(t *testing.T, p faults.Plan) Result {
	q := p
	q.Faults = slices.Clone(p.Faults)
	return Run(t, Options{Protocol: p.Protocol, Seed: p.Seed, Workload: p.Workload, Plan: &q})
}

// Shrink runs the scenario opts describes (a random plan from its seed and
// faults, or opts.Plan) and, when it fails, searches greedily for a smaller
// plan with the same seed that fails the same way: it tries the candidates
// of ShrinkCandidates in order, moves to the first that still fails, and
// stops when none does (or the budget is spent). The result's plan is run
// once more to confirm it replays.
func Shrink(t *testing.T, opts Options, so ShrinkOptions) (ShrinkResult, error) {
	started := time.Now()
	if so.MaxRuns <= 0 {
		so.MaxRuns = 400
	}
	if so.Match == "" {
		so.Match = MatchSame
	}
	var out ShrinkResult
	orig := Run(t, opts)
	out.Original = orig
	if orig.HarnessError != "" {
		return out, fmt.Errorf("the scenario could not be judged: %s", orig.HarnessError)
	}
	if !orig.Failed() {
		return out, ErrNotFailing
	}
	out.Kinds = ViolatedKinds(orig)
	best, bestRes := orig.Plan, orig
	best.Faults = slices.Clone(best.Faults)
	best.Replay = ""
	out.Contrast = so.Contrast
	contrastClean := func(p faults.Plan) bool {
		if so.Contrast == "" {
			return true
		}
		q := p
		q.Protocol = so.Contrast
		out.Runs++
		r := RunPlan(t, q)
		return r.HarnessError == "" && !r.Failed()
	}
	if !contrastClean(best) {
		return out, fmt.Errorf("%w (%s)", ErrContrastFails, so.Contrast)
	}
	out.Before = SizeOf(best)
	tried := map[string]bool{planKey(best): true}
	for progress := true; progress; {
		progress = false
		cands := ShrinkCandidates(best)
		for i := 0; i < len(cands); i++ {
			c := cands[i]
			if i == len(cands)-1 && !progress && c.Seed == best.Seed {
				// Nothing with this seed still fails: try other seeds.
				cands = append(cands, ReseedCandidates(best)...)
			}
			key := planKey(c)
			if tried[key] || !SizeOf(c).Less(SizeOf(best)) {
				continue
			}
			if out.Runs >= so.MaxRuns || (so.Budget > 0 && time.Since(started) > so.Budget) {
				out.Exhausted = true
				break
			}
			tried[key] = true
			out.Runs++
			r := RunPlan(t, c)
			if FailsLike(r, out.Kinds, so.Match) && contrastClean(c) {
				best, bestRes = c, r
				out.Accepted++
				if so.OnAccept != nil {
					so.OnAccept(c, r)
				}
				progress = true
				break
			}
		}
		if out.Exhausted {
			break
		}
	}
	if len(bestRes.Unfired) > 0 && !out.Exhausted {
		// Ops that never fired test nothing: a counterexample without them
		// is the honest one, if it still fails the same way.
		c := best
		c.Faults = slices.DeleteFunc(slices.Clone(best.Faults), func(op faults.Op) bool { return slices.Contains(bestRes.Unfired, op) })
		out.Runs++
		if r := RunPlan(t, c); FailsLike(r, out.Kinds, so.Match) && contrastClean(c) {
			best, bestRes = c, r
			out.Accepted++
		}
	}
	out.Plan, out.Shrunk, out.After = best, bestRes, SizeOf(best)
	again := RunPlan(t, best)
	out.Replayed = again.TraceHash == bestRes.TraceHash && FailsLike(again, ViolatedKinds(bestRes), MatchSame)
	out.Wall = time.Since(started)
	return out, nil
}

func planKey(p faults.Plan) string {
	p.Replay = ""
	b, _ := json.Marshal(p)
	return string(b)
}

// Reseeds is how many seeds derived from a plan's ReseedCandidates pairs
// with each of its candidates.
const Reseeds = 4

// ShrinkCandidates returns the one-step reductions of a plan, most
// reducing first: fewer faults, then a smaller workload, then earlier
// faults, shorter downtimes and fewer affected requests. Every candidate is
// a valid plan with the same protocol and seed, and strictly smaller by
// SizeOf.
func ShrinkCandidates(p faults.Plan) []faults.Plan {
	return shrinkCandidates(p)
}

// ReseedCandidates are the candidates of ShrinkCandidates, each with
// Reseeds seeds derived from the plan's. The search tries them only when
// no candidate with the plan's own seed still fails: a smaller workload or
// an earlier fault changes the schedule, and the failure may need another
// one.
func ReseedCandidates(p faults.Plan) []faults.Plan {
	var out []faults.Plan
	for _, c := range shrinkCandidates(p) {
		for i := 1; i <= Reseeds; i++ {
			q := c
			q.Seed = Derive(p.Seed, fmt.Sprintf("shrink/%d", i))
			q.Faults = slices.Clone(c.Faults)
			out = append(out, q)
		}
	}
	return out
}
func shrinkCandidates(p faults.Plan) []faults.Plan {
	var out []faults.Plan
	for _, ops := range FaultCandidates(p.Faults) {
		q := p
		q.Faults = ops
		out = append(out, q)
	}
	for _, w := range WorkloadCandidates(p.Workload) {
		q := p
		q.Workload = w
		q.Faults = slices.Clone(p.Faults)
		out = append(out, q)
	}
	for _, ops := range OpCandidates(p.Faults) {
		q := p
		q.Faults = ops
		out = append(out, q)
	}
	for _, w := range OptionCandidates(p) {
		q := p
		q.Workload = w
		q.Faults = slices.Clone(p.Faults)
		out = append(out, q)
	}
	// A fault's fields may depend on the workload (a rescale's count is
	// at most the partitions): keep the candidates that validate.
	return slices.DeleteFunc(out, func(q faults.Plan) bool { return q.Validate() != nil })
}

// FaultCandidates drops faults: all of them, then each one alone.
func FaultCandidates(ops []faults.Op) [][]faults.Op {
	var out [][]faults.Op
	if len(ops) > 1 {
		out = append(out, []faults.Op{})
	}
	for i := range ops {
		out = append(out, slices.Delete(slices.Clone(ops), i, i+1))
	}
	return out
}

// OpCandidates moves each fault earlier (a lower hit), shortens its
// downtime and lowers how many requests it affects (count), one fault and
// one step at a time.
func OpCandidates(ops []faults.Op) [][]faults.Op {
	var out [][]faults.Op
	with := func(i int, op faults.Op) {
		c := slices.Clone(ops)
		c[i] = op
		out = append(out, c)
	}
	// Every fault earlier by the same amount: keeps their order and the
	// gaps between them (a scale-out then a scale-in a checkpoint later).
	if len(ops) > 1 {
		low := slices.MinFunc(ops, func(a, b faults.Op) int { return a.Hit - b.Hit }).Hit
		for _, h := range smaller(low, 1) {
			c := slices.Clone(ops)
			for i := range c {
				c[i].Hit -= low - h
			}
			out = append(out, c)
		}
	}
	for i, op := range ops {
		for _, h := range smaller(op.Hit, 1) {
			o := op
			o.Hit = h
			with(i, o)
		}
	}
	for i, op := range ops {
		for _, d := range smaller(op.RestartDelayMS, 0) {
			o := op
			o.RestartDelayMS = d
			with(i, o)
		}
	}
	for i, op := range ops {
		for _, n := range smaller(op.Count, 1) {
			o := op
			o.Count = n
			with(i, o)
		}
	}
	return out
}

// WorkloadCandidates shrinks the workload one field at a time: fewer
// records, partitions, keys, subtasks, and fewer checkpoints (a longer
// interval). Every candidate validates.
func WorkloadCandidates(w faults.Workload) []faults.Workload {
	var out []faults.Workload
	add := func(c faults.Workload) {
		if !c.Equal(w) && c.Validate() == nil && !slices.ContainsFunc(out, c.Equal) {
			out = append(out, c)
		}
	}
	// Fewer records with the interval scaled along, so the run keeps about
	// as many checkpoints and a crash at hit h still fires; then fewer
	// records alone.
	// Late records shrink in proportion.
	scaleLate := func(c *faults.Workload) {
		c.LateRecords = w.LateRecords * c.Records / max(1, w.Records)
		c.AbortedInput = min(w.AbortedInput, c.Records)
	}
	for _, r := range smaller(w.Records, 1) {
		c := w
		c.Records = r
		scaleLate(&c)
		c.CheckpointIntervalMS = max(1, w.CheckpointIntervalMS*r/max(1, w.Records))
		add(c)
	}
	for _, r := range smaller(w.Records, 1) {
		c := w
		c.Records = r
		scaleLate(&c)
		add(c)
	}
	for _, l := range smaller(w.LateRecords, 0) {
		c := w
		c.LateRecords = l
		add(c)
	}
	// No aborted input at all, else as few records of it as the failure
	// needs (one transaction of one record is the smallest that tests a
	// read_committed source).
	for _, a := range smaller(w.AbortedInput, 0) {
		c := w
		c.AbortedInput = a
		add(c)
	}
	for _, p := range smaller(w.Partitions, max(1, w.Parallelism)) {
		c := w
		c.Partitions = p
		if len(w.StartupOffsets) > p {
			c.StartupOffsets = slices.Clone(w.StartupOffsets[:p])
		}
		add(c)
	}
	for _, k := range smaller(w.KeysPerPartition, 1) {
		c := w
		c.KeysPerPartition = k
		add(c)
	}
	for _, n := range smaller(w.Parallelism, 1) {
		c := w
		c.Parallelism = n
		add(c)
	}
	for _, n := range smaller(w.MaxConcurrentCheckpoints, 1) {
		c := w
		c.MaxConcurrentCheckpoints = n
		add(c)
	}
	// Fewer checkpoints: a longer interval, never beyond the whole run.
	if limit := w.Records / max(1, w.Parallelism); w.CheckpointIntervalMS < limit {
		c := w
		c.CheckpointIntervalMS = min(2*w.CheckpointIntervalMS, limit)
		add(c)
	}
	return out
}

// smaller returns values below v and at least lo, the biggest jumps first:
// lo, then v/8, v/4, v/2, 3v/4 and v-1 (each only if in range and new).
func smaller(v, lo int) []int {
	var out []int
	for _, c := range []int{lo, v / 8, v / 4, v / 2, v * 3 / 4, v - 1} {
		if c >= lo && c < v && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}
