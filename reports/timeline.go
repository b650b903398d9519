package reports

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/faults"
	"github.com/eosim/eosim/sim"
)

// Shapes of an SVG drawing. Every string field is plain text that the
// template escapes; numbers are geometry.
// Rec, when set, lists the records (space-separated keys, see recKey) a
// shape stands for: clicking one highlights every shape of those records.
type svgRect struct {
	X, Y, W, H   float64
	Class, Title string
	Rec          string
}

type svgLine struct {
	X1, Y1, X2, Y2 float64
	Class, Title   string
	Rec            string
}

type svgText struct {
	X, Y         float64
	Class, Text  string
	Anchor, Hint string
}

type svgPoly struct {
	Points       string
	Class, Title string
	Rec          string
}

type laneView struct {
	Label  string
	Y, H   float64
	LabelY float64
	Class  string
	// Rows label the rows of the lane, right-aligned.
	Rows []svgText
}

// timelineView is one run's timeline, laid out for the template.
type timelineView struct {
	ID        string
	Timeline  Timeline
	Title     string
	Plan      string
	Counts    string
	LabelW    float64
	W, H      float64
	Lanes     []laneView
	Bands     []svgRect
	Grid      []svgLine
	Bars      []svgRect
	Ticks     []svgRect
	Marks     []svgPoly
	Links     []svgLine
	Highlight []svgRect
	Texts     []svgText
	Records   []recordRow
	MoreRecs  int
	Notes     []string
	// Trace is the path, relative to the report, of the run's trace file.
	Trace string
	// App: the timeline of an app run (layoutAppTimeline).
	App bool
}

// recordRow is one anomalous record, or a run of them that share their
// story, in the table under a timeline.
type recordRow struct {
	Kind, Record, Key, Value string
	Entered, Left            []string
	// Rec are the keys of the row's records (see recKey).
	Rec       string
	partition int32
	from, to  int64
}

// recKey names a record of one timeline for the page's highlighting: a
// short hash of the timeline's id (a page has a few dozen timelines at
// most, and keys repeat on many shapes), then partition/offset.
func recKey(timeline string, partition int32, offset int64) string {
	h := fnv.New32a()
	h.Write([]byte(timeline))
	return fmt.Sprintf("%s:%d/%d", strconv.FormatUint(uint64(h.Sum32()), 36), partition, offset)
}

// maxRecordRows bounds the record table under a timeline.
const maxRecordRows = 40

// maxRecKeys bounds the keys a grouped row lists.
const maxRecKeys = 64

// textW estimates the width of an SVG label of 10-11 px type.
func textW(s string) float64 { return 6.3*float64(utf8.RuneCountInString(s)) + 4 }

// groupRecords sorts the rows and merges consecutive offsets of one
// partition that have the same anomaly, no key or value shown, and the same
// entries and exits.
func groupRecords(rows []recordRow) []recordRow {
	slices.SortStableFunc(rows, func(a, b recordRow) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.partition, b.partition), cmp.Compare(a.from, b.from))
	})
	var out []recordRow
	for _, r := range rows {
		if n := len(out); n > 0 {
			last := &out[n-1]
			if last.Kind == r.Kind && last.partition == r.partition && last.to+1 == r.from &&
				last.Key == "" && last.Value == "" && r.Key == "" && r.Value == "" &&
				slices.Equal(last.Entered, r.Entered) && slices.Equal(last.Left, r.Left) {
				last.to = r.from
				if strings.Count(last.Rec, " ") < maxRecKeys {
					last.Rec += " " + r.Rec
				}
				last.Record = fmt.Sprintf("%d/%d – %d/%d (%d records)", last.partition, last.from, last.partition, last.to, last.to-last.from+1)
				continue
			}
		}
		out = append(out, r)
	}
	return out
}

// Lane geometry (pixels).
const (
	tlAxisH   = 34.0
	tlCoordH  = 40.0
	tlBrokerH = 26.0
	tlSourceH = 36.0
	tlSinkH   = 50.0
	tlLabelW  = 150.0
	tlMinW    = 1000.0
	tlMaxW    = 6000.0
	tlPxPerMS = 1.0
	// tlDownW is the width of a compressed stretch of downtime.
	tlDownW = 70.0
	// tlCompress: downtime longer than this is drawn compressed.
	tlCompress = 150
	tlPadRight = 140.0
	// rows inside a source lane
	rowTicks    = 4.0  // records read, 14 high
	rowSrcMarks = 27.0 // snapshots, acks (centre)
	// rows inside a sink lane
	rowSinkMarks = 9.0  // snapshots, acks, aborts (centre)
	rowOpen      = 16.0 // open transaction bar, 11 high
	rowPending   = 33.0 // pre-committed transaction bar, 11 high
	barH         = 11.0
)

// txnBar is one transaction of a subtask, from begin to its end.
type txnBar struct {
	subtask     int
	txn         string
	checkpoint  int64
	start       int64
	precommit   int64 // -1 until pre-committed
	end         int64 // -1 while open
	endKind     string
	detail      string
	fate        string // what became of it after a crash
	fateAt      int64
	fateKind    string // committed, aborted, failed
	precommitMs string // records=N of the precommit
}

func (b *txnBar) endedBy() string {
	switch b.endKind {
	case "commit":
		return fmt.Sprintf("committed (checkpoint %d) at %s", b.checkpoint, fmtMS(b.end))
	case "commit-failed":
		return fmt.Sprintf("commit of checkpoint %d FAILED (ignored) at %s", b.checkpoint, fmtMS(b.end))
	case "cut":
		s := fmt.Sprintf("cut by %s at %s", b.detail, fmtMS(b.end))
		if b.fate != "" {
			s += "; " + b.fate
		}
		return s
	case "dangling":
		return fmt.Sprintf("still open at the end (%s)", fmtMS(b.end))
	}
	return b.endKind
}

// left says whether the transaction's records became visible, and when.
func (b *txnBar) left() (bool, int64, string) {
	switch {
	case b.endKind == "commit":
		return true, b.end, b.endedBy()
	case b.fateKind == "committed":
		return true, b.fateAt, b.endedBy()
	}
	return false, b.end, b.endedBy()
}

// procEvent is a batch of records a source subtask emitted.
type procEvent struct {
	idx         int // index in the trace
	t           int64
	subtask     int // the source subtask
	partition   int32
	from, n     int64
	parallelism int // operator/sink subtasks at the time
}

// sourceKinds are the events of a source subtask; every other event of a
// subtask belongs to the operator/sink subtask of that index.
var sourceKinds = map[string]bool{"process": true, "source-start": true, "source-snapshot": true,
	"ack-source": true, "group-offsets-commit": true}

// stop is a point where the job died or was stopped (crash, failure,
// rescale): what was not checkpointed is replayed after it.
type stop struct {
	idx  int
	t    int64
	what string
}

// srcSnap is a source subtask's snapshot: the barrier of its checkpoint
// follows every record it emitted before.
type srcSnap struct {
	idx, subtask int
	checkpoint   int64
}

// layoutTimeline turns a run's trace into shapes: lanes for the
// coordinator, the broker and each source and operator/sink subtask;
// checkpoints, transactions, crashes and restarts; the records of its
// anomalies where they entered and where they left or should have left.
func layoutTimeline(tl Timeline, id string) timelineView {
	if tl.App {
		return layoutAppTimeline(tl, id)
	}
	v := timelineView{ID: id, Timeline: tl, LabelW: tlLabelW}
	v.Title = fmt.Sprintf("%s — run %d, seed %d", tl.Protocol, tl.Run, tl.Seed)
	events := tl.Events
	end := tl.VirtualMS
	parallelism := max(1, tl.Parallelism)
	for _, e := range events {
		end = max(end, e.T)
		parallelism = max(parallelism, min(e.Subtask+1, 256))
	}
	end = max(end, 1)
	ts := newTimeScale(events, end)
	x := ts.x
	v.W = ts.width + tlPadRight

	// Lanes.
	y := tlAxisH
	coordY := y
	right := tlLabelW - 6
	v.Lanes = append(v.Lanes, laneView{Label: "coordinator", Y: y, H: tlCoordH, Class: "lane-coord",
		Rows: []svgText{{X: right, Y: y + 32, Text: "checkpoints · crashes"}}})
	y += tlCoordH
	brokerY := y
	v.Lanes = append(v.Lanes, laneView{Label: "broker", Y: y, H: tlBrokerH, Class: "lane-broker",
		Rows: []svgText{{X: right, Y: y + 17, Text: "faults"}}})
	y += tlBrokerH
	srcY := make([]float64, parallelism)
	for i := range parallelism {
		srcY[i] = y
		v.Lanes = append(v.Lanes, laneView{Label: fmt.Sprintf("source %d", i), Y: y, H: tlSourceH, Class: "lane-src",
			Rows: []svgText{{X: right, Y: y + rowTicks + 11, Text: "records read"}, {X: right, Y: y + rowSrcMarks + 4, Text: "steps"}}})
		y += tlSourceH
	}
	sinkY := make([]float64, parallelism)
	for i := range parallelism {
		sinkY[i] = y
		v.Lanes = append(v.Lanes, laneView{Label: fmt.Sprintf("sink %d", i), Y: y, H: tlSinkH, Class: "lane-sink",
			Rows: []svgText{{X: right, Y: y + rowSinkMarks + 4, Text: "steps"}, {X: right, Y: y + rowOpen + 9, Text: "open txn"},
				{X: right, Y: y + rowPending + 9, Text: "pre-committed"}}})
		y += tlSinkH
	}
	v.H = y + 6
	for i := range v.Lanes {
		v.Lanes[i].LabelY = v.Lanes[i].Y + 15
	}
	inRange := func(subtask int) bool { return subtask >= 0 && subtask < parallelism }

	drawAxis(&v, ts, end, "down", "the job was down")

	// Anomalous records, by input partition, sorted by offset.
	type hit struct {
		offset int64
		kind   string
		key    string
		row    int
	}
	hits := map[int32][]hit{}
	for _, a := range tl.Anomalies {
		if a.Record == nil {
			continue
		}
		row := len(v.Records)
		v.Records = append(v.Records, recordRow{Kind: a.Kind, Record: fmt.Sprintf("%d/%d", a.Record.Partition, a.Record.Offset),
			Key: a.Record.Key, Value: a.Record.Value, Rec: recKey(id, a.Record.Partition, a.Record.Offset),
			partition: a.Record.Partition, from: a.Record.Offset, to: a.Record.Offset})
		hits[a.Record.Partition] = append(hits[a.Record.Partition], hit{a.Record.Offset, a.Kind, a.Record.Key, row})
	}
	for p := range hits {
		slices.SortFunc(hits[p], func(a, b hit) int { return cmp.Compare(a.offset, b.offset) })
	}

	// Walk the trace.
	open := map[int]*txnBar{}
	pending := map[int][]*txnBar{}
	var bars, orphans []*txnBar
	var procs []procEvent
	var snaps []srcSnap
	var stops []stop
	curP := max(1, tl.Parallelism)
	downSince := int64(-1)
	downWhy := ""
	cutAll := func(t int64, why string) {
		for _, s := range slices.Sorted(maps.Keys(open)) {
			b := open[s]
			b.end, b.endKind, b.detail = t, "cut", why
			orphans = append(orphans, b)
		}
		for _, s := range slices.Sorted(maps.Keys(pending)) {
			for _, b := range pending[s] {
				b.end, b.endKind, b.detail = t, "cut", why
				orphans = append(orphans, b)
			}
		}
		open, pending = map[int]*txnBar{}, map[int][]*txnBar{}
	}
	resolve := func(subtask int, txn string, t int64, kind, text string) bool {
		for i := len(orphans) - 1; i >= 0; i-- {
			b := orphans[i]
			if b.subtask == subtask && b.txn == txn && b.fate == "" && b.precommit >= 0 {
				b.fate, b.fateAt, b.fateKind = text, t, kind
				return true
			}
		}
		return false
	}
	markAt := func(cy float64, t int64, shape, class, title string) {
		v.Marks = append(v.Marks, svgPoly{Points: shapePoints(shape, x(t), cy, 5), Class: class, Title: title})
	}
	mark := func(e sim.TraceEvent, shape, class, title string) {
		switch {
		case !inRange(e.Subtask):
			markAt(coordY+tlCoordH/2, e.T, shape, class, title)
		case sourceKinds[e.Kind]:
			markAt(srcY[e.Subtask]+rowSrcMarks, e.T, shape, class, title)
		default:
			markAt(sinkY[e.Subtask]+rowSinkMarks, e.T, shape, class, title)
		}
	}
	// Checkpoint ids start again after a restore: a label names the
	// attempt too (a2·cp6). A fault that fired is labelled with its
	// number in the plan (#2), as the plan text numbers them.
	attempt := 0
	cpLabelEnd := math.Inf(-1)
	numbers := newOpNumbers(tl.Faults)
	opNumber := func(detail string) string {
		name, rest, _ := strings.Cut(detail, " ")
		hit := -1
		for _, f := range strings.Fields(rest) {
			if h, ok := strings.CutPrefix(f, "hit="); ok {
				hit, _ = strconv.Atoi(h)
			}
		}
		return numbers.take(name, hit)
	}
	// hitText is the plan's hit of a fault event ("@9": the run's 9th
	// checkpoint trigger, or 9th arrival at a crash point), so that a
	// label reads as the plan does.
	hitText := func(detail string) string {
		for _, f := range strings.Fields(detail) {
			if h, ok := strings.CutPrefix(f, "hit="); ok {
				return "@" + h
			}
		}
		return ""
	}
	triggers := 0
	fullLine := func(t int64, class, title string) {
		v.Grid = append(v.Grid, svgLine{X1: x(t), Y1: tlAxisH - 8, X2: x(t), Y2: v.H, Class: class, Title: title})
	}
	for i, e := range events {
		title := eventTitle(e)
		switch e.Kind {
		case "process":
			n, _ := strconv.ParseInt(strings.TrimPrefix(e.Detail, "n="), 10, 64)
			procs = append(procs, procEvent{idx: i, t: e.T, subtask: e.Subtask, partition: e.Partition, from: e.Offset,
				n: min(max(1, n), 1<<20), parallelism: curP})
		case "begin-transaction":
			b := &txnBar{subtask: e.Subtask, txn: e.TxnID, start: e.T, precommit: -1, end: -1}
			if old := open[e.Subtask]; old != nil { // a begin without a pre-commit: the old one is gone
				old.end, old.endKind = e.T, "dangling"
			}
			open[e.Subtask] = b
			bars = append(bars, b)
		case "precommit":
			b := open[e.Subtask]
			if b == nil {
				b = &txnBar{subtask: e.Subtask, txn: e.TxnID, start: e.T, end: -1}
				bars = append(bars, b)
			}
			b.precommit, b.checkpoint, b.precommitMs = e.T, e.Checkpoint, e.Detail
			delete(open, e.Subtask)
			pending[e.Subtask] = append(pending[e.Subtask], b)
			mark(e, "tri-down", "m-precommit", title)
		case "commit", "commit-failure-ignored":
			kind := "commit"
			if e.Kind != "commit" {
				kind = "commit-failed"
			}
			ps := pending[e.Subtask]
			j := slices.IndexFunc(ps, func(b *txnBar) bool { return b.checkpoint == e.Checkpoint && b.txn == e.TxnID })
			if j < 0 {
				j = slices.IndexFunc(ps, func(b *txnBar) bool { return b.checkpoint == e.Checkpoint })
			}
			if j >= 0 {
				b := ps[j]
				b.end, b.endKind = e.T, kind
				pending[e.Subtask] = slices.Delete(ps, j, j+1)
			} else if b := open[e.Subtask]; b != nil && b.txn == e.TxnID {
				b.precommit, b.checkpoint, b.end, b.endKind = e.T, e.Checkpoint, e.T, kind
				delete(open, e.Subtask)
			} else {
				mark(e, "check", "m-"+kind, title)
			}
		case "resume-transaction":
			outcome, _, _ := strings.Cut(e.Detail, " ")
			kind := map[string]string{"committed": "committed", "aborted": "aborted"}[outcome]
			if kind == "" {
				kind = "failed"
			}
			resolve(e.Subtask, e.TxnID, e.T, kind, fmt.Sprintf("resumed at %s: %s", fmtMS(e.T), e.Detail))
			class := "m-resume-ok"
			if kind != "committed" {
				class = "m-resume-bad"
			}
			mark(e, "check", class, title)
		case "abort-lingering":
			if resolve(e.Subtask, e.TxnID, e.T, "aborted", fmt.Sprintf("aborted as lingering at %s", fmtMS(e.T))) {
				mark(e, "x", "m-abort", title)
			} else {
				mark(e, "x", "m-abort-noop", title)
			}
		case "source-snapshot":
			snaps = append(snaps, srcSnap{idx: i, subtask: e.Subtask, checkpoint: e.Checkpoint})
			mark(e, "diamond", "m-snapshot", title)
		case "snapshot":
			mark(e, "diamond", "m-snapshot", title)
		case "ack", "ack-source":
			mark(e, "circle", "m-ack", title)
		case "notification-lost":
			mark(e, "circle", "m-lost-notify", title)
		case "source-start":
			mark(e, "tri-right", "m-source", title)
		case "group-offsets-commit":
			mark(e, "square", "m-group", title)
		case "trigger-checkpoint":
			triggers++
			label := fmt.Sprintf("a%d·cp%d", max(1, attempt), e.Checkpoint)
			title = fmt.Sprintf("%s (the run's checkpoint trigger %d: a non-crash fault with hit %d fires here)", title, triggers, triggers)
			fullLine(e.T, "cp-line", label+": "+title)
			if x(e.T)+2 >= cpLabelEnd {
				v.Texts = append(v.Texts, svgText{X: x(e.T) + 2, Y: 26, Class: "cp-label", Text: label,
					Hint: fmt.Sprintf("attempt %d, checkpoint %d: %s", max(1, attempt), e.Checkpoint, title)})
				cpLabelEnd = x(e.T) + 2 + textW(label)
			}
		case "checkpoint-stored":
			markAt(coordY+tlCoordH/2, e.T, "square", "m-stored", title)
		case "abort-checkpoint", "checkpoint-failed":
			markAt(coordY+tlCoordH/2, e.T, "x", "m-cp-abort", title)
		case "restore":
			attempt++
			if downSince >= 0 {
				v.Bands = append(v.Bands, svgRect{X: x(downSince), Y: tlAxisH, W: math.Max(1, x(e.T)-x(downSince)), H: v.H - tlAxisH,
					Class: "down", Title: fmt.Sprintf("job down %s → %s (%s) after %s", fmtMS(downSince), fmtMS(e.T), fmtMS(e.T-downSince), downWhy)})
				downSince = -1
			}
			markAt(coordY+tlCoordH/2, e.T, "tri-up", "m-restore", title)
		case "crash", "job-failure", "loud-failure", "rescale":
			class := map[string]string{"crash": "crash-line", "job-failure": "fail-line", "loud-failure": "loud-line", "rescale": "rescale-line"}[e.Kind]
			fullLine(e.T, class, title)
			label := e.Kind
			number := ""
			if e.Kind == "crash" {
				label, _, _ = strings.Cut(e.Detail, " ")
				number = opNumber(e.Detail)
			}
			if e.Kind == "rescale" {
				if n, err := strconv.Atoi(strings.TrimPrefix(e.Detail, "parallelism ")); err == nil && n > 0 {
					curP = n
				}
				label = e.Detail
			}
			shown := number + label
			if e.Kind == "crash" {
				shown += hitText(e.Detail)
			}
			v.Texts = append(v.Texts, svgText{X: x(e.T) + 3, Y: coordY + 12, Class: class + "-label", Text: "✕ " + shown, Hint: title})
			if e.Kind != "loud-failure" {
				why := "job failure: " + e.Detail
				switch e.Kind {
				case "crash":
					why = label
				case "rescale":
					why = "rescale to " + e.Detail
				}
				cutAll(e.T, why)
				stops = append(stops, stop{idx: i, t: e.T, what: why})
				if e.Kind != "rescale" {
					downSince, downWhy = e.T, why
				}
			}
		case "fault":
			name, _, _ := strings.Cut(e.Detail, " ")
			label := opNumber(e.Detail) + name + hitText(e.Detail)
			info, _ := faults.Lookup(name)
			if info.Kind == faults.KindBroker {
				v.Marks = append(v.Marks, svgPoly{Points: shapePoints("bolt", x(e.T), brokerY+tlBrokerH/2, 7), Class: "m-broker", Title: title})
				v.Texts = append(v.Texts, svgText{X: x(e.T) + 6, Y: brokerY + 17, Class: "fault-label", Text: label, Hint: title})
			} else {
				markAt(coordY+tlCoordH/2, e.T, "bolt", "m-fault", title)
				v.Texts = append(v.Texts, svgText{X: x(e.T) + 6, Y: coordY + tlCoordH - 6, Class: "fault-label", Text: label, Hint: title})
			}
		default:
			if isBrokerEvent(e) {
				v.Marks = append(v.Marks, svgPoly{Points: shapePoints("bolt", x(e.T), brokerY+tlBrokerH/2, 6), Class: "m-broker", Title: title})
			} else {
				mark(e, "circle", "m-other", title)
			}
		}
	}
	last := end
	for _, b := range open {
		b.end, b.endKind = last, "dangling"
	}
	for _, ps := range pending {
		for _, b := range ps {
			b.end, b.endKind = last, "dangling"
		}
	}
	if downSince >= 0 {
		v.Bands = append(v.Bands, svgRect{X: x(downSince), Y: tlAxisH, W: math.Max(1, x(last)-x(downSince)), H: v.H - tlAxisH,
			Class: "down", Title: "job down from " + fmtMS(downSince) + " to the end after " + downWhy})
	}

	// Transactions. barRect is each transaction's drawn bar (the
	// pre-committed one, else the open one), so that a clicked record
	// also outlines the transaction it went into.
	barRect := map[*txnBar]int{}
	for _, b := range bars {
		if !inRange(b.subtask) {
			continue
		}
		ly := sinkY[b.subtask]
		name := fmt.Sprintf("transaction %s (sink %d)", b.txn, b.subtask)
		openEnd := b.end
		if b.precommit >= 0 {
			openEnd = b.precommit
		}
		// A pixel of air between a transaction and the next one.
		barRect[b] = len(v.Bars)
		v.Bars = append(v.Bars, svgRect{X: x(b.start), Y: ly + rowOpen, W: math.Max(1.5, x(openEnd)-x(b.start)-1), H: barH, Class: "txn-open",
			Title: fmt.Sprintf("%s: open %s → %s", name, fmtMS(b.start), fmtMS(openEnd))})
		if b.precommit < 0 {
			if b.endKind == "cut" {
				v.Marks = append(v.Marks, svgPoly{Points: shapePoints("x", x(b.end), ly+rowOpen+barH/2, 4), Class: "m-cut", Title: name + " " + b.endedBy()})
			}
			continue
		}
		class := "txn-pending txn-" + b.endKind
		barRect[b] = len(v.Bars)
		v.Bars = append(v.Bars, svgRect{X: x(b.precommit), Y: ly + rowPending, W: math.Max(2.5, x(b.end)-x(b.precommit)), H: barH, Class: class,
			Title: fmt.Sprintf("%s: pre-committed for checkpoint %d at %s (%s), %s", name, b.checkpoint, fmtMS(b.precommit), b.precommitMs, b.endedBy())})
		shape, mclass := "check", "m-commit"
		switch b.endKind {
		case "commit-failed":
			shape, mclass = "x", "m-abort"
		case "cut":
			shape, mclass = "x", "m-cut"
		case "dangling":
			shape, mclass = "circle", "m-dangling"
		}
		v.Marks = append(v.Marks, svgPoly{Points: shapePoints(shape, x(b.end), ly+rowPending+barH/2, 5), Class: mclass, Title: name + ": " + b.endedBy()})
		if b.fate != "" {
			fclass := "limbo limbo-" + b.fateKind
			v.Bars = append(v.Bars, svgRect{X: x(b.end), Y: ly + rowPending + 2, W: math.Max(1.5, x(b.fateAt)-x(b.end)), H: barH - 4, Class: fclass,
				Title: fmt.Sprintf("%s: pre-committed data in limbo from %s, %s", name, fmtMS(b.end), b.fate)})
		}
	}

	// exit follows records a source emitted to the transaction they went
	// out with: the sink that owns their key (known from the key, or the
	// only sink), and the transaction it pre-committed for the first
	// checkpoint whose barrier the source sent after them.
	exit := func(pe procEvent, key string) (bar *txnBar, text string) {
		var st *stop
		for k := range stops {
			if stops[k].idx > pe.idx {
				st = &stops[k]
				break
			}
		}
		var cp int64
		for _, sn := range snaps {
			if sn.idx > pe.idx && sn.subtask == pe.subtask && (st == nil || sn.idx < st.idx) {
				cp = sn.checkpoint
				break
			}
		}
		sink := -1
		switch {
		case key != "":
			sink = engine.KeyOwner(key, pe.parallelism)
		case pe.parallelism == 1:
			sink = 0
		}
		transactional := len(bars) > 0
		if sink >= 0 && transactional {
			for _, b := range bars {
				if b.subtask == sink && cp > 0 && b.checkpoint == cp && b.precommit >= pe.t && (st == nil || b.precommit <= st.t) {
					bar = b
					break
				}
			}
			if bar == nil && st != nil {
				// Not pre-committed before the job stopped: in the open
				// transaction (or still in a channel) when it died.
				for _, b := range bars {
					if b.subtask == sink && b.endKind == "cut" && b.end == st.t && b.precommit < 0 {
						bar = b
						break
					}
				}
			}
		}
		switch {
		case bar != nil && bar.precommit < 0:
			return bar, fmt.Sprintf("in sink %d's open transaction when the job stopped (%s at %s): not checkpointed, so replayed after the restart", sink, st.what, fmtMS(st.t))
		case bar != nil:
			if ok, _, how := bar.left(); ok {
				return bar, fmt.Sprintf("left with sink %d's transaction of checkpoint %d: %s", sink, cp, how)
			}
			return bar, fmt.Sprintf("should have left with sink %d's transaction of checkpoint %d, but: %s", sink, cp, bar.endedBy())
		case cp > 0 && !transactional:
			return nil, fmt.Sprintf("no transaction: written directly by the sink, flushed at its snapshot of checkpoint %d", cp)
		case cp > 0 && sink < 0:
			return nil, fmt.Sprintf("before the barrier of checkpoint %d: it should have left with the transaction of checkpoint %d of the sink that owns its key (the trace does not say which)", cp, cp)
		case cp > 0:
			return nil, fmt.Sprintf("before the barrier of checkpoint %d: it should have left with sink %d's transaction of checkpoint %d, which the trace does not show", cp, sink, cp)
		case st != nil:
			return nil, fmt.Sprintf("not covered by a checkpoint when the job stopped (%s at %s): replayed after the restart", st.what, fmtMS(st.t))
		}
		return nil, "not covered by any checkpoint before the trace ends"
	}

	// Records emitted, and the anomalous records among them.
	broke := newBreakPoint()
	for _, pe := range procs {
		if !inRange(pe.subtask) {
			continue
		}
		ly := srcY[pe.subtask]
		rect := svgRect{X: x(pe.t), Y: ly + rowTicks, W: math.Max(1.2, x(pe.t+pe.n)-x(pe.t)-0.4), H: 14,
			Class: fmt.Sprintf("proc p%d", ((pe.partition%8)+8)%8),
			Title: fmt.Sprintf("source %d read partition %d offsets %d–%d (%d records) at %s", pe.subtask, pe.partition, pe.from, pe.from+pe.n-1, pe.n, fmtMS(pe.t))}
		v.Ticks = append(v.Ticks, rect)
		var held []hit
		hs := hits[pe.partition]
		k, _ := slices.BinarySearchFunc(hs, pe.from, func(h hit, o int64) int { return cmp.Compare(h.offset, o) })
		for ; k < len(hs) && hs[k].offset < pe.from+pe.n; k++ {
			held = append(held, hs[k])
		}
		if len(held) == 0 {
			continue
		}
		kinds := map[string][]string{}
		for _, h := range held {
			kinds[h.kind] = append(kinds[h.kind], fmt.Sprintf("%d/%d", pe.partition, h.offset))
		}
		var parts []string
		for _, kind := range slices.Sorted(maps.Keys(kinds)) {
			ids := kinds[kind]
			if len(ids) > 8 {
				ids = append(ids[:8:8], fmt.Sprintf("… %d more", len(kinds[kind])-8))
			}
			parts = append(parts, kind+" "+strings.Join(ids, ", "))
		}
		hclass := "hl hl-" + held[0].kind
		if _, dup := kinds["duplicate"]; dup {
			hclass = "hl hl-duplicate"
		} else if _, lost := kinds["lost"]; lost {
			hclass = "hl hl-lost"
		}
		entered := fmt.Sprintf("%s by source %d", fmtMS(pe.t), pe.subtask)
		var texts, keys []string
		type drawn struct{ link, mark int }
		linked := map[*txnBar]drawn{}
		for _, h := range held {
			bar, text := exit(pe, h.key)
			r := &v.Records[h.row]
			key := recKey(id, pe.partition, h.offset)
			if len(keys) < maxRecKeys {
				keys = append(keys, key)
			}
			r.Entered = append(r.Entered, entered)
			r.Left = append(r.Left, text)
			if !slices.Contains(texts, text) {
				texts = append(texts, text)
			}
			if bar != nil && bar.precommit >= 0 { // a replayed record broke nothing yet
				ok, at, _ := bar.left()
				broke.note(h.row, h.kind, ok, at)
			}
			if bar == nil || !inRange(bar.subtask) {
				continue
			}
			if j, ok := barRect[bar]; ok && strings.Count(v.Bars[j].Rec, " ") < maxRecKeys {
				v.Bars[j].Rec = strings.TrimSpace(v.Bars[j].Rec + " " + key)
			}
			if d, seen := linked[bar]; seen {
				if strings.Count(v.Links[d.link].Rec, " ") < maxRecKeys {
					v.Links[d.link].Rec += " " + key
					v.Marks[d.mark].Rec = v.Links[d.link].Rec
				}
				continue
			}
			linked[bar] = drawn{len(v.Links), len(v.Marks)}
			ok, at, _ := bar.left()
			lclass := "link link-left"
			ey := sinkY[bar.subtask] + rowPending + barH/2
			if bar.precommit < 0 {
				lclass, ey = "link link-replayed", sinkY[bar.subtask]+rowOpen+barH/2
			} else if !ok {
				lclass = "link link-missed"
			}
			v.Links = append(v.Links, svgLine{X1: rect.X + rect.W/2, Y1: ly + 19, X2: x(at), Y2: ey, Class: lclass, Title: text, Rec: key})
			v.Marks = append(v.Marks, svgPoly{Points: shapePoints("tri-down", x(at), ey-9, 5), Class: "m-exit " + lclass, Title: text, Rec: key})
		}
		v.Highlight = append(v.Highlight, svgRect{X: rect.X - 1.5, Y: ly + 1, W: rect.W + 3, H: 20, Class: hclass,
			Title: fmt.Sprintf("%s — entered here at %s; %s", strings.Join(parts, "; "), entered, strings.Join(texts, "; ")),
			Rec:   strings.Join(keys, " ")})
	}
	if t, what, ok := broke.moment(); ok {
		v.Grid = append(v.Grid, svgLine{X1: x(t), Y1: tlAxisH - 8, X2: x(t), Y2: v.H, Class: "eo-broke",
			Title: fmt.Sprintf("exactly-once broke here, at %s: %s", fmtMS(t), what)})
		v.Texts = append(v.Texts, svgText{X: x(t) + 3, Y: brokerY + tlBrokerH - 4, Class: "eo-broke-label", Text: "exactly-once broke",
			Hint: fmt.Sprintf("at %s: %s", fmtMS(t), what)})
	}
	for i := range v.Records {
		if len(v.Records[i].Entered) == 0 {
			v.Records[i].Entered = []string{"never read by a source in the trace"}
		}
	}
	v.finish(len(events), "marked")
	return v
}

// finish groups and bounds the record table, widens the drawing to its
// labels and notes what was left out; kept is how many events were drawn,
// shown says what the left-out records are not ("marked", "listed").
func (v *timelineView) finish(kept int, shown string) {
	tl := v.Timeline
	v.Records = groupRecords(v.Records)
	if len(v.Records) > maxRecordRows {
		// Every anomalous record stays marked in the drawing; the table
		// keeps the page small (report.json lists them all).
		v.MoreRecs += len(v.Records) - maxRecordRows
		v.Records = v.Records[:maxRecordRows]
	}
	// Nothing drawn past the right edge: the width covers every label.
	for _, tx := range v.Texts {
		v.W = math.Max(v.W, tx.X+textW(tx.Text)+8)
	}
	if tl.MoreEvents > 0 {
		v.Notes = append(v.Notes, fmt.Sprintf("The trace was cut after %d events (%d more not drawn).", kept, tl.MoreEvents))
	}
	if tl.MoreAnomalies > 0 {
		v.Notes = append(v.Notes, fmt.Sprintf("%d more anomalous records are not %s.", tl.MoreAnomalies, shown))
	}
}

// opNumbers labels a fault that fired with its number in the plan ("#2 "),
// as the plan text numbers them; each plan op labels one event.
type opNumbers struct {
	ops  []faults.Op
	used []bool
}

func newOpNumbers(ops []faults.Op) *opNumbers {
	return &opNumbers{ops: ops, used: make([]bool, len(ops))}
}

// take returns the label of the first unused op named name with the given
// hit (any hit when hit < 0), or "" when none is left.
func (n *opNumbers) take(name string, hit int) string {
	for i, op := range n.ops {
		if !n.used[i] && op.Fault == name && (hit < 0 || op.Hit == hit) {
			n.used[i] = true
			return fmt.Sprintf("#%d ", i+1)
		}
	}
	return ""
}

func isBrokerEvent(e sim.TraceEvent) bool {
	if info, ok := faults.Lookup(e.Kind); ok && info.Kind == faults.KindBroker {
		return true
	}
	name, _, _ := strings.Cut(e.Detail, " ")
	if info, ok := faults.Lookup(name); ok && info.Kind == faults.KindBroker && e.Kind == "fault" {
		return true
	}
	return strings.HasPrefix(e.Kind, "broker")
}

func eventTitle(e sim.TraceEvent) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", fmtMS(e.T), e.Kind)
	if e.Subtask >= 0 {
		fmt.Fprintf(&b, " subtask=%d", e.Subtask)
	}
	if e.Checkpoint != 0 {
		fmt.Fprintf(&b, " checkpoint=%d", e.Checkpoint)
	}
	if e.TxnID != "" {
		fmt.Fprintf(&b, " txn=%s", e.TxnID)
	}
	if e.Epoch != 0 {
		fmt.Fprintf(&b, " epoch=%d", e.Epoch)
	}
	if e.Kind == "source-start" || e.Partition != 0 || e.Offset != 0 {
		fmt.Fprintf(&b, " partition=%d offset=%d", e.Partition, e.Offset)
	}
	if e.Detail != "" {
		fmt.Fprintf(&b, " %s", e.Detail)
	}
	return b.String()
}

// shapePoints returns polygon points of a small marker centred at (cx, cy).
func shapePoints(shape string, cx, cy, r float64) string {
	var pts [][2]float64
	switch shape {
	case "diamond":
		pts = [][2]float64{{0, -r}, {r, 0}, {0, r}, {-r, 0}}
	case "square":
		q := r * 0.8
		pts = [][2]float64{{-q, -q}, {q, -q}, {q, q}, {-q, q}}
	case "tri-up":
		pts = [][2]float64{{0, -r}, {r, r}, {-r, r}}
	case "tri-down":
		pts = [][2]float64{{-r, -r}, {r, -r}, {0, r}}
	case "tri-right":
		pts = [][2]float64{{-r * 0.7, -r}, {r, 0}, {-r * 0.7, r}}
	case "x":
		t := r * 0.35
		pts = [][2]float64{{-r, -r + t}, {-r + t, -r}, {0, -t}, {r - t, -r}, {r, -r + t}, {t, 0}, {r, r - t}, {r - t, r}, {0, t}, {-r + t, r}, {-r, r - t}, {-t, 0}}
	case "check":
		pts = [][2]float64{{-r, 0}, {-r * 0.6, -r * 0.4}, {-r * 0.2, r * 0.1}, {r * 0.7, -r}, {r, -r * 0.6}, {-r * 0.2, r}}
	case "bolt":
		pts = [][2]float64{{-r * 0.2, -r}, {r * 0.6, -r}, {0, -r * 0.1}, {r * 0.5, -r * 0.1}, {-r * 0.4, r}, {0, r * 0.15}, {-r * 0.5, r * 0.15}}
	default: // circle-ish octagon
		for i := range 8 {
			a := float64(i) * math.Pi / 4
			pts = append(pts, [2]float64{r * 0.75 * math.Cos(a), r * 0.75 * math.Sin(a)})
		}
	}
	var b strings.Builder
	for i, p := range pts {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatFloat(round1(cx+p[0]), 'f', -1, 64))
		b.WriteByte(',')
		b.WriteString(strconv.FormatFloat(round1(cy+p[1]), 'f', -1, 64))
	}
	return b.String()
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }

// timeScale maps virtual time to x: linear, except that long downtime
// (crash or failure to restore) is squeezed to tlDownW pixels so the
// protocol steps around it stay readable.
type timeScale struct {
	segs  []timeSeg
	scale float64 // pixels per millisecond outside downtime
	width float64
}

type timeSeg struct {
	t0, t1     int64
	x0, x1     float64
	compressed bool
}

func newTimeScale(events []sim.TraceEvent, end int64) timeScale {
	var down [][2]int64
	since := int64(-1)
	for _, e := range events {
		switch e.Kind {
		case "crash", "job-failure":
			if since < 0 {
				since = e.T
			}
		case "restore":
			if since >= 0 && e.T-since > tlCompress {
				down = append(down, [2]int64{since, e.T})
			}
			since = -1
		}
	}
	if since >= 0 && end-since > tlCompress {
		down = append(down, [2]int64{since, end})
	}
	return compressedScale(down, end)
}

// compressedScale maps [0, end] to x with the stretches in down (sorted,
// disjoint) squeezed to tlDownW pixels each.
func compressedScale(down [][2]int64, end int64) timeScale {
	var ts timeScale
	t := int64(0)
	for _, d := range down {
		if d[0] > t {
			ts.segs = append(ts.segs, timeSeg{t0: t, t1: d[0]})
		}
		ts.segs = append(ts.segs, timeSeg{t0: d[0], t1: d[1], compressed: true})
		t = d[1]
	}
	if t < end || len(ts.segs) == 0 {
		ts.segs = append(ts.segs, timeSeg{t0: t, t1: max(end, t+1)})
	}
	active := int64(0)
	fixed := 0.0
	for _, sg := range ts.segs {
		if sg.compressed {
			fixed += tlDownW
		} else {
			active += sg.t1 - sg.t0
		}
	}
	active = max(active, 1)
	plot := math.Min(tlMaxW-fixed, math.Max(tlMinW-fixed, float64(active)*tlPxPerMS))
	ts.scale = plot / float64(active)
	xpos := 0.0
	for i := range ts.segs {
		sg := &ts.segs[i]
		sg.x0 = xpos
		if sg.compressed {
			xpos += tlDownW
		} else {
			xpos += float64(sg.t1-sg.t0) * ts.scale
		}
		sg.x1 = xpos
	}
	ts.width = xpos
	return ts
}

func (ts timeScale) x(t int64) float64 {
	for _, sg := range ts.segs {
		if t <= sg.t1 {
			if t <= sg.t0 {
				return round1(sg.x0)
			}
			return round1(sg.x0 + (sg.x1-sg.x0)*float64(t-sg.t0)/float64(sg.t1-sg.t0))
		}
	}
	return round1(ts.width)
}

// niceStep picks the smallest axis step of 1, 2 or 5 × 10^k ms that is at
// least target.
func niceStep(target float64) int64 {
	for mag := int64(1); ; mag *= 10 {
		for _, m := range []int64{1, 2, 5} {
			if float64(m*mag) >= target {
				return m * mag
			}
		}
	}
}

// fmtMS renders virtual milliseconds for people.
func fmtMS(ms int64) string {
	switch {
	case ms < 1000:
		return fmt.Sprintf("%dms", ms)
	case ms < 60_000:
		return strconv.FormatFloat(float64(ms)/1000, 'f', -1, 64) + "s"
	}
	return fmt.Sprintf("%dm%s", ms/60_000, strconv.FormatFloat(float64(ms%60_000)/1000, 'f', -1, 64)+"s")
}

// drawAxis draws the time axis of v: ticks in the stretches drawn to scale,
// a label on compressed ones ("≈ 2s down", hint: what the gap was). A label
// starts only after the previous one ends, so they never overlap; the end
// of the run gets a label of its own.
func drawAxis(v *timelineView, ts timeScale, end int64, gapWord, gapHint string) {
	x := ts.x
	step := niceStep(90 / ts.scale)
	labelEnd := math.Inf(-1)
	endText := "end " + fmtMS(end)
	endX := x(end)
	// A tick label stops short of the next compressed stretch, whose label
	// says how much time it hides.
	limit := make([]float64, len(ts.segs))
	next := endX - textW(endText)
	for i := len(ts.segs) - 1; i >= 0; i-- {
		limit[i] = next
		if ts.segs[i].compressed {
			next = ts.segs[i].x0
		}
	}
	for i, sg := range ts.segs {
		if sg.compressed {
			text := "≈ " + fmtMS(sg.t1-sg.t0) + " " + gapWord
			if sg.x0+4 >= labelEnd {
				v.Texts = append(v.Texts, svgText{X: sg.x0 + 4, Y: 11, Class: "axis-break", Text: text,
					Hint: fmt.Sprintf("%s to %s: %s; drawn compressed", fmtMS(sg.t0), fmtMS(sg.t1), gapHint)})
				labelEnd = sg.x0 + 4 + textW(text)
			}
			continue
		}
		for t := (sg.t0 + step - 1) / step * step; t <= sg.t1; t += step {
			text := fmtMS(t)
			if x(t)+2 < labelEnd || x(t)+2+textW(text) > limit[i] {
				continue
			}
			labelEnd = x(t) + 2 + textW(text)
			v.Grid = append(v.Grid, svgLine{X1: x(t), Y1: tlAxisH - 6, X2: x(t), Y2: v.H, Class: "axis-grid"})
			v.Texts = append(v.Texts, svgText{X: x(t) + 2, Y: 11, Class: "axis-label", Text: text})
		}
	}
	v.Grid = append(v.Grid, svgLine{X1: endX, Y1: tlAxisH - 6, X2: endX, Y2: v.H, Class: "axis-end", Title: "the run ends at " + fmtMS(end)})
	v.Texts = append(v.Texts, svgText{X: math.Max(labelEnd, endX+2), Y: 11, Class: "axis-label", Text: endText})
}

// breakPoint finds the moment exactly-once broke in a timeline: the
// earliest time an anomalous record became visible a second time
// (duplicate), or its transaction ended without making it visible.
type breakPoint struct {
	visible map[int]int // record row → times seen leaving visibly
	at      int64
	what    string
	found   bool
}

func newBreakPoint() *breakPoint { return &breakPoint{visible: map[int]int{}} }

// note records one way out of an anomalous record (row): visible says
// whether its transaction made it visible, at when.
func (b *breakPoint) note(row int, kind string, visible bool, at int64) {
	var what string
	switch {
	case visible:
		b.visible[row]++
		if b.visible[row] == 2 {
			what = kind + ": a record became visible a second time"
		}
	case kind != "duplicate":
		what = kind + ": a record's transaction ended without making it visible"
	}
	if what != "" && (!b.found || at < b.at) {
		b.at, b.what, b.found = at, what, true
	}
}

func (b *breakPoint) moment() (int64, string, bool) { return b.at, b.what, b.found }
