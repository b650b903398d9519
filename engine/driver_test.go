package engine_test

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eosim/eosim/engine"
)

const (
	driverPartitions = 4
	driverInterval   = 50 * time.Millisecond
	keysPerPartition = 7
)

// driverEnv is one kfake cluster on real TCP with the input and output
// topics, and the input produced so far.
type driverEnv struct {
	t        *testing.T
	opts     []kgo.Opt
	producer *kgo.Client
	input    []inputRecord
	ends     map[int32]int64
	store    engine.FileStore
}

type inputRecord struct {
	partition int32
	offset    int64
	key       string
	value     string
}

func newDriverEnv(t *testing.T) *driverEnv {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	require.NoError(t, err)
	t.Cleanup(cluster.Close)
	for _, topic := range []string{"input", "output"} {
		require.NoError(t, cluster.CreateTopic(topic, driverPartitions, nil))
	}
	opts := []kgo.Opt{kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.DisableClientMetrics()}
	producer, err := kgo.NewClient(append(slices.Clone(opts), kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	require.NoError(t, err)
	t.Cleanup(producer.Close) // runs before cluster.Close
	return &driverEnv{t: t, opts: opts, producer: producer, ends: map[int32]int64{},
		store: engine.FileStore{Path: t.TempDir() + "/checkpoint.json"}}
}

func (e *driverEnv) config(t *testing.T, parallelism int) engine.Config {
	proto, err := engine.ProtocolByName("two-phase-commit")
	require.NoError(t, err)
	return engine.Config{
		Protocol: proto, JobName: "driver-test", InputTopic: "input", OutputTopic: "output",
		Partitions: driverPartitions, OutputPartitions: driverPartitions, Parallelism: parallelism,
		ClientOpts: e.opts,
	}
}

// produce appends n input records; keys never span partitions.
func (e *driverEnv) produce(n int) {
	e.t.Helper()
	recs := make([]*kgo.Record, 0, n)
	for range n {
		i := len(e.input) + len(recs)
		p := int32(i*7%11) % driverPartitions
		key := fmt.Sprintf("k%d-%d", p, i*13%keysPerPartition)
		recs = append(recs, &kgo.Record{Topic: "input", Partition: p, Key: []byte(key), Value: []byte(fmt.Sprintf("payload-%d", i))})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(e.t, e.producer.ProduceSync(ctx, recs...).FirstErr())
	for _, r := range recs {
		e.input = append(e.input, inputRecord{r.Partition, r.Offset, string(r.Key), string(r.Value)})
		e.ends[r.Partition] = max(e.ends[r.Partition], r.Offset+1)
	}
}

func (e *driverEnv) untilProcessed() func(engine.Progress) bool {
	return engine.UntilProcessed(maps.Clone(e.ends))
}

// eventCounter is an Observer that counts events by kind.
type eventCounter struct {
	mu       sync.Mutex
	kinds    map[string]int
	restored []int64
	rescaled []string // details of the restore events
	// onEvent, if set, sees every event (outside the counter's lock).
	onEvent func(engine.Event)
}

func (c *eventCounter) Observe(ev engine.Event) {
	c.mu.Lock()
	if c.kinds == nil {
		c.kinds = map[string]int{}
	}
	c.kinds[ev.Kind]++
	if ev.Kind == "restore" {
		c.restored = append(c.restored, ev.Checkpoint)
		c.rescaled = append(c.rescaled, ev.Detail)
	}
	f := c.onEvent
	c.mu.Unlock()
	if f != nil {
		f(ev)
	}
}

func (c *eventCounter) count(kind string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.kinds[kind]
}

// readOutput reads every committed output record. It first checks that no
// open transaction pins the last stable offset, then appends a
// non-transactional end marker to each output partition and reads
// read_committed until every marker has been seen: what comes before a
// marker is everything a read_committed reader can ever see there.
func (e *driverEnv) readOutput() []*kgo.Record {
	t := e.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	lso := listOutputEnds(t, ctx, e.producer, 1)
	hwm := listOutputEnds(t, ctx, e.producer, 0)
	require.Equal(t, hwm, lso, "an open transaction pins the output's last stable offset")

	var markers []*kgo.Record
	for p := range int32(driverPartitions) {
		markers = append(markers, &kgo.Record{Topic: "output", Partition: p, Key: []byte("end"), Value: []byte("end")})
	}
	require.NoError(t, e.producer.ProduceSync(ctx, markers...).FirstErr())

	start := map[int32]kgo.Offset{}
	for p := range int32(driverPartitions) {
		start[p] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(append(slices.Clone(e.opts),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"output": start}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))...)
	require.NoError(t, err)
	defer cl.Close()
	var out []*kgo.Record
	ended := map[int32]bool{}
	for len(ended) < driverPartitions {
		fs := cl.PollFetches(ctx)
		require.NoError(t, ctx.Err(), "reading output: markers seen in %d of %d partitions", len(ended), driverPartitions)
		fs.EachError(func(topic string, p int32, err error) { require.NoError(t, err, "fetch %s/%d", topic, p) })
		fs.EachRecord(func(r *kgo.Record) {
			if string(r.Key) == "end" {
				ended[r.Partition] = true
				return
			}
			require.False(t, ended[r.Partition], "output after the end marker")
			out = append(out, r)
		})
	}
	return out
}

func listOutputEnds(t *testing.T, ctx context.Context, cl *kgo.Client, isolation int8) map[int32]int64 {
	t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	req.IsolationLevel = isolation
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = "output"
	for p := range int32(driverPartitions) {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp = p, -1
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = []kmsg.ListOffsetsRequestTopic{rt}
	resp, err := req.RequestWith(ctx, cl)
	require.NoError(t, err)
	ends := map[int32]int64{}
	for _, t2 := range resp.Topics {
		for _, p := range t2.Partitions {
			require.NoError(t, kerr.ErrorForCode(p.ErrorCode))
			ends[p.Partition] = p.Offset
		}
	}
	return ends
}

// requireExactlyOnce checks the committed output against the input: every
// input record appears exactly once, with its key, the upper-cased payload,
// on partition inPartition % outputs, in input order per key, and with the
// per-key running count it has in offset order. Records of different keys
// of one input partition go through different operator subtasks, whose
// transactions interleave on the output partition: only per-key order holds.
func (e *driverEnv) requireExactlyOnce(out []*kgo.Record) {
	t := e.t
	t.Helper()
	type id struct {
		p   int32
		off int64
	}
	byID := map[id]inputRecord{}
	wantCount := map[id]int64{}
	ordered := slices.Clone(e.input)
	slices.SortFunc(ordered, func(a, b inputRecord) int {
		if a.partition != b.partition {
			return int(a.partition - b.partition)
		}
		return int(a.offset - b.offset)
	})
	running := map[string]int64{}
	for _, in := range ordered {
		running[in.key]++
		byID[id{in.partition, in.offset}] = in
		wantCount[id{in.partition, in.offset}] = running[in.key]
	}

	seen := map[id]int{}
	lastOffset := map[string]int64{} // per key, in output order
	var unexpected, wrong, reordered []string
	for _, r := range out {
		f := strings.SplitN(string(r.Value), ":", 5)
		require.Len(t, f, 5, "output value %q", r.Value)
		p, err1 := strconv.ParseInt(f[0], 10, 32)
		off, err2 := strconv.ParseInt(f[1], 10, 64)
		count, err3 := strconv.ParseInt(f[3], 10, 64)
		require.NoError(t, err1)
		require.NoError(t, err2)
		require.NoError(t, err3)
		k := id{int32(p), off}
		in, ok := byID[k]
		if !ok {
			unexpected = append(unexpected, string(r.Value))
			continue
		}
		seen[k]++
		want := engine.FormatOutput(in.partition, in.offset, in.key, wantCount[k], strings.ToUpper(in.value))
		if string(r.Value) != want || string(r.Key) != in.key || r.Partition != in.partition%driverPartitions || count != wantCount[k] {
			wrong = append(wrong, fmt.Sprintf("%q on partition %d, want %q", r.Value, r.Partition, want))
		}
		if last, ok := lastOffset[in.key]; ok && off <= last {
			reordered = append(reordered, fmt.Sprintf("key %s: %d:%d after %d:%d", in.key, k.p, off, k.p, last))
		}
		lastOffset[in.key] = off
	}
	var lost, dup []string
	for _, in := range ordered {
		switch n := seen[id{in.partition, in.offset}]; {
		case n == 0:
			lost = append(lost, fmt.Sprintf("%d:%d", in.partition, in.offset))
		case n > 1:
			dup = append(dup, fmt.Sprintf("%d:%d x%d", in.partition, in.offset, n))
		}
	}
	require.Empty(t, lost, "lost input records")
	require.Empty(t, dup, "duplicated input records")
	require.Empty(t, unexpected, "outputs of no input record")
	require.Empty(t, wrong, "outputs with the wrong content")
	require.Empty(t, reordered, "outputs out of input order")
	require.Len(t, out, len(e.input))
}

func TestRunProcessesAllInputExactlyOnce(t *testing.T) {
	for _, parallelism := range []int{2, 3} {
		t.Run(fmt.Sprintf("parallelism-%d", parallelism), func(t *testing.T) {
			start := time.Now()
			e := newDriverEnv(t)
			e.produce(1000)
			// The rest of the input arrives while the job runs; the job
			// stops once all of it is produced and processed.
			var (
				mu       sync.Mutex
				allInput func(engine.Progress) bool
			)
			stopWhen := func(p engine.Progress) bool {
				mu.Lock()
				defer mu.Unlock()
				return allInput != nil && allInput(p)
			}
			obs := &eventCounter{}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			errc := make(chan error, 1)
			go func() {
				errc <- engine.Run(ctx, e.config(t, parallelism), engine.Deps{Store: e.store, Observer: obs}, driverInterval,
					engine.DriverOptions{StopWhen: stopWhen})
			}()
			for len(e.input) < 2000 {
				e.produce(50)
				time.Sleep(10 * time.Millisecond)
			}
			mu.Lock()
			allInput = e.untilProcessed()
			mu.Unlock()
			require.NoError(t, <-errc)
			require.NoError(t, ctx.Err(), "the job must stop on its own once the input is processed")
			require.GreaterOrEqual(t, obs.count("checkpoint-stored"), 2)
			cp, ok, err := e.store.Latest(context.Background())
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, parallelism, cp.Parallelism)
			require.Len(t, cp.Sources, parallelism)
			require.Len(t, cp.Sinks, parallelism)
			covered := 0
			for _, src := range cp.Sources {
				for _, po := range src.Offsets {
					covered++
					require.Equal(t, e.ends[po.Partition]-1, po.Offset, "final checkpoint covers partition %d", po.Partition)
				}
			}
			require.Equal(t, driverPartitions, covered, "every partition is in the final checkpoint")
			counted := int64(0)
			for _, st := range cp.Sinks {
				for _, kc := range st.Counts {
					counted += kc.Count
				}
				for _, h := range st.Pending {
					// Stored before they were committed on notify, as
					// every checkpoint's own transactions are; never
					// older ones.
					require.Equal(t, cp.ID, h.Checkpoint, "pending transaction of an earlier checkpoint in the final one")
				}
			}
			require.Equal(t, int64(len(e.input)), counted, "the final checkpoint's keyed state counts every record: the channels were drained")
			e.requireExactlyOnce(e.readOutput())
			t.Logf("checkpoints=%d wall=%v", obs.count("checkpoint-stored"), time.Since(start))
		})
	}
}

// TestRunRestartsFromTheStoreExactlyOnce stops a job at parallelism 2
// midway and restores it from the same store at parallelism 3: source
// offsets, keyed state and transactional-id ranges are redistributed.
func TestRunRestartsFromTheStoreExactlyOnce(t *testing.T) {
	start := time.Now()
	e := newDriverEnv(t)
	e.produce(500)

	// First attempt: input keeps arriving; stop it (cancel ctx) while
	// input is still flowing, after two checkpoints, with the third in
	// flight: an operator subtask has just snapshotted it.
	ctx1, cancel1 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel1()
	var stopped atomic.Bool
	obs1 := &eventCounter{onEvent: func(ev engine.Event) {
		if ev.Kind == "snapshot" && ev.Checkpoint == 3 {
			stopped.Store(true)
			cancel1()
		}
	}}
	errc := make(chan error, 1)
	go func() {
		errc <- engine.Run(ctx1, e.config(t, 2), engine.Deps{Store: e.store, Observer: obs1}, driverInterval,
			engine.DriverOptions{Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))})
	}()
	for len(e.input) < 2000 && !stopped.Load() {
		e.produce(50)
		time.Sleep(10 * time.Millisecond)
	}
	require.NoError(t, <-errc)
	cp1, ok, err := e.store.Latest(context.Background())
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, int64(4), cp1.ID, "the one in flight completes, then the final one")
	require.Equal(t, 2, cp1.Parallelism)
	e.produce(2000 - len(e.input))

	// Second attempt: restore from the same store at parallelism 3, run
	// until all input is processed.
	obs2 := &eventCounter{}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	err = engine.Run(ctx2, e.config(t, 3), engine.Deps{Store: e.store, Observer: obs2}, driverInterval,
		engine.DriverOptions{StopWhen: e.untilProcessed()})
	require.NoError(t, err)
	require.Equal(t, []int64{cp1.ID}, obs2.restored)
	require.Equal(t, []string{"rescale 2 -> 3"}, obs2.rescaled)
	cp2, ok, err := e.store.Latest(context.Background())
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, 3, cp2.Parallelism)
	processedBefore := int64(0)
	for _, src := range cp1.Sources {
		for _, po := range src.Offsets {
			processedBefore += po.Offset + 1
		}
	}
	require.Positive(t, processedBefore, "the first attempt processed input")
	require.Less(t, processedBefore, int64(len(e.input)), "the first attempt must stop midway")
	e.requireExactlyOnce(e.readOutput())
	t.Logf("first attempt: checkpoint %d covering %d records; wall=%v", cp1.ID, processedBefore, time.Since(start))
}

// crashAt crashes the first time any task or the coordinator passes point
// while taking, storing or committing checkpoint id.
type crashAt struct {
	point engine.CrashPoint
	id    int64
	fired bool
	// withRecords, when set, moves the crash on to the first checkpoint
	// from id on whose pre-committed transactions hold records: in real
	// time a checkpoint may find nothing new to commit, and a restore then
	// has nothing to resume.
	withRecords *recordedCheckpoints
}

func (c *crashAt) ShouldCrash(site engine.CrashSite) bool {
	if c.fired || site.Point != c.point || site.Checkpoint < c.id {
		return false
	}
	if c.withRecords == nil && site.Checkpoint != c.id || c.withRecords != nil && !c.withRecords.has(site.Checkpoint) {
		return false
	}
	c.fired = true
	return true
}

// recordedCheckpoints notes the checkpoints whose pre-commit flushed records.
type recordedCheckpoints struct {
	mu  sync.Mutex
	ids map[int64]bool
}

func (r *recordedCheckpoints) Observe(ev engine.Event) {
	if ev.Kind != "precommit" || ev.Detail == "records=0" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ids == nil {
		r.ids = map[int64]bool{}
	}
	r.ids[ev.Checkpoint] = true
}

func (r *recordedCheckpoints) has(id int64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ids[id]
}

func TestRunFailsOnCrashAndRecoversExactlyOnce(t *testing.T) {
	for _, point := range []engine.CrashPoint{engine.CrashAfterCheckpointStored, engine.CrashAfterPrecommit, engine.CrashAfterCommit} {
		t.Run(string(point), func(t *testing.T) {
			e := newDriverEnv(t)
			e.produce(1000)
			cfg := e.config(t, 2)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			// Small transactions spread over many checkpoints: keep input
			// flowing while the first attempt runs.
			errc := make(chan error, 1)
			go func() {
				recorded := &recordedCheckpoints{}
				crasher := &crashAt{point: point, id: 3}
				if point == engine.CrashAfterCheckpointStored {
					crasher.withRecords = recorded
				}
				errc <- engine.Run(ctx, cfg, engine.Deps{Store: e.store, Crasher: crasher, Observer: recorded},
					driverInterval, engine.DriverOptions{StopWhen: func(engine.Progress) bool { return false }})
			}()
			var err error
		produce:
			for len(e.input) < 2000 {
				select {
				case err = <-errc:
					break produce
				default:
				}
				e.produce(50)
				time.Sleep(10 * time.Millisecond)
			}
			if err == nil {
				err = <-errc
			}
			require.ErrorIs(t, err, engine.ErrCrashed)
			e.produce(2000 - len(e.input))

			obs := &eventCounter{}
			err = engine.Run(ctx, cfg, engine.Deps{Store: e.store, Observer: obs}, driverInterval,
				engine.DriverOptions{StopWhen: e.untilProcessed()})
			require.NoError(t, err)
			require.Len(t, obs.restored, 1)
			require.Positive(t, obs.restored[0], "the crashed attempt completed checkpoints")
			if point == engine.CrashAfterCheckpointStored {
				require.Positive(t, obs.count("resume-transaction"), "the restore resumes the stored checkpoint's transactions")
			}
			e.requireExactlyOnce(e.readOutput())
		})
	}
}

func TestRunReportsLostTransactionLoudly(t *testing.T) {
	e := newDriverEnv(t)
	e.produce(400)
	cfg := e.config(t, 2)
	cfg.TransactionTimeout = 300 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The checkpoint is stored, then the process dies before notifying: its
	// transactions stay open past the broker's transaction timeout.
	err := engine.Run(ctx, cfg, engine.Deps{Store: e.store, Crasher: &crashAt{point: engine.CrashAfterCheckpointStored, id: 1}},
		driverInterval, engine.DriverOptions{})
	require.ErrorIs(t, err, engine.ErrCrashed)
	cp, ok, err := e.store.Latest(ctx)
	require.NoError(t, err)
	require.True(t, ok)
	pending := 0
	for _, st := range cp.Sinks {
		pending += len(st.Pending)
	}
	require.Positive(t, pending, "the stored checkpoint owns pre-committed transactions")
	time.Sleep(3 * cfg.TransactionTimeout)
	err = engine.Run(ctx, cfg, engine.Deps{Store: e.store}, driverInterval, engine.DriverOptions{StopWhen: e.untilProcessed()})
	require.ErrorIs(t, err, engine.ErrTransactionLost)
}

func TestRunValidatesInterval(t *testing.T) {
	err := engine.Run(context.Background(), engine.Config{}, engine.Deps{}, 0, engine.DriverOptions{})
	require.ErrorContains(t, err, "interval")
}
