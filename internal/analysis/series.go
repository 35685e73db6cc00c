package analysis

import (
	"math"
	"slices"
)

// movingMedian smooths v with a centered window of w points (NaN values
// are skipped; a window of only NaN stays NaN). A median ignores a single
// wild second entirely, where a mean would smear it over the window.
func movingMedian(v []float64, w int) []float64 {
	out := make([]float64, len(v))
	if w < 1 {
		w = 1
	}
	half := w / 2
	buf := make([]float64, 0, w)
	for i := range v {
		buf = buf[:0]
		for j := max(0, i-half); j <= min(len(v)-1, i+half); j++ {
			if !math.IsNaN(v[j]) {
				buf = append(buf, v[j])
			}
		}
		out[i] = median(buf)
	}
	return out
}

// median of v (sorted in place); NaN when empty.
func median(v []float64) float64 {
	return quantile(v, 0.5)
}

// quantile of v with linear interpolation (sorts v in place); NaN values
// are ignored; NaN when nothing is left.
func quantile(v []float64, q float64) float64 {
	v = slices.DeleteFunc(v, math.IsNaN)
	if len(v) == 0 {
		return math.NaN()
	}
	slices.Sort(v)
	pos := q * float64(len(v)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(v)-1)
	return v[lo] + (v[hi]-v[lo])*(pos-float64(lo))
}

// hingeFit fits y = a + b·x + c·max(0, x−k) by least squares over every
// candidate breakpoint k among the distinct x values that leave at least
// minSide points on each side, and returns the best k. It is the
// continuous two-segment (piecewise-linear) model of "rises, then bends";
// ok is false when there are too few points to fit.
func hingeFit(x, y []float64, minSide int) (k float64, slopeBefore, slopeAfter float64, ok bool) {
	type pt struct{ x, y float64 }
	var pts []pt
	for i := range x {
		if !math.IsNaN(x[i]) && !math.IsNaN(y[i]) {
			pts = append(pts, pt{x[i], y[i]})
		}
	}
	if minSide < 2 {
		minSide = 2
	}
	if len(pts) < 2*minSide+1 {
		return 0, 0, 0, false
	}
	slices.SortStableFunc(pts, func(a, b pt) int {
		switch {
		case a.x < b.x:
			return -1
		case a.x > b.x:
			return 1
		}
		return 0
	})
	best := math.Inf(1)
	for i := minSide; i < len(pts)-minSide; i++ {
		kk := pts[i].x
		if kk == pts[i-1].x {
			continue // one candidate per distinct x
		}
		// Normal equations of the 3-parameter linear model with fixed kk.
		var s [3][3]float64
		var r [3]float64
		for _, p := range pts {
			f := [3]float64{1, p.x, math.Max(0, p.x-kk)}
			for u := range 3 {
				for v := range 3 {
					s[u][v] += f[u] * f[v]
				}
				r[u] += f[u] * p.y
			}
		}
		coef, solved := solve3(s, r)
		if !solved {
			continue
		}
		var sse float64
		for _, p := range pts {
			d := p.y - (coef[0] + coef[1]*p.x + coef[2]*math.Max(0, p.x-kk))
			sse += d * d
		}
		if sse < best {
			best, k, slopeBefore, slopeAfter, ok = sse, kk, coef[1], coef[1]+coef[2], true
		}
	}
	return k, slopeBefore, slopeAfter, ok
}

// solve3 solves a 3×3 linear system by Gaussian elimination with partial
// pivoting; false when it is singular.
func solve3(a [3][3]float64, b [3]float64) ([3]float64, bool) {
	for col := range 3 {
		p := col
		for r := col + 1; r < 3; r++ {
			if math.Abs(a[r][col]) > math.Abs(a[p][col]) {
				p = r
			}
		}
		if math.Abs(a[p][col]) < 1e-12 {
			return [3]float64{}, false
		}
		a[col], a[p] = a[p], a[col]
		b[col], b[p] = b[p], b[col]
		for r := col + 1; r < 3; r++ {
			f := a[r][col] / a[col][col]
			for c := col; c < 3; c++ {
				a[r][c] -= f * a[col][c]
			}
			b[r] -= f * b[col]
		}
	}
	var x [3]float64
	for r := 2; r >= 0; r-- {
		sum := b[r]
		for c := r + 1; c < 3; c++ {
			sum -= a[r][c] * x[c]
		}
		x[r] = sum / a[r][r]
	}
	return x, true
}

// firstSustained returns the first index i in [from, to) from which
// cond holds for n consecutive indexes, or -1.
func firstSustained(from, to, n int, cond func(int) bool) int {
	run := 0
	for i := from; i < to; i++ {
		if cond(i) {
			run++
			if run >= n {
				return i - n + 1
			}
		} else {
			run = 0
		}
	}
	return -1
}

// window returns the values of s in [from, to] (unix seconds).
func (s *Series) window(from, to int64) []float64 {
	var out []float64
	for _, p := range s.Points {
		if p.T >= from && p.T <= to && !math.IsNaN(p.V) && !math.IsInf(p.V, 0) {
			out = append(out, p.V)
		}
	}
	return out
}
