package sim

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"hash"
	"io"
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
}

func newTrace(w io.Writer, keep bool) *trace {
	start := time.Now()
	return &trace{start: start, now: func() time.Time { return start }, w: w, h: sha256.New(), keep: keep}
}

func (t *trace) Observe(e engine.Event) {
	te := TraceEvent{T: t.now().Sub(t.start).Milliseconds(), Event: e}
	b, _ := json.Marshal(te)
	b = append(b, '\n')
	t.h.Write(b)
	if t.w != nil {
		t.w.Write(b)
	}
	if t.keep {
		t.events = append(t.events, te)
	}
}

func (t *trace) hash() string { return hex.EncodeToString(t.h.Sum(nil))[:16] }
