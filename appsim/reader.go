package appsim

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eosim/eosim/model"
)

// liveReader is a harness-owned read_committed consumer of the output that
// runs during the run, so that order and aborted reads are judged as a
// consumer saw them, and so the scheduler knows when the output covers the
// input.
type liveReader struct {
	cl     *kgo.Client
	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	seen     []model.DeclaredOutput
	count    map[declaredKV]int // seen per output
	want     map[declaredKV]int // expected per output
	expected int                // outputs expected so far
	covered  int                // expected outputs seen at least as often as expected

	traced     int           // scheduler only: records already traced
	progressAt time.Duration // scheduler only: when traced last changed
}

type declaredKV struct{ key, value string }

func startLiveReader(opts []kgo.Opt, topic string) (*liveReader, error) {
	cl, err := kgo.NewClient(append(opts,
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
	)...)
	if err != nil {
		return nil, fmt.Errorf("appsim: live reader: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &liveReader{cl: cl, cancel: cancel, done: make(chan struct{}), count: map[declaredKV]int{}, want: map[declaredKV]int{}}
	go r.loop(ctx)
	return r, nil
}

func (r *liveReader) loop(ctx context.Context) {
	defer close(r.done)
	for {
		fs := r.cl.PollFetches(ctx)
		if ctx.Err() != nil || fs.IsClientClosed() {
			return
		}
		r.mu.Lock()
		fs.EachRecord(func(rec *kgo.Record) {
			kv := declaredKV{string(rec.Key), string(rec.Value)}
			r.seen = append(r.seen, model.DeclaredOutput{Key: kv.key, Value: kv.value, Partition: rec.Partition, Offset: rec.Offset})
			r.count[kv]++
			if r.count[kv] <= r.want[kv] {
				r.covered++
			}
		})
		r.mu.Unlock()
	}
}

// expect sets the outputs expected so far (the declared transform of the
// input written so far).
func (r *liveReader) expect(exp []model.DeclaredExpected) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range exp[r.expected:] {
		kv := declaredKV{e.Key, e.Value}
		r.want[kv]++
		if r.count[kv] >= r.want[kv] {
			r.covered++
		}
	}
	r.expected = len(exp)
}

// complete reports whether every expected output was seen.
func (r *liveReader) complete() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.covered >= r.expected
}

// observe traces how many records the reader has seen (scheduler only).
func (r *liveReader) observe(s *scenario) {
	r.mu.Lock()
	n := len(r.seen)
	r.mu.Unlock()
	if n != r.traced {
		r.traced, r.progressAt = n, s.now
		s.tr.add("live-read", "", fmt.Sprintf("records=%d", n))
	}
}

func (r *liveReader) stop() []model.DeclaredOutput {
	r.cancel()
	r.cl.Close()
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen
}

// finalView is the output log after the run as the transaction markers
// define it.
type finalView struct {
	visible, aborted []model.DeclaredOutput
	stalled          string
}

// readFinal reads the whole output log uncommitted, with its transaction
// markers, up to the high watermark, and derives what a read_committed
// reader sees: non-transactional records and committed transactions below
// the last stable offset (the first offset of a transaction still open).
func readFinal(ctx context.Context, opts []kgo.Opt, topic string, partitions int32) (finalView, error) {
	var v finalView
	cl, err := kgo.NewClient(append(opts,
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadUncommitted()),
		kgo.KeepControlRecords(),
	)...)
	if err != nil {
		return v, fmt.Errorf("appsim: output reader: %w", err)
	}
	defer cl.Close()
	hwm, err := listEnds(ctx, cl, topic, partitions)
	if err != nil {
		return v, err
	}
	next := make([]int64, partitions)
	var all []*kgo.Record
	for p := range partitions {
		for next[p] < hwm[p] {
			fs := cl.PollFetches(ctx)
			if err := ctx.Err(); err != nil {
				return v, fmt.Errorf("appsim: reading the output up to its high watermark: %w", err)
			}
			fs.EachRecord(func(r *kgo.Record) {
				all = append(all, r)
				next[r.Partition] = max(next[r.Partition], r.Offset+1)
			})
		}
	}
	byPart := make([][]*kgo.Record, partitions)
	for _, r := range all {
		byPart[r.Partition] = append(byPart[r.Partition], r)
	}
	for p, recs := range byPart {
		vis, ab, open := deriveCommitted(recs)
		v.visible = append(v.visible, vis...)
		v.aborted = append(v.aborted, ab...)
		if open >= 0 && v.stalled == "" {
			v.stalled = fmt.Sprintf("an open transaction pins output partition %d at offset %d (high watermark %d)", p, open, hwm[p])
		}
	}
	return v, nil
}

// deriveCommitted applies the transaction markers of one partition's log
// (offset order): it returns the visible records, the aborted ones, and
// the last stable offset if a transaction is still open (else -1).
func deriveCommitted(recs []*kgo.Record) (visible, aborted []model.DeclaredOutput, open int64) {
	type txn struct{ recs []*kgo.Record }
	pending := map[int64]*txn{}
	state := map[[2]int64]int{} // partition/offset -> 1 committed, 2 aborted
	out := func(r *kgo.Record) model.DeclaredOutput {
		return model.DeclaredOutput{Key: string(r.Key), Value: string(r.Value), Partition: r.Partition, Offset: r.Offset}
	}
	for _, r := range recs {
		switch {
		case r.Attrs.IsControl():
			t := pending[r.ProducerID]
			delete(pending, r.ProducerID)
			commit := len(r.Key) >= 4 && r.Key[3] == 1
			if t != nil {
				for _, d := range t.recs {
					state[[2]int64{int64(d.Partition), d.Offset}] = map[bool]int{true: 1, false: 2}[commit]
				}
			}
		case r.Attrs.IsTransactional():
			t := pending[r.ProducerID]
			if t == nil {
				t = &txn{}
				pending[r.ProducerID] = t
			}
			t.recs = append(t.recs, r)
		default:
			state[[2]int64{int64(r.Partition), r.Offset}] = 1
		}
	}
	open = -1
	for _, t := range pending {
		if first := t.recs[0].Offset; open < 0 || first < open {
			open = first
		}
	}
	for _, r := range recs {
		if r.Attrs.IsControl() || open >= 0 && r.Offset >= open {
			continue
		}
		switch state[[2]int64{int64(r.Partition), r.Offset}] {
		case 1:
			visible = append(visible, out(r))
		case 2:
			aborted = append(aborted, out(r))
		}
	}
	return visible, aborted, open
}

var errNoPartition = errors.New("appsim: the broker did not answer for every output partition")
