package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress shows a campaign's (or the zoo's) progress on stderr: a bar on
// a terminal, a plain line at most every progressEvery elsewhere (CI logs).
type progress interface {
	// update reports done items and bad ones (violating runs, variants not
	// caught) so far.
	update(done, bad int)
	// clear removes the bar before other output goes to the terminal.
	clear()
	finish()
}

const progressEvery = 2 * time.Second

// progressWords name what a progress display counts: "runs" and
// "violating" for a campaign.
type progressWords struct{ unit, bad string }

var campaignWords = progressWords{"runs", "violating"}

func newProgress(w io.Writer, total int, words progressWords) progress {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return newBarProgress(w, total, words)
	}
	return &lineProgress{w: w, total: total, words: words, started: time.Now(), last: time.Now()}
}

// lineProgress prints "progress: ..." lines.
type lineProgress struct {
	w             io.Writer
	total         int
	words         progressWords
	started, last time.Time
}

func (p *lineProgress) update(done, bad int) {
	if time.Since(p.last) < progressEvery {
		return
	}
	p.last = time.Now()
	elapsed := time.Since(p.started)
	eta := time.Duration(float64(elapsed) / float64(done) * float64(p.total-done))
	fmt.Fprintf(p.w, "progress: %d/%d %s, %d %s, %s elapsed, about %s left\n",
		done, p.total, p.words.unit, bad, p.words.bad, elapsed.Round(time.Second), eta.Round(time.Second))
}

func (p *lineProgress) clear()  {}
func (p *lineProgress) finish() {}

// barProgress draws a progress bar with runs done, violations so far and
// the time left.
type barProgress struct {
	w     io.Writer
	bar   *progressbar.ProgressBar
	words progressWords
}

func newBarProgress(w io.Writer, total int, words progressWords) *barProgress {
	bar := progressbar.NewOptions(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("0 "+words.bad),
		progressbar.OptionShowCount(),
		progressbar.OptionSetItsString(words.unit),
		progressbar.OptionShowIts(),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetRenderBlankState(true),
	)
	return &barProgress{w: w, bar: bar, words: words}
}

func (p *barProgress) update(done, bad int) {
	p.bar.Describe(fmt.Sprintf("%d %s", bad, p.words.bad))
	_ = p.bar.Set(done)
}

// eraseLine returns to the start of the line and erases all of it: the
// bar's own clear leaves what the terminal echoed after it (the "C" of an
// echoed ^C).
const eraseLine = "\r\x1b[2K"

func (p *barProgress) clear() {
	_ = p.bar.Clear()
	fmt.Fprint(p.w, eraseLine)
}

func (p *barProgress) finish() {
	_ = p.bar.Finish()
	p.clear()
}
