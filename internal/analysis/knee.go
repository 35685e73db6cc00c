package analysis

import (
	"fmt"
	"math"
	"slices"

	"github.com/brinkhq/brink/internal/output"
)

// maxFitPoints bounds the piecewise-linear fit (quadratic in its input):
// longer ramps are averaged down to this many points first.
const maxFitPoints = 600

// timeline is the load timeline reduced to the arrays the detectors use.
type timeline struct {
	unix, t  []int64
	offered  []float64 // iterations/s (open) or VUs (closed)
	good     []float64 // successful requests in that second
	requests []float64
	failures []float64
	dropped  []float64
	p50, p95 []float64 // ms; NaN for a second without completed requests

	goodS, p95S []float64 // smoothed
	open        bool
	unit        string
}

func newTimeline(in Input, o Options) *timeline {
	tl := &timeline{}
	for _, p := range in.Timeline {
		if p.TargetRate > 0 {
			tl.open = true
		}
	}
	tl.unit = "VUs"
	if tl.open {
		tl.unit = "iterations/s"
	}
	for _, p := range in.Timeline {
		tl.unix = append(tl.unix, p.Unix)
		tl.t = append(tl.t, p.T)
		x := float64(p.VUs)
		if tl.open {
			x = p.TargetRate
		}
		tl.offered = append(tl.offered, x)
		tl.requests = append(tl.requests, float64(p.Requests))
		tl.failures = append(tl.failures, float64(p.Failures))
		tl.good = append(tl.good, float64(p.Requests-p.Failures))
		tl.dropped = append(tl.dropped, float64(p.Dropped))
		p50, p95 := math.NaN(), math.NaN()
		if p.Requests > 0 {
			p50, p95 = p.P50Ms, p.P95Ms
		}
		tl.p50 = append(tl.p50, p50)
		tl.p95 = append(tl.p95, p95)
	}
	tl.goodS = movingMedian(tl.good, o.Smooth)
	tl.p95S = movingMedian(tl.p95, o.Smooth)
	return tl
}

// errorRate is the failure fraction over the centered window of w seconds
// around i (counts summed, so quiet seconds weigh less than busy ones).
func (tl *timeline) errorRate(i, w int) float64 {
	var f, r float64
	for j := max(0, i-w/2); j <= min(len(tl.requests)-1, i+w/2); j++ {
		f += tl.failures[j]
		r += tl.requests[j]
	}
	if r == 0 {
		return 0
	}
	return f / r
}

// Analyze finds the knee of a run and the resource that limited it.
func Analyze(in Input, o Options) (res Result) {
	o = o.withDefaults()
	res = Result{Model: "closed", Findings: []Finding{}, Notes: []string{}, MaxSustainedWindowS: o.Smooth}
	defer res.sanitize()
	if len(in.Timeline) == 0 {
		res.Notes = append(res.Notes, "the run has no per-second results")
		res.Peak = snapshot(in.Resources, 0, -1)
		return res
	}
	tl := newTimeline(in, o)
	if tl.open {
		res.Model = "open"
	}
	res.MaxSustainedRPS, res.MaxSustainedUnix = maxSustained(tl.good, tl.unix, o.Smooth)
	res.Peak = snapshot(in.Resources, res.MaxSustainedUnix, res.MaxSustainedUnix+int64(max(o.Smooth, 1))-1)

	rpi := in.RequestsPerIteration
	if rpi <= 0 {
		rpi = 1
	}
	first, last, peak := risingDomain(tl.offered)
	if first < 0 {
		res.Notes = append(res.Notes, "no load was offered")
		return res
	}
	low := tl.offered[first]
	res.LoadVaried = low <= 0.7*peak
	var knee *Knee
	var from, to int64
	if res.LoadVaried {
		knee = varyingKnee(tl, first, last, rpi, o)
		if knee != nil {
			from, to = knee.Unix-1, knee.Unix+6
		}
	} else {
		knee = constantKnee(tl, first, last, rpi, o)
		if knee != nil {
			// The whole run is saturated: look at its middle, away from
			// the start-up and the drain.
			n := last - first + 1
			from, to = tl.unix[first+n/10], tl.unix[last-n/10]
		}
	}
	res.Knee = knee
	if knee == nil {
		if res.LoadVaried {
			res.Notes = append(res.Notes, fmt.Sprintf("no knee: throughput kept rising with the offered load up to %s %s, latency and errors stayed at their low-load level",
				formatLoad(peak), tl.unit))
		} else {
			res.Notes = append(res.Notes, fmt.Sprintf("the offered load was constant (%s %s) and the service kept up with it: no knee to place",
				formatLoad(peak), tl.unit))
		}
		return res
	}
	res.Findings = attribute(in, tl, knee, from, to, o)
	res.Limit = verdict(res.Findings)
	if in.GeneratorJitterP99Ms > float64(o.JitterLimit.Milliseconds()) {
		res.Notes = append(res.Notes, fmt.Sprintf("the generator started scheduled iterations up to %s late (p99 over the run): latency includes that lateness",
			output.FormatMs(in.GeneratorJitterP99Ms)))
	}
	return res
}

// risingDomain is the part of the run where the offered load climbs to
// its peak and holds there: from the first second with load to the last
// second at (nearly) the peak. A ramp-down after it says nothing new.
func risingDomain(offered []float64) (first, last int, peak float64) {
	first, last = -1, -1
	for i, x := range offered {
		if x > 0 && first < 0 {
			first = i
		}
		peak = max(peak, x)
	}
	if first < 0 {
		return -1, -1, 0
	}
	for i, x := range offered {
		if x >= 0.98*peak {
			last = i
		}
	}
	return first, last, peak
}

// maxSustained is the highest moving mean of v over w seconds.
func maxSustained(v []float64, unix []int64, w int) (float64, int64) {
	w = max(1, min(w, len(v)))
	var sum float64
	best, at := 0.0, int64(0)
	for i := range v {
		sum += v[i]
		if i >= w {
			sum -= v[i-w]
		}
		if i >= w-1 {
			if m := sum / float64(w); m > best {
				best, at = m, unix[i-w+1]
			}
		}
	}
	if at == 0 && len(unix) > 0 {
		at = unix[0]
	}
	return best, at
}

// baselineIdx are the low-load seconds of the rising domain: those in the
// lowest 30% of its load range, and at least the first few seconds.
func baselineIdx(tl *timeline, first, last int, sustain int) []int {
	lo, hi := math.Inf(1), math.Inf(-1)
	for i := first; i <= last; i++ {
		if tl.offered[i] > 0 {
			lo, hi = math.Min(lo, tl.offered[i]), math.Max(hi, tl.offered[i])
		}
	}
	limit := lo + 0.3*(hi-lo)
	var idx []int
	for i := first; i <= last; i++ {
		if tl.offered[i] > 0 && tl.offered[i] <= limit {
			idx = append(idx, i)
		} else if len(idx) >= sustain {
			break
		}
	}
	need := max(sustain, 3)
	for i := first + len(idx); len(idx) < need && i <= last; i++ {
		if !slices.Contains(idx, i) {
			idx = append(idx, i)
		}
	}
	return idx
}

type baseline struct {
	efficiency float64 // good req/s per unit of offered load
	p95, p50   float64 // ms
	errorRate  float64
}

func measureBaseline(tl *timeline, idx []int) baseline {
	var eff, p95, p50 []float64
	var f, r float64
	for _, i := range idx {
		if tl.offered[i] > 0 {
			eff = append(eff, tl.goodS[i]/tl.offered[i])
		}
		p95 = append(p95, tl.p95[i])
		p50 = append(p50, tl.p50[i])
		f += tl.failures[i]
		r += tl.requests[i]
	}
	b := baseline{efficiency: median(eff), p95: median(p95), p50: median(p50)}
	if r > 0 {
		b.errorRate = f / r
	}
	return b
}

// varyingKnee finds the knee of a run whose offered load rose.
func varyingKnee(tl *timeline, first, last int, rpi float64, o Options) *Knee {
	bidx := baselineIdx(tl, first, last, o.Sustain)
	b := measureBaseline(tl, bidx)
	if tl.open {
		// An open model knows what it asked for: rpi requests per
		// iteration. Measured low-load efficiency can only be lower when
		// the target was already short of it; never expect more.
		if math.IsNaN(b.efficiency) || b.efficiency > rpi {
			b.efficiency = rpi
		}
		if b.efficiency < o.ShortfallRatio*rpi {
			return saturatedFromStart(tl, first, last, rpi, b, o)
		}
	}
	start := bidx[len(bidx)-1] + 1
	var signals []Signal

	// Throughput: the achieved good throughput falls short of what the
	// offered load gives at low-load efficiency.
	expected := func(i int) float64 { return b.efficiency * tl.offered[i] }
	if i := firstSustained(start, last+1, o.Sustain, func(i int) bool {
		return tl.goodS[i] < o.ShortfallRatio*expected(i)
	}); i >= 0 {
		// Walk back to where the shortfall started to form, then let the
		// piecewise-linear fit place the bend within that stretch.
		j := i
		for j-1 >= start && tl.goodS[j-1] < 0.97*expected(j-1) {
			j--
		}
		k := refineWithFit(tl.offered, tl.goodS, first, i+max(o.Sustain, (i-first)/5), j, i)
		signals = append(signals, Signal{
			Kind: SignalThroughput, Unix: tl.unix[k], T: tl.t[k], Offered: tl.offered[k],
			Value: tl.goodS[k], Baseline: expected(k),
			Text: fmt.Sprintf("throughput stopped rising with the offered load: %s req/s good at %s %s (%s expected at low-load efficiency)",
				output.FormatRate(tl.goodS[k]), formatLoad(tl.offered[k]), tl.unit, output.FormatRate(expected(k))),
		})
	}

	// Latency: the smoothed p95 rises well above its low-load level.
	if !math.IsNaN(b.p95) {
		limit := math.Max(o.LatencyFactor*b.p95, b.p95+float64(o.LatencyFloor.Microseconds())/1000)
		above := func(i int) bool {
			// A second without any completion while load is offered is the
			// worst latency of all, not a missing one.
			return tl.p95S[i] > limit || (math.IsNaN(tl.p95S[i]) && tl.offered[i] > 0)
		}
		// A knee holds: at the load where latency turned up and above it,
		// latency stays up for at least half of the seconds. A stretch that
		// falls back to the low-load level while the load holds was a
		// hiccup (a pause of the host, a replica joining), not a bend.
		persists := func(i int) bool {
			seconds, up := 0, 0
			for n := i; n <= last; n++ {
				if tl.offered[n] >= 0.95*tl.offered[i] {
					seconds++
					if above(n) {
						up++
					}
				}
			}
			return 2*up >= seconds
		}
		i := firstSustained(start, last+1, o.Sustain, above)
		for i >= 0 && !persists(i) {
			next := i
			for next <= last && above(next) {
				next++
			}
			i = firstSustained(next, last+1, o.Sustain, above)
		}
		if i >= 0 {
			j := i
			for j-1 >= start && (tl.p95S[j-1] > 1.2*b.p95 || math.IsNaN(tl.p95S[j-1])) {
				j--
			}
			logP95 := make([]float64, len(tl.p95S))
			for n, v := range tl.p95S {
				logP95[n] = math.Log(math.Max(v, 0.001))
			}
			k := refineWithFit(tl.offered, logP95, first, i+max(o.Sustain, (i-first)/5), j, i)
			signals = append(signals, Signal{
				Kind: SignalLatency, Unix: tl.unix[k], T: tl.t[k], Offered: tl.offered[k],
				Value: tl.p95S[k], Baseline: b.p95,
				Text: fmt.Sprintf("p95 latency turned up at %s %s: %s, from %s at low load (above %s from %s)",
					formatLoad(tl.offered[k]), tl.unit, formatMs(tl.p95S[k]), formatMs(b.p95), formatMs(limit), formatT(tl.t[i])),
			})
		}
	}

	// Errors: the error rate rises above its low-load level.
	onset := b.errorRate + o.ErrorOnset
	if i := firstSustained(start, last+1, o.Sustain, func(i int) bool {
		return tl.errorRate(i, 3) >= onset
	}); i >= 0 {
		j := i
		for j-1 >= start && tl.failures[j-1] > 0 && tl.errorRate(j-1, 1) >= b.errorRate+o.ErrorOnset/2 {
			j--
		}
		signals = append(signals, Signal{
			Kind: SignalErrors, Unix: tl.unix[j], T: tl.t[j], Offered: tl.offered[j],
			Value: tl.errorRate(i, 3), Baseline: b.errorRate,
			Text: fmt.Sprintf("errors began at %s %s: %s of requests failed (%s at low load)",
				formatLoad(tl.offered[j]), tl.unit, output.FormatPercent(tl.errorRate(i, 3)), output.FormatPercent(b.errorRate)),
		})
	}
	if len(signals) == 0 {
		return nil
	}
	slices.SortStableFunc(signals, func(a, b Signal) int { return int(a.Unix - b.Unix) })
	s := signals[0]
	at := slices.Index(tl.unix, s.Unix)
	return &Knee{
		Unix: s.Unix, T: s.T, Offered: s.Offered, OfferedUnit: tl.unit,
		Throughput: tl.goodS[at], Cause: s.Kind, Signals: signals,
	}
}

// refineWithFit places a bend with the piecewise-linear fit of y against
// the offered load over [first, end), and returns the first index whose
// load reaches it, kept within [lo, hi] — the stretch where simpler
// threshold tests saw the change begin and become sure.
func refineWithFit(offered, y []float64, first, end, lo, hi int) int {
	end = min(end, len(offered))
	xs, ys := binned(offered[first:end], y[first:end], maxFitPoints)
	k, before, after, ok := hingeFit(xs, ys, max(3, len(xs)/20))
	if !ok || before == after {
		return lo
	}
	for i := lo; i <= hi; i++ {
		if offered[i] >= k {
			return i
		}
	}
	return lo
}

// binned averages consecutive points so that at most n remain.
func binned(x, y []float64, n int) ([]float64, []float64) {
	if len(x) <= n {
		return x, y
	}
	size := (len(x) + n - 1) / n
	var bx, by []float64
	for i := 0; i < len(x); i += size {
		var sx, sy float64
		var c int
		for j := i; j < min(i+size, len(x)); j++ {
			if !math.IsNaN(x[j]) && !math.IsNaN(y[j]) {
				sx += x[j]
				sy += y[j]
				c++
			}
		}
		if c > 0 {
			bx = append(bx, sx/float64(c))
			by = append(by, sy/float64(c))
		}
	}
	return bx, by
}

// saturatedFromStart is an open-model run that fell short of its offered
// load from the first seconds: the knee is at or below the lowest load.
func saturatedFromStart(tl *timeline, first, last int, rpi float64, b baseline, o Options) *Knee {
	k := &Knee{
		Unix: tl.unix[first], T: tl.t[first], Offered: tl.offered[first], OfferedUnit: tl.unit,
		Throughput: tl.goodS[first], Cause: SignalThroughput, Throughout: true,
	}
	k.Signals = []Signal{{
		Kind: SignalThroughput, Unix: k.Unix, T: k.T, Offered: k.Offered, Value: b.efficiency * k.Offered, Baseline: rpi * k.Offered,
		Text: fmt.Sprintf("already saturated at the lowest load: %s req/s good of %s offered",
			output.FormatRate(b.efficiency*k.Offered), output.FormatRate(rpi*k.Offered)),
	}}
	return k
}

// constantKnee judges a run whose offered load did not vary: it either
// kept up (nil) or was saturated throughout.
func constantKnee(tl *timeline, first, last int, rpi float64, o Options) *Knee {
	n := last - first + 1
	mid := make([]int, 0, n)
	for i := first + n/10; i <= last-n/10; i++ {
		mid = append(mid, i)
	}
	if len(mid) == 0 {
		return nil
	}
	var eff []float64
	var f, r, good float64
	for _, i := range mid {
		if tl.offered[i] > 0 {
			eff = append(eff, tl.good[i]/tl.offered[i])
		}
		f += tl.failures[i]
		r += tl.requests[i]
		good += tl.good[i]
	}
	e := median(eff)
	offered := median(slices.Clone(tl.offered[first : last+1]))
	k := &Knee{
		Unix: tl.unix[first], T: tl.t[first], Offered: offered, OfferedUnit: tl.unit,
		Throughput: good / float64(len(mid)), Throughout: true,
	}
	if tl.open && e < o.ShortfallRatio*rpi {
		k.Cause = SignalThroughput
		k.Signals = append(k.Signals, Signal{Kind: SignalThroughput, Unix: k.Unix, T: k.T, Offered: offered, Value: k.Throughput, Baseline: rpi * offered,
			Text: fmt.Sprintf("saturated throughout: %s req/s good of %s offered", output.FormatRate(k.Throughput), output.FormatRate(rpi*offered))})
	}
	if r > 0 && f/r >= o.ErrorOnset {
		if k.Cause == "" {
			k.Cause = SignalErrors
		}
		k.Signals = append(k.Signals, Signal{Kind: SignalErrors, Unix: k.Unix, T: k.T, Offered: offered, Value: f / r,
			Text: fmt.Sprintf("saturated throughout: %s of requests failed", output.FormatPercent(f/r))})
	}
	if k.Cause == "" {
		return nil
	}
	return k
}

// formatLoad renders an offered load: whole numbers plainly, rates with
// the precision they need.
func formatLoad(x float64) string {
	if x == math.Trunc(x) {
		return output.FormatCount(int64(x))
	}
	return output.FormatRate(x)
}

func formatMs(ms float64) string {
	if math.IsNaN(ms) {
		return "no responses"
	}
	return output.FormatMs(ms)
}

func formatT(t int64) string { return fmt.Sprintf("t=%ds", t) }
