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
	cl       *kgo.Client
	topic    string
	late     []*kgo.Record
	rng      *rand.Rand
	nextAt   int64 // logical ms of the next late burst
	spec     app.Spec
	state    map[string][]byte // KeyedTransform state per input key
	seq      map[string]int    // outputs per input key so far
	expected []model.DeclaredExpected
	written  int
	err      error
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

// write produces recs and adds their declared outputs. A transform that
// panics is a bad declaration.
func (w *inputWriter) write(ctx context.Context, recs []*kgo.Record) (err error) {
	if len(recs) == 0 {
		return nil
	}
	if err := w.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("appsim: produce input: %w", err)
	}
	w.written += len(recs)
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

// arrive writes the next late burst when it is due.
func (w *inputWriter) arrive(s *scenario) {
	if len(w.late) == 0 || s.now.Milliseconds() < w.nextAt || w.err != nil {
		return
	}
	n := min(len(w.late), 1+w.rng.IntN(4))
	burst := w.late[:n]
	w.late = w.late[n:]
	w.nextAt = s.now.Milliseconds() + arrivalEvery.Milliseconds()
	if err := w.write(context.Background(), burst); err != nil {
		w.err = err
		s.fail(err.Error())
		return
	}
	s.live.expect(w.expected)
	s.tr.add("arrive", "", fmt.Sprintf("n=%d", n))
}

// badInputError is a declaration that makes no sense (exit 2).
type badInputError struct{ msg string }

func (e *badInputError) Error() string { return e.msg }
