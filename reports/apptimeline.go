package reports

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/eosim/eosim/appsim"
	"github.com/eosim/eosim/faults"
)

// The timeline of an app run (package appsim) has one lane for the harness
// (input, live reads, broker rejections, coordinator moves, the end) and
// one per app instance: each attempt of the instance as a bar from its
// start to its kill or return, the downtime after a kill, pauses, and the
// instance's requests as ticks coloured by kind, the request a crash fault
// hit outlined and labelled with the plan's fault.

// Lane geometry of an app timeline (pixels).
const (
	tlHarnessH  = 40.0
	tlInstanceH = 46.0
	rowLife     = 6.0  // attempt bar, barH high
	rowRequests = 24.0 // request ticks, 14 high
	// tlIdle: a stretch of this many ms without an event is drawn
	// compressed (a session timeout after a kill is 45 s of nothing).
	tlIdle = 2000
	// tlIdleKeep is how much of each side of an idle stretch stays drawn
	// to scale.
	tlIdleKeep = 200
)

// appProc is an app trace's process name "instance.attempt".
func appProc(name string) (instance, attempt int, ok bool) {
	i, a, found := strings.Cut(name, ".")
	if !found {
		return 0, 0, false
	}
	in, err1 := strconv.Atoi(i)
	at, err2 := strconv.Atoi(a)
	return in, at, err1 == nil && err2 == nil && in >= 0 && in < 256
}

// instanceCount is how many instances an app trace shows.
func instanceCount(events []appsim.TraceEvent) int {
	n := 0
	for _, e := range events {
		if i, _, ok := appProc(e.Proc); ok {
			n = max(n, i+1)
		}
	}
	return n
}

// appRequest is a "request" event's detail: "c1 localhost:9092 produce#3 corr=7".
type appRequest struct {
	client, addr, kind string
	hit                int
}

func parseAppRequest(detail string) appRequest {
	var r appRequest
	f := strings.Fields(detail)
	if len(f) >= 3 {
		r.client, r.addr = f[0], f[1]
		kind, hit, _ := strings.Cut(f[2], "#")
		r.kind = kind
		r.hit, _ = strconv.Atoi(hit)
	}
	return r
}

// requestClass colours a request tick by what the request is for.
func requestClass(kind string) string {
	switch kind {
	case "produce":
		return "rq rq-produce"
	case "end-txn-commit":
		return "rq rq-commit"
	case "end-txn-abort":
		return "rq rq-abort"
	case "init-producer-id", "add-partitions-to-txn", "add-offsets-to-txn", "txn-offset-commit":
		return "rq rq-txn"
	case "join-group", "sync-group", "heartbeat", "offset-commit", "OffsetFetch", "LeaveGroup", "FindCoordinator":
		return "rq rq-group"
	}
	return "rq rq-other"
}

// crashKind returns the request kind a protocol-site crash fault aims at.
func crashKind(fault string) (string, bool) {
	for _, k := range faults.ProtocolKinds {
		if fault == faults.CrashBefore(k) || fault == faults.CrashAfter(k) {
			return k, true
		}
	}
	return "", false
}

// appScale maps an app trace's time to x. Requests released at the same
// millisecond (the scheduler releases dozens between two clock steps) each
// get rqStep pixels of their own, in release order, so that none hides
// another; stretches longer than tlIdle without a drawn event are
// compressed. The harness's live-reader requests are not drawn and do not
// count. rqStep is 2.4 px, less when the requests would not fit tlMaxW.
type appScale struct {
	timeScale
	rqStep float64
}

func newAppScale(events []appsim.TraceEvent, end int64) appScale {
	perMS := map[int64]int{}
	var times []int64
	for _, e := range events {
		if e.Kind == "reader-request" {
			continue
		}
		if e.Kind == "request" {
			perMS[e.TimeMS]++
		}
		if len(times) == 0 || times[len(times)-1] != e.TimeMS {
			times = append(times, e.TimeMS)
		}
	}
	requests := 0
	for _, n := range perMS {
		requests += n
	}
	step := 2.4
	if requests > 0 {
		step = math.Max(0.3, math.Min(step, (tlMaxW/2)/float64(requests)))
	}
	type piece struct {
		t0, t1     int64
		compressed bool
		width      float64 // fixed width (bursts, compressed); 0: to scale
	}
	var pieces []piece
	last := int64(0)
	addGap := func(t0, t1 int64) {
		if t1-t0 > tlIdle {
			pieces = append(pieces, piece{t0: t0, t1: t0 + tlIdleKeep}, piece{t0: t0 + tlIdleKeep, t1: t1 - tlIdleKeep, compressed: true, width: tlDownW},
				piece{t0: t1 - tlIdleKeep, t1: t1})
		} else if t1 > t0 {
			pieces = append(pieces, piece{t0: t0, t1: t1})
		}
	}
	for _, t := range times {
		addGap(last, t)
		if n := perMS[t]; n > 0 {
			pieces = append(pieces, piece{t0: t, t1: t, width: float64(n) * step})
		}
		last = max(last, t)
	}
	addGap(last, max(end, last+1))
	active, fixed := int64(0), 0.0
	for _, p := range pieces {
		if p.width > 0 {
			fixed += p.width
		} else {
			active += p.t1 - p.t0
		}
	}
	active = max(active, 1)
	plot := math.Min(math.Max(tlMaxW-fixed, 200), math.Max(tlMinW-fixed, float64(active)*tlPxPerMS))
	var ts timeScale
	ts.scale = plot / float64(active)
	xpos := 0.0
	for _, p := range pieces {
		sg := timeSeg{t0: p.t0, t1: p.t1, x0: xpos, compressed: p.compressed}
		if p.width > 0 {
			xpos += p.width
		} else {
			xpos += float64(p.t1-p.t0) * ts.scale
		}
		sg.x1 = xpos
		ts.segs = append(ts.segs, sg)
	}
	ts.width = xpos
	return appScale{timeScale: ts, rqStep: step}
}

// layoutAppTimeline lays out an app run's timeline.
func layoutAppTimeline(tl Timeline, id string) timelineView {
	v := timelineView{ID: id, Timeline: tl, LabelW: tlLabelW, App: true}
	v.Title = fmt.Sprintf("app %s — run %d, seed %d", tl.Protocol, tl.Run, tl.Seed)
	events := tl.ProcessEvents
	end := max(tl.VirtualMS, 1)
	for _, e := range events {
		end = max(end, e.TimeMS)
	}
	instances := max(1, tl.Parallelism, instanceCount(events))
	ts := newAppScale(events, end)
	// An event at millisecond t is drawn after the requests released
	// before it in the same millisecond (atMS of them so far).
	atMS, atT := 0, int64(-1)
	x := func(t int64) float64 {
		if t == atT {
			return ts.x(t) + float64(atMS)*ts.rqStep
		}
		return ts.x(t)
	}
	v.W = ts.width + tlPadRight

	y := tlAxisH
	right := tlLabelW - 6
	harnessY := y
	v.Lanes = append(v.Lanes, laneView{Label: "harness", Y: y, H: tlHarnessH, Class: "lane-coord",
		Rows: []svgText{{X: right, Y: y + 32, Text: "input · reads · faults"}}})
	y += tlHarnessH
	laneY := make([]float64, instances)
	for i := range instances {
		laneY[i] = y
		v.Lanes = append(v.Lanes, laneView{Label: fmt.Sprintf("instance %d", i), Y: y, H: tlInstanceH, Class: "lane-proc",
			Rows: []svgText{{X: right, Y: y + rowLife + 9, Text: "attempts"}, {X: right, Y: y + rowRequests + 11, Text: "requests"}}})
		y += tlInstanceH
	}
	v.H = y + 6
	for i := range v.Lanes {
		v.Lanes[i].LabelY = v.Lanes[i].Y + 15
	}
	drawAxis(&v, ts.timeScale, end, "idle", "no event: the app waited (a session timeout, a restart delay, a pause)")

	numbers := newOpNumbers(tl.Faults)
	// moment is a time and where it was drawn (after the requests of its
	// millisecond released before it).
	type moment struct {
		t int64
		x float64
	}
	type attempt struct {
		proc      string
		start     moment
		restarted bool
	}
	alive := map[int]*attempt{}   // instance → attempt running
	downSince := map[int]moment{} // instance → when it was killed
	downWhy := map[int]string{}   // instance → what killed it
	pausedAt := map[int]moment{}  // instance → when it was paused
	var pauses []svgRect          // drawn over the attempts
	lastTick := map[string]int{}  // proc+kind → index in v.Ticks of its last request of that kind
	tickHit := []int{}            // per tick: the request's hit of its kind
	lastAny := -1                 // index in v.Ticks of the last app request
	requests := 0
	markAt := func(cy float64, t int64, shape, class, title string) {
		v.Marks = append(v.Marks, svgPoly{Points: shapePoints(shape, x(t), cy, 5), Class: class, Title: title})
	}
	harnessMark := func(e appsim.TraceEvent, shape, class string) {
		markAt(harnessY+tlHarnessH/2-3, e.TimeMS, shape, class, appEventTitle(e))
	}
	endAttempt := func(i int, t int64, how string) {
		a := alive[i]
		if a == nil {
			return
		}
		delete(alive, i)
		v.Bars = append(v.Bars, svgRect{X: a.start.x, Y: laneY[i] + rowLife, W: math.Max(1.5, x(t)-a.start.x), H: barH, Class: "attempt",
			Title: fmt.Sprintf("instance %d attempt %s: ran %s → %s, %s", i, a.proc, fmtMS(a.start.t), fmtMS(t), how)})
	}
	// hitTick outlines the request tick a fault hit.
	hitTick := func(j int, title string) {
		if j < 0 || j >= len(v.Ticks) {
			return
		}
		r := v.Ticks[j]
		v.Highlight = append(v.Highlight, svgRect{X: r.X - 1.5, Y: r.Y - 2, W: r.W + 3, H: r.H + 4, Class: "hl hl-hit", Title: title})
	}
	for _, e := range events {
		if e.TimeMS != atT {
			atT, atMS = e.TimeMS, 0
		}
		i, att, isProc := appProc(e.Proc)
		if isProc && i >= instances {
			isProc = false
		}
		switch {
		case e.Kind == "request" && isProc:
			requests++
			rq := parseAppRequest(e.Detail)
			ly := laneY[i]
			lastTick[e.Proc+" "+rq.kind] = len(v.Ticks)
			lastAny = len(v.Ticks)
			tickHit = append(tickHit, rq.hit)
			v.Ticks = append(v.Ticks, svgRect{X: x(e.TimeMS) + 0.2*ts.rqStep, Y: ly + rowRequests, W: math.Max(0.3, 0.6*ts.rqStep), H: 14, Class: requestClass(rq.kind),
				Title: fmt.Sprintf("%s: instance %d attempt %d sent %s #%d (the run's app request %d; client %s to %s)",
					fmtMS(e.TimeMS), i, att, rq.kind, rq.hit, requests, rq.client, rq.addr)})
			atMS++
		case e.Kind == "start" && isProc:
			a := &attempt{proc: e.Proc, start: moment{e.TimeMS, x(e.TimeMS)}, restarted: att > 0}
			alive[i] = a
			if since, ok := downSince[i]; ok {
				v.Bands = append(v.Bands, svgRect{X: since.x, Y: laneY[i], W: math.Max(1, x(e.TimeMS)-since.x), H: tlInstanceH, Class: "down",
					Title: fmt.Sprintf("instance %d down %s → %s (%s) after %s", i, fmtMS(since.t), fmtMS(e.TimeMS), fmtMS(e.TimeMS-since.t), downWhy[i])})
				delete(downSince, i)
			}
			if a.restarted {
				markAt(laneY[i]+rowLife+barH/2, e.TimeMS, "tri-up", "m-restore", fmt.Sprintf("%s: instance %d restarted (attempt %d)", fmtMS(e.TimeMS), i, att))
			} else {
				markAt(laneY[i]+rowLife+barH/2, e.TimeMS, "tri-right", "m-source", fmt.Sprintf("%s: instance %d started", fmtMS(e.TimeMS), i))
			}
		case e.Kind == "killed" && isProc:
			fault := e.Detail
			hit := -1
			what := "killed by " + fault
			if kind, ok := crashKind(fault); ok {
				if j, seen := lastTick[e.Proc+" "+kind]; seen {
					hit = tickHit[j]
					when := "before the broker saw it"
					if strings.HasPrefix(fault, "crash-after-") {
						when = "after the broker applied it; the answer never arrived"
					}
					hitTick(j, fmt.Sprintf("%s fired at this request (%s #%d): the process died %s", fault, kind, hit, when))
				}
			} else if slices.Contains(faults.GroupFaults, fault) {
				hit = requests
				hitTick(lastAny, fmt.Sprintf("%s fired at this request (the run's app request %d): instance %d was killed", fault, requests, i))
			}
			label := numbers.take(fault, hit) + fault
			if hit > 0 {
				label += "@" + strconv.Itoa(hit)
			}
			endAttempt(i, e.TimeMS, what)
			downSince[i], downWhy[i] = moment{e.TimeMS, x(e.TimeMS)}, fault
			cy := laneY[i] + rowLife + barH/2
			v.Marks = append(v.Marks, svgPoly{Points: shapePoints("x", x(e.TimeMS), cy, 6), Class: "m-kill", Title: fmt.Sprintf("%s: instance %d attempt %d %s", fmtMS(e.TimeMS), i, att, what)})
			v.Texts = append(v.Texts, svgText{X: x(e.TimeMS) + 7, Y: laneY[i] + rowLife + barH - 1, Class: "kill-label", Text: label,
				Hint: fmt.Sprintf("instance %d attempt %d %s at %s", i, att, what, fmtMS(e.TimeMS))})
		case e.Kind == "returned" && isProc:
			how := "returned nil"
			class := "m-stored"
			if e.Detail == "error" {
				how, class = "returned an error (the harness restarts it)", "m-abort"
			}
			endAttempt(i, e.TimeMS, how)
			if e.Detail == "error" {
				downSince[i], downWhy[i] = moment{e.TimeMS, x(e.TimeMS)}, "an error return"
			}
			markAt(laneY[i]+rowLife+barH/2, e.TimeMS, "square", class, fmt.Sprintf("%s: instance %d attempt %d %s", fmtMS(e.TimeMS), i, att, how))
		case e.Kind == "paused" && isProc:
			pausedAt[i] = moment{e.TimeMS, x(e.TimeMS)}
			label := numbers.take("pause-instance", requests) + "pause-instance@" + strconv.Itoa(requests)
			hitTick(lastAny, fmt.Sprintf("pause-instance fired at this request (the run's app request %d): instance %d paused %s", requests, i, e.Detail))
			v.Texts = append(v.Texts, svgText{X: x(e.TimeMS) + 3, Y: laneY[i] + tlInstanceH - 2, Class: "fault-label", Text: label, Hint: appEventTitle(e)})
		case e.Kind == "resumed" && isProc:
			if at, ok := pausedAt[i]; ok {
				delete(pausedAt, i)
				pauses = append(pauses, svgRect{X: at.x, Y: laneY[i] + rowLife + 2, W: math.Max(1.5, x(e.TimeMS)-at.x), H: barH - 4, Class: "paused",
					Title: fmt.Sprintf("instance %d paused %s → %s: its requests were held (a zombie once the session timed out)", i, fmtMS(at.t), fmtMS(e.TimeMS))})
			}
		case e.Kind == "rejecting":
			v.Marks = append(v.Marks, svgPoly{Points: shapePoints("bolt", x(e.TimeMS), harnessY+tlHarnessH/2-3, 7), Class: "m-broker", Title: appEventTitle(e)})
			v.Texts = append(v.Texts, svgText{X: x(e.TimeMS) + 6, Y: harnessY + tlHarnessH - 4, Class: "fault-label",
				Text: numbers.take(e.Detail, requests) + e.Detail + "@" + strconv.Itoa(requests), Hint: appEventTitle(e)})
		case e.Kind == "coordinator-move":
			v.Marks = append(v.Marks, svgPoly{Points: shapePoints("bolt", x(e.TimeMS), harnessY+tlHarnessH/2-3, 7), Class: "m-broker", Title: appEventTitle(e)})
			v.Texts = append(v.Texts, svgText{X: x(e.TimeMS) + 6, Y: harnessY + tlHarnessH - 4, Class: "fault-label",
				Text: numbers.take("group-coordinator-move", requests) + "group-coordinator-move@" + strconv.Itoa(requests), Hint: appEventTitle(e)})
		case e.Kind == "input" || e.Kind == "arrive":
			harnessMark(e, "tri-right", "m-source")
		case e.Kind == "live-read":
			harnessMark(e, "circle", "m-ack")
		case e.Kind == "inconclusive" || e.Kind == "no-progress" || e.Kind == "liveness-bound":
			harnessMark(e, "x", "m-cp-abort")
			v.Texts = append(v.Texts, svgText{X: x(e.TimeMS) + 6, Y: harnessY + 12, Class: "fail-line-label", Text: e.Kind, Hint: appEventTitle(e)})
		case e.Kind == "reader-request":
			// The harness's live reader: not drawn (a fetch every few ms).
		default:
			harnessMark(e, "circle", "m-other")
		}
	}
	for _, i := range slices.Sorted(maps.Keys(downSince)) {
		since := downSince[i]
		v.Bands = append(v.Bands, svgRect{X: since.x, Y: laneY[i], W: math.Max(1, x(end)-since.x), H: tlInstanceH, Class: "down",
			Title: fmt.Sprintf("instance %d down from %s to the end after %s", i, fmtMS(since.t), downWhy[i])})
	}
	for _, i := range slices.Sorted(maps.Keys(alive)) {
		endAttempt(i, end, "still running at the end")
	}
	for _, i := range slices.Sorted(maps.Keys(pausedAt)) {
		at := pausedAt[i]
		pauses = append(pauses, svgRect{X: at.x, Y: laneY[i] + rowLife + 2, W: math.Max(1.5, x(end)-at.x), H: barH - 4, Class: "paused",
			Title: fmt.Sprintf("instance %d paused from %s to the end", i, fmtMS(at.t))})
	}
	v.Bars = append(v.Bars, pauses...)
	slices.SortStableFunc(v.Bands, func(a, b svgRect) int { return cmp.Or(cmp.Compare(a.Y, b.Y), cmp.Compare(a.X, b.X)) })

	// The anomalous records: the trace does not say which instance copied
	// which record, so they are listed, not drawn.
	for _, a := range tl.Anomalies {
		if a.Record == nil {
			continue
		}
		v.Records = append(v.Records, recordRow{Kind: a.Kind, Record: fmt.Sprintf("%d/%d", a.Record.Partition, a.Record.Offset),
			Key: a.Record.Key, Value: a.Record.Value, Rec: recKey(id, a.Record.Partition, a.Record.Offset),
			Entered: []string{fmt.Sprintf("input partition %d offset %d, written by the harness", a.Record.Partition, a.Record.Offset)},
			Left:    []string{a.Detail}, partition: a.Record.Partition, from: a.Record.Offset, to: a.Record.Offset})
	}
	v.finish(len(events), "listed")
	return v
}

func appEventTitle(e appsim.TraceEvent) string {
	s := fmtMS(e.TimeMS) + " " + e.Kind
	if e.Proc != "" {
		s += " " + e.Proc
	}
	if e.Detail != "" {
		s += " " + e.Detail
	}
	return s
}
