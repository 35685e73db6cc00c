package threshold

import (
	"github.com/brinkhq/brink/internal/results"
)

// Evaluate judges every threshold against s, in order. A threshold whose
// metric has no data (no requests at all, or no request with the scoped
// name) fails: a typo in a request name must not pass silently.
func Evaluate(ts []Threshold, s *results.Summary) []results.ThresholdResult {
	out := make([]results.ThresholdResult, 0, len(ts))
	for _, t := range ts {
		actual, ok := Actual(t, s)
		out = append(out, results.ThresholdResult{
			Expr: t.Expr, Metric: t.Metric, Actual: actual, Limit: t.Limit,
			OK: ok && t.Holds(actual),
		})
	}
	return out
}

// AllOK reports whether every result held. An empty list holds.
func AllOK(rs []results.ThresholdResult) bool {
	for _, r := range rs {
		if !r.OK {
			return false
		}
	}
	return true
}

// Holds reports whether actual satisfies t's comparison.
func (t Threshold) Holds(actual float64) bool {
	switch t.Op {
	case "<":
		return actual < t.Limit
	case "<=":
		return actual <= t.Limit
	case ">":
		return actual > t.Limit
	case ">=":
		return actual >= t.Limit
	case "==":
		return actual == t.Limit
	}
	return false
}

// Actual is the value t compares, in t's canonical unit, and whether there
// was data to compute it from.
func Actual(t Threshold, s *results.Summary) (float64, bool) {
	switch t.Metric {
	case "dropped":
		return float64(s.Dropped), true
	case "iterations":
		return float64(s.Iterations), true
	}
	ns := s.NameSummary
	if t.Name != "" {
		var found bool
		ns, found = s.ByName[t.Name]
		if !found {
			return 0, false
		}
	}
	switch t.Metric {
	case "rps":
		return ns.RPS, true
	case "requests":
		return float64(ns.Requests), true
	case "failures":
		if t.FailureKind != "" {
			return float64(ns.FailuresByKind[t.FailureKind]), true
		}
		return float64(ns.Failures), true
	case "error_rate":
		return ns.ErrorRate, ns.Requests > 0
	}
	lat := ns.LatencyMs
	metric := t.Metric
	if len(metric) > 5 && metric[:5] == "ttfb_" {
		lat, metric = ns.TTFBMs, metric[5:]
	}
	if ns.Requests == 0 {
		return 0, false
	}
	switch metric {
	case "p50":
		return lat.P50, true
	case "p90":
		return lat.P90, true
	case "p95":
		return lat.P95, true
	case "p99":
		return lat.P99, true
	case "p99.9":
		return lat.P999, true
	case "min":
		return lat.Min, true
	case "mean":
		return lat.Mean, true
	case "max":
		return lat.Max, true
	}
	return 0, false
}
