package sim

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kfake"
)

// restartCluster closes kfake and reopens it with the same options (data
// dir, network, ports), then puts every partition of topics back on the
// leader and at the leader epoch it had before the restart.
//
// Why: kfake reloads a partition's leader epoch from its snapshot only when
// the partition has segment files. An empty partition (the late-records
// partition early in a run, an output partition nothing was written to)
// comes back at epoch 0 on a randomly drawn leader; a partition replayed
// from its segments comes back at its last batch's epoch. A kgo consumer
// that knew the higher epoch then fetches with it and kfake answers
// UNKNOWN_LEADER_EPOCH at once; kgo strips the partition and fetches again
// without a backoff (it backs off only when every partition of the fetch
// failed), and leaves the fix to a metadata refresh that MetadataMinAge
// holds back for 5 s, and that it ignores anyway while the epoch went
// backwards. In real time that is a hot loop of seconds; in a synctest
// bubble the loop never blocks, so virtual time never reaches the refresh
// and the scenario never settles. In Kafka a partition's epoch never goes
// down (the controller only raises it; a restart re-elects the leader at a
// higher epoch), so restoring the old leader and epoch corrects kfake's
// reload rather than covering up a client bug: the client is never shown
// an epoch lower than one it has seen.
func restartCluster(c *kfake.Cluster, opts []kfake.Opt, topics []string) (*kfake.Cluster, error) {
	before := make([][]*kfake.PartitionInfo, len(topics))
	for i, topic := range topics {
		before[i] = c.PartitionInfos(topic)
	}
	c.Close()
	reopened, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("reopen kfake: %w", err)
	}
	for i, topic := range topics {
		for _, was := range before[i] {
			if err := restoreLeader(reopened, topic, was); err != nil {
				reopened.Close()
				return nil, err
			}
		}
	}
	return reopened, nil
}

// restoreLeader moves the partition back to its old leader until its epoch
// is at least the old one: each move sets the leader and bumps the epoch by
// one (kfake has no other way to set either), so the loop ends after at
// most old epoch - new epoch + 1 moves. The epoch passes the old one only
// when the leader itself had to move back, which is a real leader change.
func restoreLeader(c *kfake.Cluster, topic string, was *kfake.PartitionInfo) error {
	for {
		now := c.PartitionInfo(topic, was.Partition)
		if now == nil {
			return fmt.Errorf("partition %s/%d is missing after the restart", topic, was.Partition)
		}
		if now.Leader == was.Leader && now.Epoch >= was.Epoch {
			return nil
		}
		if err := c.MoveTopicPartition(topic, was.Partition, was.Leader); err != nil {
			return fmt.Errorf("restore leader of %s/%d: %w", topic, was.Partition, err)
		}
	}
}
