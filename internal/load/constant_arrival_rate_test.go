package load

import (
	"context"
	"testing"
	"time"

	"github.com/brinkhq/brink/internal/scenario"
)

func TestConstantArrivalRate(t *testing.T) {
	tests := []struct {
		name        string
		cfg         scenario.ExecutorConfig
		work        time.Duration
		wantStarted int64 // iterations that ran
		wantDropped int64 // -1: some, not a fixed number
	}{
		{"every iteration starts", scenario.ExecutorConfig{Kind: scenario.ConstantArrivalRate, Rate: 200, TimeUnit: time.Second,
			Duration: time.Second, PreAllocatedVUs: 5, MaxVUs: 500}, time.Millisecond, 200, 0},
		{"per-minute unit", scenario.ExecutorConfig{Kind: scenario.ConstantArrivalRate, Rate: 6000, TimeUnit: time.Minute,
			Duration: 500 * time.Millisecond, PreAllocatedVUs: 5, MaxVUs: 500}, 0, 50, 0},
		// 10,000/s × 0.3 s is 3000.0000000000005 in floating point.
		{"float rate", scenario.ExecutorConfig{Kind: scenario.ConstantArrivalRate, Rate: 10000, TimeUnit: time.Second,
			Duration: 300 * time.Millisecond, PreAllocatedVUs: 50, MaxVUs: 500}, 0, 3000, 0},
		{"iterations cap", scenario.ExecutorConfig{Kind: scenario.ConstantArrivalRate, Rate: 1000, TimeUnit: time.Second,
			Duration: time.Hour, Iterations: 30, PreAllocatedVUs: 5, MaxVUs: 5}, 0, 30, 0},
		// Two VUs busy for 300 ms each cannot serve 100/s: the rest are
		// dropped, and drops plus starts add up to the schedule.
		{"pool exhausted", scenario.ExecutorConfig{Kind: scenario.ConstantArrivalRate, Rate: 100, TimeUnit: time.Second,
			Duration: time.Second, PreAllocatedVUs: 1, MaxVUs: 2}, 300 * time.Millisecond, -1, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x, err := NewExecutor(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			f := newFixture(tt.work)
			runExecutor(t, context.Background(), x, f.env(), time.Minute)
			started, dropped := f.iterations.Load(), f.dropped.Load()
			if tt.wantStarted >= 0 && started != tt.wantStarted {
				t.Errorf("%d iterations started, want %d", started, tt.wantStarted)
			}
			if tt.wantDropped >= 0 && dropped != tt.wantDropped {
				t.Errorf("%d dropped, want %d", dropped, tt.wantDropped)
			}
			if tt.wantDropped < 0 {
				if started+dropped != 100 || dropped == 0 || started > 10 {
					t.Errorf("%d started + %d dropped; want 100 scheduled, most dropped", started, dropped)
				}
				if f.created.Load() != 2 {
					t.Errorf("created %d VUs, want the max of 2", f.created.Load())
				}
			}
			if f.vus.Load() != 0 || f.done.Load() != started || f.endings.Load() != 1 {
				t.Errorf("after the run: %d VUs left, %d done of %d, %d endings", f.vus.Load(), f.done.Load(), started, f.endings.Load())
			}
		})
	}
}

// Iterations are handed the time they were scheduled for, evenly spaced,
// so latency can be measured from it.
func TestConstantArrivalRateDueTimes(t *testing.T) {
	x, err := NewExecutor(scenario.ExecutorConfig{Kind: scenario.ConstantArrivalRate, Rate: 50, TimeUnit: time.Second,
		Duration: 400 * time.Millisecond, PreAllocatedVUs: 2, MaxVUs: 10})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(0)
	runExecutor(t, context.Background(), x, f.env(), time.Minute)
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.dues) != 20 {
		t.Fatalf("%d iterations, want 20", len(f.dues))
	}
	first := f.dues[0]
	for _, d := range f.dues {
		if d.Before(first) {
			first = d
		}
	}
	seen := map[time.Duration]bool{}
	for _, d := range f.dues {
		off := d.Sub(first)
		if off%(20*time.Millisecond) != 0 || off >= 400*time.Millisecond || seen[off] {
			t.Fatalf("due offset %v is not a distinct multiple of 20ms within 400ms", off)
		}
		seen[off] = true
	}
}

func TestConstantArrivalRateStop(t *testing.T) {
	x, _ := NewExecutor(scenario.ExecutorConfig{Kind: scenario.ConstantArrivalRate, Rate: 100, TimeUnit: time.Second,
		Duration: time.Hour, PreAllocatedVUs: 2, MaxVUs: 10})
	f := newFixture(0)
	time.AfterFunc(200*time.Millisecond, func() { close(f.stop) })
	runExecutor(t, context.Background(), x, f.env(), time.Minute)
	if n := f.iterations.Load(); n == 0 || n > 100 {
		t.Fatalf("%d iterations before the stop at 200ms of a 100/s schedule", n)
	}
	if f.rate.Load() != 0 {
		t.Fatalf("target rate %d after the run, want 0", f.rate.Load())
	}
}

func TestConstantArrivalRateRejectsBadConfig(t *testing.T) {
	for _, cfg := range []scenario.ExecutorConfig{
		{Kind: scenario.ConstantArrivalRate, Rate: 0, Duration: time.Second, MaxVUs: 1},
		{Kind: scenario.ConstantArrivalRate, Rate: 1, MaxVUs: 1},
		{Kind: scenario.ConstantArrivalRate, Rate: 1, Duration: time.Second, PreAllocatedVUs: 5, MaxVUs: 2},
	} {
		if _, err := NewExecutor(cfg); err == nil {
			t.Errorf("%+v: no error", cfg)
		}
	}
}
