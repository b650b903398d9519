package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"time"
)

// File names a report directory holds.
const (
	JSONFile    = "report.json"
	SummaryFile = "summary.md"
	JUnitFile   = "junit.xml"
	HTMLFile    = "index.html"
)

// files are a report directory's files, in the order Write renames them
// into place: report.json last, so that a reader that finds it new finds
// the others new too.
var files = []string{HTMLFile, JUnitFile, SummaryFile, JSONFile}

// tempPrefix starts the names of Write's temporary files.
const tempPrefix = ".simrun-tmp-"

var writes atomic.Int64

// Write renders r into dir (created if missing): index.html, junit.xml,
// summary.md and report.json, and beside them each timeline's trace
// (TracePath: traces/*.jsonl, written first, and the traces of earlier
// writes removed last). All four are first written in full to
// temporary files, and only then renamed into place one after the other,
// so a reader never sees a partial file, a writer killed while rendering
// leaves the previous set whole, and the window in which the set mixes two
// writes is four renames long. Every file carries the write's snapshot id
// (CheckSnapshot tells a mixed set). Temporary files a killed writer left
// are removed first.
func Write(dir string, r Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	removeStale(dir)
	if r.Execution.Snapshot == "" {
		r.Execution.Snapshot = fmt.Sprintf("%x-%d-%d", time.Now().UnixNano(), writes.Add(1), r.Outcome.RunsDone)
	}
	page, err := HTML(r)
	if err != nil {
		return err
	}
	junit, err := JUnit(r)
	if err != nil {
		return err
	}
	js, err := JSON(r)
	if err != nil {
		return err
	}
	keep, err := writeTraces(dir, r.Timelines)
	if err != nil {
		return err
	}
	data := map[string][]byte{HTMLFile: page, JUnitFile: junit, SummaryFile: []byte(Summary(r)), JSONFile: js}
	temps := map[string]string{}
	defer func() {
		for _, tmp := range temps {
			os.Remove(tmp)
		}
	}()
	for _, name := range files {
		tmp, err := writeTemp(dir, name, data[name])
		if err != nil {
			return err
		}
		temps[name] = tmp
	}
	for _, name := range files {
		if err := os.Rename(temps[name], filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("report: write %s: %w", filepath.Join(dir, name), err)
		}
		delete(temps, name)
	}
	removeOtherTraces(dir, keep)
	return nil
}

// writeTraces writes each timeline's events as JSON lines; it returns the
// files it wrote.
func writeTraces(dir string, tls []Timeline) (map[string]bool, error) {
	keep := map[string]bool{}
	if len(tls) == 0 {
		return keep, nil
	}
	if err := os.MkdirAll(filepath.Join(dir, "traces"), 0o755); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	for _, tl := range tls {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		for _, e := range tl.Events {
			if err := enc.Encode(e); err != nil {
				return nil, fmt.Errorf("report: trace: %w", err)
			}
		}
		for _, e := range tl.ProcessEvents {
			if err := enc.Encode(e); err != nil {
				return nil, fmt.Errorf("report: trace: %w", err)
			}
		}
		rel := TracePath(tl)
		path := filepath.Join(dir, filepath.FromSlash(rel))
		tmp, err := writeTemp(filepath.Dir(path), filepath.Base(path), buf.Bytes())
		if err != nil {
			return nil, err
		}
		if err := os.Rename(tmp, path); err != nil {
			os.Remove(tmp)
			return nil, fmt.Errorf("report: write %s: %w", path, err)
		}
		keep[filepath.Base(path)] = true
	}
	return keep, nil
}

// removeOtherTraces removes traces of earlier writes (and their temporary
// files) that this write did not produce.
func removeOtherTraces(dir string, keep map[string]bool) {
	tdir := filepath.Join(dir, "traces")
	entries, err := os.ReadDir(tdir)
	if err != nil {
		return
	}
	for _, e := range entries {
		n := e.Name()
		if !keep[n] && (strings.HasSuffix(n, ".jsonl") || strings.HasPrefix(n, tempPrefix)) {
			os.Remove(filepath.Join(tdir, n))
		}
	}
}

// removeStale removes the temporary files of an earlier Write that was
// killed (and those of older versions, named after their file).
func removeStale(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		n := e.Name()
		old := false
		for _, f := range files {
			old = old || strings.HasPrefix(n, "."+f+".tmp-")
		}
		if strings.HasPrefix(n, tempPrefix) || old || strings.HasPrefix(n, ".simrun-check-") {
			os.Remove(filepath.Join(dir, n))
		}
	}
}

func writeTemp(dir, name string, data []byte) (string, error) {
	tmp, err := os.CreateTemp(dir, tempPrefix+name+"-*")
	if err != nil {
		return "", fmt.Errorf("report: %w", err)
	}
	_, werr := tmp.Write(data)
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(tmp.Name(), 0o644)
	}
	if werr != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("report: write %s: %w", filepath.Join(dir, name), werr)
	}
	return tmp.Name(), nil
}

// JSON renders report.json.
func JSON(r Report) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", " ")
	if err := enc.Encode(r); err != nil {
		return nil, fmt.Errorf("report.json: %w", err)
	}
	return buf.Bytes(), nil
}

// snapshotMark finds the snapshot id in index.html, junit.xml and
// summary.md.
var snapshotMark = regexp.MustCompile(`eosim-snapshot(?:" content="| )([0-9a-f]+-[0-9]+-[0-9]+)`)

// CheckSnapshot reports whether the four files of a report directory come
// from one Write; a reader that opened them while a campaign rewrote its
// report may have a mixed set, and should read again.
func CheckSnapshot(dir string) error {
	r, err := Read(dir)
	if err != nil {
		return err
	}
	for _, name := range files[:3] {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return fmt.Errorf("report: %w", err)
		}
		m := snapshotMark.FindSubmatch(b)
		if m == nil || string(m[1]) != r.Execution.Snapshot {
			return fmt.Errorf("report %s: %s is not of the snapshot of report.json (%s): read again", dir, name, r.Execution.Snapshot)
		}
	}
	return nil
}

// Read reads report.json from a report directory (or the file itself).
func Read(path string) (Report, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, JSONFile)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return Report{}, fmt.Errorf("read report: %w", err)
	}
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		return Report{}, fmt.Errorf("read report %s: %w", path, err)
	}
	if r.SchemaVersion != SchemaVersion {
		return Report{}, fmt.Errorf("read report %s: schema version %d, want %d", path, r.SchemaVersion, SchemaVersion)
	}
	return r, nil
}
