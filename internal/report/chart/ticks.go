package chart

import (
	"math"
)

// NiceTicks returns about n evenly spaced "nice" tick values (steps of 1, 2
// or 5 times a power of ten) covering [lo, hi], and the rounded-out range
// they span.
func NiceTicks(lo, hi float64, n int) (ticks []float64, min, max float64) {
	return ticksWithSteps(lo, hi, n, niceStep)
}

// TimeTicks is NiceTicks for an axis in seconds: steps are whole seconds
// that read well on a clock (1, 2, 5, 10, 15, 30 s, 1, 2, 5, 10, 15, 30 min,
// 1, 2, 3, 6, 12 h, then days).
func TimeTicks(lo, hi float64, n int) (ticks []float64, min, max float64) {
	return ticksWithSteps(lo, hi, n, timeStep)
}

func ticksWithSteps(lo, hi float64, n int, step func(float64) float64) ([]float64, float64, float64) {
	if n < 2 {
		n = 2
	}
	if math.IsNaN(lo) || math.IsNaN(hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		lo, hi = 0, 1
	}
	if hi < lo {
		lo, hi = hi, lo
	}
	if hi == lo {
		if lo == 0 {
			hi = 1
		} else {
			pad := math.Abs(lo) * 0.1
			lo, hi = lo-pad, hi+pad
		}
	}
	s := step((hi - lo) / float64(n-1))
	min := roundTo(math.Floor(lo/s+1e-9)*s, s)
	max := roundTo(math.Ceil(hi/s-1e-9)*s, s)
	count := int(math.Round((max-min)/s)) + 1
	ticks := make([]float64, 0, count)
	for i := 0; i < count; i++ {
		v := min + float64(i)*s
		if math.Abs(v) < s*1e-9 {
			v = 0 // no "-0" and no 1e-17 from accumulated error
		}
		ticks = append(ticks, roundTo(v, s))
	}
	return ticks, min, max
}

// niceStep rounds raw up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	exp := math.Floor(math.Log10(raw))
	base := math.Pow(10, exp)
	f := raw / base
	switch {
	case f <= 1:
		return base
	case f <= 2:
		return 2 * base
	case f <= 5:
		return 5 * base
	default:
		return 10 * base
	}
}

var timeSteps = []float64{
	1, 2, 5, 10, 15, 30,
	60, 120, 300, 600, 900, 1800,
	3600, 7200, 10800, 21600, 43200, 86400,
}

func timeStep(raw float64) float64 {
	if raw < 1 {
		return niceStep(raw)
	}
	for _, s := range timeSteps {
		if raw <= s {
			return s
		}
	}
	return math.Ceil(raw/86400) * 86400
}

// roundTo removes floating-point noise from v, a multiple of step.
func roundTo(v, step float64) float64 {
	digits := max(0, -math.Floor(math.Log10(step))+1)
	p := math.Pow(10, digits)
	return math.Round(v*p) / p
}
