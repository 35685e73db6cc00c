package chart

import (
	"bytes"
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
		t.Errorf("output differs from %s (run go test -update if the change is intended)\n--- got ---\n%s", path, got)
	}
}

// timeChart has two y axes, an area, a dashed line with a gap, a marker on
// each axis kind, a band and hostile text everywhere.
func timeChart() *Chart {
	var rps, p95, vus []Point
	for i := 0; i <= 20; i++ {
		x := float64(i)
		rps = append(rps, Point{x, 100 * x})
		y := 5 + x/2
		if i >= 8 && i <= 10 {
			y = math.NaN()
		}
		p95 = append(p95, Point{x, y})
		vus = append(vus, Point{x, float64(min(i, 10) * 5)})
	}
	return &Chart{
		ID:    "load<1>",
		Title: `Load & latency <"phase 1">`,
		Width: 640, Height: 260,
		X: XAxis{Label: "seconds", Time: true, Format: func(v float64) string { return Number(v) + "s" }},
		Y: YAxis{Label: "requests/s"},
		Y2: YAxis{Label: "ms", Format: func(v float64) string {
			return Number(v) + "ms"
		}},
		Series: []Series{
			{Name: "rps <script>alert(1)</script>", Points: rps, Style: Area},
			{Name: "p95", Points: p95, Axis: Right, Dashed: true},
			{Name: "VUs", Points: vus, Color: "#123456"},
		},
		Markers: []Marker{
			{Axis: MarkerX, Value: 12, Label: "scale-out <2 replicas>"},
			{Axis: Right, Value: 12, Label: "p95<12ms", Color: "#c62828"},
			{Axis: Left, Value: 5000, Label: "capacity 5,000/s"},
		},
		Bands: []Band{{From: 0, To: 5, Label: "warm-up & ramp"}},
	}
}

// kneeChart is the saturation view: latency against throughput, as
// points, with the knee marked.
func kneeChart() *Chart {
	var pts []Point
	for i := 1; i <= 15; i++ {
		r := float64(i * 100)
		lat := 2.0
		if r > 1380 {
			lat = 2 + (r-1380)*0.5
		}
		pts = append(pts, Point{r, lat})
	}
	return &Chart{
		ID: "knee", Title: "Latency against throughput", Width: 500, Height: 240,
		X:       XAxis{Label: "rps", FromZero: true},
		Y:       YAxis{Label: "p95 (ms)"},
		Series:  []Series{{Name: "p95", Points: pts, Style: Points}},
		Markers: []Marker{{Axis: MarkerX, Value: 1380, Label: "knee at 1,380 rps"}},
	}
}

func TestChartGolden(t *testing.T) {
	golden(t, "time_chart.svg", timeChart().StandaloneSVG())
	golden(t, "knee_chart.svg", kneeChart().StandaloneSVG())
}

func TestChartIsWellFormedAndEscaped(t *testing.T) {
	for _, c := range []*Chart{timeChart(), kneeChart(), {ID: "empty", Title: "no data"}} {
		svg := c.StandaloneSVG()
		dec := xml.NewDecoder(bytes.NewReader(svg))
		dec.Strict = true
		for {
			_, err := dec.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: not well-formed XML: %v", c.ID, err)
			}
		}
		s := string(svg)
		for _, raw := range []string{"<script", `<"phase`, "<2 replicas>", "& ramp", "<1>"} {
			if strings.Contains(s, raw) {
				t.Errorf("%s: unescaped %q in the SVG", c.ID, raw)
			}
		}
	}
	inline := string(timeChart().SVG())
	if strings.Contains(inline, "xmlns") || strings.Contains(inline, "http") {
		t.Errorf("inline SVG should carry no namespace URL (HTML5 supplies it)")
	}
}

var titleRE = regexp.MustCompile(`(?s)<rect x="[^"]*" y="[^"]*" width="[^"]*" height="[^"]*" data-x="[^"]*"><title>(.*?)</title>`)

func TestHoverShowsExactValues(t *testing.T) {
	svg := string(timeChart().SVG())
	titles := titleRE.FindAllStringSubmatch(svg, -1)
	if len(titles) != 21 {
		t.Fatalf("%d hover columns, want one per second (21)", len(titles))
	}
	tests := []struct {
		column int
		want   string
	}{
		{0, "seconds 0s\nrps &lt;script&gt;alert(1)&lt;/script&gt;: 0\np95: 5ms\nVUs: 0"},
		{7, "seconds 7s\nrps &lt;script&gt;alert(1)&lt;/script&gt;: 700\np95: 8.5ms\nVUs: 35"},
		{9, "seconds 9s\nrps &lt;script&gt;alert(1)&lt;/script&gt;: 900\np95: no data\nVUs: 45"},
		{20, "seconds 20s\nrps &lt;script&gt;alert(1)&lt;/script&gt;: 2,000\np95: 15ms\nVUs: 50"},
	}
	for _, tt := range tests {
		if got := titles[tt.column][1]; got != tt.want {
			t.Errorf("column %d title\n got %q\nwant %q", tt.column, got, tt.want)
		}
	}
}

func TestHoverColumnsAreCappedAtOnePerPixel(t *testing.T) {
	var pts []Point
	for i := 0; i < 5000; i++ {
		pts = append(pts, Point{float64(i), float64(i % 7)})
	}
	c := &Chart{ID: "long", Width: 400, Height: 200, Series: []Series{{Name: "v", Points: pts}}}
	n := len(titleRE.FindAllString(string(c.SVG()), -1))
	if n == 0 || n > 400 {
		t.Errorf("%d hover columns for 5000 points on a 400 px chart, want between 1 and 400", n)
	}
}

func TestGapsSplitTheLine(t *testing.T) {
	svg := string(timeChart().SVG())
	// The p95 line (dashed) has one gap, so its path has two M commands.
	re := regexp.MustCompile(`<path d="([^"]*)" fill="none" stroke="[^"]*" stroke-width="1.8" stroke-linejoin="round" stroke-dasharray="5 3"><title>p95</title>`)
	m := re.FindStringSubmatch(svg)
	if m == nil {
		t.Fatal("p95 path not found")
	}
	if got := strings.Count(m[1], "M"); got != 2 {
		t.Errorf("p95 path has %d segments, want 2 (one gap): %s", got, m[1])
	}
}

func TestLongSeriesAreDecimatedKeepingSpikes(t *testing.T) {
	var pts []Point
	for i := 0; i < 86_400; i++ {
		y := float64(i % 10)
		if i == 50_000 {
			y = 1000 // one spike in a day of seconds
		}
		pts = append(pts, Point{float64(i), y})
	}
	c := &Chart{ID: "day", Width: 800, Height: 200, X: XAxis{Time: true}, Series: []Series{{Name: "v", Points: pts}}}
	svg := string(c.SVG())
	re := regexp.MustCompile(`<path d="([^"]*)" fill="none"`)
	m := re.FindStringSubmatch(svg)
	if m == nil {
		t.Fatal("no line path")
	}
	vertices := strings.Count(m[1], "L") + 1
	if vertices > 4*800 {
		t.Errorf("%d vertices for an 800 px chart, want at most %d", vertices, 4*800)
	}
	// The spike is the axis maximum, so some vertex must sit on the top edge.
	top := regexp.MustCompile(`[ML][0-9.]+,([0-9.]+)`)
	minY := math.Inf(1)
	for _, v := range top.FindAllStringSubmatch(m[1], -1) {
		var y float64
		fmt.Sscan(v[1], &y)
		minY = math.Min(minY, y)
	}
	if minY > 40 {
		t.Errorf("the spike was lost: highest vertex at y=%v", minY)
	}
}
