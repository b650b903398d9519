package faults

import (
	"math/rand/v2"
	"slices"
)

// correlate places a second fault in the window where a drawn one matters.
// A lost checkpoint write only hurts when the job dies before the next
// checkpoint is stored (it then restores from the one before, while the
// lost checkpoint's transactions are pre-committed and pending); drawn
// independently the two rarely line up. So, when crashes are enabled, half
// the lost writes get a crash after the next checkpoint's acknowledgements
// and before it is stored (crash-after-ack, reached once per checkpoint).
func correlate(rng *rand.Rand, enabled []string, ops []Op) []Op {
	if !slices.Contains(enabled, "crash-after-ack") {
		return ops
	}
	for _, op := range slices.Clone(ops) {
		if op.Fault != "checkpoint-write-lost" || rng.IntN(2) != 0 {
			continue
		}
		ops = append(ops, Op{Fault: "crash-after-ack", Hit: op.Hit + 1, RestartDelayMS: rng.IntN(2000)})
	}
	return ops
}
