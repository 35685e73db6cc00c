// Package output renders a run's results for people and programs: the live
// progress block (or one plain line per second when stdout is not a
// terminal), the end-of-run summary table, and the JSON and CSV files
// written by `--out json=PATH` and `--out csv=PATH`.
package output

import (
	"math"
	"strconv"
	"strings"
)

// FormatMs renders a latency in milliseconds compactly, in at most six
// characters for everything under 100 s: "523µs", "1.20ms", "12.3ms",
// "123ms", "1.23s", "12.3s".
func FormatMs(ms float64) string {
	switch {
	case ms <= 0:
		return "0"
	case ms < 0.9995:
		return strconv.FormatFloat(ms*1000, 'f', 0, 64) + "µs"
	case ms < 9.995:
		return strconv.FormatFloat(ms, 'f', 2, 64) + "ms"
	case ms < 99.95:
		return strconv.FormatFloat(ms, 'f', 1, 64) + "ms"
	case ms < 999.5:
		return strconv.FormatFloat(ms, 'f', 0, 64) + "ms"
	case ms < 9995:
		return strconv.FormatFloat(ms/1000, 'f', 2, 64) + "s"
	default:
		return strconv.FormatFloat(ms/1000, 'f', 1, 64) + "s"
	}
}

// FormatCount renders an integer with thousands separators: "1,234,567".
func FormatCount(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
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
		b.WriteByte(',')
		b.WriteString(s[i : i+3])
	}
	return b.String()
}

// FormatRate renders a per-second rate: one decimal under 100, whole
// numbers with thousands separators above.
func FormatRate(r float64) string {
	if r < 99.95 {
		return strconv.FormatFloat(r, 'f', 1, 64)
	}
	return FormatCount(int64(math.Round(r)))
}

// FormatPercent renders a fraction as a percentage with two decimals.
func FormatPercent(f float64) string {
	return strconv.FormatFloat(f*100, 'f', 2, 64) + "%"
}

// FormatBytes renders a byte count in decimal units: "512B", "12.3kB", "4.56MB".
func FormatBytes(n int64) string {
	const units = "kMGTPE"
	if n < 1000 {
		return strconv.FormatInt(n, 10) + "B"
	}
	v := float64(n)
	i := -1
	for v >= 999.95 && i < len(units)-1 {
		v /= 1000
		i++
	}
	prec := 1
	if v < 9.995 {
		prec = 2
	} else if v >= 99.95 {
		prec = 0
	}
	return strconv.FormatFloat(v, 'f', prec, 64) + string(units[i]) + "B"
}

// FormatSeconds renders a duration in whole seconds as "45s", "2m05s" or "1h02m03s".
func FormatSeconds(sec int64) string {
	if sec < 0 {
		sec = 0
	}
	h, m, s := sec/3600, sec/60%60, sec%60
	switch {
	case h > 0:
		return strconv.FormatInt(h, 10) + "h" + pad2(m) + "m" + pad2(s) + "s"
	case m > 0:
		return strconv.FormatInt(m, 10) + "m" + pad2(s) + "s"
	default:
		return strconv.FormatInt(s, 10) + "s"
	}
}

func pad2(n int64) string {
	if n < 10 {
		return "0" + strconv.FormatInt(n, 10)
	}
	return strconv.FormatInt(n, 10)
}
