package appsim

import (
	"hash/fnv"
	"math/rand/v2"
	"strconv"
)

// newRand returns the PRNG stream of one concern of a scenario: every
// random choice derives from the scenario seed and a stream name, so adding
// a stream never shifts another.
func newRand(seed uint64, stream string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(stream))
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

// RunSeed is the seed of run k of a campaign with base seed: a hash, not
// base+k, so a run keeps its seed whatever the sharding.
func RunSeed(base uint64, k int) uint64 {
	return newRand(base, "run/"+strconv.Itoa(k)).Uint64()
}
