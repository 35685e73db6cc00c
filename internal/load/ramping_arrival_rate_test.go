package load

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/brinkhq/brink/internal/scenario"
)

func TestArrivalScheduleDue(t *testing.T) {
	sec := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	tests := []struct {
		name   string
		start  float64
		stages []scenario.Stage
		want   map[int64]time.Duration
		total  int64 // iterations in the schedule
	}{
		{"constant 10/s", 10, []scenario.Stage{{Target: 10, Duration: time.Second}},
			map[int64]time.Duration{0: 0, 1: sec(0.1), 9: sec(0.9)}, 10},
		// rate 100·t per second: N(t) = 50t², due(i) = sqrt(i/50).
		{"ramp up", 0, []scenario.Stage{{Target: 100, Duration: time.Second}},
			map[int64]time.Duration{0: 0, 2: sec(0.2), 8: sec(0.4), 32: sec(0.8), 49: sec(math.Sqrt(49.0 / 50))}, 50},
		// rate 100−100t: N(t) = 100t − 50t², due(i) = 1 − sqrt(1 − i/50).
		{"ramp down", 100, []scenario.Stage{{Target: 0, Duration: time.Second}},
			map[int64]time.Duration{0: 0, 18: sec(0.2), 32: sec(0.4), 48: sec(0.8)}, 50},
		{"hold then pause then resume", 10, []scenario.Stage{
			{Target: 10, Duration: time.Second}, {Target: 0, Duration: 0}, {Target: 0, Duration: time.Second}, {Target: 10, Duration: 0}, {Target: 10, Duration: time.Second}},
			map[int64]time.Duration{9: sec(0.9), 10: sec(2), 19: sec(2.9)}, 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sch, err := newArrivalSchedule(tt.start, tt.stages, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			var n int64
			prev := time.Duration(-1)
			for ; ; n++ {
				d, ok := sch.Due(n)
				if !ok {
					break
				}
				if d < prev {
					t.Fatalf("due(%d) = %v before due(%d) = %v", n, d, n-1, prev)
				}
				prev = d
				if want, ok := tt.want[n]; ok && (d-want).Abs() > time.Microsecond {
					t.Errorf("due(%d) = %v, want %v", n, d, want)
				}
				if n > 10*tt.total {
					t.Fatal("schedule never ends")
				}
			}
			if n != tt.total {
				t.Errorf("%d iterations, want %d", n, tt.total)
			}
		})
	}
}

func TestArrivalScheduleRateAt(t *testing.T) {
	sch, err := newArrivalSchedule(60, []scenario.Stage{{Target: 120, Duration: time.Second}, {Target: 0, Duration: time.Second}}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for at, want := range map[time.Duration]float64{0: 1, 500 * time.Millisecond: 1.5, time.Second: 2, 1500 * time.Millisecond: 1, 3 * time.Second: 0} {
		if got := sch.RateAt(at); math.Abs(got-want) > 1e-9 {
			t.Errorf("RateAt(%v) = %v/s, want %v/s", at, got, want)
		}
	}
}

func TestRampingArrivalRate(t *testing.T) {
	x, err := NewExecutor(scenario.ExecutorConfig{Kind: scenario.RampingArrivalRate, StartRate: 0, TimeUnit: time.Second,
		Stages:          []scenario.Stage{{Target: 200, Duration: 500 * time.Millisecond}, {Target: 200, Duration: 250 * time.Millisecond}},
		PreAllocatedVUs: 2, MaxVUs: 200})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(time.Millisecond)
	runExecutor(t, context.Background(), x, f.env(), time.Minute)
	// ∫ rate = 200/2 × 0.5 s + 200 × 0.25 s = 50 + 50.
	if got := f.iterations.Load() + f.dropped.Load(); got != 100 {
		t.Fatalf("%d iterations scheduled (%d dropped), want 100", got, f.dropped.Load())
	}
	if f.vus.Load() != 0 || f.maxVUs.Load() > 200 {
		t.Fatalf("%d VUs left, peak %d", f.vus.Load(), f.maxVUs.Load())
	}
}

func TestRampingArrivalRateRejectsBadConfig(t *testing.T) {
	for _, cfg := range []scenario.ExecutorConfig{
		{Kind: scenario.RampingArrivalRate, MaxVUs: 1},
		{Kind: scenario.RampingArrivalRate, MaxVUs: 1, Stages: []scenario.Stage{{Target: 5, Duration: 0}}},
		{Kind: scenario.RampingArrivalRate, MaxVUs: 1, Stages: []scenario.Stage{{Target: -5, Duration: time.Second}}},
	} {
		if _, err := NewExecutor(cfg); err == nil {
			t.Errorf("%+v: no error", cfg)
		}
	}
}
