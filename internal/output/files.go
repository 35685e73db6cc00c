package output

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/brinkhq/brink/internal/results"
)

// EncodeJSON writes s as indented JSON. Empty lists and maps are written as
// [] and {}, never null, so consumers can iterate without checks.
func EncodeJSON(w io.Writer, s *results.Summary) error {
	c := *s
	c.ByName = cloneByName(s.ByName)
	if c.FailuresByKind == nil {
		c.FailuresByKind = map[string]int64{}
	}
	if c.Timeline == nil {
		c.Timeline = []results.TimelinePoint{}
	}
	if c.Thresholds == nil {
		c.Thresholds = []results.ThresholdResult{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(&c); err != nil {
		return fmt.Errorf("encoding the summary as JSON: %w", err)
	}
	return nil
}

func cloneByName(m map[string]results.NameSummary) map[string]results.NameSummary {
	c := make(map[string]results.NameSummary, len(m))
	for k, v := range m {
		if v.FailuresByKind == nil {
			v.FailuresByKind = map[string]int64{}
		}
		c[k] = v
	}
	return c
}

// WriteJSON writes s as JSON to path (`--out json=PATH`).
func WriteJSON(path string, s *results.Summary) error {
	return WriteAtomic(path, "JSON summary", func(w io.Writer) error { return EncodeJSON(w, s) })
}

// CSVHeader is the header row of the per-second timeline CSV. Column names
// match the JSON timeline keys.
var CSVHeader = []string{
	"t", "unix", "vus", "target_rate", "requests", "rps", "failures", "dropped",
	"p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms", "bytes_in",
}

// EncodeCSV writes the per-second timeline of s as CSV with a header row.
func EncodeCSV(w io.Writer, s *results.Summary) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return fmt.Errorf("writing the CSV header: %w", err)
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	for _, p := range s.Timeline {
		rec := []string{
			i(p.T), i(p.Unix), i(int64(p.VUs)), f(p.TargetRate), i(p.Requests), f(p.RPS), i(p.Failures), i(p.Dropped),
			f(p.P50Ms), f(p.P90Ms), f(p.P95Ms), f(p.P99Ms), f(p.MaxMs), i(p.BytesIn),
		}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("writing the CSV row for t=%d: %w", p.T, err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("writing the CSV timeline: %w", err)
	}
	return nil
}

// WriteCSV writes the per-second timeline of s to path (`--out csv=PATH`).
func WriteCSV(path string, s *results.Summary) error {
	return WriteAtomic(path, "CSV timeline", func(w io.Writer) error { return EncodeCSV(w, s) })
}

// WriteAtomic writes a file (what names it in errors) through a temporary file in the same directory and
// renames it into place, so a reader never sees half a file and a failed
// write never destroys the previous one.
func WriteAtomic(path, what string, encode func(io.Writer) error) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("writing the %s to %s: %w (check that the directory exists and is writable)", what, path, err)
	}
	defer os.Remove(tmp.Name())
	if err := encode(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("writing the %s to %s: %w", what, path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing the %s to %s: %w", what, path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("writing the %s to %s: %w", what, path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing the %s to %s: %w", what, path, err)
	}
	return nil
}
