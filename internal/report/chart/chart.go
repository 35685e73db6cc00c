// Package chart draws line, area and point charts as inline SVG for
// brink's self-contained HTML reports (run, lab and comparison reports, the
// saturation analysis). Charts need no JavaScript and no network: every
// x position carries a <title> with the exact value of every series there,
// so hovering shows numbers, not just shapes. The optional Script adds a
// crosshair and a faster tooltip when scripts run.
//
// A chart has one x axis, a left y axis and optionally a right one
// (Series.Axis = Right), marker lines (a threshold limit, "knee at 1,380
// rps") and shaded bands (load phases). All text is escaped.
package chart

import (
	"bytes"
	"fmt"
	"html"
	"html/template"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Axis selects the y axis a series or marker belongs to.
type Axis uint8

// Axes. MarkerX places a marker on the x axis (a vertical line).
const (
	Left Axis = iota
	Right
	MarkerX
)

// Style is how a series is drawn.
type Style uint8

// Series styles.
const (
	Line   Style = iota // a polyline; NaN values leave gaps
	Area                // a line with the area down to zero shaded
	Points              // a dot per point, each with its own <title>
)

// Point is one value. A NaN Y is a gap (no data for that x).
type Point struct{ X, Y float64 }

// Series is one named line.
type Series struct {
	Name   string
	Points []Point
	Axis   Axis
	Style  Style
	Color  string // CSS color; "" takes the next palette color
	Dashed bool
}

// XAxis describes the horizontal axis.
type XAxis struct {
	Label string
	// Time lays ticks on clock-friendly steps (15 s, 1 min, 5 min, ...);
	// the values are seconds.
	Time bool
	// Format renders tick labels and hover values; nil means Number.
	Format func(float64) string
	// Min and Max fix the range when Max > Min; otherwise it fits the data.
	Min, Max float64
	// FromZero starts a fitted range at zero (throughput on a saturation
	// chart) instead of at the smallest x.
	FromZero bool
}

// YAxis describes a vertical axis.
type YAxis struct {
	Label  string
	Format func(float64) string // nil means Number
	// Min and Max fix the range when Max > Min. Otherwise the axis starts
	// at zero (or below, for negative data) and ends at a nice value above
	// the largest point.
	Min, Max float64
}

// Marker is a labelled reference line: vertical for Axis MarkerX, else
// horizontal at Value on the given y axis.
type Marker struct {
	Axis  Axis
	Value float64
	Label string
	Color string // "" = dark grey
}

// Band shades the x range [From, To] with a label, e.g. a load phase.
type Band struct {
	From, To float64
	Label    string
	Color    string // "" = light grey
}

// Chart is one chart. The zero value of each optional field has a sensible
// default.
type Chart struct {
	// ID must be unique within a page; element ids derive from it.
	ID      string
	Title   string
	Width   int // pixels; default 860
	Height  int // pixels; default 280
	X       XAxis
	Y       YAxis
	Y2      YAxis // the right axis, drawn when a series or marker uses it
	Series  []Series
	Markers []Marker
	Bands   []Band
}

// Palette is the default series colors, distinguishable with the common
// forms of color blindness.
var Palette = []string{"#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#444444", "#f0e442"}

const (
	charWidth   = 6.6 // approximate width of one character at 11px, for layout
	legendRow   = 18
	tickCount   = 6
	columnLimit = 1 // at most one hover column per pixel
)

type layout struct {
	w, h                     float64
	left, right, top, bot    float64 // plot area edges
	xMin, xMax               float64
	yMin, yMax, y2Min, y2Max float64
	hasY2                    bool
}

func (l *layout) px(x float64) float64 {
	if l.xMax == l.xMin {
		return l.left
	}
	return l.left + (x-l.xMin)/(l.xMax-l.xMin)*(l.right-l.left)
}

func (l *layout) py(y float64, axis Axis) float64 {
	lo, hi := l.yMin, l.yMax
	if axis == Right {
		lo, hi = l.y2Min, l.y2Max
	}
	return l.bot - (y-lo)/(hi-lo)*(l.bot-l.top)
}

// SVG renders the chart as inline SVG for an HTML page.
func (c *Chart) SVG() template.HTML {
	return template.HTML(c.render(false))
}

// StandaloneSVG renders the chart as an SVG document for its own file.
func (c *Chart) StandaloneSVG() []byte {
	return []byte(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + c.render(true))
}

func (c *Chart) render(standalone bool) string {
	w, h := float64(c.Width), float64(c.Height)
	if w <= 0 {
		w = 860
	}
	if h <= 0 {
		h = 280
	}
	colors := c.colors()
	l := &layout{w: w, h: h}
	for _, s := range c.Series {
		l.hasY2 = l.hasY2 || s.Axis == Right
	}
	for _, m := range c.Markers {
		l.hasY2 = l.hasY2 || m.Axis == Right
	}

	legendLines := c.legendLayout(w - 16)
	l.top = 10 + float64(len(legendLines))*legendRow
	if c.Title != "" {
		l.top += 20
	}
	l.top += 8
	l.bot = h - 40
	xTicks := c.xRange(l)
	yTicks, y2Ticks := c.yRanges(l)
	// Margins make room for the widest tick label plus the axis title.
	l.left = 18 + labelWidth(yTicks, c.yFormat(Left))
	l.right = w - 16
	if l.hasY2 {
		l.right = w - 18 - labelWidth(y2Ticks, c.yFormat(Right))
	}

	var b strings.Builder
	id := c.ID
	if id == "" {
		id = "chart"
	}
	if standalone {
		fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" `)
	} else {
		b.WriteString("<svg ")
	}
	fmt.Fprintf(&b, `class="chart" id="%s" viewBox="0 0 %s %s" width="%s" height="%s" role="img" font-family="system-ui,sans-serif" font-size="11"`,
		esc(id), num(w), num(h), num(w), num(h))
	if c.Title != "" {
		fmt.Fprintf(&b, ` aria-label="%s"`, esc(c.Title))
	}
	b.WriteString(">\n")
	if c.Title != "" {
		fmt.Fprintf(&b, `<text x="%s" y="18" font-size="14" font-weight="600" fill="#222">%s</text>`+"\n", num(l.left), esc(c.Title))
	}
	c.writeLegend(&b, legendLines, colors, l)

	// Bands under everything else.
	for _, bd := range c.Bands {
		x0, x1 := l.px(clamp(bd.From, l.xMin, l.xMax)), l.px(clamp(bd.To, l.xMin, l.xMax))
		if x1 <= x0 {
			continue
		}
		color := bd.Color
		if color == "" {
			color = "#eef0f3"
		}
		fmt.Fprintf(&b, `<rect class="band" x="%s" y="%s" width="%s" height="%s" fill="%s"><title>%s</title></rect>`+"\n",
			num(x0), num(l.top), num(x1-x0), num(l.bot-l.top), esc(color), esc(bd.Label))
		if bd.Label != "" {
			fmt.Fprintf(&b, `<text x="%s" y="%s" fill="#555">%s</text>`+"\n", num(x0+4), num(l.top+12), esc(bd.Label))
		}
	}

	c.writeAxes(&b, l, xTicks, yTicks, y2Ticks)
	c.writeHover(&b, l, id)

	fmt.Fprintf(&b, `<g class="series">`+"\n")
	for i, s := range c.Series {
		writeSeries(&b, l, s, colors[i], c.xFormat(), c.yFormat(s.Axis))
	}
	b.WriteString("</g>\n")

	for _, m := range c.Markers {
		c.writeMarker(&b, l, m)
	}
	fmt.Fprintf(&b, `<line class="xhair" x1="0" x2="0" y1="%s" y2="%s" stroke="#888" stroke-width="1" visibility="hidden"/>`+"\n", num(l.top), num(l.bot))
	b.WriteString("</svg>\n")
	return b.String()
}

func labelWidth(ticks []float64, f func(float64) string) float64 {
	n := 0
	for _, t := range ticks {
		n = max(n, len([]rune(f(t))))
	}
	return 10 + charWidth*float64(n)
}

func (c *Chart) colors() []string {
	out := make([]string, len(c.Series))
	next := 0
	for i, s := range c.Series {
		if s.Color != "" {
			out[i] = s.Color
			continue
		}
		out[i] = Palette[next%len(Palette)]
		next++
	}
	return out
}

func (c *Chart) xFormat() func(float64) string {
	if c.X.Format != nil {
		return c.X.Format
	}
	return Number
}

func (c *Chart) yFormat(a Axis) func(float64) string {
	f := c.Y.Format
	if a == Right {
		f = c.Y2.Format
	}
	if f == nil {
		return Number
	}
	return f
}

func (c *Chart) xRange(l *layout) []float64 {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range c.Series {
		for _, p := range s.Points {
			lo, hi = math.Min(lo, p.X), math.Max(hi, p.X)
		}
	}
	if c.X.Max > c.X.Min {
		lo, hi = c.X.Min, c.X.Max
	}
	if math.IsInf(lo, 0) {
		lo, hi = 0, 1
	}
	if c.X.FromZero {
		lo = math.Min(lo, 0)
	}
	ticks, tmin, tmax := NiceTicks(lo, hi, tickCount+2)
	if c.X.Time {
		ticks, tmin, tmax = TimeTicks(lo, hi, tickCount+2)
	}
	if c.X.Max > c.X.Min {
		// A fixed range is kept exactly; ticks outside it are dropped.
		tmin, tmax = c.X.Min, c.X.Max
	} else if hi > lo {
		// The data fills the width; ticks beyond the data are dropped
		// rather than leaving an empty stretch at the end of a run.
		tmin, tmax = lo, hi
	}
	l.xMin, l.xMax = tmin, tmax
	return inRange(ticks, tmin, tmax)
}

func inRange(ticks []float64, lo, hi float64) []float64 {
	out := ticks[:0:0]
	eps := (hi - lo) * 1e-9
	for _, t := range ticks {
		if t >= lo-eps && t <= hi+eps {
			out = append(out, t)
		}
	}
	return out
}

func (c *Chart) yRanges(l *layout) (left, right []float64) {
	axisRange := func(a Axis, ax YAxis) ([]float64, float64, float64) {
		lo, hi := 0.0, math.Inf(-1)
		for _, s := range c.Series {
			if s.Axis != a {
				continue
			}
			for _, p := range s.Points {
				if math.IsNaN(p.Y) || math.IsInf(p.Y, 0) {
					continue
				}
				lo, hi = math.Min(lo, p.Y), math.Max(hi, p.Y)
			}
		}
		for _, m := range c.Markers {
			if m.Axis == a {
				lo, hi = math.Min(lo, m.Value), math.Max(hi, m.Value)
			}
		}
		if ax.Max > ax.Min {
			lo, hi = ax.Min, ax.Max
			ticks, _, _ := NiceTicks(lo, hi, tickCount)
			return inRange(ticks, lo, hi), lo, hi
		}
		if math.IsInf(hi, 0) || hi <= lo {
			hi = lo + 1
		}
		return NiceTicks(lo, hi, tickCount)
	}
	left, l.yMin, l.yMax = axisRange(Left, c.Y)
	if l.hasY2 {
		right, l.y2Min, l.y2Max = axisRange(Right, c.Y2)
	}
	return left, right
}

// legendLayout breaks series names into rows that fit width.
func (c *Chart) legendLayout(width float64) [][]int {
	var rows [][]int
	var row []int
	x := 0.0
	for i, s := range c.Series {
		itemW := 26 + charWidth*float64(len([]rune(legendName(s))))
		if len(row) > 0 && x+itemW > width {
			rows = append(rows, row)
			row, x = nil, 0
		}
		row = append(row, i)
		x += itemW
	}
	if len(row) > 0 {
		rows = append(rows, row)
	}
	return rows
}

func legendName(s Series) string {
	if s.Axis == Right {
		return s.Name + " (right axis)"
	}
	return s.Name
}

func (c *Chart) writeLegend(b *strings.Builder, rows [][]int, colors []string, l *layout) {
	y := 10.0
	if c.Title != "" {
		y += 20
	}
	for _, row := range rows {
		x := 16.0
		for _, i := range row {
			s := c.Series[i]
			dash := ""
			if s.Dashed {
				dash = ` stroke-dasharray="4 3"`
			}
			if s.Style == Points {
				fmt.Fprintf(b, `<circle cx="%s" cy="%s" r="3.5" fill="%s"/>`, num(x+9), num(y+6), esc(colors[i]))
			} else {
				fmt.Fprintf(b, `<line x1="%s" x2="%s" y1="%s" y2="%s" stroke="%s" stroke-width="2.5"%s/>`,
					num(x), num(x+18), num(y+6), num(y+6), esc(colors[i]), dash)
			}
			fmt.Fprintf(b, `<text x="%s" y="%s" fill="#333">%s</text>`+"\n", num(x+22), num(y+10), esc(legendName(s)))
			x += 26 + charWidth*float64(len([]rune(legendName(s))))
		}
		y += legendRow
	}
}

func (c *Chart) writeAxes(b *strings.Builder, l *layout, xTicks, yTicks, y2Ticks []float64) {
	b.WriteString(`<g class="axes" stroke="#ddd" stroke-width="1">` + "\n")
	for _, t := range yTicks {
		y := l.py(t, Left)
		fmt.Fprintf(b, `<line x1="%s" x2="%s" y1="%s" y2="%s"/>`+"\n", num(l.left), num(l.right), num(y), num(y))
	}
	fmt.Fprintf(b, `<line x1="%s" x2="%s" y1="%s" y2="%s" stroke="#999"/>`+"\n", num(l.left), num(l.right), num(l.bot), num(l.bot))
	fmt.Fprintf(b, `<line x1="%s" x2="%s" y1="%s" y2="%s" stroke="#999"/>`+"\n", num(l.left), num(l.left), num(l.top), num(l.bot))
	if l.hasY2 {
		fmt.Fprintf(b, `<line x1="%s" x2="%s" y1="%s" y2="%s" stroke="#999"/>`+"\n", num(l.right), num(l.right), num(l.top), num(l.bot))
	}
	b.WriteString("</g>\n")

	b.WriteString(`<g class="ticks" fill="#555">` + "\n")
	xf := c.xFormat()
	for _, t := range xTicks {
		x := l.px(t)
		fmt.Fprintf(b, `<line x1="%s" x2="%s" y1="%s" y2="%s" stroke="#999"/><text x="%s" y="%s" text-anchor="middle">%s</text>`+"\n",
			num(x), num(x), num(l.bot), num(l.bot+4), num(x), num(l.bot+16), esc(xf(t)))
	}
	yf := c.yFormat(Left)
	for _, t := range yTicks {
		fmt.Fprintf(b, `<text x="%s" y="%s" text-anchor="end">%s</text>`+"\n", num(l.left-6), num(l.py(t, Left)+4), esc(yf(t)))
	}
	if l.hasY2 {
		y2f := c.yFormat(Right)
		for _, t := range y2Ticks {
			fmt.Fprintf(b, `<text x="%s" y="%s">%s</text>`+"\n", num(l.right+6), num(l.py(t, Right)+4), esc(y2f(t)))
		}
	}
	if c.X.Label != "" {
		fmt.Fprintf(b, `<text x="%s" y="%s" text-anchor="middle">%s</text>`+"\n", num((l.left+l.right)/2), num(l.h-6), esc(c.X.Label))
	}
	if c.Y.Label != "" {
		cy := (l.top + l.bot) / 2
		fmt.Fprintf(b, `<text x="14" y="%s" text-anchor="middle" transform="rotate(-90 14 %s)">%s</text>`+"\n", num(cy), num(cy), esc(c.Y.Label))
	}
	if l.hasY2 && c.Y2.Label != "" {
		cy, cx := (l.top+l.bot)/2, l.w-10
		fmt.Fprintf(b, `<text x="%s" y="%s" text-anchor="middle" transform="rotate(90 %s %s)">%s</text>`+"\n", num(cx), num(cy), num(cx), num(cy), esc(c.Y2.Label))
	}
	b.WriteString("</g>\n")
}

// writeHover lays one transparent column per distinct x (at most one per
// pixel) whose <title> lists every series' exact value there.
func (c *Chart) writeHover(b *strings.Builder, l *layout, id string) {
	var xs []float64
	values := make([]map[float64]float64, len(c.Series))
	for i, s := range c.Series {
		values[i] = make(map[float64]float64, len(s.Points))
		for _, p := range s.Points {
			if p.X < l.xMin || p.X > l.xMax {
				continue
			}
			if _, dup := values[i][p.X]; !dup {
				xs = append(xs, p.X)
			}
			values[i][p.X] = p.Y
		}
	}
	slices.Sort(xs)
	xs = slices.Compact(xs)
	if len(xs) == 0 {
		return
	}
	// Columns span halfway to the neighbours; when there are more x values
	// than pixels, every x that falls into an already covered pixel is
	// skipped (its exact values remain in the CSV and JSON outputs).
	var cols []float64
	last := math.Inf(-1)
	for _, x := range xs {
		if px := l.px(x); px-last >= columnLimit {
			cols = append(cols, x)
			last = px
		}
	}
	xf := c.xFormat()
	fmt.Fprintf(b, `<g class="hover" data-chart="%s" fill="transparent">`+"\n", esc(id))
	for i, x := range cols {
		x0, x1 := l.left, l.right
		if i > 0 {
			x0 = (l.px(cols[i-1]) + l.px(x)) / 2
		}
		if i < len(cols)-1 {
			x1 = (l.px(x) + l.px(cols[i+1])) / 2
		}
		var tip strings.Builder
		tip.WriteString(c.X.Label)
		if c.X.Label != "" {
			tip.WriteString(" ")
		}
		tip.WriteString(xf(x))
		for si, s := range c.Series {
			if v, ok := values[si][x]; ok {
				tip.WriteString("\n" + s.Name + ": ")
				if math.IsNaN(v) {
					tip.WriteString("no data")
				} else {
					tip.WriteString(c.yFormat(s.Axis)(v))
				}
			}
		}
		fmt.Fprintf(b, `<rect x="%s" y="%s" width="%s" height="%s" data-x="%s"><title>%s</title></rect>`+"\n",
			num(x0), num(l.top), num(math.Max(x1-x0, 0.5)), num(l.bot-l.top), num(l.px(x)), esc(tip.String()))
	}
	b.WriteString("</g>\n")
}

func writeSeries(b *strings.Builder, l *layout, s Series, color string, xf, yf func(float64) string) {
	pts := make([]Point, 0, len(s.Points))
	for _, p := range s.Points {
		if p.X >= l.xMin && p.X <= l.xMax {
			pts = append(pts, p)
		}
	}
	slices.SortStableFunc(pts, func(a, b Point) int {
		switch {
		case a.X < b.X:
			return -1
		case a.X > b.X:
			return 1
		}
		return 0
	})
	dash := ""
	if s.Dashed {
		dash = ` stroke-dasharray="5 3"`
	}
	if s.Style == Points {
		fmt.Fprintf(b, `<g fill="%s">`, esc(color))
		for _, p := range pts {
			if math.IsNaN(p.Y) || math.IsInf(p.Y, 0) {
				continue
			}
			fmt.Fprintf(b, `<circle cx="%s" cy="%s" r="3"><title>%s: %s at %s</title></circle>`,
				num(l.px(p.X)), num(clamp(l.py(p.Y, s.Axis), l.top, l.bot)), esc(s.Name), esc(yf(p.Y)), esc(xf(p.X)))
		}
		b.WriteString("</g>\n")
		return
	}
	// Split into runs of defined values: NaN is a gap.
	var runs [][]Point
	var run []Point
	for _, p := range pts {
		if math.IsNaN(p.Y) || math.IsInf(p.Y, 0) {
			if len(run) > 0 {
				runs = append(runs, run)
				run = nil
			}
			continue
		}
		run = append(run, p)
	}
	if len(run) > 0 {
		runs = append(runs, run)
	}
	for i, r := range runs {
		runs[i] = decimate(l, r)
	}
	var path bytes.Buffer
	for _, r := range runs {
		for i, p := range r {
			if i == 0 {
				path.WriteByte('M')
			} else {
				path.WriteByte('L')
			}
			path.WriteString(num(l.px(p.X)) + "," + num(clamp(l.py(p.Y, s.Axis), l.top, l.bot)))
		}
		if len(r) == 1 {
			// A lone point between gaps would be invisible as a path.
			p := r[0]
			fmt.Fprintf(b, `<circle cx="%s" cy="%s" r="2" fill="%s"/>`, num(l.px(p.X)), num(clamp(l.py(p.Y, s.Axis), l.top, l.bot)), esc(color))
		}
	}
	if path.Len() == 0 {
		return
	}
	if s.Style == Area {
		base := l.py(0, s.Axis)
		base = clamp(base, l.top, l.bot)
		var area bytes.Buffer
		for _, r := range runs {
			fmt.Fprintf(&area, "M%s,%s", num(l.px(r[0].X)), num(base))
			for _, p := range r {
				area.WriteString("L" + num(l.px(p.X)) + "," + num(clamp(l.py(p.Y, s.Axis), l.top, l.bot)))
			}
			fmt.Fprintf(&area, "L%s,%sZ", num(l.px(r[len(r)-1].X)), num(base))
		}
		fmt.Fprintf(b, `<path d="%s" fill="%s" fill-opacity="0.18" stroke="none"/>`+"\n", area.String(), esc(color))
	}
	fmt.Fprintf(b, `<path d="%s" fill="none" stroke="%s" stroke-width="1.8" stroke-linejoin="round"%s><title>%s</title></path>`+"\n",
		path.String(), esc(color), dash, esc(s.Name))
}

// decimate keeps, for every pixel column that holds more than a few
// points, only the first, lowest, highest and last of them: the drawn line
// looks the same (spikes included) while a day of seconds stays a small
// path. The hover columns still carry the exact values.
func decimate(l *layout, run []Point) []Point {
	if float64(len(run)) <= 2*(l.right-l.left) {
		return run
	}
	out := make([]Point, 0, int(4*(l.right-l.left))+4)
	for start := 0; start < len(run); {
		col := int(l.px(run[start].X))
		end := start
		lo, hi := start, start
		for end < len(run) && int(l.px(run[end].X)) == col {
			if run[end].Y < run[lo].Y {
				lo = end
			}
			if run[end].Y > run[hi].Y {
				hi = end
			}
			end++
		}
		keep := []int{start, lo, hi, end - 1}
		slices.Sort(keep)
		for i, k := range keep {
			if i == 0 || k != keep[i-1] {
				out = append(out, run[k])
			}
		}
		start = end
	}
	return out
}

func (c *Chart) writeMarker(b *strings.Builder, l *layout, m Marker) {
	color := m.Color
	if color == "" {
		color = "#333"
	}
	if m.Axis == MarkerX {
		if m.Value < l.xMin || m.Value > l.xMax {
			return
		}
		x := l.px(m.Value)
		fmt.Fprintf(b, `<g class="marker"><line x1="%s" x2="%s" y1="%s" y2="%s" stroke="%s" stroke-dasharray="6 3" stroke-width="1.5"/>`,
			num(x), num(x), num(l.top), num(l.bot), esc(color))
		anchor, tx := "start", x+4
		if x > (l.left+l.right)/2 {
			anchor, tx = "end", x-4
		}
		fmt.Fprintf(b, `<text x="%s" y="%s" text-anchor="%s" fill="%s" font-weight="600">%s</text><title>%s</title></g>`+"\n",
			num(tx), num(l.top+24), anchor, esc(color), esc(m.Label), esc(m.Label+" ("+c.xFormat()(m.Value)+")"))
		return
	}
	lo, hi := l.yMin, l.yMax
	if m.Axis == Right {
		lo, hi = l.y2Min, l.y2Max
	}
	if m.Value < lo || m.Value > hi {
		return
	}
	y := l.py(m.Value, m.Axis)
	fmt.Fprintf(b, `<g class="marker"><line x1="%s" x2="%s" y1="%s" y2="%s" stroke="%s" stroke-dasharray="6 3" stroke-width="1.5"/>`,
		num(l.left), num(l.right), num(y), num(y), esc(color))
	fmt.Fprintf(b, `<text x="%s" y="%s" text-anchor="end" fill="%s" font-weight="600">%s</text><title>%s</title></g>`+"\n",
		num(l.right-4), num(y-4), esc(color), esc(m.Label), esc(m.Label+" ("+c.yFormat(m.Axis)(m.Value)+")"))
}

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }

// num formats a coordinate with at most one decimal.
func num(v float64) string {
	s := strconv.FormatFloat(v, 'f', 1, 64)
	s = strings.TrimSuffix(s, ".0")
	if s == "-0" {
		return "0"
	}
	return s
}

func esc(s string) string { return html.EscapeString(s) }

// Number formats a value for ticks and hover text: thousands separators
// for large values, at most three significant decimals for small ones.
func Number(v float64) string {
	if math.IsNaN(v) {
		return "no data"
	}
	a := math.Abs(v)
	switch {
	case a >= 1000:
		return thousands(int64(math.Round(v)))
	case a >= 100 || a == 0:
		return trim(v, 1)
	case a >= 10:
		return trim(v, 2)
	case a >= 1:
		return trim(v, 3)
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
}

func trim(v float64, prec int) string {
	s := strconv.FormatFloat(v, 'f', prec, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(s, "0")
		s = strings.TrimSuffix(s, ".")
	}
	return s
}

func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	first := len(s) % 3
	if first == 0 {
		first = 3
	}
	b.WriteString(s[:first])
	for i := first; i < len(s); i += 3 {
		b.WriteString("," + s[i:i+3])
	}
	return b.String()
}
