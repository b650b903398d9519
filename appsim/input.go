package appsim

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eosim/eosim/app"
	"github.com/eosim/eosim/model"
)

// inputWriter writes the app's input (a harness client on the raw virtual
// network: its produce is synchronous and runs while every app request is
// held, so it cannot race them) and computes the declared outputs.
type inputWriter struct {
	cl *kgo.Client
	// aborted holds the records written in transactions the harness
	// aborts, by the index of the committed input record they precede;
	// abortingOpts make the transactional client that writes them
	// (created when first needed, closed by close).
	aborted        map[int][][]*kgo.Record
	abortingOpts   []kgo.Opt
	aborting       *kgo.Client
	next           int // index of the next committed input record
	abortedWritten int
	late           []*kgo.Record
	rng            *rand.Rand
	nextAt         int64 // logical ms of the next late burst
	spec           app.Spec
	state          map[string][]byte // KeyedTransform state per input key
	seq            map[string]int    // outputs per input key so far
	expected       []model.DeclaredExpected
	err            error
}

// records draws the input: keys never span partitions, every value carries
// a unique id.
func drawInput(seed uint64, spec app.Spec, n, keys int) []*kgo.Record {
	rng := newRand(seed, "input")
	const letters = "abcdefghijklmnopqrstuvwxyz"
	out := make([]*kgo.Record, 0, n)
	for i := range n {
		p := int32(rng.IntN(int(spec.InputPartitions)))
		b := make([]byte, 5)
		for j := range b {
			b[j] = letters[rng.IntN(len(letters))]
		}
		out = append(out, &kgo.Record{Topic: spec.InputTopic, Partition: p,
			Key:   fmt.Appendf(nil, "k%d-%d", p, rng.IntN(keys)),
			Value: fmt.Appendf(nil, "id%d-%s", i, b)})
	}
	return out
}

// drawAborted draws n input records that go into transactions the harness
// aborts (from their own PRNG stream, so the committed input is the same
// with or without them): one to three transactions, each placed before one
// of the committed records, a record's key drawn as drawInput draws keys so
// that aborted records share keys with committed ones. Their values
// ("aborted<i>-...") match no declared output: an app that copies one
// shows it as unexpected output.
func drawAborted(seed uint64, spec app.Spec, n, committed, keys int) map[int][][]*kgo.Record {
	if n <= 0 || committed <= 0 {
		return nil
	}
	rng := newRand(seed, "aborted-input")
	txns := make([]int, 1+rng.IntN(min(3, n))) // position of each transaction
	for i := range txns {
		txns[i] = rng.IntN(committed)
	}
	groups := make([][]*kgo.Record, len(txns))
	for i := range n {
		p := int32(rng.IntN(int(spec.InputPartitions)))
		t := i % len(txns)
		if i >= len(txns) {
			t = rng.IntN(len(txns))
		}
		groups[t] = append(groups[t], &kgo.Record{Topic: spec.InputTopic, Partition: p,
			Key: fmt.Appendf(nil, "k%d-%d", p, rng.IntN(keys)), Value: fmt.Appendf(nil, "aborted%d-%d", i, rng.Uint32())})
	}
	out := map[int][][]*kgo.Record{}
	for i, at := range txns {
		out[at] = append(out[at], groups[i])
	}
	return out
}

// abortedCount is how many aborted records drawAborted placed.
func abortedCount(m map[int][][]*kgo.Record) int {
	n := 0
	for _, txns := range m {
		for _, t := range txns {
			n += len(t)
		}
	}
	return n
}

// write produces recs (the next committed input records, in order) and
// adds their declared outputs; the aborted transactions placed before any
// of them are written and aborted first, so that they sit between
// committed records in the input partitions. A transform that panics is a
// bad declaration.
func (w *inputWriter) write(ctx context.Context, recs []*kgo.Record) (err error) {
	if len(recs) == 0 {
		return nil
	}
	from := 0
	for i := range recs {
		txns := w.aborted[w.next+i]
		if len(txns) == 0 {
			continue
		}
		if err := w.produce(ctx, recs[from:i]); err != nil {
			return err
		}
		from = i
		for _, t := range txns {
			if err := w.writeAborted(ctx, t); err != nil {
				return err
			}
		}
	}
	if err := w.produce(ctx, recs[from:]); err != nil {
		return err
	}
	w.next += len(recs)
	defer func() {
		if r := recover(); r != nil {
			err = &badInputError{fmt.Sprintf("the app's declared transform panicked: %v", r)}
		}
	}()
	for _, r := range recs {
		in := app.Record{Key: r.Key, Value: r.Value, Partition: r.Partition, Offset: r.Offset}
		var outs []app.Record
		switch {
		case w.spec.KeyedTransform != nil:
			var st []byte
			st, outs = w.spec.KeyedTransform(w.state[string(r.Key)], in)
			w.state[string(r.Key)] = st
		case w.spec.Transform != nil:
			outs = w.spec.Transform(in)
		default:
			outs = []app.Record{{Key: r.Key, Value: r.Value}}
		}
		for _, o := range outs {
			k := string(r.Key)
			w.expected = append(w.expected, model.DeclaredExpected{
				Input: model.ID{Partition: r.Partition, Offset: r.Offset}, InputKey: k, Seq: w.seq[k],
				Key: string(o.Key), Value: string(o.Value)})
			w.seq[k]++
		}
	}
	return nil
}

// produce writes committed input records.
func (w *inputWriter) produce(ctx context.Context, recs []*kgo.Record) error {
	if len(recs) == 0 {
		return nil
	}
	if err := w.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("appsim: produce input: %w", err)
	}
	return nil
}

// writeAborted writes recs in one transaction and aborts it. It runs
// while every app request is held, so no app sees the transaction open:
// what a read_committed app must do is skip the aborted records.
func (w *inputWriter) writeAborted(ctx context.Context, recs []*kgo.Record) error {
	if w.aborting == nil {
		cl, err := kgo.NewClient(w.abortingOpts...)
		if err != nil {
			return fmt.Errorf("appsim: aborted-input producer: %w", err)
		}
		w.aborting = cl
	}
	if err := w.aborting.BeginTransaction(); err != nil {
		return fmt.Errorf("appsim: aborted input: begin: %w", err)
	}
	if err := w.aborting.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("appsim: aborted input: produce: %w", err)
	}
	if err := w.aborting.EndTransaction(ctx, kgo.TryAbort); err != nil {
		return fmt.Errorf("appsim: aborted input: abort: %w", err)
	}
	w.abortedWritten += len(recs)
	return nil
}

// close closes the aborted-input producer, if one was made.
func (w *inputWriter) close() {
	if w.aborting != nil {
		w.aborting.Close()
	}
}

// arrive writes the next late burst when it is due.
func (w *inputWriter) arrive(s *scenario) {
	if len(w.late) == 0 || s.now.Milliseconds() < w.nextAt || w.err != nil {
		return
	}
	n := min(len(w.late), 1+w.rng.IntN(4))
	abortedBefore := w.abortedWritten
	burst := w.late[:n]
	w.late = w.late[n:]
	w.nextAt = s.now.Milliseconds() + arrivalEvery.Milliseconds()
	if err := w.write(context.Background(), burst); err != nil {
		w.err = err
		s.fail(err.Error())
		return
	}
	s.live.expect(w.expected)
	detail := fmt.Sprintf("n=%d", n)
	if a := w.abortedWritten - abortedBefore; a > 0 {
		detail += fmt.Sprintf(" aborted=%d", a)
	}
	s.tr.add("arrive", "", detail)
}

// badInputError is a declaration that makes no sense (exit 2).
type badInputError struct{ msg string }

func (e *badInputError) Error() string { return e.msg }
