package report

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/brinkhq/brink/internal/output"
	"github.com/brinkhq/brink/internal/report/chart"
	"github.com/brinkhq/brink/internal/results"
	"github.com/brinkhq/brink/internal/threshold"
)

// Series colors shared by the run charts, so a color means the same
// figure on every chart.
const (
	colorRPS      = "#0072b2"
	colorTarget   = "#444444"
	colorP50      = "#009e73"
	colorP95      = "#e69f00"
	colorP99      = "#d55e00"
	colorMax      = "#cc79a7"
	colorFailures = "#c62828"
	colorDropped  = "#8e44ad"
	colorVUs      = "#0072b2"
	colorBad      = "#c62828"
)

// WriteRunHTML writes the report of one run to path (`--report PATH.html`).
func WriteRunHTML(path string, s *results.Summary) error {
	return WritePageFile(path, RunPage(s))
}

// RenderRunHTML writes the report of one run to w.
func RenderRunHTML(w io.Writer, s *results.Summary) error {
	return WritePage(w, RunPage(s))
}

// RunPage builds the report page of one run: headline figures, charts of
// throughput, latency percentiles, failures and VUs over time, the table
// per request name, and the thresholds.
func RunPage(s *results.Summary) Page {
	p := Page{
		Title:    "brink run report",
		Subtitle: runSubtitle(s),
		Badge:    runBadge(s),
		Figures:  runFigures(s),
	}
	if s.Name != "" {
		p.Title = "brink run report: " + s.Name
	}
	ts := parseThresholds(s.Thresholds)
	p.Sections = append(p.Sections, Section{
		Title:  "Over time",
		Note:   "One point per second. Hover a chart for the exact values at that second.",
		Charts: RunCharts(s, ts),
	})
	if len(s.Thresholds) > 0 {
		p.Sections = append(p.Sections, Section{Title: "Thresholds", Tables: []Table{thresholdTable(s)}})
	}
	p.Sections = append(p.Sections, Section{Title: "Requests by name", Tables: []Table{nameTable(s)}})
	if s.Failures > 0 {
		p.Sections = append(p.Sections, Section{Title: "Failures by kind", Tables: []Table{failureTable(s)}})
	}
	return p
}

func runSubtitle(s *results.Summary) string {
	const layout = "2006-01-02 15:04:05 MST"
	parts := []string{
		s.Start.Format(layout) + " to " + s.End.Format("15:04:05"),
		formatDuration(s.DurationS),
	}
	if s.Run != "" {
		parts = append(parts, "run "+s.Run)
	}
	return strings.Join(parts, " · ")
}

func formatDuration(sec float64) string {
	if sec < 60 {
		return strconv.FormatFloat(sec, 'f', 1, 64) + " s"
	}
	return output.FormatSeconds(int64(math.Round(sec)))
}

func runBadge(s *results.Summary) Badge {
	failed := 0
	for _, t := range s.Thresholds {
		if !t.OK {
			failed++
		}
	}
	switch {
	case s.Aborted:
		return Badge{Text: "aborted", OK: false}
	case failed == 1:
		return Badge{Text: "1 threshold failed", OK: false}
	case failed > 1:
		return Badge{Text: fmt.Sprintf("%d thresholds failed", failed), OK: false}
	case len(s.Thresholds) > 0:
		return Badge{Text: "thresholds held", OK: true}
	}
	return Badge{Text: "finished", OK: true}
}

func runFigures(s *results.Summary) []Figure {
	lat := func(v float64) string {
		if s.Requests == 0 {
			return "-"
		}
		return output.FormatMs(v)
	}
	return []Figure{
		{Label: "Requests", Value: output.FormatCount(s.Requests), Note: output.FormatCount(s.Iterations) + " iterations"},
		{Label: "Throughput", Value: output.FormatRate(s.RPS) + "/s", Note: "mean over " + formatDuration(s.DurationS)},
		{Label: "Failed", Value: output.FormatPercent(s.ErrorRate), Note: output.FormatCount(s.Failures) + " requests", Bad: s.Failures > 0},
		{Label: "p50 latency", Value: lat(s.LatencyMs.P50), Note: "mean " + lat(s.LatencyMs.Mean)},
		{Label: "p95 latency", Value: lat(s.LatencyMs.P95), Note: "p90 " + lat(s.LatencyMs.P90)},
		{Label: "p99 latency", Value: lat(s.LatencyMs.P99), Note: "max " + lat(s.LatencyMs.Max)},
		{Label: "Virtual users", Value: output.FormatCount(int64(s.MaxVUs)), Note: "at most"},
		{Label: "Dropped", Value: output.FormatCount(s.Dropped), Note: "iterations not started", Bad: s.Dropped > 0},
		{Label: "Received", Value: output.FormatBytes(s.BytesIn), Note: output.FormatBytes(s.BytesOut) + " sent"},
	}
}

// parseThresholds recovers the thresholds behind results; an expression
// that no longer parses (a summary from another brink version) is left out
// of the charts but still listed in the thresholds table.
func parseThresholds(rs []results.ThresholdResult) []threshold.Threshold {
	var ts []threshold.Threshold
	for _, r := range rs {
		if t, err := threshold.Parse(r.Expr); err == nil {
			ts = append(ts, t)
		}
	}
	return ts
}

// secondsAxis is the x axis of every chart over a run.
func secondsAxis() chart.XAxis {
	return chart.XAxis{Label: "seconds since start", Time: true, Format: func(v float64) string {
		return strconv.FormatFloat(v, 'f', -1, 64) + "s"
	}}
}

// RunCharts draws a run's timeline: throughput (with the target rate of
// open-model executors), latency percentiles, failures and dropped
// iterations, and virtual users. Unscoped thresholds on those figures are
// drawn as marker lines at their limits.
func RunCharts(s *results.Summary, ts []threshold.Threshold) []*chart.Chart {
	tl := s.Timeline
	var rps, target, p50, p95, p99, pmax, fails, dropped, errRate, vus []chart.Point
	openModel := false
	for _, p := range tl {
		x := float64(p.T)
		rps = append(rps, chart.Point{X: x, Y: p.RPS})
		target = append(target, chart.Point{X: x, Y: p.TargetRate})
		openModel = openModel || p.TargetRate > 0
		lat := func(v float64) chart.Point {
			if p.Requests == 0 {
				return chart.Point{X: x, Y: math.NaN()}
			}
			return chart.Point{X: x, Y: v}
		}
		p50 = append(p50, lat(p.P50Ms))
		p95 = append(p95, lat(p.P95Ms))
		p99 = append(p99, lat(p.P99Ms))
		pmax = append(pmax, lat(p.MaxMs))
		fails = append(fails, chart.Point{X: x, Y: float64(p.Failures)})
		dropped = append(dropped, chart.Point{X: x, Y: float64(p.Dropped)})
		er := math.NaN()
		if p.Requests > 0 {
			er = float64(p.Failures) / float64(p.Requests)
		}
		errRate = append(errRate, chart.Point{X: x, Y: er})
		vus = append(vus, chart.Point{X: x, Y: float64(p.VUs)})
	}
	perSecond := func(v float64) string { return chart.Number(v) + "/s" }
	count := func(v float64) string { return chart.Number(v) }
	percent := func(v float64) string { return output.FormatPercent(v) }

	throughput := &chart.Chart{
		ID: "rps", Title: "Throughput (requests per second)", X: secondsAxis(),
		Y:      chart.YAxis{Label: "requests/s", Format: perSecond},
		Series: []chart.Series{{Name: "rps", Points: rps, Style: chart.Area, Color: colorRPS}},
	}
	if openModel {
		throughput.Series = append(throughput.Series, chart.Series{Name: "target rate", Points: target, Color: colorTarget, Dashed: true})
	}
	latency := &chart.Chart{
		ID: "latency", Title: "Latency percentiles (per second)", X: secondsAxis(),
		Y: chart.YAxis{Label: "latency", Format: output.FormatMs},
		Series: []chart.Series{
			{Name: "p50", Points: p50, Color: colorP50},
			{Name: "p95", Points: p95, Color: colorP95},
			{Name: "p99", Points: p99, Color: colorP99},
			{Name: "max", Points: pmax, Color: colorMax, Dashed: true},
		},
	}
	failures := &chart.Chart{
		ID: "failures", Title: "Failures and dropped iterations (per second)", X: secondsAxis(),
		Y:  chart.YAxis{Label: "per second", Format: count},
		Y2: chart.YAxis{Label: "error rate", Format: percent, Min: 0, Max: maxRate(errRate)},
		Series: []chart.Series{
			{Name: "failures", Points: fails, Style: chart.Area, Color: colorFailures},
			{Name: "dropped", Points: dropped, Color: colorDropped},
			{Name: "error rate", Points: errRate, Axis: chart.Right, Color: colorTarget, Dashed: true},
		},
	}
	users := &chart.Chart{
		ID: "vus", Title: "Virtual users", X: secondsAxis(),
		Y:      chart.YAxis{Label: "VUs", Format: count},
		Series: []chart.Series{{Name: "VUs", Points: vus, Style: chart.Area, Color: colorVUs}},
	}
	if openModel {
		users.Title = "Virtual users and target rate"
		users.Y2 = chart.YAxis{Label: "iterations/s", Format: perSecond}
		users.Series = append(users.Series, chart.Series{Name: "target rate", Points: target, Axis: chart.Right, Color: colorTarget, Dashed: true})
	}

	for _, t := range ts {
		if t.Name != "" {
			continue
		}
		label := t.Expr
		switch {
		case t.Kind == threshold.Latency && !strings.HasPrefix(t.Metric, "ttfb_"):
			latency.Markers = append(latency.Markers, chart.Marker{Value: t.Limit, Label: label, Color: colorBad})
		case t.Metric == "rps":
			throughput.Markers = append(throughput.Markers, chart.Marker{Value: t.Limit, Label: label, Color: colorBad})
		case t.Metric == "error_rate":
			failures.Markers = append(failures.Markers, chart.Marker{Axis: chart.Right, Value: t.Limit, Label: label, Color: colorBad})
		}
	}
	return []*chart.Chart{throughput, latency, failures, users}
}

// maxRate is the top of the error-rate axis: a nice value above the
// highest rate, at least 1%, at most 100%.
func maxRate(pts []chart.Point) float64 {
	hi := 0.01
	for _, p := range pts {
		if !math.IsNaN(p.Y) {
			hi = math.Max(hi, p.Y)
		}
	}
	_, _, top := chart.NiceTicks(0, hi, 5)
	return math.Min(top, 1)
}

func nameTable(s *results.Summary) Table {
	t := Table{Columns: []Column{
		{Title: "name"}, {Title: "requests", Numeric: true}, {Title: "rps", Numeric: true},
		{Title: "failed", Numeric: true}, {Title: "error rate", Numeric: true},
		{Title: "p50", Numeric: true}, {Title: "p90", Numeric: true}, {Title: "p95", Numeric: true},
		{Title: "p99", Numeric: true}, {Title: "max", Numeric: true}, {Title: "TTFB p95", Numeric: true},
		{Title: "received", Numeric: true}, {Title: "sent", Numeric: true},
	}}
	row := func(name string, n results.NameSummary) []Cell {
		lat := func(v float64) Cell {
			if n.Requests == 0 {
				return Cell{Text: "-", Class: "muted"}
			}
			return Cell{Text: output.FormatMs(v), Title: strconv.FormatFloat(v, 'f', -1, 64) + " ms"}
		}
		failed := Cell{Text: output.FormatCount(n.Failures)}
		if n.Failures > 0 {
			failed.Class = "bad"
		}
		return []Cell{
			{Text: name},
			{Text: output.FormatCount(n.Requests)},
			{Text: output.FormatRate(n.RPS), Title: strconv.FormatFloat(n.RPS, 'f', -1, 64) + " requests/s"},
			failed,
			{Text: output.FormatPercent(n.ErrorRate)},
			lat(n.LatencyMs.P50), lat(n.LatencyMs.P90), lat(n.LatencyMs.P95), lat(n.LatencyMs.P99), lat(n.LatencyMs.Max),
			lat(n.TTFBMs.P95),
			{Text: output.FormatBytes(n.BytesIn), Title: strconv.FormatInt(n.BytesIn, 10) + " bytes"},
			{Text: output.FormatBytes(n.BytesOut), Title: strconv.FormatInt(n.BytesOut, 10) + " bytes"},
		}
	}
	for _, name := range slices.Sorted(maps.Keys(s.ByName)) {
		t.Rows = append(t.Rows, row(name, s.ByName[name]))
	}
	t.Footer = [][]Cell{row("all requests", s.NameSummary)}
	return t
}

func failureTable(s *results.Summary) Table {
	t := Table{Columns: []Column{{Title: "name"}}}
	var kinds []results.FailureKind
	for k := results.FailureKind(0); k < results.NumFailureKinds; k++ {
		if s.FailuresByKind[k.String()] > 0 {
			kinds = append(kinds, k)
			t.Columns = append(t.Columns, Column{Title: k.String(), Numeric: true})
		}
	}
	t.Columns = append(t.Columns, Column{Title: "total", Numeric: true})
	row := func(name string, n results.NameSummary) []Cell {
		r := []Cell{{Text: name}}
		for _, k := range kinds {
			c := n.FailuresByKind[k.String()]
			cell := Cell{Text: output.FormatCount(c)}
			if c == 0 {
				cell.Class = "muted"
			}
			r = append(r, cell)
		}
		return append(r, Cell{Text: output.FormatCount(n.Failures)})
	}
	for _, name := range slices.Sorted(maps.Keys(s.ByName)) {
		if n := s.ByName[name]; n.Failures > 0 {
			t.Rows = append(t.Rows, row(name, n))
		}
	}
	t.Footer = [][]Cell{row("all requests", s.NameSummary)}
	return t
}

func thresholdTable(s *results.Summary) Table {
	t := Table{Columns: []Column{{Title: ""}, {Title: "threshold"}, {Title: "actual"}}}
	for _, r := range s.Thresholds {
		mark := Cell{Text: "✓", Class: "ok", Title: "held"}
		if !r.OK {
			mark = Cell{Text: "✗", Class: "bad", Title: "failed"}
		}
		t.Rows = append(t.Rows, []Cell{mark, {Text: r.Expr}, {Text: output.ThresholdActual(r, s)}})
	}
	return t
}
