package autoscale

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// Reading is one target's measurement at decision time.
type Reading struct {
	Target Target
	// Value is the per-replica value compared with the target (CPU: used /
	// limit over the replicas that report; RPS: total / replicas).
	Value float64
	// Missing says why there is no value ("" when there is one): the query
	// failed, returned nothing, or the data is older than the window.
	Missing string
	// Reporting is, for per-replica resource data (CPU), how many replicas
	// the value covers; replicas without data are then handled as the HPA
	// does. 0 for service-level values.
	Reporting int
	Window    time.Duration // the window the value was measured over
	Note      string        // extra context for the reason (e.g. the capacity it came from)
}

// Input is what one decision looks at.
type Input struct {
	Now      time.Time
	Current  int // replicas that exist and are not terminating
	Readings []Reading
	Fast     bool // the fast path's short-window check
}

// TargetResult is what one target proposed.
type TargetResult struct {
	Name     string  `json:"name"`
	Value    float64 `json:"value"`
	Target   float64 `json:"target"`
	Ratio    float64 `json:"ratio"`
	Proposed int     `json:"proposed"` // replicas this target asks for; -1 when missing
	Missing  string  `json:"missing,omitempty"`
	Text     string  `json:"text"` // "cpu 0.94 of limit over 15s > target 0.70"
}

// Decision is the outcome of one evaluation.
type Decision struct {
	Time        time.Time      `json:"time"`
	Current     int            `json:"current"`
	Desired     int            `json:"desired"`     // what the autoscaler sets
	Recommended int            `json:"recommended"` // the targets' own answer, before stabilisation and limits (-1 if none)
	Targets     []TargetResult `json:"targets"`
	Limited     string         `json:"limited,omitempty"` // what held the recommendation back
	Fast        bool           `json:"fast"`
	Reason      string         `json:"reason"`
}

// Change reports whether the decision changes the replica count.
func (d Decision) Change() bool { return d.Desired != d.Current }

// History is one service's memory between decisions: recommendations for
// the stabilisation windows and past scale events for the step limits,
// kept exactly as the HPA controller keeps them.
type History struct {
	seeded bool
	// seed is the count the windows open with (HPA): it stands for the
	// measurements from before the autoscaler started, which nobody took,
	// so it counts for each whole window whatever the windows span.
	seed *timedInt
	recs []timedInt // unstabilised recommendations
	ups  []timedInt // replicas added, per scale event
	down []timedInt // replicas removed, per scale event
}

type timedInt struct {
	t time.Time
	n int
}

// Record notes that the service was scaled from one count to another.
func (h *History) Record(now time.Time, from, to int) {
	switch {
	case to > from:
		h.ups = append(h.ups, timedInt{now, to - from})
	case to < from:
		h.down = append(h.down, timedInt{now, from - to})
	}
}

// prune drops what no window or period can reach any more.
func (h *History) prune(now time.Time, keep time.Duration) {
	cut := func(xs []timedInt) []timedInt {
		i := 0
		for i < len(xs) && now.Sub(xs[i].t) > keep {
			i++
		}
		return xs[i:]
	}
	h.recs, h.ups, h.down = cut(h.recs), cut(h.ups), cut(h.down)
}

func changedIn(events []timedInt, now time.Time, period time.Duration) int {
	n := 0
	for _, e := range events {
		if now.Sub(e.t) < period {
			n += e.n
		}
	}
	return n
}

// ceilRatio is ceil(x) that ignores floating-point dust (3.0000000001 is 3).
func ceilRatio(x float64) int {
	return int(math.Ceil(x - 1e-9))
}

// propose is one target's replica count, following the HPA's
// replica calculator. ok is false when the target has no value.
func propose(r Reading, current int, tolerance float64) (int, float64, bool) {
	if r.Missing != "" || r.Target.Value <= 0 || math.IsNaN(r.Value) || math.IsInf(r.Value, 0) {
		return -1, 0, false
	}
	ratio := r.Value / r.Target.Value
	if r.Reporting <= 0 || r.Reporting >= current {
		// Service-level value, or every replica reports.
		if math.Abs(1-ratio) <= tolerance {
			return current, ratio, true
		}
		n := current
		if r.Reporting > 0 {
			n = r.Reporting
		}
		return ceilRatio(ratio * float64(n)), ratio, true
	}
	// Some replicas report nothing yet (starting) or any more: assume they
	// use nothing when scaling up and their whole limit when scaling down,
	// and never let that assumption turn the direction around (HPA).
	missing := current - r.Reporting
	var newRatio float64
	switch {
	case ratio > 1:
		newRatio = r.Value * float64(r.Reporting) / float64(current) / r.Target.Value
	case ratio < 1:
		fallback := math.Max(1, r.Target.Value)
		newRatio = (r.Value*float64(r.Reporting) + fallback*float64(missing)) / float64(current) / r.Target.Value
	default:
		return current, ratio, true
	}
	if math.Abs(1-newRatio) <= tolerance || (ratio < 1 && newRatio > 1) || (ratio > 1 && newRatio < 1) {
		return current, newRatio, true
	}
	n := ceilRatio(newRatio * float64(current))
	if (newRatio < 1 && n > current) || (newRatio > 1 && n < current) {
		return current, newRatio, true
	}
	return n, newRatio, true
}

func describe(r Reading, ratio float64, tolerance float64, current int) string {
	t := r.Target
	name := t.Name()
	if r.Missing != "" {
		return fmt.Sprintf("%s missing: %s", name, r.Missing)
	}
	cmp := "="
	switch {
	case math.Abs(1-ratio) <= tolerance:
		cmp = "≈"
	case ratio > 1:
		cmp = ">"
	case ratio < 1:
		cmp = "<"
	}
	s := fmt.Sprintf("%s %s", name, t.Format(r.Value))
	if r.Window > 0 && t.Kind != PromQL {
		s += fmt.Sprintf(" over %s", r.Window)
	}
	target := t.Format(t.Value)
	if t.Kind == CPU {
		target = fmt.Sprintf("%.2f", t.Value)
	}
	s += fmt.Sprintf(" %s target %s", cmp, target)
	if r.Reporting > 0 && r.Reporting < current {
		s += fmt.Sprintf(" (%d of %d replicas reporting)", r.Reporting, current)
	}
	if r.Note != "" {
		s += " (" + r.Note + ")"
	}
	return s
}

// Decide makes one decision for service policy p and records its
// recommendation in h. It is a pure function of its arguments and h, so it
// is tested against the HPA's documented behaviour with tables.
//
// desired = the largest over targets of ceil(current × value / target),
// no change within the tolerance band, then the stabilisation windows,
// the step limits and min/max. Missing data never scales down: when a
// target is missing, only a scale-up that the others ask for goes through.
func Decide(p *ServicePolicy, h *History, in Input) Decision {
	d := Decision{Time: in.Now, Current: in.Current, Desired: in.Current, Recommended: -1, Fast: in.Fast}
	longest := p.ScaleUp.Stabilization
	if p.ScaleDown.Stabilization > longest {
		longest = p.ScaleDown.Stabilization
	}
	for _, sp := range append(append([]StepPolicy{}, p.ScaleUp.Policies...), p.ScaleDown.Policies...) {
		if sp.Period > longest {
			longest = sp.Period
		}
	}
	h.prune(in.Now, longest)
	if !h.seeded {
		// As the HPA does when it starts: the scale-down window opens with
		// the current count, so a restart never scales in at once.
		h.seeded = true
		if p.ScaleDown.Stabilization > 0 {
			h.seed = &timedInt{in.Now, in.Current}
		}
	}

	recommended, missing, driver := -1, []string{}, -1
	for i, r := range in.Readings {
		n, ratio, ok := propose(r, in.Current, p.Tolerance)
		tr := TargetResult{Name: r.Target.Name(), Value: r.Value, Target: r.Target.Value, Ratio: ratio,
			Proposed: n, Missing: r.Missing, Text: describe(r, ratio, p.Tolerance, in.Current)}
		if !ok {
			tr.Proposed = -1
			if tr.Missing == "" {
				tr.Missing = "no usable value"
			}
			missing = append(missing, tr.Text)
		} else if n > recommended {
			recommended, driver = n, i
		}
		d.Targets = append(d.Targets, tr)
	}
	d.Recommended = recommended

	// Outside the bounds, come back inside whatever the metrics say (HPA).
	if in.Current > p.Max {
		d.Desired, d.Limited = p.Max, fmt.Sprintf("above max %d", p.Max)
		d.Reason = fmt.Sprintf("%d replicas are above max %d → %d→%d", in.Current, p.Max, in.Current, p.Max)
		return d
	}
	if in.Current < p.Min {
		d.Desired, d.Limited = p.Min, fmt.Sprintf("below min %d", p.Min)
		d.Reason = fmt.Sprintf("%d replicas are below min %d → %d→%d", in.Current, p.Min, in.Current, p.Min)
		return d
	}
	if recommended < 0 {
		d.Limited = "missing metrics"
		d.Reason = fmt.Sprintf("hold at %d: no target has data (%s)", in.Current, strings.Join(missing, "; "))
		return d
	}
	if len(missing) > 0 && recommended < in.Current {
		d.Limited = "missing metrics"
		d.Reason = fmt.Sprintf("hold at %d: the other targets would scale down to %d, but %s; never scaling down on missing data",
			in.Current, recommended, strings.Join(missing, "; "))
		return d
	}
	driverText := d.Targets[driver].Text

	// Stabilisation (HPA stabilizeRecommendationWithBehaviors).
	upRec, downRec := recommended, recommended
	upCut, downCut := in.Now.Add(-p.stabilizationSpan(p.ScaleUp)), in.Now.Add(-p.stabilizationSpan(p.ScaleDown))
	if in.Fast {
		upCut = in.Now // the fast path skips the scale-up window
	}
	for _, r := range h.recs {
		if r.t.After(upCut) && r.n < upRec {
			upRec = r.n
		}
		if r.t.After(downCut) && r.n > downRec {
			downRec = r.n
		}
	}
	if sd := h.seed; sd != nil {
		if sd.t.After(in.Now.Add(-p.ScaleUp.Stabilization)) && !in.Fast && sd.n < upRec {
			upRec = sd.n
		}
		if sd.t.After(in.Now.Add(-p.ScaleDown.Stabilization)) && sd.n > downRec {
			downRec = sd.n
		}
	}
	stabilised := in.Current
	if stabilised < upRec {
		stabilised = upRec
	}
	if stabilised > downRec {
		stabilised = downRec
	}
	if !in.Fast || recommended > in.Current {
		h.recs = append(h.recs, timedInt{in.Now, recommended})
	}
	var limited string
	switch {
	case stabilised < recommended && recommended > in.Current:
		limited = fmt.Sprintf("scale-up stabilisation window %s (lowest recommendation in it: %d)", p.ScaleUp.Stabilization, upRec)
	case stabilised > recommended && recommended < in.Current:
		spans := ""
		if p.ScaleDown.FromMeasurements {
			spans = " of measurements"
		}
		limited = fmt.Sprintf("scale-down stabilisation window %s%s (highest recommendation in it: %d)", p.ScaleDown.Stabilization, spans, downRec)
	}

	// Step limits and bounds (HPA convertDesiredReplicasWithBehaviorRate).
	desired := stabilised
	if desired > in.Current {
		limit := upLimit(p.ScaleUp, in.Current, h, in.Now)
		if limit < in.Current {
			limit = in.Current
		}
		maxAllowed, why := p.Max, fmt.Sprintf("max %d replicas", p.Max)
		if limit < maxAllowed {
			maxAllowed, why = limit, "scale-up limit "+describePolicies(p.ScaleUp)
		}
		if desired > maxAllowed {
			desired, limited = maxAllowed, why
		}
	} else if desired < in.Current {
		limit := downLimit(p.ScaleDown, in.Current, h, in.Now)
		if limit > in.Current {
			limit = in.Current
		}
		minAllowed, why := p.Min, fmt.Sprintf("min %d replicas", p.Min)
		if limit > minAllowed {
			minAllowed, why = limit, "scale-down limit "+describePolicies(p.ScaleDown)
		}
		if desired < minAllowed {
			desired, limited = minAllowed, why
		}
	}
	if in.Fast && desired <= in.Current {
		// The fast path only ever adds replicas; everything else waits for
		// the regular decision.
		desired = in.Current
	}
	d.Desired, d.Limited = desired, limited

	switch {
	case desired != in.Current:
		d.Reason = fmt.Sprintf("%s → %d→%d", driverText, in.Current, desired)
		if limited != "" {
			d.Reason += fmt.Sprintf(" (asked %d, held by %s)", recommended, limited)
		}
		if in.Fast {
			d.Reason = "fast path: " + d.Reason
		}
	case recommended == in.Current:
		d.Reason = fmt.Sprintf("hold at %d: %s", in.Current, driverText)
	default:
		d.Reason = fmt.Sprintf("hold at %d: %s asks %d, held by %s", in.Current, driverText, recommended, limited)
	}
	return d
}

// stabilizationSpan is how far back a direction's recommendations count:
// its stabilisation window, less the averaging window when the
// stabilisation spans measurements (see Behavior.FromMeasurements).
func (p *ServicePolicy) stabilizationSpan(b Behavior) time.Duration {
	if !b.FromMeasurements {
		return b.Stabilization
	}
	// A recommendation whose oldest sample is exactly Stabilization old is
	// out. With the usual round figures (60 s − 15 s, decided every 5 s)
	// that moment falls on a decision tick, where a millisecond of timer
	// jitter would otherwise decide between now and one interval later.
	return max(b.Stabilization-p.Window-stabilizationResolution, 0)
}

// stabilizationResolution is how finely stabilisation compares times when
// it spans measurements: far coarser than timer jitter, far finer than any
// decision interval.
const stabilizationResolution = 100 * time.Millisecond

func describePolicies(b Behavior) string {
	if b.Select == "disabled" {
		return "(disabled)"
	}
	parts := make([]string, len(b.Policies))
	for i, p := range b.Policies {
		parts[i] = p.String()
	}
	sort.Strings(parts)
	return "(" + b.Select + " of " + strings.Join(parts, ", ") + ")"
}

// upLimit is HPA's calculateScaleUpLimitWithScalingRules.
func upLimit(b Behavior, current int, h *History, now time.Time) int {
	if b.Select == "disabled" || len(b.Policies) == 0 {
		return current
	}
	result := math.MinInt
	pick := func(a, c int) int { return max(a, c) }
	if b.Select == "min" {
		result, pick = math.MaxInt, func(a, c int) int { return min(a, c) }
	}
	for _, sp := range b.Policies {
		start := current - changedIn(h.ups, now, sp.Period) + changedIn(h.down, now, sp.Period)
		var proposed int
		if sp.Pods > 0 {
			proposed = start + sp.Pods
		} else {
			proposed = int(math.Ceil(float64(start) * (1 + float64(sp.Percent)/100)))
		}
		result = pick(result, proposed)
	}
	return result
}

// downLimit is HPA's calculateScaleDownLimitWithBehaviors.
func downLimit(b Behavior, current int, h *History, now time.Time) int {
	if b.Select == "disabled" || len(b.Policies) == 0 {
		return current
	}
	result := math.MaxInt
	pick := func(a, c int) int { return min(a, c) }
	if b.Select == "min" {
		result, pick = math.MinInt, func(a, c int) int { return max(a, c) }
	}
	for _, sp := range b.Policies {
		start := current - changedIn(h.ups, now, sp.Period) + changedIn(h.down, now, sp.Period)
		var proposed int
		if sp.Pods > 0 {
			proposed = start - sp.Pods
		} else {
			proposed = int(float64(start) * (1 - float64(sp.Percent)/100))
		}
		result = pick(result, proposed)
	}
	return result
}
