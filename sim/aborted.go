package sim

import (
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eosim/eosim/faults"
)

// abortedInputTxnID is the transactional id of the harness's producer of
// aborted input: outside every prefix a job uses, so no restore of the
// engine takes its transactions for the engine's own.
const abortedInputTxnID = "eosim-harness-aborted-input"

// abortedInput draws the workload's aborted input: AbortedInput records in
// one to three transactions that the harness aborts, each placed before
// one of the first initial committed records and written to that record's
// partition, so that a committed record follows it there (a partition's
// end is then always a committed record's, as the oracle counts ends).
// They come from their own PRNG stream, so the committed input is the
// same with or without them. Their keys are the partition's keys; their
// values ("aborted<i>-...") match no input: a source that reads
// read_uncommitted emits them, and the oracle reports outputs for inputs
// that do not exist and counts that diverge. Nothing is placed when no
// committed record is there before the job starts (every record late).
func abortedInput(seed uint64, w faults.Workload, recs []*kgo.Record, initial int) map[int][][]*kgo.Record {
	n := w.AbortedInput
	if n <= 0 || initial <= 0 {
		return nil
	}
	rng := newRNG(seed, "aborted-input")
	at := make([]int, 1+rng.IntN(min(3, n)))
	for i := range at {
		at[i] = rng.IntN(initial)
	}
	txns := make([][]*kgo.Record, len(at))
	for i := range n {
		t := i % len(at)
		if i >= len(at) {
			t = rng.IntN(len(at))
		}
		next := recs[at[t]]
		p := next.Partition
		txns[t] = append(txns[t], &kgo.Record{Topic: inputTopic, Partition: p,
			Key:       fmt.Appendf(nil, "k%d-%d", p, rng.IntN(max(1, w.KeysPerPartition))),
			Value:     fmt.Appendf(nil, "aborted%d-%d", i, rng.Uint32()),
			Timestamp: next.Timestamp})
	}
	out := map[int][][]*kgo.Record{}
	for i, a := range at {
		out[a] = append(out[a], txns[i])
	}
	return out
}

// produceInitial writes the input there before the job starts, with the
// aborted transactions in their places, and returns how many aborted
// records it wrote. No fault is armed yet (faults arm at checkpoint
// triggers), so the harness's transactions meet none.
func (s *scheduler) produceInitial(recs []*kgo.Record, aborted map[int][][]*kgo.Record) (int, error) {
	if len(aborted) == 0 {
		return 0, s.appendInput(recs)
	}
	if !time.Now().Before(inputEpoch) {
		// The markers would be stamped after input records (see inputEpoch).
		return 0, fmt.Errorf("%w: aborted input written at %v, not before the input epoch %v", errHarness, time.Now().UTC(), inputEpoch)
	}
	cl, err := kgo.NewClient(append(slices.Clone(s.clientOpts), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.TransactionalID(abortedInputTxnID))...)
	if err != nil {
		return 0, fmt.Errorf("aborted-input producer: %w", err)
	}
	defer cl.Close()
	places := make([]int, 0, len(aborted))
	for at := range aborted {
		places = append(places, at)
	}
	slices.Sort(places)
	from, written := 0, 0
	for _, at := range places {
		if err := s.appendInput(recs[from:at]); err != nil {
			return written, err
		}
		from = at
		for _, txn := range aborted[at] {
			if err := s.writeAborted(cl, txn); err != nil {
				return written, err
			}
			written += len(txn)
		}
	}
	return written, s.appendInput(recs[from:])
}

// writeAborted writes recs in one transaction of cl and aborts it.
func (s *scheduler) writeAborted(cl *kgo.Client, recs []*kgo.Record) error {
	if err := cl.BeginTransaction(); err != nil {
		return fmt.Errorf("aborted input: begin: %w", err)
	}
	if err := cl.ProduceSync(s.ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("aborted input: produce: %w", err)
	}
	if err := cl.EndTransaction(s.ctx, kgo.TryAbort); err != nil {
		return fmt.Errorf("aborted input: abort: %w", err)
	}
	return nil
}
