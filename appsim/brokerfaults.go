package appsim

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// BrokerFaults are the engine catalogue's broker rejections that apply to
// an app: at the Hit-th app request, kfake rejects the app's next request
// of that kind without applying it. The process lives on and must handle
// the error (abort and rewind, or fail): the mistakes of "commit after a
// failed flush" and "no abort after an error" show only under them.
var BrokerFaults = []string{"produce-rejected", "endtxn-rejected", "txn-offset-commit-rejected"}

// brokerFaults arms the rejections planned at the n-th app request.
func (s *scenario) brokerFaults(n int) {
	for _, name := range BrokerFaults {
		op, ok := s.fault.arm(name, n)
		if !ok {
			continue
		}
		s.res.Fired[name]++
		switch name {
		case "produce-rejected":
			// A non-retriable error on a Produce to the output topic: the
			// send fails, the records are not written.
			s.cluster.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: s.a.Spec.OutputTopic, Err: kerr.InvalidRecord, Count: max(1, op.Count)})
		case "endtxn-rejected":
			s.cluster.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.EndTxn}, Err: kerr.UnknownServerError, Count: max(1, op.Count)})
		case "txn-offset-commit-rejected":
			s.cluster.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.TxnOffsetCommit}, Err: kerr.UnknownServerError, Count: max(1, op.Count)})
		}
		s.tr.add("rejecting", "", name)
	}
}
