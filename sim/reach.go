package sim

import (
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// requestReach records, in an enumeration's fault-free run, after which
// checkpoint triggers the job still sent the requests each enumerated
// broker fault acts on. A broker fault armed at a trigger after which no
// such request comes cannot fire, so exhaustive mode enumerates it only up
// to the last trigger it can meet (brokerReach).
type requestReach struct {
	observers map[string]*kfake.FaultHandle
	// at are the requests each observer had counted when a fault armed
	// at a trigger, aimed at a phase ("" for none), would fire: at the
	// trigger, or at the first entry of the phase after it.
	at       map[reachPoint]map[string]int
	triggers int
}

type reachPoint struct {
	trigger int
	phase   string
}

// requestFaultSelectors are the requests each request fault acts on: the
// injector's kfake faults fail them, requestReach counts them.
func requestFaultSelectors() map[string]kfake.Fault {
	keys := func(ks ...kmsg.Key) []kmsg.Key { return ks }
	return map[string]kfake.Fault{
		"lost-ack-produce":           {Keys: keys(kmsg.Produce)},
		"produce-rejected":           {Keys: keys(kmsg.Produce), Topic: outputTopic},
		"not-coordinator":            {Keys: keys(kmsg.EndTxn, kmsg.AddPartitionsToTxn, kmsg.InitProducerID, kmsg.OffsetCommit, kmsg.TxnOffsetCommit), When: transactionalOnly},
		"coordinator-loading":        {Keys: keys(kmsg.EndTxn, kmsg.InitProducerID, kmsg.OffsetFetch, kmsg.OffsetCommit, kmsg.TxnOffsetCommit), When: transactionalOnly},
		"lost-ack-endtxn":            {Keys: keys(kmsg.EndTxn)},
		"endtxn-rejected":            {Keys: keys(kmsg.EndTxn)},
		"concurrent-transactions":    {Keys: keys(kmsg.InitProducerID, kmsg.AddPartitionsToTxn), When: transactionalOnly},
		"txn-offset-commit-rejected": {Keys: keys(kmsg.TxnOffsetCommit)},
		"lost-ack-txn-offset-commit": {Keys: keys(kmsg.TxnOffsetCommit)},
	}
}

// newRequestReach installs observing faults (they count, they fail
// nothing) on cluster.
func newRequestReach(cluster *kfake.Cluster) *requestReach {
	r := &requestReach{observers: map[string]*kfake.FaultHandle{}, at: map[reachPoint]map[string]int{}}
	for name, f := range requestFaultSelectors() {
		f.Observe, f.Count = true, -1
		r.observers[name] = cluster.Fault(f)
	}
	return r
}

// onTrigger notes the counts at a checkpoint trigger.
func (r *requestReach) onTrigger() {
	r.triggers++
	r.note(reachPoint{r.triggers, ""})
}

// onPhase notes the counts at the first entry of phase since a trigger
// (a phase-aimed fault armed at a trigger fires there).
func (r *requestReach) onPhase(phase string) {
	for k := r.triggers; k >= 1; k-- {
		if _, seen := r.at[reachPoint{k, phase}]; seen {
			break
		}
		r.note(reachPoint{k, phase})
	}
}

func (r *requestReach) note(p reachPoint) {
	counts := make(map[string]int, len(r.observers))
	for name, h := range r.observers {
		counts[name] = h.Hits()
	}
	r.at[p] = counts
}

// reachable reports whether a fault armed at trigger k, aimed at phase,
// met a request in the fault-free run: one came after the point it would
// have fired at. A phase the run never entered after k is unreachable.
func (r *requestReach) reachable(fault string, k int, phase string) bool {
	if r == nil {
		return false
	}
	counts, ok := r.at[reachPoint{k, phase}]
	h := r.observers[fault]
	return ok && h != nil && counts[fault] < h.Hits()
}

// observes reports whether fault is one whose requests r counts.
func (r *requestReach) observes(fault string) bool {
	if r == nil {
		return false
	}
	_, ok := r.observers[fault]
	return ok
}
