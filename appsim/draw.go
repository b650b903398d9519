package appsim

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/eosim/eosim/app"
	"github.com/eosim/eosim/faults"
)

// Profile is what a fault-free run of an app did, which bounds the hit
// counts of drawn faults: requests per kind, calls per named site, and all
// requests.
type Profile struct {
	Kinds    map[string]int
	Sites    map[string]int
	Requests int
}

// AppFaults lists every fault name that applies to a, in a stable order:
// its named sites, the protocol sites, and the group faults (join-instance
// and group-coordinator-move only for an app with a consumer group).
func AppFaults(a app.App) []string {
	var out []string
	for _, s := range a.CrashPoints {
		out = append(out, faults.SiteFault(s))
	}
	for _, k := range faults.ProtocolKinds {
		out = append(out, faults.CrashBefore(k), faults.CrashAfter(k))
	}
	for _, g := range faults.GroupFaults {
		if a.Spec.Group != "" || g == "kill-instance" || g == "pause-instance" {
			out = append(out, g)
		}
	}
	return append(out, BrokerFaults...)
}

// ResolveFaults expands a comma-separated list for a: fault names, and the
// groups "all", "sites" (the app's named sites), "protocol", "group" and
// "broker" (BrokerFaults).
func ResolveFaults(a app.App, list string) ([]string, error) {
	all := AppFaults(a)
	want := map[string]bool{}
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		switch {
		case item == "":
		case item == "all":
			for _, f := range all {
				want[f] = true
			}
		case item == "sites" || item == "protocol" || item == "group" || item == "broker":
			for _, f := range all {
				info, _ := faults.Lookup(f)
				isSite := strings.HasPrefix(f, faults.SitePrefix)
				if item == "sites" && isSite || item == "protocol" && !isSite && info.Kind == faults.KindProtocol || item == "group" && info.Kind == faults.KindGroup || item == "broker" && info.Kind == faults.KindBroker {
					want[f] = true
				}
			}
		case slices.Contains(all, item):
			want[item] = true
		default:
			return nil, fmt.Errorf("fault %q does not apply to app %s (apply: %s)", item, a.Name, strings.Join(all, ","))
		}
	}
	var out []string
	for _, f := range all {
		if want[f] {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--faults %q selects no fault for app %s", list, a.Name)
	}
	return out, nil
}

// drawFaults draws 1 to 3 faults (swarm testing: each plan first keeps each
// enabled fault with probability 1/2) whose hits fall inside what the
// profile saw; a fault the profile never reached is not drawn.
func drawFaults(rng *rand.Rand, enabled []string, prof Profile, instances int) []faults.Op {
	span := func(name string) int {
		if site, ok := strings.CutPrefix(name, faults.SitePrefix); ok {
			return prof.Sites[site]
		}
		for _, k := range faults.ProtocolKinds {
			if name == faults.CrashBefore(k) || name == faults.CrashAfter(k) {
				return prof.Kinds[k]
			}
		}
		return prof.Requests
	}
	var reachable, pool []string
	for _, f := range enabled {
		if span(f) > 0 {
			reachable = append(reachable, f)
		}
	}
	if len(reachable) == 0 {
		return nil
	}
	for _, f := range reachable {
		if rng.IntN(2) == 0 {
			pool = append(pool, f)
		}
	}
	if len(pool) == 0 {
		pool = []string{reachable[rng.IntN(len(reachable))]}
	}
	n := 1 + rng.IntN(3)
	ops := make([]faults.Op, 0, n)
	for range n {
		name := pool[rng.IntN(len(pool))]
		op := faults.Op{Fault: name, Hit: 1 + rng.IntN(span(name)), RestartDelayMS: rng.IntN(2000)}
		switch name {
		case "pause-instance":
			// Longer than kgo's default 45 s session timeout, so the group
			// moves on without the paused member.
			op.RestartDelayMS = 50_000 + rng.IntN(20_000)
			op.Count = rng.IntN(max(1, instances))
		case "kill-instance":
			op.Count = rng.IntN(max(1, instances))
		case "join-instance", "group-coordinator-move":
			op.RestartDelayMS = 0
		}
		ops = append(ops, op)
	}
	slices.SortStableFunc(ops, func(a, b faults.Op) int { return a.Hit - b.Hit })
	return ops
}
