package load

import (
	"context"
	"testing"
	"time"

	"github.com/brinkhq/brink/internal/scenario"
)

func TestRampingVUsTarget(t *testing.T) {
	x := &rampingVUs{startVUs: 2, stages: []scenario.Stage{
		{Target: 10, Duration: 8 * time.Second}, // 2 → 10: +1 VU per second
		{Target: 10, Duration: 5 * time.Second}, // hold
		{Target: 0, Duration: 10 * time.Second}, // 10 → 0
		{Target: 4, Duration: 0},                // jump
	}}
	tests := []struct {
		at   time.Duration
		want int
	}{
		{0, 2}, {500 * time.Millisecond, 2}, {time.Second, 3}, {7999 * time.Millisecond, 9},
		{8 * time.Second, 10}, {12 * time.Second, 10}, {13 * time.Second, 10},
		{18 * time.Second, 5}, {22 * time.Second, 1}, {23 * time.Second, 4}, {time.Hour, 4},
	}
	for _, tt := range tests {
		if got := x.target(tt.at); got != tt.want {
			t.Errorf("target(%v) = %d, want %d", tt.at, got, tt.want)
		}
	}
}

func TestRampingVUsFollowsStages(t *testing.T) {
	cfg := scenario.ExecutorConfig{Kind: scenario.RampingVUs, StartVUs: 0, Stages: []scenario.Stage{
		{Target: 20, Duration: 400 * time.Millisecond},
		{Target: 20, Duration: 400 * time.Millisecond},
		{Target: 0, Duration: 400 * time.Millisecond},
	}}
	x, err := NewExecutor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(5 * time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	sampled := f.sampleVUs(ctx)
	runExecutor(t, context.Background(), x, f.env(), time.Minute)
	cancel()
	<-sampled

	if f.maxVUs.Load() != 20 {
		t.Errorf("peak %d VUs, want 20", f.maxVUs.Load())
	}
	if f.vus.Load() != 0 {
		t.Errorf("%d VUs left running", f.vus.Load())
	}
	// VUs are reused across the ramp: never more created than the peak.
	if f.created.Load() > 20 {
		t.Errorf("created %d VUs for a peak of 20", f.created.Load())
	}
	// The population rises, holds, then falls: the samples' shape, not
	// their timing, is asserted.
	f.mu.Lock()
	defer f.mu.Unlock()
	peakAt := -1
	for i, n := range f.vuSamples {
		if n == 20 && peakAt < 0 {
			peakAt = i
		}
	}
	if peakAt <= 0 {
		t.Fatalf("never saw 20 VUs (after a rise) in samples %v", f.vuSamples)
	}
	for i := 1; i < peakAt; i++ {
		if f.vuSamples[i] < f.vuSamples[i-1] {
			t.Fatalf("VUs fell during the ramp up: %v", f.vuSamples)
		}
	}
	if f.done.Load() != f.iterations.Load() || f.iterations.Load() == 0 {
		t.Errorf("meter %d iterations, VUs %d", f.done.Load(), f.iterations.Load())
	}
}

func TestRampingVUsIterationsAndStop(t *testing.T) {
	cfg := scenario.ExecutorConfig{Kind: scenario.RampingVUs, StartVUs: 3, Iterations: 50,
		Stages: []scenario.Stage{{Target: 3, Duration: time.Hour}}}
	x, err := NewExecutor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(time.Millisecond)
	runExecutor(t, context.Background(), x, f.env(), time.Minute)
	if f.iterations.Load() != 50 {
		t.Fatalf("%d iterations, want 50", f.iterations.Load())
	}

	f = newFixture(time.Millisecond)
	time.AfterFunc(100*time.Millisecond, func() { close(f.stop) })
	cfg.Iterations = 0
	x, _ = NewExecutor(cfg)
	runExecutor(t, context.Background(), x, f.env(), time.Minute)
	if f.endings.Load() != 1 || f.vus.Load() != 0 {
		t.Fatalf("after Stop: %d endings, %d VUs left", f.endings.Load(), f.vus.Load())
	}
}

func TestRampingVUsRejectsBadConfig(t *testing.T) {
	for _, cfg := range []scenario.ExecutorConfig{
		{Kind: scenario.RampingVUs},
		{Kind: scenario.RampingVUs, Stages: []scenario.Stage{{Target: -1, Duration: time.Second}}},
	} {
		if _, err := NewExecutor(cfg); err == nil {
			t.Errorf("%+v: no error", cfg)
		}
	}
}
