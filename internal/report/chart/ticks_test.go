package chart

import (
	"slices"
	"testing"
)

func TestNiceTicks(t *testing.T) {
	tests := []struct {
		lo, hi   float64
		n        int
		want     []float64
		min, max float64
	}{
		{0, 10, 6, []float64{0, 2, 4, 6, 8, 10}, 0, 10},
		{0, 1074, 6, []float64{0, 500, 1000, 1500}, 0, 1500},
		{0, 97, 6, []float64{0, 20, 40, 60, 80, 100}, 0, 100},
		{0, 0.013, 5, []float64{0, 0.005, 0.01, 0.015}, 0, 0.015},
		{0, 0, 6, []float64{0, 0.2, 0.4, 0.6, 0.8, 1}, 0, 1},
		{-3, 7, 6, []float64{-4, -2, 0, 2, 4, 6, 8}, -4, 8},
		{5, 5, 6, []float64{4.4, 4.6, 4.8, 5, 5.2, 5.4, 5.6}, 4.4, 5.6},
		{0.1, 0.3, 3, []float64{0.1, 0.2, 0.3}, 0.1, 0.3},
	}
	for _, tt := range tests {
		got, min, max := NiceTicks(tt.lo, tt.hi, tt.n)
		if !slices.Equal(got, tt.want) || min != tt.min || max != tt.max {
			t.Errorf("NiceTicks(%v, %v, %d) = %v [%v, %v], want %v [%v, %v]", tt.lo, tt.hi, tt.n, got, min, max, tt.want, tt.min, tt.max)
		}
	}
}

func TestTimeTicks(t *testing.T) {
	tests := []struct {
		lo, hi float64
		want   []float64
	}{
		{0, 7, []float64{0, 1, 2, 3, 4, 5, 6, 7}},
		{0, 119, []float64{0, 30, 60, 90, 120}},
		{0, 600, []float64{0, 120, 240, 360, 480, 600}},
		{0, 3 * 3600, []float64{0, 1800, 3600, 5400, 7200, 9000, 10800}},
		{0, 20 * 86400, []float64{0, 3 * 86400, 6 * 86400, 9 * 86400, 12 * 86400, 15 * 86400, 18 * 86400, 21 * 86400}},
	}
	for _, tt := range tests {
		got, _, _ := TimeTicks(tt.lo, tt.hi, 8)
		if !slices.Equal(got, tt.want) {
			t.Errorf("TimeTicks(%v, %v) = %v, want %v", tt.lo, tt.hi, got, tt.want)
		}
	}
}

func TestNumber(t *testing.T) {
	tests := []struct {
		v    float64
		want string
	}{
		{0, "0"}, {1, "1"}, {1.5, "1.5"}, {1.2345, "1.234"}, {12.345, "12.35"}, {123.45, "123.5"},
		{1380, "1,380"}, {-2500.4, "-2,500"}, {0.01234, "0.0123"}, {1234567, "1,234,567"},
	}
	for _, tt := range tests {
		if got := Number(tt.v); got != tt.want {
			t.Errorf("Number(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}
