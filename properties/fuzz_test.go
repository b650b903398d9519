package properties

import (
	"encoding/binary"
	"testing"

	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/faults"
	"github.com/eosim/eosim/sim"
)

// byteReader hands out fuzz input; once it runs out it returns zeros, so
// every input decodes to a valid scenario.
type byteReader struct{ b []byte }

func (r *byteReader) byte() int {
	if len(r.b) == 0 {
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return int(v)
}

func (r *byteReader) uint16() int { return r.byte() | r.byte()<<8 }

func (r *byteReader) uint64() uint64 {
	var b [8]byte
	for i := range b {
		b[i] = byte(r.byte())
	}
	return binary.LittleEndian.Uint64(b[:])
}

// decodeFuzzCase turns bytes into a protocol index and a case within
// DefaultGenConfig's bounds: 8 bytes of seed, then partitions, records (2
// bytes), keys, interval, the number of faults and for each its fault
// (among cfg.Faults), hit and restart delay (2 bytes), and last the
// protocol (an index the caller reduces modulo its list).
func decodeFuzzCase(data []byte, cfg GenConfig) (Case, int) {
	r := &byteReader{b: data}
	c := Case{Seed: r.uint64()}
	var w faults.Workload
	w.Partitions = 1 + r.byte()%cfg.MaxPartitions
	w.Records = 1 + r.uint16()%cfg.MaxRecords
	w.KeysPerPartition = 1 + r.byte()%cfg.MaxKeys
	w.CheckpointIntervalMS = cfg.MinIntervalMS + r.byte()%(cfg.MaxIntervalMS-cfg.MinIntervalMS+1)
	maxPar := max(1, min(cfg.MaxParallelism, w.Partitions))
	w.Parallelism = 1 + r.byte()%maxPar
	w.LateRecords = w.Records * (r.byte() % 5) / 8
	c.Workload = w
	n := r.byte() % (cfg.MaxFaults + 1)
	for range n {
		if len(cfg.Faults) == 0 {
			break
		}
		name := cfg.Faults[r.byte()%len(cfg.Faults)]
		op := faults.Op{Fault: name, Hit: 1 + r.byte()%(checkpointsOf(w)+2)}
		delay := r.uint16()
		if info, _ := faults.Lookup(name); info.Kind == faults.KindCrash {
			op.RestartDelayMS = delay % (cfg.MaxDelayMS + 1)
		}
		if name == "rescale" {
			op.Count = 1 + delay%maxPar
		}
		c.Faults = append(c.Faults, op)
	}
	return c, r.byte()
}

// FuzzCorrectProtocol: whatever scenario the bytes describe, every correct
// protocol is exactly-once. The seed corpus in testdata/fuzz runs with go
// test; explore with
//
//	go test ./properties -run '^$' -fuzz FuzzCorrectProtocol -fuzztime 60s
func FuzzCorrectProtocol(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x01\x00\x00\x00\x00\x00\x00\x00\x03\xc8\x00\x02\x32\x02\x04\x02\x10\x00\x06\x01\x20\x03"))
	cfg := DefaultGenConfig()
	correct := protocolsOfKind(engine.KindCorrect)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, pick := decodeFuzzCase(data, cfg)
		protocol := correct[pick%len(correct)]
		if err := c.Plan(protocol).Validate(); err != nil {
			t.Fatalf("the decoder made an invalid plan: %v", err)
		}
		r := sim.RunPlan(t, c.Plan(protocol))
		if r.HarnessError != "" {
			t.Fatalf("%s: harness error on %s: %s", protocol, c, r.HarnessError)
		}
		if r.Failed() {
			t.Fatalf("%s violates exactly-once on %s: %s\nreplay: %s",
				protocol, c, describe(sim.ViolatedKinds(r), ""), writeFailure(t, c.Plan(protocol)))
		}
	})
}
