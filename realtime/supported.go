package realtime

import (
	"fmt"

	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/faults"
)

// Supported reports whether a plan can run on a real broker as planned:
// every fault must be a crash point, rescale or zombie, and every plan
// field must be one the real run honours (RealFields). A plan it cannot
// run as written is refused, naming the field, rather than run as a
// different scenario whose clean verdict would say nothing of the plan.
func Supported(p faults.Plan) error {
	if err := p.Validate(); err != nil {
		return err
	}
	proto, err := engine.ProtocolByName(p.Protocol)
	if err != nil {
		return err
	}
	for _, op := range p.Faults {
		if info, ok := faults.Lookup(op.Fault); !ok || !info.IsCrash() && op.Fault != "rescale" && op.Fault != "zombie" {
			return fmt.Errorf("fault %q cannot be injected on a real broker (only crash points, rescale and zombie can)", op.Fault)
		}
		if op.Fault == "zombie" && proto.PooledTransactionalIDs {
			return fmt.Errorf("fault zombie with protocol %s: a bounded pool of transactional ids is not zombie-safe (the cut-off attempt re-initialises ids the new one uses), so the simulator never draws it either", p.Protocol)
		}
	}
	switch p.Workload.StartupMode {
	case "", string(engine.StartGroupOffsets), string(engine.StartEarliest):
	default:
		return fmt.Errorf("workload startup_mode %s cannot run on a real broker: the input arrives while the job runs, so the harness cannot know the partitions' ends at the job's first start, which the oracle's expected start positions need (group-offsets and earliest can)", p.Workload.StartupMode)
	}
	if p.LoseNotifications {
		return fmt.Errorf("plan lose_notifications cannot run on a real broker: the real run's coordinator delivers every checkpoint notification")
	}
	return nil
}

// RealFields are the plan fields a real run honours as the simulator does;
// README's realrun section lists them.
var RealFields = []string{"protocol", "seed", "workload.partitions", "workload.parallelism", "workload.records",
	"workload.keys_per_partition", "workload.checkpoint_interval_ms (at least 20 ms)", "workload.output_partitions",
	"workload.max_concurrent_checkpoints", "workload.producer_pool_size", "workload.topology",
	"workload.request_versions", "workload.startup_mode (group-offsets, earliest)", "faults (crash points, rescale, zombie)"}
