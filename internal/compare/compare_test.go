package compare

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/brinkhq/brink/internal/analysis"
	"github.com/brinkhq/brink/internal/output"
	"github.com/brinkhq/brink/internal/results"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run with -update after checking):\n%s", name, got)
	}
}

// seedRun builds the recording of a ramp against `replicas` containers of
// 0.5 CPU that together serve `capacity` good req/s; beyond it, requests
// fail at errorShare. It is the shape of the source story's two runs.
func seedRun(name string, replicas int, capacity, errorShare float64) *analysis.Recording {
	const seconds = 120
	start := time.Unix(1_732_470_000, 0).UTC()
	var tl []results.TimelinePoint
	var res []analysis.Series
	cpu := make([]analysis.Series, replicas)
	for i := range cpu {
		cpu[i] = analysis.Series{Name: analysis.TargetCPU, Entity: fmt.Sprintf("web-%d", i+1)}
		res = append(res, analysis.Series{Name: analysis.TargetCPULimit, Entity: cpu[i].Entity})
	}
	throttled := analysis.Series{Name: analysis.TargetThrottled, Entity: "web-1"}
	host := analysis.Series{Name: analysis.HostCPU, Entity: "node-1"}
	cores := analysis.Series{Name: analysis.HostCores, Entity: "node-1"}
	sum := results.Summary{Run: "r-" + name, Name: name, Start: start, End: start.Add(seconds * time.Second), DurationS: seconds}
	var lat []float64
	for t := range seconds {
		offered := 100 + 2400*float64(t)/seconds
		good := math.Min(offered, capacity)
		var failed float64
		if offered > capacity {
			failed = math.Round(errorShare * offered)
		}
		p95 := 4.0
		if offered > capacity {
			p95 = 4 + 600*(offered-capacity)/capacity
		}
		u := start.Unix() + int64(t)
		p := results.TimelinePoint{T: int64(t), Unix: u, TargetRate: offered, VUs: int(offered / 10),
			Requests: int64(good + failed), Failures: int64(failed), P50Ms: p95 / 2, P90Ms: p95 * 0.9, P95Ms: p95, P99Ms: p95 * 1.4, MaxMs: p95 * 2}
		p.RPS = float64(p.Requests)
		tl = append(tl, p)
		sum.Requests += p.Requests
		sum.Failures += p.Failures
		sum.Iterations += p.Requests
		lat = append(lat, p95)
		for i := range cpu {
			cpu[i].Points = append(cpu[i].Points, analysis.Point{T: u, V: 0.5 * good / capacity})
			res[i].Points = append(res[i].Points, analysis.Point{T: u, V: 0.5})
		}
		th := 0.0
		if offered >= capacity {
			th = 0.8
		}
		throttled.Points = append(throttled.Points, analysis.Point{T: u, V: th})
		host.Points = append(host.Points, analysis.Point{T: u, V: 0.3 + float64(replicas)*0.5*good/capacity})
		cores.Points = append(cores.Points, analysis.Point{T: u, V: 2})
	}
	sum.Timeline = tl
	sum.Successes = sum.Requests - sum.Failures
	sum.ErrorRate = float64(sum.Failures) / float64(sum.Requests)
	sum.RPS = float64(sum.Requests) / seconds
	sum.LatencyMs = results.Latency{P50: 2, P95: lat[len(lat)*95/100], P99: lat[len(lat)*99/100]}
	res = append(res, cpu...)
	res = append(res, throttled, host, cores)
	return &analysis.Recording{Summary: &sum, TargetService: "web", Resources: res}
}

func seedComparison() *Comparison {
	a := FromRecording("1 replica", seedRun("1 replica", 1, 1400, 0.05))
	b := FromRecording("2 replicas", seedRun("2 replicas", 2, 1860, 0))
	return Compare([]*Run{a, b})
}

func metric(t *testing.T, c *Comparison, key string) Metric {
	t.Helper()
	for _, m := range c.Metrics {
		if m.Key == key {
			return m
		}
	}
	t.Fatalf("no metric %q", key)
	return Metric{}
}

func TestSeedComparisonFigures(t *testing.T) {
	c := seedComparison()
	m := metric(t, c, "max_sustained_rps")
	if *m.Values[0] != 1400 || *m.Values[1] != 1860 || *m.Diffs[1] != 460 || math.Abs(*m.Pcts[1]-32.857) > 0.01 {
		t.Errorf("max sustained: %v %v %v %v", *m.Values[0], *m.Values[1], *m.Diffs[1], *m.Pcts[1])
	}
	if m.Diffs[0] != nil || m.Pcts[0] != nil {
		t.Error("the baseline has a difference with itself")
	}
	e := metric(t, c, "error_rate")
	if *e.Values[0] <= 0 || *e.Values[1] != 0 || verdictClass(e, e.Diffs[1]) != "ok" {
		t.Errorf("error rate: %v → %v", *e.Values[0], *e.Values[1])
	}
	r := metric(t, c, "replicas")
	if *r.Values[0] != 1 || *r.Values[1] != 2 {
		t.Errorf("replicas %v %v", *r.Values[0], *r.Values[1])
	}
	lim := metric(t, c, "cpu_limit")
	if *lim.Values[0] != 0.5 || *lim.Values[1] != 0.5 {
		t.Errorf("cpu limit %v %v", *lim.Values[0], *lim.Values[1])
	}
	for _, key := range []string{"lb_cpu", "generator_cpu"} {
		for _, m := range c.Metrics {
			if m.Key == key {
				t.Errorf("%s shown although no run recorded it", key)
			}
		}
	}
	if c.Runs[0].Analysis.Knee == nil || c.Runs[0].Analysis.Limit == nil || c.Runs[0].Analysis.Limit.Resource != analysis.ResTargetCPU {
		t.Errorf("run A analysis: %+v", c.Runs[0].Analysis)
	}
}

func TestComparisonText(t *testing.T) {
	var b bytes.Buffer
	if err := seedComparison().WriteText(&b); err != nil {
		t.Fatal(err)
	}
	golden(t, "seed.txt", b.Bytes())
	for _, want := range []string{"+460 (+32.9%)", "1,400", "1,860", "−4.04 pp", "±0 pp"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text lacks %q", want)
		}
	}
}

func TestComparisonJSON(t *testing.T) {
	var b bytes.Buffer
	if err := seedComparison().WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Runs    []RunInfo `json:"runs"`
		Metrics []Metric  `json:"metrics"`
	}
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Runs) != 2 || back.Runs[1].Label != "2 replicas" || len(back.Metrics) == 0 {
		t.Fatalf("round trip: %+v", back)
	}
	if !strings.Contains(b.String(), `"pct_changes": [`) || !strings.Contains(b.String(), `"max_sustained_rps"`) {
		t.Errorf("JSON keys: %s", b.String()[:400])
	}
}

func TestComparisonHTML(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cmp.html")
	c := seedComparison()
	c.runs[0].Label = `<script>alert("x")</script>`
	c.Runs[0].Label = c.runs[0].Label
	if err := c.WriteHTML(path); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	html := string(data)
	if strings.Contains(html, `<script>alert`) {
		t.Error("a run label reached the page unescaped")
	}
	for _, want := range []string{"brink run comparison", "Side by side", "460 (&#43;32.9%)", "<svg", "Successful requests per second", "Target CPU per replica"} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	if m := regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?(https?:)?//`).FindString(html); m != "" {
		t.Errorf("the page refers to the network: %q", m)
	}
	// Every SVG chart is well-formed XML.
	svgs := regexp.MustCompile(`(?s)<svg.*?</svg>`).FindAllString(html, -1)
	if len(svgs) != 6 {
		t.Errorf("%d charts, want 6 (one saturation chart per run, throughput, p95, errors, CPU)", len(svgs))
	}
	for _, svg := range svgs {
		d := xml.NewDecoder(strings.NewReader(svg))
		for {
			_, err := d.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("chart is not well-formed: %v", err)
			}
		}
	}
}

func TestFromFileReadsSummariesAndRecordings(t *testing.T) {
	dir := t.TempDir()
	rec := seedRun("from file", 1, 1400, 0.05)
	plain := filepath.Join(dir, "one.json")
	if err := output.WriteJSON(plain, rec.Summary); err != nil {
		t.Fatal(err)
	}
	full := filepath.Join(dir, "rec.json")
	if err := analysis.WriteRecording(full, rec); err != nil {
		t.Fatal(err)
	}
	a, err := FromFile(plain)
	if err != nil {
		t.Fatal(err)
	}
	b, err := FromFile(full)
	if err != nil {
		t.Fatal(err)
	}
	if a.Label != "from file" || len(a.Recording.Resources) != 0 || len(b.Recording.Resources) == 0 {
		t.Fatalf("a: %q %d series, b: %d series", a.Label, len(a.Recording.Resources), len(b.Recording.Resources))
	}
	if a.Analysis.MaxSustainedRPS != b.Analysis.MaxSustainedRPS {
		t.Errorf("the same run read two ways: %v vs %v", a.Analysis.MaxSustainedRPS, b.Analysis.MaxSustainedRPS)
	}
	c := Compare([]*Run{a, b})
	for _, m := range c.Metrics {
		if m.Key == "cpu_per_replica" && m.Values[0] != nil {
			t.Error("a plain summary shows a CPU figure")
		}
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"hello": 1}`), 0o644)
	if _, err := FromFile(bad); err == nil || !strings.Contains(err.Error(), "bad.json") || !strings.Contains(err.Error(), "--out json") {
		t.Errorf("bad file: %v", err)
	}
	if _, err := FromFile(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("a missing file read")
	}
}
