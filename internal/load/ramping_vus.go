package load

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/brinkhq/brink/internal/scenario"
)

// rampTick is how often ramping-vus adjusts its population.
const rampTick = 10 * time.Millisecond

// rampingVUs is the closed model with a population that follows stages:
// linear ramps between targets. VUs removed on a ramp down finish their
// in-flight request and leave; a VU that comes back later resumes with its
// state (variables, connection).
type rampingVUs struct {
	startVUs   int
	stages     []scenario.Stage
	startTime  time.Duration
	iterations int64
}

func newRampingVUs(cfg scenario.ExecutorConfig) (Executor, error) {
	if len(cfg.Stages) == 0 {
		return nil, fmt.Errorf("ramping-vus needs at least one stage")
	}
	for i, s := range cfg.Stages {
		if s.Target < 0 || s.Duration < 0 {
			return nil, fmt.Errorf("ramping-vus stage %d: target and duration must not be negative", i+1)
		}
	}
	return &rampingVUs{startVUs: cfg.StartVUs, stages: cfg.Stages, startTime: cfg.StartTime, iterations: cfg.Iterations}, nil
}

func (x *rampingVUs) total() time.Duration {
	var d time.Duration
	for _, s := range x.stages {
		d += s.Duration
	}
	return d
}

// target is the VU count the stages ask for at offset t: the linear
// interpolation within the current stage, rounded down.
func (x *rampingVUs) target(t time.Duration) int {
	from := float64(x.startVUs)
	var at time.Duration
	for _, s := range x.stages {
		if t < at+s.Duration {
			f := from + (s.Target-from)*float64(t-at)/float64(s.Duration)
			return int(math.Floor(f + 1e-9))
		}
		at += s.Duration
		from = s.Target
	}
	return int(from)
}

type rampSlot struct {
	vu   VU
	stop chan struct{} // closed when this activation must end
	done chan struct{} // closed when this activation's goroutine returned
}

func (x *rampingVUs) Run(ctx context.Context, env Env) {
	end, release := watchEnding(ctx, env)
	defer release()
	if !end.waitFor(x.startTime) {
		return
	}
	b := &budget{limit: x.iterations}
	var (
		wg        sync.WaitGroup
		slots     []*rampSlot
		active    int
		spentOnce sync.Once
		spent     = make(chan struct{}) // the iteration budget ran out
	)
	onBudgetOut := func() { spentOnce.Do(func() { close(spent) }) }
	setActive := func(n int) {
		for active < n {
			id := active
			if id == len(slots) {
				slots = append(slots, &rampSlot{})
			}
			s := slots[id]
			prev := s.done
			s.stop, s.done = make(chan struct{}), make(chan struct{})
			stop, done := s.stop, s.done
			wg.Add(1)
			env.Meter.AddVUs(1)
			go func() {
				defer wg.Done()
				defer env.Meter.AddVUs(-1)
				defer close(done)
				// The slot's previous activation may still be finishing
				// its request; a VU runs one iteration at a time.
				if prev != nil {
					<-prev
				}
				if s.vu == nil {
					s.vu = env.NewVU(id)
				}
				closedLoop(ctx, s.vu, stop, b, onBudgetOut, env.Meter)
			}()
			active++
		}
		for active > n {
			active--
			close(slots[active].stop)
		}
	}

	total := x.total()
	start := time.Now()
	setActive(x.target(0))
	ticker := time.NewTicker(rampTick)
	defer ticker.Stop()
loop:
	for {
		select {
		case <-end.ch:
			break loop
		case <-spent:
			// Let the iterations already started finish; start no VU more.
			wg.Wait()
			return
		case <-ticker.C:
		}
		elapsed := time.Since(start)
		if elapsed >= total {
			end.end()
			break
		}
		setActive(x.target(elapsed))
	}
	setActive(0)
	wg.Wait()
}
