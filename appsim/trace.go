package appsim

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"hash"
	"io"
	"time"
)

// TraceEvent is one line of a scenario's trace. Time is the scheduler's
// logical clock (the sum of its sleeps), never the bubble's clock, which
// goroutines may let drift by fractions of a millisecond.
type TraceEvent struct {
	TimeMS int64  `json:"t_ms"`
	Kind   string `json:"kind"`
	Proc   string `json:"proc,omitempty"`
	Detail string `json:"detail,omitempty"`
}

type trace struct {
	w      io.Writer
	h      hash.Hash
	keep   bool
	events []TraceEvent
	now    func() time.Duration
}

func newTrace(w io.Writer, keep bool, now func() time.Duration) *trace {
	return &trace{w: w, h: sha256.New(), keep: keep, now: now}
}

// add appends one event; it is called from the scheduler goroutine only.
func (t *trace) add(kind, proc, detail string) {
	ev := TraceEvent{TimeMS: t.now().Milliseconds(), Kind: kind, Proc: proc, Detail: detail}
	line, _ := json.Marshal(ev)
	line = append(line, '\n')
	t.h.Write(line)
	if t.w != nil {
		t.w.Write(line)
	}
	if t.keep {
		t.events = append(t.events, ev)
	}
}

func (t *trace) sum() string { return hex.EncodeToString(t.h.Sum(nil)) }
