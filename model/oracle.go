package model

import (
	"fmt"
	"strconv"
	"strings"
)

// ID identifies an input record.
type ID struct {
	Partition int32 `json:"partition"`
	Offset    int64 `json:"offset"`
}

func (id ID) String() string { return fmt.Sprintf("%d/%d", id.Partition, id.Offset) }

// InputRecord is one record of the input topic.
type InputRecord struct {
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Key       string `json:"key"`
	Value     string `json:"value"`
}

// ID returns the record's identity.
func (r InputRecord) ID() ID { return ID{r.Partition, r.Offset} }

// OutputRecord is one record a read_committed reader saw in the output topic.
type OutputRecord struct {
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Key       string `json:"key"`
	Value     string `json:"value"`
}

// Output is the job's output for one input record, as the job formats it:
// "inPartition:inOffset:key:count:payload".
type Output struct {
	Input   ID
	Key     string
	Count   int64
	Payload string
}

// Format renders o in the job's output format.
func (o Output) Format() string {
	return fmt.Sprintf("%d:%d:%s:%d:%s", o.Input.Partition, o.Input.Offset, o.Key, o.Count, o.Payload)
}

// ParseOutput parses an output value; keys never contain ':'.
func ParseOutput(value string) (Output, error) {
	f := strings.SplitN(value, ":", 5)
	if len(f) != 5 {
		return Output{}, fmt.Errorf("output %q: want 5 fields", value)
	}
	p, err1 := strconv.ParseInt(f[0], 10, 32)
	off, err2 := strconv.ParseInt(f[1], 10, 64)
	n, err3 := strconv.ParseInt(f[3], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return Output{}, fmt.Errorf("output %q: malformed number", value)
	}
	return Output{Input: ID{int32(p), off}, Key: f[2], Count: n, Payload: f[4]}, nil
}

// Transform is the job's stateless step, restated: upper-case the payload.
func Transform(value string) string { return strings.ToUpper(value) }

// Expected is what an exactly-once run must make visible.
type Expected struct {
	// Outputs maps every input record to its one expected output.
	Outputs map[ID]Output
	// Order lists input ids per input partition in offset order.
	Order map[int32][]ID
	// FinalCounts is the keyed operator's state after all input.
	FinalCounts map[string]int64
}

// Expect applies the job's logic to the input: every record is transformed
// and counted per key. Keys never span partitions, so the count a record
// carries does not depend on how partitions interleave.
func Expect(input []InputRecord) Expected {
	e := Expected{Outputs: map[ID]Output{}, Order: map[int32][]ID{}, FinalCounts: map[string]int64{}}
	for _, r := range input {
		e.FinalCounts[r.Key]++
		e.Outputs[r.ID()] = Output{Input: r.ID(), Key: r.Key, Count: e.FinalCounts[r.Key], Payload: Transform(r.Value)}
		e.Order[r.Partition] = append(e.Order[r.Partition], r.ID())
	}
	return e
}
