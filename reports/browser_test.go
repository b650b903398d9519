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
// and that the page fetches nothing. With EOSIM_SCREENSHOT=FILE.png it
// also saves a screenshot of the first failing timeline.
func TestHTMLInChromium(t *testing.T) {
	bin := chromium()
	if bin == "" {
		t.Skip("no Chromium found (set EOSIM_CHROMIUM, or apt-get install chromium): skipping the browser check of index.html")
	}
	r := realReport(t)
	dir := t.TempDir()
	require.NoError(t, reports.Write(dir, r))
	page := (&url.URL{Scheme: "file", Path: filepath.Join(dir, reports.HTMLFile)}).String()

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox,
		chromedp.WindowSize(1400, 1000), chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancel := chromedp.NewExecAllocator(t.Context(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
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
		Scripts, InjectedBold, InjectedImg                    int
		Values                                                []string
		Titles                                                []string
	}
	const probe = `(() => {
	  const q = s => document.querySelectorAll(s).length;
	  return {
	    Timelines: q('svg.timeline'), Procs: q('svg.timeline rect.proc'), Pending: q('svg.timeline rect.txn-pending'),
	    Highlights: q('svg.timeline rect.hl'), Links: q('svg.timeline line.link'), Crashes: q('svg.timeline line.crash-line'),
	    TimelineWidth: document.querySelector('svg.timeline').getBoundingClientRect().width,
	    ChartWidth: document.querySelector('#chart-protocols svg').getBoundingClientRect().width,
	    ProtocolBars: q('#chart-protocols rect.bar-bad'), FaultRows: q('#chart-faults g'), CoverageHits: q('#chart-coverage rect.cell-hit'),
	    Scripts: document.scripts.length, InjectedBold: q('.record-value b'), InjectedImg: q('img'),
	    Values: Array.from(document.querySelectorAll('.record-value code')).map(e => e.textContent),
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
	require.NoError(t, chromedp.Do(tctx, chromedp.ScrollIntoView(chromedp.CSS(first))))
	shot, err := chromedp.Run(tctx, chromedp.Screenshot(chromedp.CSS(first)))
	require.NoError(t, err)

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

	require.Zero(t, got.Scripts, "no scripts, not even injected ones")
	require.Zero(t, got.InjectedBold, "a record value's markup is text, not elements")
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
		t.Logf("screenshot of %s written to %s", first, out)
	}
}
