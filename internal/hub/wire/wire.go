// Package wire converts load results (internal/results) to and from the
// brink.v1 protobuf messages that reporters send to the hub. Latency
// histograms cross the wire in internal/histogram's sparse encoding, so a
// second decoded here is exactly the second that was measured, and merging
// decoded seconds from several sources is exact.
package wire

import (
	"fmt"
	"math"
	"slices"

	brinkv1 "github.com/brinkhq/brink/internal/gen/brink/v1"
	"github.com/brinkhq/brink/internal/histogram"
	"github.com/brinkhq/brink/internal/results"
)

// Limits on what one decoded second may hold; a reporter exceeding them is
// broken or hostile.
const (
	MaxNamesPerSecond = 10_000
	MaxNameLength     = 1024
)

// SecondToProto encodes s with sequence number seq.
func SecondToProto(s *results.Second, seq uint64) *brinkv1.Second {
	p := &brinkv1.Second{
		Sequence: seq, UnixSecond: s.T, Vus: int64(s.VUs), TargetRate: s.TargetRate,
		Iterations: s.Iterations, Dropped: s.Dropped,
		ByName: make([]*brinkv1.Stats, 0, len(s.ByName)),
	}
	for _, name := range s.Names() {
		st := s.ByName[name]
		ps := &brinkv1.Stats{
			Name: name, Requests: st.Requests, BytesIn: st.BytesIn, BytesOut: st.BytesOut,
			Latency: st.Latency.AppendBinary(nil), Ttfb: st.TTFB.AppendBinary(nil),
		}
		for k, n := range st.Failures {
			if n != 0 {
				if ps.Failures == nil {
					ps.Failures = map[string]int64{}
				}
				ps.Failures[results.FailureKind(k).String()] = n
			}
		}
		p.ByName = append(p.ByName, ps)
	}
	return p
}

// SecondFromProto decodes and validates p. Every field arrives from the
// network, so counts must be non-negative, names bounded and unique, failure
// kinds known and histograms well formed.
func SecondFromProto(p *brinkv1.Second) (*results.Second, error) {
	if p == nil {
		return nil, fmt.Errorf("empty second")
	}
	if p.UnixSecond <= 0 || p.UnixSecond > math.MaxInt64/1000-1 {
		return nil, fmt.Errorf("second %d: unix_second out of range", p.Sequence)
	}
	if p.Vus < 0 || p.Iterations < 0 || p.Dropped < 0 || p.Vus > math.MaxInt32 {
		return nil, fmt.Errorf("second %d: negative or huge counter", p.Sequence)
	}
	if math.IsNaN(p.TargetRate) || math.IsInf(p.TargetRate, 0) || p.TargetRate < 0 {
		return nil, fmt.Errorf("second %d: target_rate %v is not a finite non-negative number", p.Sequence, p.TargetRate)
	}
	if len(p.ByName) > MaxNamesPerSecond {
		return nil, fmt.Errorf("second %d: %d request names, at most %d allowed", p.Sequence, len(p.ByName), MaxNamesPerSecond)
	}
	s := results.NewSecond(p.UnixSecond)
	s.VUs, s.TargetRate, s.Iterations, s.Dropped = int(p.Vus), p.TargetRate, p.Iterations, p.Dropped
	for _, ps := range p.ByName {
		if ps == nil || len(ps.Name) > MaxNameLength {
			return nil, fmt.Errorf("second %d: request name missing or longer than %d bytes", p.Sequence, MaxNameLength)
		}
		if _, dup := s.ByName[ps.Name]; dup {
			return nil, fmt.Errorf("second %d: request name %q appears twice", p.Sequence, ps.Name)
		}
		st, err := statsFromProto(ps)
		if err != nil {
			return nil, fmt.Errorf("second %d, request %q: %w", p.Sequence, ps.Name, err)
		}
		s.ByName[ps.Name] = st
	}
	return s, nil
}

func statsFromProto(ps *brinkv1.Stats) (*results.Stats, error) {
	if ps.Requests < 0 || ps.BytesIn < 0 || ps.BytesOut < 0 {
		return nil, fmt.Errorf("negative counter")
	}
	st := results.NewStats()
	st.Requests, st.BytesIn, st.BytesOut = ps.Requests, ps.BytesIn, ps.BytesOut
	var failed int64
	for kind, n := range ps.Failures {
		k, err := results.ParseFailureKind(kind)
		if err != nil {
			return nil, err
		}
		if n < 0 || n > ps.Requests {
			return nil, fmt.Errorf("%d %s failures out of %d requests", n, kind, ps.Requests)
		}
		st.Failures[k] = n
		failed += n
	}
	if failed > ps.Requests {
		return nil, fmt.Errorf("%d failures out of %d requests", failed, ps.Requests)
	}
	if err := decodeHistogram(st.Latency, ps.Latency); err != nil {
		return nil, fmt.Errorf("latency histogram: %w", err)
	}
	if err := decodeHistogram(st.TTFB, ps.Ttfb); err != nil {
		return nil, fmt.Errorf("ttfb histogram: %w", err)
	}
	return st, nil
}

// decodeHistogram treats an absent histogram as empty, so reporters that
// do not measure TTFB can leave it out.
func decodeHistogram(h *histogram.Histogram, b []byte) error {
	if len(b) == 0 {
		return nil
	}
	return h.UnmarshalBinary(b)
}

// ThresholdsToProto encodes threshold outcomes.
func ThresholdsToProto(ts []results.ThresholdResult) []*brinkv1.ThresholdResult {
	out := make([]*brinkv1.ThresholdResult, 0, len(ts))
	for _, t := range ts {
		out = append(out, &brinkv1.ThresholdResult{Expr: t.Expr, Metric: t.Metric, Actual: t.Actual, Limit: t.Limit, Ok: t.OK})
	}
	return out
}

// ThresholdsFromProto decodes threshold outcomes.
func ThresholdsFromProto(ps []*brinkv1.ThresholdResult) []results.ThresholdResult {
	out := make([]results.ThresholdResult, 0, len(ps))
	for _, p := range ps {
		if p == nil {
			continue
		}
		out = append(out, results.ThresholdResult{Expr: p.Expr, Metric: p.Metric, Actual: p.Actual, Limit: p.Limit, OK: p.Ok})
	}
	return slices.Clip(out)
}
