package compare

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/brinkhq/brink/internal/analysis"
	"github.com/brinkhq/brink/internal/output"
	"github.com/brinkhq/brink/internal/report"
	"github.com/brinkhq/brink/internal/report/chart"
)

// formatValue renders a value in its unit.
func formatValue(u Unit, v float64) string {
	switch u {
	case UnitRate:
		return output.FormatRate(v)
	case UnitMs:
		return output.FormatMs(v)
	case UnitRatio:
		return output.FormatPercent(v)
	case UnitCount:
		return output.FormatCount(int64(math.Round(v)))
	case UnitCores:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	if v == math.Trunc(v) {
		return output.FormatCount(int64(v))
	}
	return output.FormatRate(v)
}

// formatDiff renders a difference with its sign; ratios differ in
// percentage points.
func formatDiff(u Unit, d float64) string {
	sign := "+"
	if d < 0 {
		sign = "−"
	}
	a := math.Abs(d)
	switch u {
	case UnitRatio:
		if a == 0 {
			return "±0 pp"
		}
		return sign + strconv.FormatFloat(a*100, 'f', 2, 64) + " pp"
	case UnitMs:
		if a == 0 {
			return "±0"
		}
		return sign + output.FormatMs(a)
	}
	if a == 0 {
		return "±0"
	}
	return sign + formatValue(u, a)
}

func formatPct(p float64) string {
	if p == 0 {
		return "±0%"
	}
	sign := "+"
	if p < 0 {
		sign = "−"
	}
	return sign + strconv.FormatFloat(math.Abs(p), 'f', 1, 64) + "%"
}

// verdictClass says whether a change is an improvement ("ok"), a
// regression ("bad") or neither ("").
func verdictClass(m Metric, d *float64) string {
	if d == nil || *d == 0 || m.Better == Neither {
		return ""
	}
	if (*d > 0) == (m.Better == Higher) {
		return "ok"
	}
	return "bad"
}

// cell renders one run's value and its change against the baseline.
func (m Metric) cell(i int) (value, change string) {
	value = "-"
	if v := m.Values[i]; v != nil {
		value = formatValue(m.Unit, *v)
	}
	if i == 0 || m.Diffs[i] == nil {
		return value, ""
	}
	change = formatDiff(m.Unit, *m.Diffs[i])
	if p := m.Pcts[i]; p != nil && m.Unit != UnitRatio && *m.Diffs[i] != 0 {
		change += " (" + formatPct(*p) + ")"
	}
	return value, change
}

// WriteText writes the comparison as a table for a terminal.
func (c *Comparison) WriteText(w io.Writer) error {
	head := []string{"", c.Runs[0].Label}
	for _, r := range c.Runs[1:] {
		head = append(head, r.Label, "vs "+c.Runs[0].Label)
	}
	rows := [][]string{head}
	for _, m := range c.Metrics {
		v0, _ := m.cell(0)
		row := []string{m.Label, v0}
		for i := 1; i < len(c.Runs); i++ {
			v, ch := m.cell(i)
			row = append(row, v, ch)
		}
		rows = append(rows, row)
	}
	widths := make([]int, len(head))
	for _, r := range rows {
		for i, s := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(s))
		}
	}
	var b strings.Builder
	for n, r := range rows {
		for i, s := range r {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(s))
			if i == 0 {
				b.WriteString(s + pad)
			} else {
				b.WriteString("  " + pad + s)
			}
		}
		b.WriteString("\n")
		if n == 0 {
			total := len(widths)*2 - 2
			for _, wd := range widths {
				total += wd
			}
			b.WriteString(strings.Repeat("─", total) + "\n")
		}
	}
	b.WriteString("\n")
	for _, r := range c.Runs {
		fmt.Fprintf(&b, "%s: %s\n", r.Label, r.Knee)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the comparison as JSON.
func (c *Comparison) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(c)
}

// Page is the comparison as a self-contained HTML report page.
func (c *Comparison) Page() report.Page {
	labels := make([]string, len(c.Runs))
	for i, r := range c.Runs {
		labels[i] = r.Label
	}
	p := report.Page{
		Title:    "brink run comparison",
		Subtitle: strings.Join(labels, " vs "),
	}
	for i, r := range c.Runs {
		res := r.Analysis
		f := report.Figure{Label: r.Label, Value: output.FormatRate(res.MaxSustainedRPS) + " req/s",
			Note: "max sustained, errors " + output.FormatPercent(c.runs[i].Recording.Summary.ErrorRate)}
		f.Bad = c.runs[i].Recording.Summary.Failures > 0
		p.Figures = append(p.Figures, f)
	}

	cols := []report.Column{{Title: "metric"}, {Title: c.Runs[0].Label, Numeric: true}}
	for _, r := range c.Runs[1:] {
		cols = append(cols, report.Column{Title: r.Label, Numeric: true}, report.Column{Title: "vs " + c.Runs[0].Label, Numeric: true})
	}
	t := report.Table{Caption: "Each run against " + c.Runs[0].Label, Columns: cols}
	for _, m := range c.Metrics {
		v0, _ := m.cell(0)
		row := []report.Cell{{Text: m.Label}, {Text: v0, Title: exact(m.Values[0])}}
		for i := 1; i < len(c.Runs); i++ {
			v, ch := m.cell(i)
			row = append(row, report.Cell{Text: v, Title: exact(m.Values[i])}, report.Cell{Text: ch, Class: verdictClass(m, m.Diffs[i])})
		}
		t.Rows = append(t.Rows, row)
	}
	p.Sections = append(p.Sections, report.Section{
		Title:  "Side by side",
		Note:   "Throughput is the best 5-second mean of successful requests; latency and errors are over each whole run; resource figures are taken over the seconds of that best throughput.",
		Tables: []report.Table{t},
	})

	kt := report.Table{Columns: []report.Column{{Title: "run"}, {Title: "knee"}, {Title: "limiting resource"}}}
	for _, r := range c.Runs {
		limit := "-"
		if r.Limit != "" {
			limit = r.Limit
		}
		kt.Rows = append(kt.Rows, report.Cells(r.Label, r.Analysis.KneeText(), limit))
	}
	var sat []*chart.Chart
	for i, r := range c.runs {
		ch := analysis.SaturationChart(fmt.Sprintf("cmp-sat-%d", i), r.Recording.Input(), r.Analysis)
		ch.Title = r.Label + ": throughput and latency against the offered load"
		sat = append(sat, ch)
	}
	p.Sections = append(p.Sections, report.Section{Title: "Where each run saturated", Tables: []report.Table{kt}, Charts: sat})
	p.Sections = append(p.Sections, report.Section{
		Title:  "Over time",
		Note:   "All runs on one axis of seconds since each run's start; dashed lines mark each run's knee. Hover for exact values.",
		Charts: c.Charts(),
	})
	return p
}

func exact(v *float64) string {
	if v == nil {
		return ""
	}
	return strconv.FormatFloat(*v, 'g', 10, 64)
}

// WriteHTML writes the comparison as a self-contained HTML file.
func (c *Comparison) WriteHTML(path string) error {
	return report.WritePageFile(path, c.Page())
}

// Charts overlays the runs on time since each run's start: good
// throughput, p95 latency, error rate, and CPU per replica where recorded.
func (c *Comparison) Charts() []*chart.Chart {
	x := chart.XAxis{Label: "seconds since the run's start", Time: true, FromZero: true,
		Format: func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) + "s" }}
	mk := func(id, title, ylabel string, yf func(float64) string) *chart.Chart {
		return &chart.Chart{ID: id, Title: title, X: x, Y: chart.YAxis{Label: ylabel, Format: yf}}
	}
	rps := mk("cmp-rps", "Successful requests per second", "req/s", output.FormatRate)
	p95 := mk("cmp-p95", "p95 latency", "ms", output.FormatMs)
	errs := mk("cmp-errors", "Error rate", "failed", func(v float64) string { return output.FormatPercent(v) })
	cpu := mk("cmp-cpu", "Target CPU per replica (mean)", "cores", func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) })
	hasCPU := false
	for i, r := range c.runs {
		color := chart.Palette[i%len(chart.Palette)]
		tl := r.Recording.Summary.Timeline
		var good, lat, er []chart.Point
		for _, p := range tl {
			t := float64(p.T)
			good = append(good, chart.Point{X: t, Y: float64(p.Requests - p.Failures)})
			l, e := math.NaN(), math.NaN()
			if p.Requests > 0 {
				l, e = p.P95Ms, float64(p.Failures)/float64(p.Requests)
			}
			lat = append(lat, chart.Point{X: t, Y: l})
			er = append(er, chart.Point{X: t, Y: e})
		}
		rps.Series = append(rps.Series, chart.Series{Name: r.Label, Points: good, Color: color})
		p95.Series = append(p95.Series, chart.Series{Name: r.Label, Points: lat, Color: color})
		errs.Series = append(errs.Series, chart.Series{Name: r.Label, Points: er, Color: color})
		if pts := cpuPerReplica(r); len(pts) > 0 {
			hasCPU = true
			cpu.Series = append(cpu.Series, chart.Series{Name: r.Label, Points: pts, Color: color})
		}
		if k := r.Analysis.Knee; k != nil && !k.Throughout && len(tl) > 0 {
			m := chart.Marker{Axis: chart.MarkerX, Value: float64(k.T), Label: "knee " + r.Label, Color: color}
			rps.Markers = append(rps.Markers, m)
			p95.Markers = append(p95.Markers, m)
		}
	}
	out := []*chart.Chart{rps, p95, errs}
	if hasCPU {
		out = append(out, cpu)
	}
	return out
}

// cpuPerReplica is the mean target CPU per replica over each second of
// the run, on the run's relative time axis.
func cpuPerReplica(r *Run) []chart.Point {
	start := r.Recording.Summary.Start.Unix()
	if len(r.Recording.Summary.Timeline) > 0 {
		start = r.Recording.Summary.Timeline[0].Unix - r.Recording.Summary.Timeline[0].T
	}
	sum, n := map[int64]float64{}, map[int64]int{}
	for _, s := range r.Recording.Resources {
		if s.Name != analysis.TargetCPU {
			continue
		}
		for _, p := range s.Points {
			sum[p.T] += p.V
			n[p.T]++
		}
	}
	var pts []chart.Point
	for _, p := range r.Recording.Summary.Timeline {
		if c := n[p.Unix]; c > 0 {
			pts = append(pts, chart.Point{X: float64(p.Unix - start), Y: sum[p.Unix] / float64(c)})
		}
	}
	return pts
}
