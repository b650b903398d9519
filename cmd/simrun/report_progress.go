package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress shows a campaign's progress on stderr: a bar on a terminal, a
// plain line at most every progressEvery elsewhere (CI logs).
type progress interface {
	// update reports done runs and violating runs so far.
	update(done, violating int)
	// clear removes the bar before other output goes to the terminal.
	clear()
	finish()
}

const progressEvery = 2 * time.Second

func newProgress(w io.Writer, total int) progress {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return newBarProgress(w, total)
	}
	return &lineProgress{w: w, total: total, started: time.Now(), last: time.Now()}
}

// lineProgress prints "progress: ..." lines.
type lineProgress struct {
	w             io.Writer
	total         int
	started, last time.Time
}

func (p *lineProgress) update(done, violating int) {
	if time.Since(p.last) < progressEvery {
		return
	}
	p.last = time.Now()
	elapsed := time.Since(p.started)
	eta := time.Duration(float64(elapsed) / float64(done) * float64(p.total-done))
	fmt.Fprintf(p.w, "progress: %d/%d runs, %d violating, %s elapsed, about %s left\n",
		done, p.total, violating, elapsed.Round(time.Second), eta.Round(time.Second))
}

func (p *lineProgress) clear()  {}
func (p *lineProgress) finish() {}

// barProgress draws a progress bar with runs done, violations so far and
// the time left.
type barProgress struct {
	bar *progressbar.ProgressBar
}

func newBarProgress(w io.Writer, total int) *barProgress {
	bar := progressbar.NewOptions(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("0 violating"),
		progressbar.OptionShowCount(),
		progressbar.OptionSetItsString("runs"),
		progressbar.OptionShowIts(),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetRenderBlankState(true),
	)
	return &barProgress{bar: bar}
}

func (p *barProgress) update(done, violating int) {
	p.bar.Describe(fmt.Sprintf("%d violating", violating))
	_ = p.bar.Set(done)
}

func (p *barProgress) clear() { _ = p.bar.Clear() }

func (p *barProgress) finish() {
	_ = p.bar.Finish()
	_ = p.bar.Clear()
}
