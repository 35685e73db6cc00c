package analysis

import (
	"math"
	"strconv"

	"github.com/brinkhq/brink/internal/output"
	"github.com/brinkhq/brink/internal/report/chart"
)

// SaturationChart draws good throughput and p95 latency against the
// offered load, with the knee marked: the picture of where a service
// stopped keeping up. id must be unique within the page.
func SaturationChart(id string, in Input, res Result) *chart.Chart {
	unit := "VUs"
	if res.Model == "open" {
		unit = "iterations/s"
	}
	c := &chart.Chart{
		ID: id, Title: "Throughput and latency against the offered load",
		X:  chart.XAxis{Label: "offered load (" + unit + ")", FromZero: true, Format: output.FormatRate},
		Y:  chart.YAxis{Label: "good req/s", Format: output.FormatRate},
		Y2: chart.YAxis{Label: "p95", Format: output.FormatMs},
	}
	var good, p95 []chart.Point
	for _, p := range in.Timeline {
		x := float64(p.VUs)
		if res.Model == "open" {
			x = p.TargetRate
		}
		if x <= 0 {
			continue
		}
		good = append(good, chart.Point{X: x, Y: float64(p.Requests - p.Failures)})
		l := math.NaN()
		if p.Requests > 0 {
			l = p.P95Ms
		}
		p95 = append(p95, chart.Point{X: x, Y: l})
	}
	c.Series = []chart.Series{
		{Name: "good req/s", Points: good, Style: chart.Points, Color: "#0072b2"},
		{Name: "p95 latency", Points: p95, Style: chart.Points, Axis: chart.Right, Color: "#d55e00"},
	}
	if k := res.Knee; k != nil && !k.Throughout {
		c.Markers = append(c.Markers, chart.Marker{Axis: chart.MarkerX, Value: k.Offered,
			Label: "knee at " + formatLoad(k.Offered) + " " + unit, Color: "#c62828"})
	}
	if res.MaxSustainedRPS > 0 {
		c.Markers = append(c.Markers, chart.Marker{Axis: chart.Left, Value: res.MaxSustainedRPS,
			Label: "max sustained " + strconv.FormatFloat(math.Round(res.MaxSustainedRPS), 'f', 0, 64) + " req/s"})
	}
	return c
}
