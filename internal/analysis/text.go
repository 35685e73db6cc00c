package analysis

import (
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/brinkhq/brink/internal/output"
)

// Headline is the knee and its cause in one line, for progress output
// and run summaries: "knee at 1,380 iterations/s (t=42s, 1,372 req/s
// good): target web-1 CPU at 0.50 of 0.50 cores (100%), throttled in 82%
// of periods".
func (r *Result) Headline() string {
	h := r.KneeText()
	if r.Knee != nil && r.Limit != nil {
		h += ": " + r.Limit.Text
	}
	return h
}

// KneeText is the knee alone, without the limiting resource: "knee at
// 1,380 iterations/s (t=42s, 1,372 req/s good, throughput stopped
// rising)", or why there is none.
func (r *Result) KneeText() string {
	if r.Knee == nil {
		if len(r.Notes) > 0 {
			return r.Notes[0]
		}
		return "no knee"
	}
	k := r.Knee
	if k.Throughout {
		return fmt.Sprintf("saturated throughout at %s %s (%s req/s good)", formatLoad(k.Offered), k.OfferedUnit, output.FormatRate(k.Throughput))
	}
	return fmt.Sprintf("knee at %s %s (%s, %s req/s good, %s)", formatLoad(k.Offered), k.OfferedUnit, formatT(k.T),
		output.FormatRate(k.Throughput), causeText(k.Cause))
}

func causeText(c SignalKind) string {
	switch c {
	case SignalThroughput:
		return "throughput stopped rising"
	case SignalLatency:
		return "latency turned up"
	case SignalErrors:
		return "errors began"
	}
	return string(c)
}

// WriteText writes the analysis for a terminal: the knee, every signal,
// the limiting resource and the other resources examined.
func (r *Result) WriteText(w io.Writer) error {
	var b strings.Builder
	b.WriteString("Saturation analysis\n")
	fmt.Fprintf(&b, "  max sustained throughput  %s req/s good (best %d s)\n", output.FormatRate(r.MaxSustainedRPS), r.MaxSustainedWindowS)
	if r.Knee == nil {
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "  %s\n", n)
		}
		_, err := io.WriteString(w, b.String())
		return err
	}
	k := r.Knee
	if k.Throughout {
		fmt.Fprintf(&b, "  saturated throughout     at %s %s\n", formatLoad(k.Offered), k.OfferedUnit)
	} else {
		fmt.Fprintf(&b, "  knee                      %s %s at %s, %s req/s good\n", formatLoad(k.Offered), k.OfferedUnit, formatT(k.T), output.FormatRate(k.Throughput))
	}
	for _, s := range k.Signals {
		fmt.Fprintf(&b, "    %-7s %s\n", formatT(s.T), s.Text)
	}
	if r.Limit != nil {
		label := "limit"
		if r.Limit.Generator {
			label = "limit (generator)"
		}
		fmt.Fprintf(&b, "  %-25s %s\n", label, r.Limit.Text)
	}
	others := 0
	for _, f := range r.Findings {
		if r.Limit != nil && f.Resource == r.Limit.Resource && f.Entity == r.Limit.Entity {
			continue
		}
		if others == 0 {
			b.WriteString("  also at the knee\n")
		}
		others++
		mark := " "
		if f.Saturated {
			mark = "!"
		}
		fmt.Fprintf(&b, "    %s %s\n", mark, f.Text)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "  note: %s\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// finite replaces NaN and infinities (which JSON cannot carry) with 0.
func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

// sanitize makes every figure of r finite so that it encodes as JSON.
func (r *Result) sanitize() {
	r.MaxSustainedRPS = finite(r.MaxSustainedRPS)
	if k := r.Knee; k != nil {
		k.Offered, k.Throughput = finite(k.Offered), finite(k.Throughput)
		for i := range k.Signals {
			s := &k.Signals[i]
			s.Offered, s.Value, s.Baseline = finite(s.Offered), finite(s.Value), finite(s.Baseline)
		}
	}
	for i := range r.Findings {
		f := &r.Findings[i]
		f.Used, f.Limit, f.Utilization, f.ThrottledRatio = finite(f.Used), finite(f.Limit), finite(f.Utilization), finite(f.ThrottledRatio)
	}
}
