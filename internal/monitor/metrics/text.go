package metrics

import (
	"math"
	"strconv"
)

// ContentType is the media type of AppendText's output.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// AppendText appends the batch in the Prometheus text exposition format
// (version 0.0.4) to dst. Each family with at least one sample gets its
// HELP and TYPE lines once, followed by its samples. With timestamps, every
// sample carries the batch's sampling time in milliseconds, so a scraper
// stores the moment the value was read, not the moment it scraped.
func (b *Batch) AppendText(dst []byte, timestamps bool) []byte {
	var ts []byte
	if timestamps {
		ts = strconv.AppendInt([]byte{' '}, b.time.UnixMilli(), 10)
	}
	for _, f := range b.reg.families {
		samples := b.Samples(f)
		if len(samples) == 0 {
			continue
		}
		dst = append(dst, "# HELP "...)
		dst = append(dst, f.Name...)
		dst = append(dst, ' ')
		dst = appendHelp(dst, f.Help)
		dst = append(dst, "\n# TYPE "...)
		dst = append(dst, f.Name...)
		dst = append(dst, ' ')
		dst = append(dst, f.Type.String()...)
		dst = append(dst, '\n')
		for _, s := range samples {
			dst = append(dst, s.Series.text...)
			dst = append(dst, ' ')
			dst = AppendValue(dst, s.Value)
			dst = append(dst, ts...)
			dst = append(dst, '\n')
		}
	}
	return dst
}

// AppendValue formats v as the text format wants it: integers exactly and
// without exponent where a float64 holds them exactly, other numbers in
// the shortest form that reads back to the same float64.
func AppendValue(dst []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(dst, "NaN"...)
	case math.IsInf(v, 1):
		return append(dst, "+Inf"...)
	case math.IsInf(v, -1):
		return append(dst, "-Inf"...)
	case v == math.Trunc(v) && math.Abs(v) < 1<<53:
		return strconv.AppendInt(dst, int64(v), 10)
	}
	return strconv.AppendFloat(dst, v, 'g', -1, 64)
}

func appendHelp(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			dst = append(dst, `\\`...)
		case '\n':
			dst = append(dst, `\n`...)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// appendLabels appends `a="x",b="y"` with values escaped.
func appendLabels(dst []byte, labels []Label) []byte {
	for i, l := range labels {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, l.Name...)
		dst = append(dst, `="`...)
		for j := 0; j < len(l.Value); j++ {
			switch c := l.Value[j]; c {
			case '\\':
				dst = append(dst, `\\`...)
			case '"':
				dst = append(dst, `\"`...)
			case '\n':
				dst = append(dst, `\n`...)
			default:
				dst = append(dst, c)
			}
		}
		dst = append(dst, '"')
	}
	return dst
}
