package load

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/brinkhq/brink/internal/scenario"
)

// constantVUs is the closed model with a fixed population: VUs start
// together and each runs iterations back to back for the duration, or
// until the scenario's iteration budget is spent.
type constantVUs struct {
	vus        int
	duration   time.Duration // 0: until the iterations are done
	startTime  time.Duration
	iterations int64
}

func newConstantVUs(cfg scenario.ExecutorConfig) (Executor, error) {
	if cfg.VUs < 1 {
		return nil, fmt.Errorf("constant-vus needs at least 1 VU, got %d", cfg.VUs)
	}
	if cfg.Duration <= 0 && cfg.Iterations <= 0 {
		return nil, fmt.Errorf("constant-vus needs a duration or iterations")
	}
	return &constantVUs{vus: cfg.VUs, duration: cfg.Duration, startTime: cfg.StartTime, iterations: cfg.Iterations}, nil
}

func (x *constantVUs) Run(ctx context.Context, env Env) {
	end, release := watchEnding(ctx, env)
	defer release()
	if !end.waitFor(x.startTime) {
		return
	}
	if x.duration > 0 {
		t := time.AfterFunc(x.duration, end.end)
		defer t.Stop()
	}
	b := &budget{limit: x.iterations}
	// Every VU is built before any goroutine starts: once started, VUs
	// open connections and would compete with the building of the rest
	// (with one core, for seconds at 10,000 VUs).
	vus := make([]VU, x.vus)
	for id := range vus {
		vus[id] = env.NewVU(id)
	}
	var wg sync.WaitGroup
	for _, vu := range vus {
		wg.Add(1)
		env.Meter.AddVUs(1)
		go func() {
			defer wg.Done()
			defer env.Meter.AddVUs(-1)
			closedLoop(ctx, vu, end.ch, b, nil, env.Meter)
		}()
	}
	wg.Wait()
}
