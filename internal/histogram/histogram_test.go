package histogram

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestQuantileWithinPrecision(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		name string
		gen  func() int64
	}{
		{"uniform 1ms..50ms", func() int64 { return 1000 + rng.Int64N(49000) }},
		{"lognormal", func() int64 { return int64(math.Exp(rng.NormFloat64()*1.5 + 8)) }},
		{"tiny", func() int64 { return 1 + rng.Int64N(10) }},
		{"huge", func() int64 { return 1_000_000 + rng.Int64N(58_000_000) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := New()
			var samples []int64
			for range 20000 {
				v := min(max(tt.gen(), 1), Highest)
				samples = append(samples, v)
				h.Record(v)
			}
			slices.Sort(samples)
			for _, q := range []float64{0.5, 0.9, 0.95, 0.99, 0.999, 1} {
				want := samples[max(int(math.Ceil(q*float64(len(samples))))-1, 0)]
				got := h.Quantile(q)
				if got < want || float64(got-want) > float64(want)*0.001+1 {
					t.Errorf("q%.3f = %d, want %d within 0.1%%", q, got, want)
				}
			}
			if h.Max() != samples[len(samples)-1] || h.Min() != samples[0] {
				t.Errorf("min/max %d/%d, want %d/%d", h.Min(), h.Max(), samples[0], samples[len(samples)-1])
			}
		})
	}
}

func TestMergeIsExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	all, parts := New(), []*Histogram{New(), New(), New()}
	for i := range 30000 {
		v := int64(math.Exp(rng.NormFloat64()*2 + 7))
		all.Record(v)
		parts[i%3].Record(v)
	}
	merged := New()
	for _, p := range parts {
		merged.Merge(p)
	}
	if !merged.Equal(all) {
		t.Fatal("merged histogram differs from the one holding all samples")
	}
	for _, q := range []float64{0.5, 0.99, 0.9999} {
		if merged.Quantile(q) != all.Quantile(q) {
			t.Errorf("q%v: merged %d != all %d", q, merged.Quantile(q), all.Quantile(q))
		}
	}
}

func TestEncodingRoundTrip(t *testing.T) {
	h := New()
	for _, v := range []int64{0, 1, 2, 999, 1000, 2047, 2048, 123456, Highest, Highest + 5} {
		h.Record(v)
	}
	b, _ := h.MarshalBinary()
	var g Histogram
	if err := g.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if !g.Equal(h) || g.Saturated() != 1 || g.Mean() != h.Mean() {
		t.Fatal("round trip changed the histogram")
	}
	var e Histogram
	eb, _ := New().MarshalBinary()
	if err := e.UnmarshalBinary(eb); err != nil || e.Count() != 0 {
		t.Fatalf("empty round trip: %v", err)
	}
	if len(b) > 64 {
		t.Errorf("sparse encoding of 10 values is %d bytes", len(b))
	}
}

func TestResetReuses(t *testing.T) {
	h := New()
	h.Record(500)
	h.Reset()
	h.Record(7)
	if h.Count() != 1 || h.Min() != 7 || h.Max() != 7 || h.Quantile(0.5) != 7 {
		t.Fatalf("after reset: count %d min %d max %d", h.Count(), h.Min(), h.Max())
	}
}

func FuzzUnmarshal(f *testing.F) {
	h := New()
	h.Record(10)
	h.Record(1_000_000)
	b, _ := h.MarshalBinary()
	f.Add(b)
	f.Add([]byte{1, 0, 0, 0, 0, 0})
	f.Add([]byte{1, 1, 5, 5, 0, 0, 6, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		var g Histogram
		if err := g.UnmarshalBinary(data); err != nil {
			return
		}
		// Whatever decodes must re-encode to something that decodes equal.
		b2, _ := g.MarshalBinary()
		var k Histogram
		if err := k.UnmarshalBinary(b2); err != nil || !k.Equal(&g) {
			t.Fatalf("re-encode failed: %v", err)
		}
		_ = g.Quantile(0.99)
	})
}
