package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// File names a report directory holds.
const (
	JSONFile    = "report.json"
	SummaryFile = "summary.md"
	JUnitFile   = "junit.xml"
	HTMLFile    = "index.html"
)

// Write renders r into dir (created if missing): index.html, junit.xml,
// summary.md and report.json, each written to a temporary file and renamed
// into place, so a reader (or an interrupted writer) never sees a partial
// file.
func Write(dir string, r Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
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
	for _, f := range []struct {
		name string
		data []byte
	}{{HTMLFile, page}, {JUnitFile, junit}, {SummaryFile, []byte(Summary(r))}, {JSONFile, js}} {
		if err := writeAtomic(filepath.Join(dir, f.name), f.data); err != nil {
			return err
		}
	}
	return nil
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

func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(tmp.Name(), 0o644)
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), path)
	}
	if werr != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("report: write %s: %w", path, werr)
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
