package sim

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eosim/eosim/faults"
)

// plainRestart is what the broker-restart fault did before restartCluster:
// close kfake and reopen it on its data dir, nothing more.
func plainRestart(c *kfake.Cluster, opts []kfake.Opt, _ []string) (*kfake.Cluster, error) {
	c.Close()
	return kfake.NewCluster(opts...)
}

// spinFetches is how many Fetch requests count as a spin: a caught-up
// consumer that waits as it should sends one per MaxWait (5 s), so a
// handful in a virtual second.
const spinFetches = 2000

// The minimal reproduction of the spin the broker-restart fault was opt-in
// for. One broker, two partitions whose leaders were placed (epoch 1, as
// every scenario's setup does), a record in partition 0 only; a consumer of
// both catches up; the broker restarts. kfake reloads the empty partition
// 1 at epoch 0, the consumer fetches it with epoch 1, kfake answers
// UNKNOWN_LEADER_EPOCH at once and kgo, whose other partition is fine,
// fetches again without a backoff: the virtual clock stops and the fetches
// never end. restartCluster puts the epoch back; the consumer then waits
// in its fetch and receives the next record.
func TestBrokerRestartConsumerDoesNotSpin(t *testing.T) {
	for _, tc := range []struct {
		name     string
		restart  func(*kfake.Cluster, []kfake.Opt, []string) (*kfake.Cluster, error)
		wantSpin bool
	}{
		{"plain kfake restart spins", plainRestart, true},
		{"harness restart", restartCluster, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				vnet := &kfake.VirtualNetwork{}
				opts := []kfake.Opt{kfake.ListenFn(vnet.Listen), kfake.Ports(brokerPort), kfake.NumBrokers(1), kfake.DataDir(t.TempDir())}
				cluster, err := kfake.NewCluster(opts...)
				require.NoError(t, err)
				defer func() { cluster.Close() }()
				require.NoError(t, cluster.CreateTopic(inputTopic, 2, nil))
				for p := range int32(2) {
					require.NoError(t, cluster.MoveTopicPartition(inputTopic, p, 0))
				}
				client := func(extra ...kgo.Opt) *kgo.Client {
					cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(fmt.Sprintf("localhost:%d", brokerPort)),
						kgo.Dialer(vnet.DialContext), kgo.DisableClientMetrics(), kgo.RecordPartitioner(kgo.ManualPartitioner())}, extra...)...)
					require.NoError(t, err)
					return cl
				}
				produce := func(value string) {
					cl := client()
					defer cl.Close()
					require.NoError(t, cl.ProduceSync(t.Context(), &kgo.Record{Topic: inputTopic, Partition: 0, Value: []byte(value)}).FirstErr())
				}
				produce("before")
				consumer := client(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{inputTopic: {0: kgo.NewOffset().AtStart(), 1: kgo.NewOffset().AtStart()}}))
				defer consumer.Close()
				require.Equal(t, []string{"before"}, poll(t, consumer, time.Second))
				require.Equal(t, int32(1), cluster.PartitionInfo(inputTopic, 1).Epoch, "setup: the empty partition's leader was placed")

				cluster, err = tc.restart(cluster, opts, []string{inputTopic})
				require.NoError(t, err)
				epoch := cluster.PartitionInfo(inputTopic, 1).Epoch

				// Count the consumer's fetches for one virtual second; a
				// spin is cut short by cancelling the poll.
				var fetches atomic.Int64
				var spinStart, spinEnd time.Time // virtual times of the 10th and the last counted fetch
				ctx, cancel := context.WithTimeout(t.Context(), time.Second)
				defer cancel()
				cluster.ControlKey(int16(kmsg.Fetch), func(kmsg.Request) (kmsg.Response, error, bool) {
					switch fetches.Add(1) {
					case 10:
						spinStart = time.Now()
					case spinFetches:
						spinEnd = time.Now()
						cancel()
					}
					return nil, nil, false // observe only
				})
				start := time.Now()
				consumer.PollFetches(ctx)
				if tc.wantSpin {
					require.Less(t, epoch, int32(1), "kfake reloads an empty partition at a lower epoch (if this fails, kfake was fixed: retire restartCluster's epoch restore)")
					require.GreaterOrEqual(t, fetches.Load(), int64(spinFetches), "the consumer spins on UNKNOWN_LEADER_EPOCH")
					require.Less(t, time.Since(start), time.Second, "cut short before the poll's deadline")
					require.Equal(t, spinStart, spinEnd, "the spin stops the virtual clock")
					return
				}
				require.Equal(t, int32(1), epoch, "restartCluster restores the epoch")
				require.Less(t, fetches.Load(), int64(10), "a caught-up consumer waits in its fetch")
				require.Equal(t, time.Second, time.Since(start), "the poll waited out its deadline")
				produce("after")
				require.Equal(t, []string{"after"}, poll(t, consumer, time.Minute), "the consumer still receives new records")
			})
		})
	}
}

// poll returns the values of the next fetch within a virtual deadline.
func poll(t *testing.T, cl *kgo.Client, d time.Duration) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	fs := cl.PollFetches(ctx)
	require.NoError(t, fs.Err())
	var values []string
	fs.EachRecord(func(r *kgo.Record) { values = append(values, string(r.Value)) })
	return values
}

// restartCluster puts back every partition's leader and epoch, on one
// broker and on three after leaders moved; an empty partition and a
// partition with data alike.
func TestRestartClusterRestoresLeadersAndEpochs(t *testing.T) {
	for _, brokers := range []int{1, 3} {
		t.Run(fmt.Sprintf("brokers=%d", brokers), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				vnet := &kfake.VirtualNetwork{}
				ports := make([]int, brokers)
				for i := range ports {
					ports[i] = brokerPort + i
				}
				opts := []kfake.Opt{kfake.ListenFn(vnet.Listen), kfake.Ports(ports...), kfake.NumBrokers(brokers), kfake.DataDir(t.TempDir())}
				cluster, err := kfake.NewCluster(opts...)
				require.NoError(t, err)
				defer func() { cluster.Close() }()
				require.NoError(t, cluster.CreateTopic(outputTopic, 4, nil))
				for p := range int32(4) {
					for move := range p + 1 { // epochs 1..4, leaders spread
						require.NoError(t, cluster.MoveTopicPartition(outputTopic, p, (p+move)%int32(brokers)))
					}
				}
				cl, err := kgo.NewClient(kgo.SeedBrokers(fmt.Sprintf("localhost:%d", brokerPort)), kgo.Dialer(vnet.DialContext),
					kgo.DisableClientMetrics(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
				require.NoError(t, err)
				require.NoError(t, cl.ProduceSync(t.Context(), &kgo.Record{Topic: outputTopic, Partition: 2, Value: []byte("x")}).FirstErr())
				cl.Close()
				require.NoError(t, cluster.MoveTopicPartition(outputTopic, 2, 0)) // an epoch newer than the partition's last batch

				type leader struct{ node, epoch int32 }
				leaders := func() []leader {
					var ls []leader
					for _, info := range cluster.PartitionInfos(outputTopic) {
						ls = append(ls, leader{info.Leader, info.Epoch})
					}
					return ls
				}
				before := leaders()
				cluster, err = restartCluster(cluster, opts, []string{outputTopic})
				require.NoError(t, err)
				require.Equal(t, before, leaders())
			})
		})
	}
}

// Scenarios that restart the broker settle and pass, for each correct
// protocol: the campaign run that spun (seed 12499691850242649261 drawn
// from broker-restart,crash: a restart at the first checkpoint, while the
// late partition is still empty, and one aimed at the recovery after a
// crash; every protocol spun on it before restartCluster restored the
// epochs), an early one alone, two with one aimed at notify.
func TestBrokerRestartScenariosSettle(t *testing.T) {
	w := faults.DefaultWorkload()
	w.Parallelism = 2
	for _, tc := range []struct {
		seed uint64
		ops  []faults.Op
	}{
		{12499691850242649261, []faults.Op{{Fault: "broker-restart", Hit: 1, Phase: faults.PhaseRecovery},
			{Fault: "broker-restart", Hit: 1}, {Fault: "crash-after-source-snapshot", Hit: 7, RestartDelayMS: 1341}}},
		{3, []faults.Op{{Fault: "broker-restart", Hit: 1}}},
		{3, []faults.Op{{Fault: "broker-restart", Hit: 2}, {Fault: "broker-restart", Hit: 5, Phase: faults.PhaseNotify}}},
	} {
		for _, protocol := range []string{"two-phase-commit", "offsets-in-txn", "at-least-once"} {
			plan := faults.Plan{Version: faults.PlanVersion, Workload: w, Faults: tc.ops, RearmUnfired: true}
			res := Run(t, Options{Protocol: protocol, Seed: tc.seed, Workload: w, Plan: &plan})
			require.Empty(t, res.HarnessError, "%s seed %d", protocol, tc.seed)
			require.False(t, res.Failed(), "%s seed %d: %v", protocol, tc.seed, res.Violations)
			require.Equal(t, countOf(tc.ops, "broker-restart"), res.Faults["broker-restart"], "%s seed %d", protocol, tc.seed)
		}
	}
}

func countOf(ops []faults.Op, name string) int {
	n := 0
	for _, op := range ops {
		if op.Fault == name {
			n++
		}
	}
	return n
}

// A request fault armed at the trigger of a broker restart is armed again
// on the restarted broker: left on the closed cluster, it met no request.
func TestRequestFaultSurvivesABrokerRestartAtItsTrigger(t *testing.T) {
	for _, order := range [][]faults.Op{
		{{Fault: "produce-rejected", Hit: 1}, {Fault: "broker-restart", Hit: 1}},
		{{Fault: "broker-restart", Hit: 1}, {Fault: "produce-rejected", Hit: 1}},
	} {
		p := planWith("offsets-in-txn", false, order...)
		var trace bytes.Buffer
		res := Run(t, Options{Protocol: "offsets-in-txn", Seed: 4560419057636960361, Plan: p, Trace: &trace})
		require.Empty(t, res.HarnessError)
		require.Empty(t, res.Violations)
		require.Empty(t, res.Unfired, "%v", order)
		if order[0].Fault == "produce-rejected" {
			require.Contains(t, trace.String(), "produce-rejected hit=1 on the restarted broker")
		}
	}
}
