package sim

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"hash"
	"io"
	"strconv"
	"time"

	"github.com/eosim/eosim/engine"
)

// TraceEvent is one line of a trace: an engine or scheduler event stamped
// with virtual milliseconds since the scenario started.
type TraceEvent struct {
	T int64 `json:"t"`
	engine.Event
}

// trace writes JSON lines and hashes them. Only deterministic values go in:
// virtual time, protocol steps, record positions; never batch boundaries,
// idempotent producer ids or map order.
type trace struct {
	start  time.Time
	now    func() time.Time
	w      io.Writer
	h      hash.Hash
	events []TraceEvent // kept for reports
	keep   bool
	buf    []byte // reused line buffer
}

func newTrace(w io.Writer, keep bool) *trace {
	start := time.Now()
	return &trace{start: start, now: func() time.Time { return start }, w: w, h: sha256.New(), keep: keep}
}

func (t *trace) Observe(e engine.Event) {
	te := TraceEvent{T: t.now().Sub(t.start).Milliseconds(), Event: e}
	t.buf = appendTraceEvent(t.buf[:0], te)
	b := append(t.buf, '\n')
	t.buf = b
	t.h.Write(b)
	if t.w != nil {
		t.w.Write(b)
	}
	if t.keep {
		t.events = append(t.events, te)
	}
}

func (t *trace) hash() string { return hex.EncodeToString(t.h.Sum(nil))[:16] }

// appendTraceEvent appends e as JSON, byte for byte what json.Marshal
// writes for a TraceEvent (field order, omitempty, escaping), without
// reflection: a scenario writes thousands of lines.
func appendTraceEvent(b []byte, e TraceEvent) []byte {
	b = append(b, `{"t":`...)
	b = strconv.AppendInt(b, e.T, 10)
	b = append(b, `,"kind":`...)
	b = appendJSONString(b, e.Kind)
	b = append(b, `,"subtask":`...)
	b = strconv.AppendInt(b, int64(e.Subtask), 10)
	if e.Checkpoint != 0 {
		b = append(b, `,"checkpoint":`...)
		b = strconv.AppendInt(b, e.Checkpoint, 10)
	}
	if e.TxnID != "" {
		b = append(b, `,"txn":`...)
		b = appendJSONString(b, e.TxnID)
	}
	if e.Epoch != 0 {
		b = append(b, `,"epoch":`...)
		b = strconv.AppendInt(b, int64(e.Epoch), 10)
	}
	if e.Partition != 0 {
		b = append(b, `,"partition":`...)
		b = strconv.AppendInt(b, int64(e.Partition), 10)
	}
	if e.Offset != 0 {
		b = append(b, `,"offset":`...)
		b = strconv.AppendInt(b, e.Offset, 10)
	}
	if e.Detail != "" {
		b = append(b, `,"detail":`...)
		b = appendJSONString(b, e.Detail)
	}
	return append(b, '}')
}

// appendJSONString quotes s as encoding/json does: plain printable ASCII
// is copied, anything that json.Marshal escapes (quotes, backslashes,
// control characters, HTML's <, > and &, non-ASCII) goes through it.
func appendJSONString(b []byte, s string) []byte {
	for i := range len(s) {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
