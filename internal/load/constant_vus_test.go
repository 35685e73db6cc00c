package load

import (
	"context"
	"testing"
	"time"

	"github.com/brinkhq/brink/internal/scenario"
)

func TestConstantVUs(t *testing.T) {
	tests := []struct {
		name           string
		cfg            scenario.ExecutorConfig
		work           time.Duration
		stopAfter      time.Duration // close env.Stop after this (0: never)
		wantIterations int64         // exact, when > 0
		minIterations  int64
	}{
		// 1 ms per iteration keeps every VU busy for about 140 ms, so all 7
		// are running together even when the machine is slow to start them.
		{"iterations shared by VUs", scenario.ExecutorConfig{Kind: scenario.ConstantVUs, VUs: 7, Iterations: 1000}, time.Millisecond, 0, 1000, 0},
		{"iterations before duration", scenario.ExecutorConfig{Kind: scenario.ConstantVUs, VUs: 3, Iterations: 20, Duration: time.Minute}, time.Millisecond, 0, 20, 0},
		{"duration", scenario.ExecutorConfig{Kind: scenario.ConstantVUs, VUs: 5, Duration: 300 * time.Millisecond}, 10 * time.Millisecond, 0, 0, 5},
		{"stopped early", scenario.ExecutorConfig{Kind: scenario.ConstantVUs, VUs: 5, Duration: time.Hour}, 10 * time.Millisecond, 200 * time.Millisecond, 0, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x, err := NewExecutor(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			f := newFixture(tt.work)
			if tt.stopAfter > 0 {
				time.AfterFunc(tt.stopAfter, func() { close(f.stop) })
			}
			runExecutor(t, context.Background(), x, f.env(), time.Minute)
			if tt.wantIterations > 0 && f.iterations.Load() != tt.wantIterations {
				t.Errorf("%d iterations, want exactly %d", f.iterations.Load(), tt.wantIterations)
			}
			if f.iterations.Load() < tt.minIterations {
				t.Errorf("%d iterations, want at least %d", f.iterations.Load(), tt.minIterations)
			}
			if f.done.Load() != f.iterations.Load() {
				t.Errorf("meter counted %d iterations, VUs ran %d", f.done.Load(), f.iterations.Load())
			}
			if f.maxVUs.Load() != int64(tt.cfg.VUs) || f.created.Load() != int64(tt.cfg.VUs) || f.vus.Load() != 0 {
				t.Errorf("VUs: peak %d, created %d, left %d; want %d, %d, 0", f.maxVUs.Load(), f.created.Load(), f.vus.Load(), tt.cfg.VUs, tt.cfg.VUs)
			}
			if f.endings.Load() != 1 {
				t.Errorf("Ending called %d times, want 1", f.endings.Load())
			}
		})
	}
}

func TestConstantVUsStartTimeAndAbort(t *testing.T) {
	x, err := NewExecutor(scenario.ExecutorConfig{Kind: scenario.ConstantVUs, VUs: 2, Duration: time.Hour, StartTime: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(time.Hour) // iterations only end when ctx is cancelled
	ctx, cancel := context.WithCancel(context.Background())
	start := time.Now()
	time.AfterFunc(300*time.Millisecond, cancel)
	runExecutor(t, ctx, x, f.env(), time.Minute)
	if f.iterations.Load() != 2 {
		t.Fatalf("%d iterations, want 2 (one per VU, cut off by the abort)", f.iterations.Load())
	}
	if time.Since(start) < 300*time.Millisecond {
		t.Fatalf("returned before the abort")
	}
}

func TestConstantVUsRejectsBadConfig(t *testing.T) {
	for _, cfg := range []scenario.ExecutorConfig{
		{Kind: scenario.ConstantVUs, VUs: 0, Duration: time.Second},
		{Kind: scenario.ConstantVUs, VUs: 1},
	} {
		if _, err := NewExecutor(cfg); err == nil {
			t.Errorf("%+v: no error", cfg)
		}
	}
}
