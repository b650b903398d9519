package fidelity

import (
	"context"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

var versionProbes = []Probe{
	{Name: "transaction-version", ReliedOn: "kgo opts into KIP-890 part 2 (epoch bump per transaction) from the finalized transaction.version and EndTxn v5",
		Run: probeTransactionVersion},
	{Name: "epoch-per-transaction", ReliedOn: "the engine stores the epoch of each pre-committed transaction; under TV2 it changes every transaction, under TV1 never",
		Run: probeEpochPerTransaction},
}

func probeTransactionVersion(ctx context.Context, brokers []string) Outcome {
	return run(ctx, brokers, "tv", func(s *session) {
		req := kmsg.NewPtrApiVersionsRequest()
		req.ClientSoftwareName, req.ClientSoftwareVersion = "eosim-fidelity", "1"
		resp, err := req.RequestWith(s.ctx, s.client(false))
		s.must(err, "api versions")
		versions := map[int16]int16{}
		for _, k := range resp.ApiKeys {
			versions[k.ApiKey] = k.MaxVersion
		}
		s.note("max versions", "EndTxn v%d, Produce v%d, InitProducerID v%d, TxnOffsetCommit v%d, ListTransactions v%d",
			versions[int16(kmsg.EndTxn)], versions[int16(kmsg.Produce)], versions[int16(kmsg.InitProducerID)],
			versions[int16(kmsg.TxnOffsetCommit)], versions[int16(kmsg.ListTransactions)])
		tv := "unset"
		for _, f := range resp.FinalizedFeatures {
			if f.Name == "transaction.version" {
				tv = fmt.Sprint(f.MaxVersionLevel)
			}
		}
		s.note("finalized transaction.version", "%s", tv)
	})
}

func probeEpochPerTransaction(ctx context.Context, brokers []string) Outcome {
	return run(ctx, brokers, "epochs", func(s *session) {
		topic := s.topic("out", 1)
		for _, tv1 := range []bool{false, true} {
			id := s.name(fmt.Sprintf("tx-tv1-%v", tv1))
			cl := s.producer(tv1, id, 0)
			pid0, base := s.pidOf(cl)
			var seen []string
			for i := range 3 {
				if i > 0 {
					s.settled(id) // see session.settled
					s.must(cl.BeginTransaction(), "begin")
				}
				s.must(errOf(s.produce(cl, topic, 0, fmt.Sprint(i))), fmt.Sprintf("produce in transaction %d, tv1=%v", i, tv1))
				pid, epoch := s.pidOf(cl)
				seen = append(seen, rel(epoch, base)+"/"+samePID(pid, pid0))
				s.must(cl.EndTransaction(s.ctx, kgo.TryCommit), "commit")
			}
			label := "tv2 client"
			if tv1 {
				label = "tv1 client"
			}
			s.note(label, "epochs of 3 transactions %s", strings.Join(seen, " "))
		}
	})
}

// errOf turns a step's outcome name back into an error for must.
func errOf(name string) error {
	if name == "OK" {
		return nil
	}
	return fmt.Errorf("%s", name)
}
