package sim

import (
	"fmt"
	"slices"
	"testing"

	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/faults"
)

// Site is one arrival of the job at a crash point: the Hit-th arrival at
// Point, during checkpoint Checkpoint, after Trigger checkpoint triggers.
type Site struct {
	Point      string `json:"point"`
	Hit        int    `json:"hit"`
	Checkpoint int64  `json:"checkpoint"`
	Subtask    int    `json:"subtask"`
	Trigger    int    `json:"trigger"`
}

// FaultSite is where an enumerated broker or store fault is armed: at the
// Trigger-th checkpoint trigger of the fault-free run, aimed at Phase (""
// for the next request of its kind).
type FaultSite struct {
	Fault   string `json:"fault"`
	Phase   string `json:"phase,omitempty"`
	Trigger int    `json:"trigger"`
	// Count is a rescale's parallelism.
	Count int `json:"count,omitempty"`
}

// Site families of an enumeration.
const (
	FamilyCrash  = "crash"
	FamilyBroker = "broker"
	FamilyStore  = "store"
	FamilyScale  = "scale"
)

// Families lists the site families in a stable order.
func Families() []string { return []string{FamilyCrash, FamilyBroker, FamilyStore, FamilyScale} }

// EnumerateOptions choose what an enumeration covers.
type EnumerateOptions struct {
	// Families are the site families that get plans (see Families).
	Families []string
	// Pairs adds two-fault plans: every ordered pair of crash sites (with
	// the crash family), and every broker or store site with every crash
	// site that arrives after its trigger.
	Pairs bool
	// RestartDelayMS is the downtime after each enumerated crash.
	RestartDelayMS int
	// Require are the crash points the schedule search wants reached: the
	// first derived schedule reaching all of them (those the protocol
	// consults) is taken.
	Require []string
	// MaxPlans bounds the plans (0: no bound). Single-fault plans are kept
	// first; the rest of the budget is spread evenly over the pairs.
	MaxPlans int
}

// Exhaustive is an enumeration of fault plans over one schedule.
type Exhaustive struct {
	// Seed is the schedule's seed: the first seed derived from the
	// requested one whose fault-free run reaches every required crash point
	// (or, when none does, the one reaching the most points).
	Seed uint64
	// Sites are the crash-point arrivals of the fault-free run, in order.
	Sites []Site
	// BrokerSites and StoreSites are the broker and store faults armed at
	// each checkpoint trigger of the fault-free run (store: each trigger
	// whose checkpoint was written to the store).
	BrokerSites, StoreSites []FaultSite
	// ScaleSites are the rescales to every other parallelism (up to the
	// partition count) at each trigger after the first stored checkpoint.
	ScaleSites []FaultSite
	// Plans are the enumerated plans, after the MaxPlans bound.
	Plans []faults.Plan
	// Enumerated is how many plans the enumeration made before the bound,
	// Singles how many of them have one fault, Correlated how many pair a
	// broker or store site with the crash in the window where it matters.
	Enumerated, Singles, Correlated int
	// Coverage maps a crash point to the checkpoints at which the plans
	// crash the job there.
	Coverage map[string][]int64
	// Unreached are the crash points of the protocol (ProtocolCrashPoints)
	// the fault-free schedule never reached, in catalogue order.
	Unreached []string
	// brokerReach is where the fault-free run's requests would have met
	// each enumerated broker fault.
	brokerReach *requestReach
	// NotInProtocol are the crash points the protocol never consults.
	NotInProtocol []string
}

// Capped reports whether MaxPlans dropped some plans.
func (ex Exhaustive) Capped() bool { return len(ex.Plans) < ex.Enumerated }

// EnumerateCrashes enumerates crash sites only: a plan per crash-point
// arrival (and per ordered pair of arrivals when pairs is set), on the first
// schedule reaching every crash point.
func EnumerateCrashes(t *testing.T, opts Options, pairs bool, restartDelay int) (Exhaustive, error) {
	return Enumerate(t, opts, EnumerateOptions{Families: []string{FamilyCrash}, Pairs: pairs,
		RestartDelayMS: restartDelay, Require: crashPointNames()})
}

// Enumerate runs opts without faults, records every arrival at a crash
// point and every checkpoint trigger, and returns a plan per site of the
// chosen families (and per pair, with eo.Pairs). Every plan runs with
// Exhaustive.Seed, so its schedule is the fault-free one up to its first
// fault: a single-fault plan fires exactly at its site. Enumerated plans do
// not re-arm unfired ops: an op that did not fire is reported as unfired.
//
// Notifications are lost now and then (Options.LoseNotifications) so that
// crash-mid-commit is reached too; the plans carry the same setting.
func Enumerate(t *testing.T, opts Options, eo EnumerateOptions) (Exhaustive, error) {
	for _, f := range eo.Families {
		if !slices.Contains(Families(), f) {
			return Exhaustive{}, fmt.Errorf("unknown site family %s (want some of %v)", faults.Quote(f), Families())
		}
	}
	proto, err := engine.ProtocolByName(opts.Protocol)
	if err != nil {
		return Exhaustive{}, err
	}
	points := ProtocolCrashPoints(proto)
	// Points the protocol never consults are not searched for.
	want := slices.DeleteFunc(slices.Clone(eo.Require), func(p string) bool { return !slices.Contains(points, p) })
	ex, plan, err := searchSchedule(t, opts, want)
	if err != nil {
		return Exhaustive{}, err
	}
	ex.Unreached = slices.DeleteFunc(ex.Unreached, func(p string) bool { return !slices.Contains(points, p) })
	for _, p := range crashPointNames() {
		if !slices.Contains(points, p) {
			ex.NotInProtocol = append(ex.NotInProtocol, p)
		}
	}
	triggers := siteTriggers(ex.Sites)
	if slices.Contains(eo.Families, FamilyBroker) {
		for _, k := range triggers {
			for _, f := range enumeratedBrokerFaults(proto) {
				for _, phase := range brokerPhases() {
					if phase != faults.PhaseRecovery && !ex.brokerReach.reachable(f, k, phase) {
						continue // no request it acts on after its aim: it could not fire
					}
					ex.BrokerSites = append(ex.BrokerSites, FaultSite{Fault: f, Phase: phase, Trigger: k})
				}
			}
		}
	}
	if slices.Contains(eo.Families, FamilyStore) {
		for _, k := range storeTriggers(ex.Sites) {
			ex.StoreSites = append(ex.StoreSites, FaultSite{Fault: "checkpoint-write-lost", Trigger: k})
		}
	}
	if slices.Contains(eo.Families, FamilyScale) {
		ex.ScaleSites = scaleSites(triggers, storeTriggers(ex.Sites), plan.Workload)
	}
	singles, correlated, pairs := ex.plans(plan, eo)
	ex.Enumerated, ex.Singles, ex.Correlated = len(singles)+len(correlated)+len(pairs), len(singles), len(correlated)
	ex.Plans = capPlans(slices.Concat(singles, correlated), pairs, eo.MaxPlans)
	return ex, nil
}

// searchSchedule runs fault-free schedules derived from opts.Seed until one
// reaches every required crash point, and returns its sites and plan.
func searchSchedule(t *testing.T, opts Options, require []string) (Exhaustive, faults.Plan, error) {
	opts.LoseNotifications = true
	var best Exhaustive
	var bestPlan faults.Plan
	for try := range MaxScheduleTries {
		seed := opts.Seed
		if try > 0 {
			seed = Derive(opts.Seed, "exhaustive/"+itoa(try))
		}
		base := opts
		base.Seed = seed
		p, err := PlanFor(base)
		if err != nil {
			return Exhaustive{}, faults.Plan{}, err
		}
		// The plans fire exactly where they say (no re-arming, which would
		// also aim lost notifications and so leave the fault-free schedule).
		p.Faults, p.LoseNotifications, p.RearmUnfired = nil, true, false
		base.Plan = &p
		base.recordSites = true
		res := Run(t, base)
		if res.HarnessError != "" {
			return Exhaustive{}, faults.Plan{}, fmt.Errorf("fault-free run: %s", res.HarnessError)
		}
		ex := Exhaustive{Seed: seed, Sites: res.sites, brokerReach: res.brokerReach, Coverage: map[string][]int64{}}
		for _, s := range ex.Sites {
			ex.Coverage[s.Point] = appendOnce(ex.Coverage[s.Point], s.Checkpoint)
		}
		for _, point := range crashPointNames() {
			if len(ex.Coverage[point]) == 0 {
				ex.Unreached = append(ex.Unreached, point)
			}
		}
		if try == 0 || len(ex.Unreached) < len(best.Unreached) {
			best, bestPlan = ex, p
		}
		if !slices.ContainsFunc(require, func(point string) bool { return slices.Contains(ex.Unreached, point) }) {
			return ex, p, nil
		}
	}
	return best, bestPlan, nil
}

// plans builds the single-fault and the two-fault plans of the enumeration.
func (ex Exhaustive) plans(plan faults.Plan, eo EnumerateOptions) (singles, correlated, pairs []faults.Plan) {
	crash := func(s Site) faults.Op {
		return faults.Op{Fault: s.Point, Hit: s.Hit, RestartDelayMS: eo.RestartDelayMS}
	}
	armed := func(f FaultSite) faults.Op {
		return faults.Op{Fault: f.Fault, Hit: f.Trigger, Phase: f.Phase, Count: f.Count}
	}
	withFaults := func(ops ...faults.Op) faults.Plan {
		p := plan
		p.Faults = ops
		return p
	}
	crashes := slices.Contains(eo.Families, FamilyCrash)
	if crashes {
		for _, s := range ex.Sites {
			singles = append(singles, withFaults(crash(s)))
		}
	}
	faultSites := slices.Concat(ex.BrokerSites, ex.StoreSites, ex.ScaleSites)
	for _, f := range faultSites {
		// A recovery-aimed fault waits for a restore, which only a crash
		// brings about: it is correlated with one, or paired.
		if f.Phase != faults.PhaseRecovery {
			singles = append(singles, withFaults(armed(f)))
		}
	}
	for _, f := range slices.Concat(ex.BrokerSites, ex.StoreSites) {
		s, ok := ex.window(f)
		if !ok || !crashes {
			continue
		}
		if f.Phase == faults.PhaseRecovery && ex.brokerReach.observes(f.Fault) && !ex.brokerReach.reachable(f.Fault, s.Trigger+1, "") {
			// The restore resumes after the crash's checkpoint: the
			// fault-free run sent no request the fault acts on after the
			// next trigger, so the restored job would not either.
			continue
		}
		correlated = append(correlated, withFaults(armed(f), crash(s)))
	}
	if !eo.Pairs {
		return singles, correlated, nil
	}
	if crashes {
		for i, a := range ex.Sites {
			for j, b := range ex.Sites {
				if i != j {
					pairs = append(pairs, withFaults(crash(a), crash(b)))
				}
			}
		}
	}
	for _, f := range faultSites {
		for _, s := range ex.Sites {
			if s.Trigger >= f.Trigger {
				pairs = append(pairs, withFaults(armed(f), crash(s)))
			}
		}
	}
	return singles, correlated, pairs
}

// window is the crash that makes a broker or store fault armed at its
// trigger matter, the way faults.correlate aims draws: a fault a protocol
// mishandles silently (a lost store write taken for stored, a failed
// request ignored at pre-commit or commit) shows only when the job dies
// before the next checkpoint is stored and restores from the one before,
// so the companion is the first crash-after-ack after the trigger (the
// next checkpoint acknowledged, not stored); a recovery-aimed fault needs
// a restore, so its companion is the first crash-after-checkpoint-stored
// from its trigger on. Only crash-after-ack arrivals before the fault's
// checkpoint can fire keep the fault-free count, so the hit stays exact.
func (ex Exhaustive) window(f FaultSite) (Site, bool) {
	point, after := string(engine.CrashAfterAck), f.Trigger+1
	if f.Phase == faults.PhaseRecovery {
		point, after = string(engine.CrashAfterCheckpointStored), f.Trigger
	}
	for _, s := range ex.Sites {
		if s.Point == point && s.Trigger >= after {
			return s, true
		}
	}
	return Site{}, false
}

// scaleSites are a rescale to every other parallelism from 1 to the
// partition count at each trigger after the first stored checkpoint: the
// restore then redistributes keyed state, source offsets and id ranges.
func scaleSites(triggers, stored []int, w faults.Workload) []FaultSite {
	if len(stored) == 0 {
		return nil
	}
	var out []FaultSite
	for _, k := range triggers {
		if k <= stored[0] {
			continue
		}
		for p := 1; p <= max(w.Partitions, 1); p++ {
			if p != w.Parallelism {
				out = append(out, FaultSite{Fault: "rescale", Trigger: k, Count: p})
			}
		}
	}
	return out
}

// enumeratedBrokerFaults are the broker faults the protocol's requests can
// meet. Faults that change the cluster (leader-move, coordinator-move run
// with three brokers) would not keep the fault-free schedule and are left
// out, as is the opt-in broker-restart.
func enumeratedBrokerFaults(p engine.Protocol) []string {
	out := []string{"lost-ack-produce", "produce-rejected", "not-coordinator", "coordinator-loading"}
	if p.Guarantee != engine.TwoPhaseCommit {
		return out // no transactions: no EndTxn, AddPartitionsToTxn, TxnOffsetCommit
	}
	out = append(out, "lost-ack-endtxn", "endtxn-rejected", "concurrent-transactions")
	if p.OffsetsInTransaction {
		out = append(out, "lost-ack-txn-offset-commit")
	}
	return out
}

// brokerPhases are the aims of an enumerated broker fault: the next request
// of its kind, the next commit, the next pre-commit, and the next recovery
// (only with a crash: in its correlated plan and in pairs).
func brokerPhases() []string {
	return []string{"", faults.PhaseNotify, faults.PhasePrecommit, faults.PhaseRecovery}
}

// siteTriggers lists the checkpoint triggers of the fault-free run that
// the job reached crash points after (every trigger sends barriers, so
// every trigger is among them).
func siteTriggers(sites []Site) []int {
	var out []int
	for _, s := range sites {
		if s.Trigger > 0 && !slices.Contains(out, s.Trigger) {
			out = append(out, s.Trigger)
		}
	}
	return out
}

// storeTriggers lists the triggers whose checkpoint was written to the
// store: crash-after-checkpoint-stored is reached once per store write, and
// a lost write armed at that trigger fails exactly that write.
func storeTriggers(sites []Site) []int {
	var out []int
	for _, s := range sites {
		if s.Point == string(engine.CrashAfterCheckpointStored) && !slices.Contains(out, s.Trigger) {
			out = append(out, s.Trigger)
		}
	}
	return out
}

// capPlans keeps at most max plans (0: all): the singles first, the rest of
// the budget spread evenly over the pairs (so every region of the schedule
// keeps some).
func capPlans(singles, pairs []faults.Plan, max int) []faults.Plan {
	if max <= 0 || len(singles)+len(pairs) <= max {
		return slices.Concat(singles, pairs)
	}
	if len(singles) >= max {
		return spread(singles, max)
	}
	return slices.Concat(singles, spread(pairs, max-len(singles)))
}

// spread picks n of xs at even strides.
func spread(xs []faults.Plan, n int) []faults.Plan {
	out := make([]faults.Plan, n)
	for i := range out {
		out[i] = xs[i*len(xs)/n]
	}
	return out
}

// ProtocolCrashPoints are the crash points the protocol's job consults:
// all of them, but a sink without transactions has no commit to crash in
// the middle of and no pending transactions to recover (the engine consults
// crash-mid-commit and crash-during-recovery only in its transactional
// sink).
func ProtocolCrashPoints(p engine.Protocol) []string {
	if p.Guarantee == engine.TwoPhaseCommit {
		return crashPointNames()
	}
	return slices.DeleteFunc(crashPointNames(), func(point string) bool {
		return point == string(engine.CrashMidCommit) || point == string(engine.CrashDuringRecovery)
	})
}

func crashPointNames() []string {
	var out []string
	for _, p := range engine.CrashPoints() {
		out = append(out, string(p))
	}
	return out
}

// MaxScheduleTries bounds the search for a schedule reaching every
// required crash point.
const MaxScheduleTries = 64

func appendOnce(xs []int64, x int64) []int64 {
	for _, y := range xs {
		if y == x {
			return xs
		}
	}
	return append(xs, x)
}

// recordSite notes an arrival at a crash point (exhaustive enumeration).
func (c *planCrasher) recordSite(site engine.CrashSite) {
	if c.sites != nil {
		*c.sites = append(*c.sites, Site{Point: string(site.Point), Hit: c.hits[site.Point], Checkpoint: site.Checkpoint,
			Subtask: site.Subtask, Trigger: c.triggers()})
	}
}
