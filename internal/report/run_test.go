package report

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/brinkhq/brink/internal/results"
	"github.com/brinkhq/brink/internal/threshold"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run go test -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run go test -update if the change is intended)", path)
	}
}

// hostileName is a request name from a user's file that would run script
// and load a remote image if it were not escaped.
const hostileName = `<img src="https://example.invalid/x.png" onerror="alert(1)">&amp;`

var runStart = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// runSummary is a deterministic 40-second open-model run: throughput
// ramps up, one second has no requests at all (a stall), failures appear
// in the last quarter, dropped iterations once the rate outgrows the VUs.
func runSummary(t *testing.T) *results.Summary {
	t.Helper()
	acc := results.NewAccumulator(runStart)
	for i := 0; i < 40; i++ {
		sec := results.NewSecond(runStart.Unix() + int64(i))
		sec.VUs = min(5+i, 30)
		sec.TargetRate = float64(50 * (i + 1))
		if i == 20 {
			sec.Dropped = int64(sec.TargetRate)
			acc.Add(sec)
			continue
		}
		for n, name := range []string{"login", "GET http://127.0.0.1:8080/items?page=1", hostileName} {
			st := sec.Stats(name)
			count := int64((i + 1) * (10 + 5*n))
			for v := int64(0); v < count; v++ {
				lat := 1000 + int64(n)*500 + v%1000*int64(1+i/10)*4
				st.Latency.Record(lat)
				st.TTFB.Record(lat / 2)
			}
			st.Requests = count
			st.BytesIn, st.BytesOut = count*800, count*150
			if i >= 30 {
				st.Failures[results.HTTP5xx] = count / 20
				st.Failures[results.Timeout] = int64(n)
			}
		}
		sec.Iterations = int64((i + 1) * 10)
		if i >= 30 {
			sec.Dropped = int64(i - 29)
		}
		acc.Add(sec)
	}
	s := acc.Summary()
	s.Name = "catalogue <v2>"
	s.Run = "r-0301"
	ts, err := threshold.ParseAll([]string{"p95<10ms", "error_rate<1%", "rps>500", `p99{name="GET http://127.0.0.1:8080/items?page=1"}<1s`, "dropped==0"})
	if err != nil {
		t.Fatal(err)
	}
	s.Thresholds = threshold.Evaluate(ts, &s)
	s.ThresholdOK = threshold.AllOK(s.Thresholds)
	return &s
}

func TestRunReportGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := RenderRunHTML(&buf, runSummary(t)); err != nil {
		t.Fatal(err)
	}
	golden(t, "run_report.html", buf.Bytes())
}

func TestRunReportContents(t *testing.T) {
	s := runSummary(t)
	path := filepath.Join(t.TempDir(), "report.html")
	if err := WriteRunHTML(path, s); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	page := string(raw)
	for _, want := range []string{
		"<title>brink run report: catalogue &lt;v2&gt;</title>",
		`id="rps"`, `id="latency"`, `id="failures"`, `id="vus"`, // the four charts
		"Throughput (requests per second)", "Latency percentiles (per second)",
		"Virtual users and target rate",
		">p95&lt;10ms<", // a threshold drawn as a marker line on the latency chart
		"&lt;img src=&#34;https://example.invalid/x.png&#34;",
		"no data", // the stalled second has no latency
		`class="badge bad">3 thresholds failed<`,
		"http_5xx", "timeout",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(page, hostileName) || strings.Contains(page, `<img`) {
		t.Errorf("the hostile request name reached the page unescaped")
	}
}

func TestRunReportBadges(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(*results.Summary)
		badge  string
		passed bool
	}{
		{"thresholds failed", func(*results.Summary) {}, "3 thresholds failed", false},
		{"one failed", func(s *results.Summary) { s.Thresholds = s.Thresholds[:1] }, "1 threshold failed", false},
		{"held", func(s *results.Summary) { s.Thresholds = s.Thresholds[3:4] }, "thresholds held", true},
		{"no thresholds", func(s *results.Summary) { s.Thresholds = nil }, "finished", true},
		{"aborted", func(s *results.Summary) { s.Aborted = true }, "aborted", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := runSummary(t)
			tt.edit(s)
			got := RunPage(s).Badge
			if got.Text != tt.badge || got.OK != tt.passed {
				t.Errorf("badge = %+v, want %q ok=%v", got, tt.badge, tt.passed)
			}
		})
	}
}

func TestRunReportWithoutRequests(t *testing.T) {
	acc := results.NewAccumulator(runStart)
	acc.Add(results.NewSecond(runStart.Unix()))
	s := acc.Summary()
	var buf bytes.Buffer
	if err := RenderRunHTML(&buf, &s); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `<div class="value">-</div>`) {
		t.Errorf("a run without requests should show '-' for latencies")
	}
	if strings.Contains(buf.String(), "Failures by kind") {
		t.Errorf("no failures table expected without failures")
	}
}

func TestWriteRunHTMLReportsWhereItFailed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "report.html")
	err := WriteRunHTML(path, runSummary(t))
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v, want an error naming %s", err, path)
	}
}
