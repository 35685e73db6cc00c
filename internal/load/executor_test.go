package load

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingVU records the iterations it runs; work is how long each takes.
type countingVU struct {
	fx   *fixture
	id   int
	work time.Duration
}

func (v *countingVU) Iterate(ctx context.Context, due time.Time, stop <-chan struct{}) {
	v.fx.iterations.Add(1)
	n := v.fx.running.Add(1)
	atomicMax(&v.fx.maxRunning, n)
	if !due.IsZero() {
		v.fx.mu.Lock()
		v.fx.dues = append(v.fx.dues, due)
		v.fx.mu.Unlock()
	}
	if v.work > 0 {
		t := time.NewTimer(v.work)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	v.fx.running.Add(-1)
}

// fixture is a counting Env: a Meter that keeps every figure and VUs that
// count iterations.
type fixture struct {
	work       time.Duration
	iterations atomic.Int64
	running    atomic.Int64
	maxRunning atomic.Int64
	created    atomic.Int64
	vus        atomic.Int64
	maxVUs     atomic.Int64
	done       atomic.Int64
	dropped    atomic.Int64
	rate       atomic.Uint64
	endings    atomic.Int64
	stop       chan struct{}
	mu         sync.Mutex
	dues       []time.Time
	vuSamples  []int64 // VU count sampled every 10 ms by sampleVUs
}

func newFixture(work time.Duration) *fixture {
	return &fixture{work: work, stop: make(chan struct{})}
}

func (f *fixture) env() Env {
	return Env{
		NewVU: func(id int) VU {
			f.created.Add(1)
			return &countingVU{fx: f, id: id, work: f.work}
		},
		Meter:  f,
		Stop:   f.stop,
		Ending: func() { f.endings.Add(1) },
	}
}

func (f *fixture) AddVUs(d int) {
	n := f.vus.Add(int64(d))
	atomicMax(&f.maxVUs, n)
}
func (f *fixture) IterationDone()  { f.done.Add(1) }
func (f *fixture) Dropped(n int64) { f.dropped.Add(n) }
func (f *fixture) SetTargetRate(r float64) {
	f.rate.Store(uint64(r))
}

// sampleVUs records the VU count every 10 ms until ctx ends.
func (f *fixture) sampleVUs(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				f.mu.Lock()
				f.vuSamples = append(f.vuSamples, f.vus.Load())
				f.mu.Unlock()
			}
		}
	}()
	return done
}

// runExecutor runs x and fails the test if it does not return within limit
// (a generous bound against hangs, not a timing assertion).
func runExecutor(t *testing.T, ctx context.Context, x Executor, env Env, limit time.Duration) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		x.Run(ctx, env)
	}()
	select {
	case <-done:
	case <-time.After(limit):
		t.Fatalf("executor did not return within %v", limit)
	}
}

func TestBudget(t *testing.T) {
	b := &budget{limit: 3}
	var got int
	for i := 0; i < 10; i++ {
		if b.take() {
			got++
		}
	}
	if got != 3 {
		t.Fatalf("took %d, want 3", got)
	}
	unlimited := &budget{}
	for i := 0; i < 1000; i++ {
		if !unlimited.take() {
			t.Fatal("an unlimited budget ran out")
		}
	}
}
