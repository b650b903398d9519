package sim

import (
	"hash/fnv"
	"math/rand/v2"
)

// Derive mixes a root seed with a stream name into an independent seed
// (splitmix64 finaliser), so streams never share state and adding a stream
// does not shift another.
func Derive(seed uint64, stream string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(stream))
	z := seed ^ h.Sum64()
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// RunSeed is the seed of run k of a campaign with base seed: a hash, not
// base+k, so a run keeps its seed whatever the sharding.
func RunSeed(base uint64, k int) uint64 {
	return Derive(base, "run/"+itoa(k))
}

func itoa(k int) string {
	if k == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for k > 0 {
		i--
		b[i] = byte('0' + k%10)
		k /= 10
	}
	return string(b[i:])
}

func newRNG(seed uint64, stream string) *rand.Rand {
	return rand.New(rand.NewPCG(Derive(seed, stream), Derive(seed, stream+"/2")))
}
