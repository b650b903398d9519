package reports_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/eosim/eosim/appsim"
	"github.com/eosim/eosim/engine"
	"github.com/eosim/eosim/examples/copier"
	"github.com/eosim/eosim/faults"
	"github.com/eosim/eosim/reports"
)

// chromium finds a Chromium or Chrome binary: $EOSIM_CHROMIUM, then the
// usual names on PATH.
func chromium() string {
	if p := os.Getenv("EOSIM_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// TestHTMLInChromium opens index.html in headless Chromium and checks that
// the timelines and charts render, that untrusted values are shown as text,
// and that the page fetches nothing; that the first screen names what
// failed and links its timeline; and that clicking a record highlights it
// everywhere. With EOSIM_SCREENSHOT=FILE.png it also saves a screenshot of
// the first failing timeline with a record highlighted, with
// EOSIM_SCREENSHOT_FIRST=FILE.png one of the first screen.
func TestHTMLInChromium(t *testing.T) {
	bin := chromium()
	if bin == "" {
		t.Skip("no Chromium found (set EOSIM_CHROMIUM, or apt-get install chromium): skipping the browser check of index.html")
	}
	r := realReport(t)
	dir := t.TempDir()
	require.NoError(t, reports.Write(dir, r))
	page := (&url.URL{Scheme: "file", Path: filepath.Join(dir, reports.HTMLFile)}).String()

	ctx := newBrowser(t, bin)
	// The first action starts the browser, on a context without a timeout.
	enableNetwork := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{})
		return err
	})
	require.NoError(t, chromedp.Do(ctx, enableNetwork))
	var mu sync.Mutex
	var requests []string
	require.NoError(t, chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			mu.Lock()
			requests = append(requests, e.Request.URL)
			mu.Unlock()
		}
	}))
	tctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

	type probeResult struct {
		Timelines, Procs, Pending, Highlights, Links, Crashes int
		TimelineWidth, ChartWidth                             float64
		ProtocolBars, FaultRows, CoverageHits                 int
		Scripts, InjectedBold, InjectedImg, InjectedItalic    int
		OwnScript                                             bool
		Values, Keys                                          []string
		Titles                                                []string
		FirstLink                                             string
		FirstLinkTop, ViewportH                               float64
		FirstText                                             string
		FirstLinkTarget                                       bool
	}
	const probe = `(() => {
	  const q = s => document.querySelectorAll(s).length;
	  return {
	    Timelines: q('svg.timeline'), Procs: q('svg.timeline rect.proc'), Pending: q('svg.timeline rect.txn-pending'),
	    Highlights: q('svg.timeline rect.hl'), Links: q('svg.timeline line.link'), Crashes: q('svg.timeline line.crash-line'),
	    TimelineWidth: document.querySelector('svg.timeline').getBoundingClientRect().width,
	    ChartWidth: document.querySelector('#chart-protocols svg').getBoundingClientRect().width,
	    ProtocolBars: q('#chart-protocols rect.bar-bad'), FaultRows: q('#chart-faults g'), CoverageHits: q('#chart-coverage rect.cell-hit'),
	    Scripts: document.scripts.length, InjectedBold: q('.record-value b'), InjectedImg: q('img'), InjectedItalic: q('.record-key i, .hostile i'),
	    OwnScript: document.scripts.length === 1 && document.scripts[0].id === 'eosim-highlight',
	    Values: Array.from(document.querySelectorAll('.record-value code')).map(e => e.textContent),
	    Keys: Array.from(document.querySelectorAll('.record-key code, #first-failure code.hostile')).map(e => e.textContent),
	    FirstLink: (document.querySelector('#first-failure-link') || {}).getAttribute ? document.querySelector('#first-failure-link').getAttribute('href') : '',
	    FirstLinkTop: document.querySelector('#first-failure-link') ? document.querySelector('#first-failure-link').getBoundingClientRect().bottom : 1e9,
	    ViewportH: window.innerHeight,
	    FirstText: (document.querySelector('#first-failure') || {}).textContent || '',
	    FirstLinkTarget: !!document.querySelector('#first-failure-link') && !!document.getElementById(document.querySelector('#first-failure-link').getAttribute('href').slice(1)),
	    Titles: Array.from(document.querySelectorAll('svg.timeline line.fail-line title')).map(e => e.textContent),
	  };
	})()`
	first := ""
	for _, tl := range r.Timelines {
		if tl.Violating {
			first = fmt.Sprintf("#tl-%s-%d", tl.Protocol, tl.Run)
			break
		}
	}
	require.NotEmpty(t, first)
	require.NoError(t, chromedp.Do(tctx, chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS("svg.timeline"))))
	got, err := chromedp.Run(tctx, chromedp.Evaluate[probeResult](probe))
	require.NoError(t, err)
	firstScreen, err := chromedp.Run(tctx, chromedp.CaptureScreenshot())
	require.NoError(t, err)

	// Click the first anomalous record's row under the first failing
	// timeline: the record is outlined wherever it appears (the batches it
	// entered in, its links, the transactions it went into, its row).
	type highlight struct {
		Selected, Rows, Shapes, Txns int
		Key                          string
	}
	click := `(() => {
	  const el = document.querySelector('` + first + ` tr[data-rec]');
	  el.dispatchEvent(new MouseEvent('click', {bubbles: true}));
	  const key = el.getAttribute('data-rec').split(' ')[0];
	  return { Selected: document.querySelectorAll('.sel').length, Rows: document.querySelectorAll('tr.sel').length,
	    Shapes: document.querySelectorAll('svg .sel').length, Txns: document.querySelectorAll('svg rect.txn-pending.sel').length, Key: key };
	})()`
	hl, err := chromedp.Run(tctx, chromedp.Evaluate[highlight](click))
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(tctx, chromedp.ScrollIntoView(chromedp.CSS(first))))
	shot, err := chromedp.Run(tctx, chromedp.Screenshot(chromedp.CSS(first)))
	require.NoError(t, err)
	require.Equal(t, 1, hl.Rows, "the clicked record's table row is highlighted, and only it (%s)", hl.Key)
	require.GreaterOrEqual(t, hl.Shapes, 2, "the clicked record is outlined where it entered and where it left (%s)", hl.Key)
	require.Positive(t, hl.Txns, "and the transaction it went into (%s)", hl.Key)
	const unclick = `(() => { document.body.dispatchEvent(new MouseEvent('click', {bubbles: true})); return document.querySelectorAll('.sel').length; })()`
	left, err := chromedp.Run(tctx, chromedp.Evaluate[int](unclick))
	require.NoError(t, err)
	require.Zero(t, left, "a click elsewhere clears the highlight")

	// The first screen says what failed and links to its timeline.
	require.Equal(t, first, got.FirstLink, "the first screen links the first failing run's timeline")
	require.True(t, got.FirstLinkTarget)
	require.Less(t, got.FirstLinkTop, got.ViewportH, "the link is on the first screen")
	p, err := engine.ProtocolByName(r.Violations[0].Protocol)
	require.NoError(t, err)
	require.Contains(t, got.FirstText, p.Description, "the failing protocol's description is on the first screen")
	require.Contains(t, got.FirstText, "replay --protocol", "with its replay command")

	require.Equal(t, len(r.Timelines), got.Timelines, "one timeline per drawn run")
	require.Greater(t, got.Procs, 10, "process events drawn")
	require.Positive(t, got.Pending, "pre-committed transactions drawn")
	require.Positive(t, got.Highlights, "anomalous records outlined where they entered")
	require.Positive(t, got.Links, "and linked to where they left")
	require.Positive(t, got.Crashes, "crashes drawn")
	require.Greater(t, got.TimelineWidth, 800.0)
	require.Greater(t, got.ChartWidth, 300.0)
	require.Positive(t, got.ProtocolBars)
	require.Positive(t, got.FaultRows)
	require.Positive(t, got.CoverageHits)

	require.Equal(t, 1, got.Scripts, "no scripts but the page's own, not even injected ones")
	require.True(t, got.OwnScript)
	require.Zero(t, got.InjectedBold, "a record value's markup is text, not elements")
	require.Zero(t, got.InjectedItalic, "a record key's markup is text, not elements")
	require.Contains(t, got.Keys, evilKey, "the record key is shown verbatim")
	require.Zero(t, got.InjectedImg, "a trace detail's markup is text, not elements")
	require.Contains(t, got.Values, evilValue, "the record value is shown verbatim")
	require.Contains(t, strings.Join(got.Titles, "\n"), evilDetail, "the trace detail is shown verbatim")

	mu.Lock()
	defer mu.Unlock()
	for _, u := range requests {
		require.True(t, strings.HasPrefix(u, "file://") || strings.HasPrefix(u, "data:"), "offline page fetched %s", u)
	}
	require.NotEmpty(t, shot)
	if out := os.Getenv("EOSIM_SCREENSHOT"); out != "" {
		require.NoError(t, os.WriteFile(out, shot, 0o644))
		t.Logf("screenshot of %s with record %s highlighted written to %s", first, hl.Key, out)
	}
	if out := os.Getenv("EOSIM_SCREENSHOT_FIRST"); out != "" {
		require.NoError(t, os.WriteFile(out, firstScreen, 0o644))
		t.Logf("screenshot of the first screen written to %s", out)
	}
}

// newBrowser starts headless Chromium for the test; it stops with the test.
func newBrowser(t *testing.T, bin string) context.Context {
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox,
		chromedp.WindowSize(1400, 1000), chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancel := chromedp.NewExecAllocator(t.Context(), opts...)
	t.Cleanup(cancel)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	return ctx
}

// TestAppTimelineInChromium renders the report of a real app run (a
// copier twin killed after its EndTxn commit) in headless Chromium: a lane
// per instance, the attempts before and after the kill, the kill marked
// and the request it hit outlined.
func TestAppTimelineInChromium(t *testing.T) {
	bin := chromium()
	if bin == "" {
		t.Skip("no Chromium found (set EOSIM_CHROMIUM, or apt-get install chromium): skipping the browser check of an app timeline")
	}
	a := copier.OffsetsOutsideTxn()
	plan := faults.Plan{Version: faults.PlanVersion, Protocol: a.Name, Seed: 2662262244273519432,
		Workload: faults.Workload{Partitions: 3, Parallelism: 1, Records: 40, KeysPerPartition: 3, CheckpointIntervalMS: 100, LateRecords: 10},
		Faults:   []faults.Op{{Fault: "crash-after-end-txn-commit", Hit: 6}}}
	res := appsim.Run(t, a, appsim.Options{Seed: plan.Seed, Plan: &plan, KeepEvents: true})
	require.Equal(t, appsim.Violation, res.Verdict, "the twin duplicates after a kill between its commit and its offset commit")
	b := reports.NewBuilder("campaign", reports.Options{BaseSeed: plan.Seed, Runs: 1}, reports.Versions{}, reports.Limits{})
	b.AddApp(reports.AppRun{Index: 0, Result: res, Replay: "simrun replay --app " + a.Name + " --plan p.json"})
	dir := t.TempDir()
	require.NoError(t, reports.Write(dir, b.Report(false, reports.Execution{})))
	page := (&url.URL{Scheme: "file", Path: filepath.Join(dir, reports.HTMLFile)}).String()

	ctx := newBrowser(t, bin)
	tctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	require.NoError(t, chromedp.Do(tctx, chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS("svg.timeline"))))
	type probeResult struct {
		Lanes                           []string
		Attempts, Kills, Hits, Requests int
		KillLabels                      []string
		TimelineWidth                   float64
	}
	got, err := chromedp.Run(tctx, chromedp.Evaluate[probeResult](`(() => {
	  const q = s => document.querySelectorAll(s).length;
	  return {
	    Lanes: Array.from(document.querySelectorAll('svg.tl-labels text.lane-label')).map(e => e.textContent),
	    Attempts: q('svg.timeline rect.attempt'), Kills: q('svg.timeline polygon.m-kill'), Hits: q('svg.timeline rect.hl-hit'),
	    Requests: q('svg.timeline rect.rq'),
	    KillLabels: Array.from(document.querySelectorAll('svg.timeline text.kill-label')).map(e => e.firstChild.textContent),
	    TimelineWidth: document.querySelector('svg.timeline').getBoundingClientRect().width,
	  };
	})()`))
	require.NoError(t, err)
	require.Equal(t, []string{"harness", "instance 0"}, got.Lanes)
	require.Equal(t, 2, got.Attempts, "the attempt before the kill and the one after")
	require.Equal(t, 1, got.Kills)
	require.Equal(t, 1, got.Hits, "the EndTxn commit the crash hit is outlined")
	require.Equal(t, res.Requests, got.Requests, "every app request is drawn")
	require.Equal(t, []string{"#1 crash-after-end-txn-commit@6"}, got.KillLabels)
	require.Greater(t, got.TimelineWidth, 800.0)
}

// TestPageLoadTime measures how long Chromium takes to load a report page
// given by EOSIM_PAGE (for the README's figure on large reports); it skips
// without it.
func TestPageLoadTime(t *testing.T) {
	page := os.Getenv("EOSIM_PAGE")
	bin := chromium()
	if page == "" || bin == "" {
		t.Skip("set EOSIM_PAGE=path/index.html (and have Chromium) to measure a page's load time")
	}
	st, err := os.Stat(page)
	require.NoError(t, err)
	ctx := newBrowser(t, bin)
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate("about:blank")))
	abs, err := filepath.Abs(page)
	require.NoError(t, err)
	u := (&url.URL{Scheme: "file", Path: abs}).String()
	for i := range 3 {
		started := time.Now()
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(u), chromedp.WaitVisible(chromedp.CSS("#status"))))
		wall := time.Since(started)
		loadMS, err := chromedp.Run(ctx, chromedp.Evaluate[float64](
			`performance.getEntriesByType('navigation')[0].loadEventEnd - performance.getEntriesByType('navigation')[0].startTime`))
		require.NoError(t, err)
		t.Logf("load %d: %s of index.html: load event after %.0f ms, visible after %s", i+1, sizeText(st.Size()), loadMS, wall.Round(time.Millisecond))
	}
}

func sizeText(b int64) string { return fmt.Sprintf("%.2f MB", float64(b)/1e6) }
