package app

import (
	"context"
	"errors"
	"fmt"
)

// App is an application under test.
type App struct {
	// Name identifies the app in traces, reports and `simrun --app`.
	Name string
	// Spec declares the topics and what the app computes.
	Spec Spec
	// Instances is how many processes of the app run at once (a consumer
	// group); 0 means 1.
	Instances int
	// CrashPoints are the named sites the app calls Env.CrashPoint with, so
	// that plans, swarm draws and exhaustive mode can aim at them.
	CrashPoints []string
	// Run is one process. It runs until it returns or ctx is done. When the
	// harness stops the app gracefully, ctx is cancelled with cause ErrStop:
	// the process should finish what it owes (commit or abort) and return
	// nil. When the process is killed, ctx is cancelled with cause ErrKilled
	// and its connections and store handle are already cut: nothing it does
	// any more reaches Kafka or the store.
	//
	// A non-nil error is a failed process; the harness restarts it. An error
	// that wraps ErrDataLost is a loud failure: the app knows it lost data
	// (a loss it reports is `lost`, one it does not is `silent-loss`).
	Run func(ctx context.Context, env Env) error
}

// Spec declares what the app reads, writes and computes.
type Spec struct {
	InputTopic  string
	OutputTopic string
	// InputPartitions and OutputPartitions are the topics' partition
	// counts; OutputPartitions 0 means the same as InputPartitions.
	InputPartitions  int32
	OutputPartitions int32
	// Group is the app's consumer group, if it uses one.
	Group string
	// Transform maps one input record to the records it must make visible,
	// exactly once. It must be pure. Nil means: copy key and value.
	Transform func(in Record) []Record
	// KeyedTransform, when set instead of Transform, carries state per
	// input key: it gets the key's state before the record (nil at first)
	// and returns the state after it and the outputs.
	KeyedTransform func(state []byte, in Record) ([]byte, []Record)
	// OrderedPerKey promises that a key's outputs become visible in the
	// order of its inputs.
	OrderedPerKey bool
}

// Record is an input or output record as the oracle sees it.
type Record struct {
	Key, Value []byte
	// Partition is the input partition for an input record; for an output
	// it is ignored by the oracle (an app partitions its output as it likes).
	Partition int32
	Offset    int64
}

// Errors a process reports or sees as its context's cause.
var (
	// ErrStop is the cause of a process context cancelled for a graceful stop.
	ErrStop = errors.New("app: stop requested")
	// ErrKilled is the cause of a process context cancelled by a kill.
	ErrKilled = errors.New("app: process killed")
	// ErrDataLost, wrapped in the error Run returns, is a loud failure.
	ErrDataLost = errors.New("app: data lost")
)

// Validate reports a declaration that makes no sense.
func (a App) Validate() error {
	s := a.Spec
	switch {
	case a.Name == "":
		return errors.New("app: Name is empty")
	case a.Run == nil:
		return fmt.Errorf("app %s: Run is nil", a.Name)
	case s.InputTopic == "":
		return fmt.Errorf("app %s: Spec.InputTopic is empty", a.Name)
	case s.OutputTopic == "":
		return fmt.Errorf("app %s: Spec.OutputTopic is empty", a.Name)
	case s.InputTopic == s.OutputTopic:
		return fmt.Errorf("app %s: input and output topic are both %q", a.Name, s.InputTopic)
	case s.InputPartitions < 1:
		return fmt.Errorf("app %s: Spec.InputPartitions must be at least 1", a.Name)
	case s.OutputPartitions < 0:
		return fmt.Errorf("app %s: Spec.OutputPartitions must not be negative", a.Name)
	case s.Transform != nil && s.KeyedTransform != nil:
		return fmt.Errorf("app %s: set Spec.Transform or Spec.KeyedTransform, not both", a.Name)
	case a.Instances < 0:
		return fmt.Errorf("app %s: Instances must not be negative", a.Name)
	}
	return nil
}

// ProcessCount returns how many processes run at once.
func (a App) ProcessCount() int { return max(1, a.Instances) }

// OutputPartitionCount returns the output topic's partition count.
func (s Spec) OutputPartitionCount() int32 {
	if s.OutputPartitions == 0 {
		return s.InputPartitions
	}
	return s.OutputPartitions
}
