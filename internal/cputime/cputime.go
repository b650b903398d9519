// Package cputime reads the CPU time this process has used (user plus
// system, every thread), for measurements that must not depend on how busy
// the rest of a shared machine is: wall time does, CPU time much less.
//
// It imports nothing of the harness.
package cputime

import "time"

// Process returns the CPU time (user + system) the process has used so
// far, or 0 where the platform does not say.
func Process() time.Duration { return process() }
