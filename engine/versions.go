package engine

import (
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// Request version sets a job's clients may be pinned to (the workload's
// request_versions, Protocol.RequestVersions).
const (
	RequestVersionsKIP890    = "kip-890"
	RequestVersionsPreKIP890 = "pre-kip-890"
)

// RequestVersionsFor is the request version set a run's clients use: the
// protocol's own if it pins one, else the workload's ("" is KIP-890).
// The simulator and the real-broker runner both ask it, so that a plan
// runs with the same clients on kfake and on Kafka.
func RequestVersionsFor(p Protocol, workload string) string {
	if p.RequestVersions != "" {
		return p.RequestVersions
	}
	if workload == "" {
		return RequestVersionsKIP890
	}
	return workload
}

// PreKIP890Versions caps the requests KIP-890 part 2 changed at their last
// version before it: Produce v11 (v12 adds partitions implicitly), EndTxn
// v4 (v5 bumps the epoch at every end), TxnOffsetCommit v4 (v5 adds the
// group implicitly), AddPartitionsToTxn v3 (v4 is the brokers' verify
// batch), AddOffsetsToTxn v3, InitProducerID v4. kgo then runs its
// pre-890p2 paths (supportsKIP890p2 checks the caps); pass it to
// kgo.MaxVersions.
func PreKIP890Versions() *kversion.Versions {
	v := kversion.Stable()
	for key, max := range map[kmsg.Key]int16{
		kmsg.Produce: 11, kmsg.EndTxn: 4, kmsg.TxnOffsetCommit: 4,
		kmsg.AddPartitionsToTxn: 3, kmsg.AddOffsetsToTxn: 3, kmsg.InitProducerID: 4,
	} {
		v.SetMaxKeyVersion(int16(key), max)
	}
	return v
}
