package output

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/brinkhq/brink/internal/results"
)

// Progress shows a running test once per second. On a terminal it redraws a
// compact block in place (cursor up, clear line, rewrite: one write per
// frame, so it does not flicker); otherwise it prints one plain key=value
// line per second whose keys never change, for logs and grep.
//
// It is not safe for concurrent use: one goroutine (the one that receives
// the engine's Seconds) calls Second and Done.
type Progress struct {
	w                 io.Writer
	terminal          bool
	planned           time.Duration
	plannedIterations int64
	label             string

	drawn      int // lines of the block currently on screen
	seconds    int
	elapsed    time.Duration
	iterations int64
	requests   int64
	failures   int64
	dropped    int64
	last       lastSecond
	done       bool
}

// lastSecond is what the block shows about the most recent second.
type lastSecond struct {
	vus                int
	targetRate         float64
	requests, failures int64
	dropped            int64
	p50, p95, p99      float64 // ms
}

// TerminalWidth is the width the terminal block is laid out for.
const TerminalWidth = 80

const barWidth = 30

// NewProgress returns a Progress writing to w. planned is the planned
// duration of the run (0 when unknown: iteration-bound or until Ctrl-C);
// label names the run (scenario file or URL).
func NewProgress(w io.Writer, isTerminal bool, planned time.Duration, label string) *Progress {
	return &Progress{w: w, terminal: isTerminal, planned: planned, label: label}
}

// SetPlannedIterations makes the bar count iterations done out of n instead
// of time (for runs bounded by an iteration count).
func (p *Progress) SetPlannedIterations(n int64) { p.plannedIterations = n }

// Second shows one more second of results; sinceStart is the time from the
// start of the run to the end of that second.
func (p *Progress) Second(sec *results.Second, sinceStart time.Duration) {
	if p.done {
		return
	}
	total := sec.Total()
	p.seconds++
	p.elapsed = sinceStart
	p.iterations += sec.Iterations
	p.requests += total.Requests
	p.failures += total.FailureCount()
	p.dropped += sec.Dropped
	p.last = lastSecond{
		vus: sec.VUs, targetRate: sec.TargetRate,
		requests: total.Requests, failures: total.FailureCount(), dropped: sec.Dropped,
	}
	if total.Latency.Count() > 0 {
		p.last.p50 = results.Ms(total.Latency.Quantile(0.5))
		p.last.p95 = results.Ms(total.Latency.Quantile(0.95))
		p.last.p99 = results.Ms(total.Latency.Quantile(0.99))
	}
	if p.terminal {
		p.redraw(p.block("running"))
		return
	}
	io.WriteString(p.w, p.line()+"\n")
}

// Done ends the display. On a terminal the block is drawn a last time,
// marked done, and left on screen; otherwise one closing line sums up the
// run so far. Calling it twice is harmless.
func (p *Progress) Done() {
	if p.done {
		return
	}
	p.done = true
	if p.terminal {
		p.redraw(p.block("done"))
		return
	}
	fmt.Fprintf(p.w, "done elapsed=%s requests=%d failures=%d iterations=%d dropped=%d\n",
		FormatSeconds(int64(p.elapsed.Round(time.Second)/time.Second)), p.requests, p.failures, p.iterations, p.dropped)
}

// fraction is how far the run is, 0..1, or -1 when there is no plan to
// measure against.
func (p *Progress) fraction() float64 {
	var f float64
	switch {
	case p.plannedIterations > 0:
		f = float64(p.iterations) / float64(p.plannedIterations)
	case p.planned > 0:
		f = float64(p.elapsed) / float64(p.planned)
	default:
		return -1
	}
	return min(f, 1)
}

func (p *Progress) line() string {
	var b strings.Builder
	sec := int64(p.elapsed.Round(time.Second) / time.Second)
	fmt.Fprintf(&b, "t=%d vus=%d rate=%s rps=%d p50_ms=%s p95_ms=%s p99_ms=%s failures=%d error_rate=%s dropped=%d iterations=%d",
		sec, p.last.vus, strconv.FormatFloat(p.last.targetRate, 'f', -1, 64), p.last.requests,
		msField(p.last.p50), msField(p.last.p95), msField(p.last.p99),
		p.last.failures, FormatPercent(errorRate(p.last.failures, p.last.requests)), p.last.dropped, p.iterations)
	if f := p.fraction(); f >= 0 {
		fmt.Fprintf(&b, " progress=%d%%", int(f*100))
	} else {
		b.WriteString(" progress=-")
	}
	return b.String()
}

func msField(ms float64) string { return strconv.FormatFloat(ms, 'f', 3, 64) }

func errorRate(failures, requests int64) float64 {
	if requests == 0 {
		return 0
	}
	return float64(failures) / float64(requests)
}

// block lays out the terminal view, every line at most TerminalWidth wide:
//
//	brink · GET http://127.0.0.1:8080/
//	[██████████████░░░░░░░░░░░░░░░░]  45%  running 13s / 30s, 17s left
//	vus 50   rps 10,234   errors 0.00% (0)   dropped 0
//	last second  p50 1.20ms   p95 3.40ms   p99 8.10ms
func (p *Progress) block(state string) []string {
	label := "brink"
	if p.label != "" {
		label += " · " + p.label
	}
	elapsed := int64(p.elapsed.Round(time.Second) / time.Second)
	f := p.fraction()
	var status string
	switch {
	case p.plannedIterations > 0:
		status = fmt.Sprintf("%s %s / %s iterations, %s", state, FormatCount(p.iterations), FormatCount(p.plannedIterations), FormatSeconds(elapsed))
	case p.planned > 0:
		plannedSec := int64(p.planned.Round(time.Second) / time.Second)
		status = fmt.Sprintf("%s %s / %s", state, FormatSeconds(elapsed), FormatSeconds(plannedSec))
		if left := plannedSec - elapsed; left > 0 && state == "running" {
			status += ", " + FormatSeconds(left) + " left"
		} else if state == "running" {
			status += ", stopping"
		}
	default:
		status = fmt.Sprintf("%s %s, until stopped", state, FormatSeconds(elapsed))
		if state != "running" {
			status = fmt.Sprintf("%s %s", state, FormatSeconds(elapsed))
		}
	}
	var bar string
	if f >= 0 {
		filled := int(f*barWidth + 0.5)
		bar = fmt.Sprintf("[%s%s] %3d%%  %s", strings.Repeat("█", filled), strings.Repeat("░", barWidth-filled), int(f*100), status)
	} else {
		// No plan to measure against: a marker that moves one cell per
		// second shows the run is alive without pretending to know its end.
		pos := p.seconds % barWidth
		bar = fmt.Sprintf("[%s█%s]       %s", strings.Repeat("░", pos), strings.Repeat("░", barWidth-1-pos), status)
	}
	load := "vus " + FormatCount(int64(p.last.vus))
	if p.last.targetRate > 0 {
		load = "rate " + FormatRate(p.last.targetRate) + "/s   " + load
	}
	counts := fmt.Sprintf("%s   rps %s   errors %s (%s)   dropped %s", load, FormatCount(p.last.requests),
		FormatPercent(errorRate(p.last.failures, p.last.requests)), FormatCount(p.last.failures), FormatCount(p.last.dropped))
	lat := fmt.Sprintf("last second  p50 %s   p95 %s   p99 %s   total %s requests", latencyCell(p.last.p50, p.last.requests),
		latencyCell(p.last.p95, p.last.requests), latencyCell(p.last.p99, p.last.requests), FormatCount(p.requests))
	return []string{fit(label), fit(bar), fit(counts), fit(lat)}
}

func latencyCell(ms float64, requests int64) string {
	if requests == 0 {
		return "-"
	}
	return FormatMs(ms)
}

// fit cuts s to TerminalWidth characters, marking the cut with "…".
func fit(s string) string {
	if utf8.RuneCountInString(s) <= TerminalWidth {
		return s
	}
	r := []rune(s)
	return string(r[:TerminalWidth-1]) + "…"
}

// redraw replaces the block on screen with lines in one write: move the
// cursor up over the old block, then clear and rewrite each line.
func (p *Progress) redraw(lines []string) {
	var buf bytes.Buffer
	if p.drawn > 0 {
		fmt.Fprintf(&buf, "\x1b[%dA", p.drawn)
	}
	for _, l := range lines {
		buf.WriteString("\r\x1b[2K")
		buf.WriteString(l)
		buf.WriteByte('\n')
	}
	p.drawn = len(lines)
	p.w.Write(buf.Bytes())
}
