package output

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/brinkhq/brink/internal/results"
	"github.com/brinkhq/brink/internal/threshold"
)

// WriteSummaryTable prints the end-of-run summary: a headline, one row per
// request name and an overall row (requests, rps, failures, p50/p90/p95/p99,
// max, bytes received), failures by kind, and the thresholds with ✓ or ✗ and
// the actual values. Columns are aligned and fit TerminalWidth; a name too
// long for its column gets a line of its own above its figures.
func WriteSummaryTable(w io.Writer, s *results.Summary) {
	var b strings.Builder
	writeHeadline(&b, s)
	b.WriteByte('\n')
	writeNameTable(&b, s)
	writeFailures(&b, s)
	writeThresholds(&b, s)
	io.WriteString(w, b.String())
}

func writeHeadline(b *strings.Builder, s *results.Summary) {
	state := "finished"
	if s.Aborted {
		state = "aborted"
	}
	title := "run " + state
	if s.Name != "" {
		title = s.Name + ": " + title
	}
	fmt.Fprintf(b, "%s after %s", title, formatDurationS(s.DurationS))
	if s.Run != "" {
		fmt.Fprintf(b, " (run %s)", s.Run)
	}
	b.WriteByte('\n')
	fmt.Fprintf(b, "  %s requests, %s/s, %s failed (%s)\n",
		FormatCount(s.Requests), FormatRate(s.RPS), FormatCount(s.Failures), FormatPercent(s.ErrorRate))
	fmt.Fprintf(b, "  %s iterations, %s dropped, up to %s VUs, %s received, %s sent\n",
		FormatCount(s.Iterations), FormatCount(s.Dropped), FormatCount(int64(s.MaxVUs)),
		FormatBytes(s.BytesIn), FormatBytes(s.BytesOut))
}

func formatDurationS(sec float64) string {
	if sec < 60 {
		return fmt.Sprintf("%.1fs", sec)
	}
	return FormatSeconds(int64(sec + 0.5))
}

var tableHeader = []string{"requests", "rps", "failed", "p50", "p90", "p95", "p99", "max", "received"}

func tableRow(n results.NameSummary) []string {
	lat := func(ms float64) string {
		if n.Requests == 0 {
			return "-"
		}
		return FormatMs(ms)
	}
	return []string{
		FormatCount(n.Requests), FormatRate(n.RPS), FormatCount(n.Failures),
		lat(n.LatencyMs.P50), lat(n.LatencyMs.P90), lat(n.LatencyMs.P95), lat(n.LatencyMs.P99), lat(n.LatencyMs.Max),
		FormatBytes(n.BytesIn),
	}
}

func writeNameTable(b *strings.Builder, s *results.Summary) {
	names := slices.Sorted(maps.Keys(s.ByName))
	type row struct {
		name  string
		cells []string
	}
	rows := make([]row, 0, len(names)+1)
	for _, n := range names {
		rows = append(rows, row{n, tableRow(s.ByName[n])})
	}
	const overall = "all requests"
	rows = append(rows, row{overall, tableRow(s.NameSummary)})

	widths := make([]int, len(tableHeader))
	for i, h := range tableHeader {
		widths[i] = len(h)
	}
	for _, r := range rows {
		for i, c := range r.cells {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	figures := 0
	for _, wd := range widths {
		figures += wd + 1
	}
	nameWidth := len("name")
	for _, r := range rows {
		nameWidth = max(nameWidth, utf8.RuneCountInString(r.name))
	}
	nameWidth = min(nameWidth, max(TerminalWidth-figures, len(overall)))

	line := func(name string, cells []string) {
		b.WriteString(padRight(name, nameWidth))
		for i, c := range cells {
			b.WriteByte(' ')
			b.WriteString(padLeft(c, widths[i]))
		}
		b.WriteByte('\n')
	}
	line("name", tableHeader)
	for i, r := range rows {
		if i == len(rows)-1 {
			b.WriteString(strings.Repeat("─", nameWidth+figures))
			b.WriteByte('\n')
		}
		if utf8.RuneCountInString(r.name) > nameWidth {
			b.WriteString(r.name)
			b.WriteByte('\n')
			line("", r.cells)
			continue
		}
		line(r.name, r.cells)
	}
}

func writeFailures(b *strings.Builder, s *results.Summary) {
	if s.Failures == 0 {
		return
	}
	b.WriteString("\nfailures\n")
	names := slices.Sorted(maps.Keys(s.ByName))
	for _, n := range names {
		ns := s.ByName[n]
		if ns.Failures == 0 {
			continue
		}
		fmt.Fprintf(b, "  %s: %s of %s (%s): %s\n", n, FormatCount(ns.Failures), FormatCount(ns.Requests),
			FormatPercent(ns.ErrorRate), kindList(ns.FailuresByKind))
	}
}

// kindList renders failures by kind in the order of results.FailureKind,
// so the most basic failures (connection refused) come first.
func kindList(byKind map[string]int64) string {
	var parts []string
	for k := results.FailureKind(0); k < results.NumFailureKinds; k++ {
		if c := byKind[k.String()]; c > 0 {
			parts = append(parts, k.String()+" "+FormatCount(c))
		}
	}
	return strings.Join(parts, ", ")
}

func writeThresholds(b *strings.Builder, s *results.Summary) {
	if len(s.Thresholds) == 0 {
		return
	}
	b.WriteString("\nthresholds\n")
	exprWidth := 0
	for _, r := range s.Thresholds {
		exprWidth = max(exprWidth, utf8.RuneCountInString(r.Expr))
	}
	exprWidth = min(exprWidth, 40)
	passed := 0
	for _, r := range s.Thresholds {
		mark := "✗"
		if r.OK {
			mark = "✓"
			passed++
		}
		fmt.Fprintf(b, "  %s %s  %s\n", mark, padRight(r.Expr, exprWidth), ThresholdActual(r, s))
	}
	if passed == len(s.Thresholds) {
		fmt.Fprintf(b, "all %d thresholds held\n", passed)
	} else {
		fmt.Fprintf(b, "%d of %d thresholds failed\n", len(s.Thresholds)-passed, len(s.Thresholds))
	}
}

// ThresholdActual describes the measured value of a threshold result,
// e.g. "p95 = 212ms", or why there was none.
func ThresholdActual(r results.ThresholdResult, s *results.Summary) string {
	t, err := threshold.Parse(r.Expr)
	if err != nil {
		return fmt.Sprintf("%s = %g", r.Metric, r.Actual)
	}
	if _, ok := threshold.Actual(t, s); !ok {
		if t.Name != "" {
			if _, found := s.ByName[t.Name]; !found {
				return fmt.Sprintf("no requests named %q", t.Name)
			}
		}
		return "no requests, so no value"
	}
	var v string
	switch t.Kind {
	case threshold.Latency:
		v = FormatMs(r.Actual)
	case threshold.Ratio:
		v = FormatPercent(r.Actual)
	case threshold.Rate:
		v = FormatRate(r.Actual) + "/s"
	default:
		v = FormatCount(int64(r.Actual))
	}
	return r.Metric + " = " + v
}

func padRight(s string, w int) string {
	if n := utf8.RuneCountInString(s); n < w {
		return s + strings.Repeat(" ", w-n)
	}
	return s
}

func padLeft(s string, w int) string {
	if n := utf8.RuneCountInString(s); n < w {
		return strings.Repeat(" ", w-n) + s
	}
	return s
}
