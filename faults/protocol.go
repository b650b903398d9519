package faults

import "strings"

// Faults of applications under test (package appsim): protocol-site
// crashes that need no change to the app, crashes at the app's own named
// sites, and consumer-group faults. The engine's scenarios do not
// implement them, so they are opt-in in the catalogue: the engine's "all"
// does not include them; appsim resolves its own "all" (AppFaults).

const (
	// KindProtocol: the process dies at a Kafka request boundary.
	KindProtocol Kind = "protocol"
	// KindGroup: consumer-group faults over the app's instances.
	KindGroup Kind = "group"
	// SitePrefix starts the fault name of a crash at an app's named site:
	// "crash-at:after-precommit" fires the Hit-th time any process calls
	// Env.CrashPoint("after-precommit").
	SitePrefix = "crash-at:"
)

// ProtocolKinds are the request kinds protocol-site crash points aim at,
// in a stable order. EndTxn is split by its Commit field.
var ProtocolKinds = []string{
	"init-producer-id", "add-partitions-to-txn", "produce", "add-offsets-to-txn",
	"txn-offset-commit", "end-txn-commit", "end-txn-abort", "offset-commit",
	"join-group", "sync-group", "heartbeat",
}

// GroupFaults are the consumer-group faults, in a stable order.
var GroupFaults = []string{"kill-instance", "pause-instance", "join-instance", "group-coordinator-move"}

// AppOnly reports whether the fault exists only for applications under
// test (appsim): protocol sites, named sites and group faults.
func (f Info) AppOnly() bool { return f.Kind == KindProtocol || f.Kind == KindGroup }

// CrashBefore and CrashAfter name the protocol sites of a request kind.
func CrashBefore(kind string) string { return "crash-before-" + kind }
func CrashAfter(kind string) string  { return "crash-after-" + kind }

// SiteFault names the crash at an app's named site.
func SiteFault(site string) string { return SitePrefix + site }

func protocolCatalogue() []Info {
	var out []Info
	for _, k := range ProtocolKinds {
		out = append(out,
			Info{CrashBefore(k), KindProtocol, "app only: the process dies when it sends its Hit-th " + k + " request, before the broker sees it", true},
			Info{CrashAfter(k), KindProtocol, "app only: the process dies right after the broker applied its Hit-th " + k + " request; the answer never arrives", true})
	}
	return append(out,
		Info{"kill-instance", KindGroup, "app only: at the Hit-th app request, instance Count (mod the instances) is killed while the others run; it restarts after restart_delay_ms", true},
		Info{"pause-instance", KindGroup, "app only: at the Hit-th app request, instance Count gets no network for restart_delay_ms (its session times out), then resumes: a zombie the group generation must fence", true},
		Info{"join-instance", KindGroup, "app only: at the Hit-th app request a new instance starts (a rebalance)", true},
		Info{"group-coordinator-move", KindGroup, "app only: at the Hit-th app request the group and transaction coordinators move (runs with it use 3 brokers)", true},
	)
}

// lookupSite returns the catalogue entry of a named-site crash.
func lookupSite(name string) (Info, bool) {
	site, ok := strings.CutPrefix(name, SitePrefix)
	if !ok || site == "" {
		return Info{}, false
	}
	return Info{name, KindProtocol, "app only: the process dies at its named site " + site, true}, true
}
