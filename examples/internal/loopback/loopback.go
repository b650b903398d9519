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
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eosim/eosim/app"
)

const endKey = "__loopback-end__"

// Result is what one run wrote and what a read_committed reader saw.
type Result struct {
	Input  []app.Record
	Output []app.Record
}

// Run writes n/2 input records, runs the app until the output holds what
// Expect promises, stops it, and does the same again with n/2 more (a
// restart from the group's committed offsets); it returns the input and the
// committed output. Everything must finish within timeout.
func Run(t *testing.T, a app.App, n int, timeout time.Duration) Result {
	t.Helper()
	require.NoError(t, a.Validate())
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	require.NoError(t, err)
	t.Cleanup(cluster.Close)
	require.NoError(t, cluster.CreateTopic(a.Spec.InputTopic, a.Spec.InputPartitions, nil))
	require.NoError(t, cluster.CreateTopic(a.Spec.OutputTopic, a.Spec.OutputPartitionCount(), nil))
	brokers := cluster.ListenAddrs()
	base := []kgo.Opt{kgo.SeedBrokers(brokers...), kgo.DisableClientMetrics()}
	producer, err := kgo.NewClient(append(slices.Clone(base), kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	require.NoError(t, err)
	t.Cleanup(producer.Close)

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var res Result
	storeDir := t.TempDir() // one store per instance, kept across lives
	// Two lives: the second starts from what the first committed to the
	// group, so an offset commit that did not happen shows as duplicates.
	for life := range 2 {
		res.Input = append(res.Input, produce(t, ctx, producer, a.Spec, life*(n/2), n/2)...)
		runUntil(t, ctx, a, brokers, base, storeDir, len(Expect(a.Spec, res.Input)))
	}
	res.Output = readAll(t, ctx, producer, base, a.Spec)
	return res
}

// runUntil runs every instance of a until a read_committed reader has seen
// want output records, then stops them gracefully.
func runUntil(t *testing.T, ctx context.Context, a app.App, brokers []string, base []kgo.Opt, dir string, want int) {
	t.Helper()
	appCtx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make([]error, a.ProcessCount())
	for i := range a.ProcessCount() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = app.RunProduction(appCtx, a, app.ProductionOptions{
				Brokers: brokers, StoreDir: fmt.Sprintf("%s/%d", dir, i), Instance: i,
				ClientOpts: []kgo.Opt{kgo.DisableClientMetrics()},
			})
		}()
	}
	waitForOutput(t, ctx, base, a.Spec, want)
	stop()
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "instance %d", i)
	}
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

func waitForOutput(t *testing.T, ctx context.Context, base []kgo.Opt, spec app.Spec, want int) {
	t.Helper()
	cl := reader(t, base, spec)
	defer cl.Close()
	seen := 0
	for seen < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("output: %d of %d records by the deadline", seen, want)
		}
		seen += fs.NumRecords()
	}
}

// readAll appends a non-transactional end marker to every output partition
// and reads read_committed up to the markers: what comes before them is
// everything a read_committed reader can ever see.
func readAll(t *testing.T, ctx context.Context, producer *kgo.Client, base []kgo.Opt, spec app.Spec) []app.Record {
	t.Helper()
	parts := spec.OutputPartitionCount()
	var markers []*kgo.Record
	for p := range parts {
		markers = append(markers, &kgo.Record{Topic: spec.OutputTopic, Partition: p, Key: []byte(endKey)})
	}
	require.NoError(t, producer.ProduceSync(ctx, markers...).FirstErr())
	cl := reader(t, base, spec)
	defer cl.Close()
	var out []app.Record
	ended := map[int32]bool{}
	for len(ended) < int(parts) {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("reading output: markers seen in %d of %d partitions: %v", len(ended), parts, err)
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
	return out
}
