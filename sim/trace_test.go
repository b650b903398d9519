package sim

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/engine"
)

// The trace's hand-written encoder must write exactly what json.Marshal
// writes: trace hashes and files are compared across versions.
func TestTraceEncoderMatchesJSON(t *testing.T) {
	events := []TraceEvent{
		{},
		{T: 12, Event: engine.Event{Kind: "crash", Subtask: -1, Detail: "crash-after-ack hit=1 down=500ms"}},
		{T: 1 << 40, Event: engine.Event{Kind: "precommit", Subtask: 3, Checkpoint: 7, TxnID: "eosim-job-3-7", Epoch: -2, Partition: 5, Offset: -1, Detail: "records=16"}},
		{T: -5, Event: engine.Event{Kind: "x", Detail: `quote " backslash \ tab	newline
 <b>markup</b> & amp`}},
		{Event: engine.Event{Kind: "unicode", Detail: "naïve – \u2028 \u2029 \x7f \xff invalid"}},
		{Event: engine.Event{Kind: "offsets", Partition: -3, Offset: 1<<62 + 1, Epoch: 32767}},
	}
	for _, e := range events {
		want, err := json.Marshal(e)
		require.NoError(t, err)
		require.Equal(t, string(want), string(appendTraceEvent(nil, e)))
	}
}
