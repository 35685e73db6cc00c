package output

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/brinkhq/brink/internal/results"
)

func keysOf(t *testing.T, raw json.RawMessage) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("not a JSON object: %v: %s", err, raw)
	}
	return slices.Sorted(maps.Keys(m))
}

func TestWriteJSONKeys(t *testing.T) {
	s := fixtureSummary(t)
	path := filepath.Join(t.TempDir(), "summary.json")
	if err := WriteJSON(path, s); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		t.Fatal(err)
	}
	nameKeys := []string{"bytes_in", "bytes_out", "error_rate", "failures", "failures_by_kind", "latency_ms",
		"requests", "rps", "successes", "ttfb_ms"}
	wantTop := slices.Sorted(slices.Values(append([]string{"aborted", "by_name", "dropped", "duration_s", "end",
		"iterations", "max_vus", "name", "run", "start", "thresholds", "thresholds_ok", "timeline"}, nameKeys...)))
	if got := keysOf(t, raw); !slices.Equal(got, wantTop) {
		t.Errorf("top-level keys\n got %v\nwant %v", got, wantTop)
	}
	latencyKeys := []string{"max", "mean", "min", "p50", "p90", "p95", "p99", "p99_9"}
	if got := keysOf(t, top["latency_ms"]); !slices.Equal(got, latencyKeys) {
		t.Errorf("latency_ms keys %v, want %v", got, latencyKeys)
	}
	var byName map[string]json.RawMessage
	if err := json.Unmarshal(top["by_name"], &byName); err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(byName)); !slices.Equal(got, []string{"GET http://127.0.0.1:8080/api/v1/catalogue/items?page=1", "login", "search"}) {
		t.Errorf("by_name names: %v", got)
	}
	for name, raw := range byName {
		if got := keysOf(t, raw); !slices.Equal(got, nameKeys) {
			t.Errorf("by_name[%q] keys %v, want %v", name, got, nameKeys)
		}
	}
	var timeline []json.RawMessage
	if err := json.Unmarshal(top["timeline"], &timeline); err != nil {
		t.Fatal(err)
	}
	if len(timeline) != 3 {
		t.Fatalf("timeline has %d points, want 3", len(timeline))
	}
	pointKeys := []string{"bytes_in", "dropped", "failures", "max_ms", "p50_ms", "p90_ms", "p95_ms", "p99_ms",
		"requests", "rps", "t", "target_rate", "unix", "vus"}
	for _, p := range timeline {
		if got := keysOf(t, p); !slices.Equal(got, pointKeys) {
			t.Errorf("timeline point keys %v, want %v", got, pointKeys)
		}
	}
	var thresholds []json.RawMessage
	if err := json.Unmarshal(top["thresholds"], &thresholds); err != nil || len(thresholds) != 6 {
		t.Fatalf("thresholds: %v, %d entries", err, len(thresholds))
	}
	if got := keysOf(t, thresholds[0]); !slices.Equal(got, []string{"actual", "expr", "limit", "metric", "ok"}) {
		t.Errorf("threshold keys %v", got)
	}

	// The values survive the round trip.
	var back results.Summary
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if back.Requests != s.Requests || back.Failures != s.Failures || back.Dropped != s.Dropped ||
		back.LatencyMs != s.LatencyMs || back.Timeline[2] != s.Timeline[2] || back.ByName["login"].LatencyMs != s.ByName["login"].LatencyMs {
		t.Errorf("round trip changed the summary:\n got %+v\nwant %+v", back, *s)
	}
	if back.Requests != 753 || back.Dropped != 4 || back.Timeline[1].P95Ms == 0 || back.Timeline[1].T != 1 {
		t.Errorf("unexpected figures: requests %d dropped %d timeline[1] %+v", back.Requests, back.Dropped, back.Timeline[1])
	}
}

func TestEncodeJSONEmptyListsAreNotNull(t *testing.T) {
	var s results.Summary // no names, no timeline, no thresholds
	var buf bytes.Buffer
	if err := EncodeJSON(&buf, &s); err != nil {
		t.Fatal(err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(buf.Bytes(), &top); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{"by_name": "{}", "timeline": "[]", "thresholds": "[]", "failures_by_kind": "{}"} {
		if got := string(top[key]); got != want {
			t.Errorf("%s = %s, want %s", key, got, want)
		}
	}
	if s.ByName != nil || s.Timeline != nil {
		t.Errorf("EncodeJSON modified its input")
	}
}

func TestWriteCSV(t *testing.T) {
	s := fixtureSummary(t)
	path := filepath.Join(t.TempDir(), "timeline.csv")
	if err := WriteCSV(path, s); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "timeline.csv", raw)
	recs, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1+len(s.Timeline) {
		t.Fatalf("%d records, want a header and %d rows", len(recs), len(s.Timeline))
	}
	if !slices.Equal(recs[0], CSVHeader) {
		t.Errorf("header %v, want %v", recs[0], CSVHeader)
	}
	col := func(name string) int { return slices.Index(CSVHeader, name) }
	for i, p := range s.Timeline {
		row := recs[i+1]
		if row[col("t")] != strconv.FormatInt(p.T, 10) || row[col("requests")] != strconv.FormatInt(p.Requests, 10) ||
			row[col("p95_ms")] != strconv.FormatFloat(p.P95Ms, 'f', -1, 64) || row[col("dropped")] != strconv.FormatInt(p.Dropped, 10) {
			t.Errorf("row %d = %v does not match %+v", i, row, p)
		}
	}
}

func TestWriteFilesReportWhereTheyFailed(t *testing.T) {
	s := fixtureSummary(t)
	missing := filepath.Join(t.TempDir(), "no", "such", "dir", "out.json")
	tests := []struct {
		name  string
		write func(string, *results.Summary) error
	}{
		{"json", WriteJSON},
		{"csv", WriteCSV},
	}
	for _, tt := range tests {
		err := tt.write(missing, s)
		if err == nil {
			t.Fatalf("%s: writing into a missing directory succeeded", tt.name)
		}
		if !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "directory exists") {
			t.Errorf("%s: error %q should name the path and say what to check", tt.name, err)
		}
	}
}

func TestWriteAtomicKeepsOldFileOnFailure(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.json")
	if err := os.WriteFile(path, []byte("previous"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := WriteAtomic(path, "test file", func(w io.Writer) error {
		io.WriteString(w, "half")
		return errors.New("encoder broke")
	})
	if err == nil || !strings.Contains(err.Error(), "encoder broke") || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v, want the encoder's error with the path", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "previous" {
		t.Errorf("the previous file was changed to %q", got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}
