// Package loopback runs an app.App for real: an in-process kfake cluster
// on loopback TCP, real time, every instance through app.RunProduction. It
// writes input, waits for the output, stops the app gracefully and checks
// the committed output against the Spec exactly. It is the examples' smoke
// test outside the simulator: it proves an app works, it finds no races.
//
// It imports app, kgo and kfake, and is used by tests only.
package loopback

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eosim/eosim/app"
)

const endKey = "__loopback-end__"

// faultedLifeWait bounds how long a faulted life waits for its output.
const faultedLifeWait = 3 * time.Second

// faultedGrace is how long a faulted life runs on after its output is
// complete: longer than a restart plus a rebalance.
const faultedGrace = 2 * time.Second

// Result is what one run wrote and what a read_committed reader saw.
type Result struct {
	Input  []app.Record
	Output []app.Record
	// Stalled is set when a read_committed reader could not read the output
	// to its end: an open transaction pins the last stable offset.
	Stalled bool
}

// Faults are what a loopback run injects; the zero value injects nothing.
type Faults struct {
	// Crash kills the process the Hit-th time a named site is reached
	// (counted over the run); the instance restarts with its store.
	Crash map[string]int
	// RejectProduce answers the Hit-th transactional Produce to the output
	// topic with INVALID_RECORD before the broker applies it (0: never).
	RejectProduce int
}

func (f Faults) none() bool { return len(f.Crash) == 0 && f.RejectProduce == 0 }

// Run writes n/2 input records, runs the app until the output holds what
// Expect promises, stops it, and does the same again with n/2 more (a
// restart from the group's committed offsets); it returns the input and the
// committed output. Everything must finish within timeout. Without faults
// every instance runs through app.RunProduction.
func Run(t *testing.T, a app.App, n int, timeout time.Duration) Result {
	t.Helper()
	return RunWithFaults(t, a, n, timeout, Faults{})
}

// RunWithFaults is Run with f injected. A run whose app loses data ends at
// the timeout with what the output holds by then.
func RunWithFaults(t *testing.T, a app.App, n int, timeout time.Duration, f Faults) Result {
	t.Helper()
	require.NoError(t, a.Validate())
	// A killed member must leave the group fast on a real clock.
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(100*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(cluster.Close)
	require.NoError(t, cluster.CreateTopic(a.Spec.InputTopic, a.Spec.InputPartitions, nil))
	require.NoError(t, cluster.CreateTopic(a.Spec.OutputTopic, a.Spec.OutputPartitionCount(), nil))
	if f.RejectProduce > 0 {
		rejectProduce(cluster, f.RejectProduce)
	}
	brokers := cluster.ListenAddrs()
	base := []kgo.Opt{kgo.SeedBrokers(brokers...), kgo.DisableClientMetrics()}
	producer, err := kgo.NewClient(append(slices.Clone(base), kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	require.NoError(t, err)
	t.Cleanup(producer.Close)

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	r := &runner{t: t, a: a, brokers: brokers, base: base, faults: f,
		crashes: &crashes{arm: f.Crash, hits: map[string]int{}}}
	var res Result
	storeDir := t.TempDir() // one store per instance, kept across lives
	// Two lives: the second starts from what the first committed to the
	// group, so an offset commit that did not happen shows as duplicates.
	for life := range 2 {
		res.Input = append(res.Input, produce(t, ctx, producer, a.Spec, life*(n/2), n/2)...)
		r.runUntil(ctx, storeDir, len(Expect(a.Spec, res.Input)))
	}
	readCtx, cancelRead := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelRead()
	res.Output, res.Stalled = readAll(t, readCtx, producer, base, a.Spec)
	return res
}

type runner struct {
	t       *testing.T
	a       app.App
	brokers []string
	base    []kgo.Opt
	faults  Faults
	crashes *crashes
}

// runUntil runs every instance of the app until a read_committed reader
// has seen want output records (or ctx ends), then stops them gracefully.
func (r *runner) runUntil(ctx context.Context, dir string, want int) {
	t := r.t
	t.Helper()
	appCtx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make([]error, r.a.ProcessCount())
	for i := range r.a.ProcessCount() {
		store := app.FileStore{Dir: fmt.Sprintf("%s/%d", dir, i)}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r.faults.none() {
				errs[i] = app.RunProduction(appCtx, r.a, app.ProductionOptions{
					Brokers: r.brokers, Store: store, Instance: i,
					ClientOpts: []kgo.Opt{kgo.DisableClientMetrics()},
				})
				return
			}
			errs[i] = supervise(t, appCtx, r.a, i, r.brokers, store, r.crashes)
		}()
	}
	waitCtx := ctx
	if !r.faults.none() {
		// An app that loses data under the fault never shows want records.
		var cancel context.CancelFunc
		waitCtx, cancel = context.WithTimeout(ctx, faultedLifeWait)
		defer cancel()
	}
	reached := waitForOutput(waitCtx, r.base, r.a.Spec, want)
	if !r.faults.none() {
		// Let a process killed just after its output became visible
		// restart and replay whatever it did not commit.
		time.Sleep(faultedGrace)
	}
	stop()
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "instance %d", i)
	}
	if !reached && r.faults.none() {
		t.Fatalf("output: fewer than %d records by the deadline", want)
	}
}

// rejectProduce answers the hit-th transactional Produce with
// INVALID_RECORD for every partition, before the broker applies it.
func rejectProduce(c *kfake.Cluster, hit int) {
	var seen int
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		pr := req.(*kmsg.ProduceRequest)
		// Only the app produces transactionally: the input writer does not.
		// (Produce v13 names topics by id, so the name cannot be matched.)
		if pr.TransactionID == nil {
			return nil, nil, false
		}
		if seen++; seen < hit {
			return nil, nil, false
		}
		resp := pr.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range pr.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, kerr.InvalidRecord.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
}

// produce writes count records with ids from first, keys that never span
// partitions and unique values.
func produce(t *testing.T, ctx context.Context, cl *kgo.Client, spec app.Spec, first, count int) []app.Record {
	t.Helper()
	recs := make([]*kgo.Record, 0, count)
	for i := first; i < first+count; i++ {
		p := int32(i) % spec.InputPartitions
		recs = append(recs, &kgo.Record{Topic: spec.InputTopic, Partition: p,
			Key:   fmt.Appendf(nil, "k%d-%d", p, i%5),
			Value: fmt.Appendf(nil, "value-%d", i)})
	}
	require.NoError(t, cl.ProduceSync(ctx, recs...).FirstErr())
	out := make([]app.Record, 0, count)
	for _, r := range recs {
		out = append(out, app.Record{Key: r.Key, Value: r.Value, Partition: r.Partition, Offset: r.Offset})
	}
	return out
}

// Expect applies the Spec to the input in offset order per partition.
func Expect(spec app.Spec, input []app.Record) []app.Record {
	in := slices.Clone(input)
	sort.Slice(in, func(i, j int) bool {
		if in[i].Partition != in[j].Partition {
			return in[i].Partition < in[j].Partition
		}
		return in[i].Offset < in[j].Offset
	})
	var out []app.Record
	state := map[string][]byte{}
	for _, r := range in {
		switch {
		case spec.KeyedTransform != nil:
			next, recs := spec.KeyedTransform(state[string(r.Key)], r)
			state[string(r.Key)] = next
			out = append(out, recs...)
		case spec.Transform != nil:
			out = append(out, spec.Transform(r)...)
		default:
			out = append(out, app.Record{Key: r.Key, Value: r.Value})
		}
	}
	return out
}

// RequireExactlyOnce fails t unless the output holds every expected record
// exactly once and nothing else.
func RequireExactlyOnce(t *testing.T, spec app.Spec, res Result) {
	t.Helper()
	if m := Mismatch(spec, res); m != "" {
		t.Fatal(m)
	}
}

// Mismatch describes how the output differs from exactly once ("" if it
// does not): records missing, duplicated or unexpected.
func Mismatch(spec app.Spec, res Result) string {
	want, got := multiset(Expect(spec, res.Input)), multiset(res.Output)
	var diffs []string
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if got[k] != want[k] {
			diffs = append(diffs, fmt.Sprintf("%s: want %d, got %d", k, want[k], got[k]))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: unexpected, got %d", k, got[k]))
		}
	}
	if res.Stalled {
		diffs = append([]string{"stalled: an open transaction pins the output"}, diffs...)
	}
	if len(diffs) == 0 {
		return ""
	}
	return fmt.Sprintf("not exactly once (%d differences): %s", len(diffs), strings.Join(diffs[:min(5, len(diffs))], "; "))
}

func multiset(recs []app.Record) map[string]int {
	m := map[string]int{}
	for _, r := range recs {
		m[strconv.Quote(string(r.Key))+"="+strconv.Quote(string(r.Value))]++
	}
	return m
}

func reader(t *testing.T, base []kgo.Opt, spec app.Spec) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append(slices.Clone(base),
		kgo.ConsumeTopics(spec.OutputTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))...)
	require.NoError(t, err)
	return cl
}

func waitForOutput(ctx context.Context, base []kgo.Opt, spec app.Spec, want int) bool {
	cl, err := kgo.NewClient(append(slices.Clone(base),
		kgo.ConsumeTopics(spec.OutputTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))...)
	if err != nil {
		return false
	}
	defer cl.Close()
	seen := 0
	for seen < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return false
		}
		seen += fs.NumRecords()
	}
	return true
}

// readAll appends a non-transactional end marker to every output partition
// and reads read_committed up to the markers: what comes before them is
// everything a read_committed reader can ever see.
func readAll(t *testing.T, ctx context.Context, producer *kgo.Client, base []kgo.Opt, spec app.Spec) (out []app.Record, stalled bool) {
	t.Helper()
	parts := spec.OutputPartitionCount()
	var markers []*kgo.Record
	for p := range parts {
		markers = append(markers, &kgo.Record{Topic: spec.OutputTopic, Partition: p, Key: []byte(endKey)})
	}
	require.NoError(t, producer.ProduceSync(ctx, markers...).FirstErr())
	cl := reader(t, base, spec)
	defer cl.Close()
	ended := map[int32]bool{}
	for len(ended) < int(parts) {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return out, true
		}
		fs.EachError(func(_ string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("fetch output partition %d: %v", p, err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			if string(r.Key) == endKey {
				ended[r.Partition] = true
				return
			}
			out = append(out, app.Record{Key: r.Key, Value: r.Value, Partition: r.Partition, Offset: r.Offset})
		})
	}
	return out, false
}
