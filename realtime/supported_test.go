package realtime

import (
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/faults"
)

func basePlan() faults.Plan {
	return faults.Plan{Version: faults.PlanVersion, Protocol: "two-phase-commit", Seed: 1,
		Workload: faults.Workload{Partitions: 3, Parallelism: 2, Records: 100, KeysPerPartition: 2, CheckpointIntervalMS: 20},
		Faults:   []faults.Op{{Fault: "crash-after-precommit", Hit: 2, RestartDelayMS: 10}}}
}

// TestSupportedFields: each plan field is either run as planned or
// refused with the field's name in the message.
func TestSupportedFields(t *testing.T) {
	for _, tc := range []struct {
		name   string
		edit   func(p *faults.Plan)
		refuse string // "" accepted; else a substring of the error
	}{
		{"base", func(*faults.Plan) {}, ""},
		{"output_partitions", func(p *faults.Plan) { p.Workload.OutputPartitions = 2 }, ""},
		{"max_concurrent_checkpoints", func(p *faults.Plan) { p.Workload.MaxConcurrentCheckpoints = 3 }, ""},
		{"producer_pool_size", func(p *faults.Plan) { p.Protocol, p.Workload.ProducerPoolSize = "two-phase-commit-pooled-ids", 12 }, ""},
		{"topology", func(p *faults.Plan) { p.Workload.Topology = faults.TopologyForward }, ""},
		{"request_versions", func(p *faults.Plan) { p.Workload.RequestVersions = faults.RequestVersionsPreKIP890 }, ""},
		{"late_records", func(p *faults.Plan) { p.Workload.LateRecords = 40 }, ""},
		{"rearm_unfired", func(p *faults.Plan) { p.RearmUnfired = true }, ""},
		{"startup_mode group-offsets", func(p *faults.Plan) { p.Workload.StartupMode = "group-offsets" }, ""},
		{"startup_mode earliest", func(p *faults.Plan) { p.Workload.StartupMode = "earliest" }, ""},
		{"rescale", func(p *faults.Plan) { p.Faults = []faults.Op{{Fault: "rescale", Hit: 2, Count: 3}} }, ""},
		{"zombie", func(p *faults.Plan) { p.Faults = []faults.Op{{Fault: "zombie", Hit: 2}} }, ""},
		{"startup_mode latest", func(p *faults.Plan) { p.Workload.StartupMode = "latest" }, "startup_mode latest"},
		{"startup_offsets", func(p *faults.Plan) {
			p.Workload.StartupMode, p.Workload.StartupOffsets = "specific-offsets", []int64{1, 2}
		}, "startup_mode specific-offsets"},
		{"startup_timestamp_ms", func(p *faults.Plan) {
			p.Workload.StartupMode, p.Workload.StartupTimestampMS = "timestamp", 10
		}, "startup_mode timestamp"},
		{"lose_notifications", func(p *faults.Plan) { p.LoseNotifications = true }, "lose_notifications"},
		{"broker fault", func(p *faults.Plan) { p.Faults = []faults.Op{{Fault: "leader-move", Hit: 1}} }, `fault "leader-move"`},
		{"operator fault", func(p *faults.Plan) { p.Faults = []faults.Op{{Fault: "restore-retained-checkpoint", Hit: 2, Count: 1}} }, `fault "restore-retained-checkpoint"`},
		{"pooled zombie", func(p *faults.Plan) {
			p.Protocol, p.Faults = "two-phase-commit-pooled-ids", []faults.Op{{Fault: "zombie", Hit: 2}}
		}, "fault zombie with protocol two-phase-commit-pooled-ids"},
		{"invalid workload", func(p *faults.Plan) { p.Workload.OutputPartitions = 99 }, "output_partitions"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := basePlan()
			tc.edit(&p)
			err := Supported(p)
			if tc.refuse == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.refuse)
		})
	}
}

// TestJobConfigFollowsPlan: the fields Supported accepts reach the
// engine's configuration, as the simulator sets them.
func TestJobConfigFollowsPlan(t *testing.T) {
	p := basePlan()
	proto, err := engine.ProtocolByName("two-phase-commit-pooled-ids")
	require.NoError(t, err)
	cfg := jobConfig(p, proto, "job", nil)
	require.Equal(t, int32(3), cfg.OutputPartitions)
	require.Equal(t, engine.StartGroupOffsets, cfg.StartupMode)
	require.False(t, cfg.Forward)
	require.Empty(t, cfg.ClientOpts)

	p.Workload = faults.Workload{Partitions: 3, Parallelism: 3, Records: 100, KeysPerPartition: 2, CheckpointIntervalMS: 20,
		OutputPartitions: 5, MaxConcurrentCheckpoints: 2, ProducerPoolSize: 9, Topology: faults.TopologyForward,
		RequestVersions: faults.RequestVersionsPreKIP890, StartupMode: "earliest"}
	cfg = jobConfig(p, proto, "job", []kgo.Opt{kgo.DisableClientMetrics()})
	require.Equal(t, int32(5), cfg.OutputPartitions)
	require.Equal(t, 2, cfg.MaxConcurrentCheckpoints)
	require.Equal(t, 9, cfg.ProducerPoolSize)
	require.True(t, cfg.Forward)
	require.Equal(t, engine.StartEarliest, cfg.StartupMode)
	require.Len(t, cfg.ClientOpts, 2, "pre-kip-890 adds kgo.MaxVersions")
	require.Equal(t, 3, cfg.Parallelism)
}

// TestRequestVersionNames: the engine's names are the plan's.
func TestRequestVersionNames(t *testing.T) {
	require.Equal(t, faults.RequestVersionsKIP890, engine.RequestVersionsKIP890)
	require.Equal(t, faults.RequestVersionsPreKIP890, engine.RequestVersionsPreKIP890)
	bad, err := engine.ProtocolByName("recycled-producer-pre-kip-890")
	require.NoError(t, err)
	require.Equal(t, engine.RequestVersionsPreKIP890, engine.RequestVersionsFor(bad, ""), "the protocol's pin wins")
}
