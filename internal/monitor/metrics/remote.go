package metrics

import (
	"slices"
	"strings"

	"github.com/prometheus/prometheus/prompb"
)

type remoteLabel = prompb.Label

// remoteLabels returns the series' labels as remote write wants them:
// __name__ first, then every label sorted by name. Built once per series.
func (s *Series) remoteLabels() []prompb.Label {
	if s.remote != nil {
		return s.remote
	}
	var base []Label
	if s.base != nil {
		base = s.base.labels
	}
	ls := make([]prompb.Label, 0, 1+len(base)+len(s.extra))
	ls = append(ls, prompb.Label{Name: "__name__", Value: s.family.Name})
	for _, l := range base {
		ls = append(ls, prompb.Label{Name: l.Name, Value: l.Value})
	}
	for _, l := range s.extra {
		ls = append(ls, prompb.Label{Name: l.Name, Value: l.Value})
	}
	slices.SortFunc(ls[1:], func(a, b prompb.Label) int { return strings.Compare(a.Name, b.Name) })
	s.remote = ls
	return ls
}

// AppendTimeSeries appends one prompb.TimeSeries per sample, each with the
// batch's sampling time, reusing the sample slices already in dst's spare
// capacity so that a steady-state tick allocates nothing. It must be called
// from one goroutine at a time per batch (it caches label slices on series).
func (b *Batch) AppendTimeSeries(dst []prompb.TimeSeries) []prompb.TimeSeries {
	ts := b.time.UnixMilli()
	for _, samples := range b.byFamily {
		for _, s := range samples {
			n := len(dst)
			if n < cap(dst) {
				dst = dst[:n+1]
			} else {
				dst = append(dst, prompb.TimeSeries{})
			}
			t := &dst[n]
			t.Labels = s.Series.remoteLabels()
			t.Samples = append(t.Samples[:0], prompb.Sample{Value: s.Value, Timestamp: ts})
			t.Exemplars = t.Exemplars[:0]
			t.Histograms = t.Histograms[:0]
		}
	}
	return dst
}
