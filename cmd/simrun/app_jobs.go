package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/eosim/eosim/app"
	"github.com/eosim/eosim/appsim"
)

// `campaign --app NAME --jobs N` runs its runs in N worker processes, not
// N goroutines: a scenario of an app runs at GOMAXPROCS 1 (appsim.Options:
// in parallel, kgo's producer flush races its drain goroutine), and
// GOMAXPROCS is per process. Worker j of N runs every N-th of this
// process's runs and streams each result to the parent on a pipe; the
// parent takes them in run order, so what it prints and reports is what
// one process would (a run depends only on its seed and the options).

// appWorkerEnv tells a simrun process that it is a worker of an app
// campaign: "first/step/events" (runs first, first+step, ... of --runs;
// events 1 keeps each run's events for the parent's report).
const appWorkerEnv = "EOSIM_APP_WORKER"

// appWorkerFD is the worker's result pipe (cmd.ExtraFiles[0]); stdout
// stays free for anything else the process prints.
const appWorkerFD = 3

// workerResult is one run as a worker sends it.
type workerResult struct {
	K      int                 `json:"k"`
	Result appsim.Result       `json:"result"`
	Events []appsim.TraceEvent `json:"events,omitempty"`
}

// appShare is which runs one process (or worker) runs: k with
// k % step == first % step, from first on.
type appShare struct{ first, step int }

func (s appShare) holds(k int) bool { return k >= s.first && (k-s.first)%s.step == 0 }

// worker returns the share of worker j of jobs inside this share.
func (s appShare) worker(j, jobs int) appShare {
	return appShare{first: s.first + j*s.step, step: s.step * jobs}
}

// parseAppWorker parses appWorkerEnv's value.
func parseAppWorker(v string) (appShare, bool, error) {
	f := strings.Split(v, "/")
	if len(f) != 3 {
		return appShare{}, false, usagef("%s=%s: want first/step/events", appWorkerEnv, v)
	}
	first, err1 := strconv.Atoi(f[0])
	step, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || first < 0 || step < 1 || (f[2] != "0" && f[2] != "1") {
		return appShare{}, false, usagef("%s=%s: want first/step/events with first >= 0, step >= 1, events 0 or 1", appWorkerEnv, v)
	}
	return appShare{first, step}, f[2] == "1", nil
}

// appRuns runs the runs of share with jobs workers (1: in this process)
// and calls onResult for each in run order. It returns an error when a
// worker failed (its stderr went to stderr).
func appRuns(t *testing.T, a app.App, o appsim.CampaignOptions, share appShare, jobs int, args []string, stderr io.Writer,
	onResult func(k int, r appsim.Result)) (appsim.CampaignResult, error) {
	if jobs == 1 {
		o.Select, o.OnResult = share.holds, onResult
		return appsim.Campaign(t, a, o), nil
	}
	var workers []*appWorker
	defer func() {
		for _, w := range workers {
			w.stop()
		}
	}()
	for j := range jobs {
		w, err := startAppWorker(args, share.worker(j, jobs), o.Scenario.KeepEvents, stderr)
		if err != nil {
			return appsim.CampaignResult{}, err
		}
		workers = append(workers, w)
	}
	var out appsim.CampaignResult
	for k := range o.Runs {
		if !share.holds(k) {
			continue
		}
		w := workers[(k-share.first)/share.step%jobs]
		r, err := w.next(k)
		if err != nil {
			return out, err
		}
		out.Add(r)
		onResult(k, r)
	}
	for _, w := range workers {
		if err := w.wait(); err != nil {
			return out, err
		}
	}
	workers = nil
	return out, nil
}

type appWorker struct {
	share appShare
	cmd   *exec.Cmd
	pipe  *os.File
	dec   *json.Decoder
}

// startAppWorker starts this executable on the same command line; the
// worker ignores its --jobs, --shard and --report (the environment fixes
// its share, and it reports to the parent only).
func startAppWorker(args []string, share appShare, events bool, stderr io.Writer) (*appWorker, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("app campaign: find the simrun executable for --jobs: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("app campaign: worker pipe: %w", err)
	}
	keep := "0"
	if events {
		keep = "1"
	}
	cmd := exec.Command(exe, append([]string{"campaign"}, args...)...)
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d/%d/%s", appWorkerEnv, share.first, share.step, keep))
	cmd.Stdout, cmd.Stderr, cmd.ExtraFiles = io.Discard, stderr, []*os.File{w}
	err = cmd.Start()
	w.Close() // the worker holds its end; EOF once it exits
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("app campaign: start worker: %w", err)
	}
	return &appWorker{share: share, cmd: cmd, pipe: r, dec: json.NewDecoder(bufio.NewReaderSize(r, 1<<16))}, nil
}

// next reads the worker's result of run k (its next one).
func (w *appWorker) next(k int) (appsim.Result, error) {
	var wr workerResult
	if err := w.dec.Decode(&wr); err != nil {
		werr := w.wait()
		return appsim.Result{}, fmt.Errorf("app campaign: worker of runs %d+%dn ended before run %d: %w", w.share.first, w.share.step, k, errors.Join(err, werr))
	}
	if wr.K != k {
		return appsim.Result{}, fmt.Errorf("app campaign: worker of runs %d+%dn sent run %d where run %d was due", w.share.first, w.share.step, wr.K, k)
	}
	wr.Result.Events = wr.Events
	return wr.Result, nil
}

// wait waits for the worker to exit and reports a failed exit.
func (w *appWorker) wait() error {
	if w.cmd == nil {
		return nil
	}
	err := w.cmd.Wait()
	w.cmd = nil
	w.pipe.Close()
	if err != nil {
		return fmt.Errorf("app campaign: worker of runs %d+%dn: %w", w.share.first, w.share.step, err)
	}
	return nil
}

// stop kills a worker that is still running (the parent gave up).
func (w *appWorker) stop() {
	if w.cmd != nil && w.cmd.Process != nil {
		w.cmd.Process.Kill()
		w.wait()
	}
}

// runAppWorker is the worker's side: run the share and send every result.
func runAppWorker(t *testing.T, a app.App, o appsim.CampaignOptions, share appShare, events bool) int {
	out := bufio.NewWriterSize(os.NewFile(appWorkerFD, "results"), 1<<16)
	enc := json.NewEncoder(out)
	o.Scenario.KeepEvents = events
	o.Select = share.holds
	var failed error
	o.OnResult = func(k int, r appsim.Result) {
		if failed != nil {
			return
		}
		failed = enc.Encode(workerResult{K: k, Result: r, Events: r.Events})
		if failed == nil {
			failed = out.Flush()
		}
	}
	appsim.Campaign(t, a, o)
	if failed != nil {
		fmt.Fprintf(os.Stderr, "simrun: app campaign worker: send results: %v\n", failed)
		return exitInconclusive
	}
	return exitOK
}
