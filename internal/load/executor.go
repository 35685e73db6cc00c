// Package load is brink's load engine: executors that decide when and how
// many virtual users (VUs) run iterations, the iteration itself (a
// scenario's flow of HTTP steps), and per-second collection of results.
//
// Executors are generic: they drive VUs through the VU interface and never
// see HTTP. The closed model (constant-vus, ramping-vus) keeps N VUs
// iterating back to back with think time; the open model
// (constant-arrival-rate, ramping-arrival-rate) starts iterations on a
// schedule, measures latency from the scheduled time (coordinated-omission
// correct, like wrk2) and counts an iteration as dropped when no VU is free.
package load

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/brinkhq/brink/internal/scenario"
)

// VU is one virtual user as an executor drives it.
type VU interface {
	// Iterate runs one iteration. due is the scheduled start of an
	// open-model iteration, from which its first request's latency is
	// measured; it is zero in the closed model, where the scenario's think
	// time follows each iteration. Once stop is closed the iteration sends
	// no further request; once ctx is done it returns at once.
	Iterate(ctx context.Context, due time.Time, stop <-chan struct{})
}

// Connector is a VU that can open its connections ahead of its first
// iteration. The open model connects its pre-allocated VUs before the
// schedule starts, so that the first scheduled iterations do not all pay
// for a new connection at once.
type Connector interface {
	Connect(ctx context.Context)
}

// Meter receives what executors know about a run: VUs, iterations, drops
// and the scheduled rate.
type Meter interface {
	AddVUs(delta int)
	IterationDone()
	Dropped(n int64)
	SetTargetRate(perSecond float64)
}

// Env is what an executor drives.
type Env struct {
	// NewVU makes virtual user id (0-based, unique within the scenario).
	// It is safe for concurrent use.
	NewVU func(id int) VU
	Meter Meter
	// Stop is closed when the run must stop starting iterations (Ctrl-C).
	Stop <-chan struct{}
	// Ending is called once when the executor starts no more iterations,
	// whatever the reason; the engine then gives in-flight requests the
	// scenario's graceful stop before it cancels ctx.
	Ending func()
}

// Executor schedules a scenario's iterations.
type Executor interface {
	// Run drives iterations until the executor's own end (duration,
	// stages, iterations) or env.Stop, then returns once every iteration it
	// started has returned. Cancelling ctx aborts: Run returns promptly.
	Run(ctx context.Context, env Env)
}

// executors maps each executor kind to its constructor.
var executors = map[string]func(scenario.ExecutorConfig) (Executor, error){
	scenario.ConstantVUs:         newConstantVUs,
	scenario.RampingVUs:          newRampingVUs,
	scenario.ConstantArrivalRate: newConstantArrivalRate,
	scenario.RampingArrivalRate:  newRampingArrivalRate,
}

// NewExecutor builds the executor a scenario's configuration asks for.
func NewExecutor(cfg scenario.ExecutorConfig) (Executor, error) {
	build, ok := executors[cfg.Kind]
	if !ok {
		return nil, fmt.Errorf("unknown executor %q", cfg.Kind)
	}
	return build(cfg)
}

// ending is an executor's "start no more iterations" signal: closed on its
// own end or on env.Stop, reported once to env.Ending.
type ending struct {
	ch     chan struct{}
	once   sync.Once
	notify func()
	done   chan struct{}
}

// watchEnding returns an ending that also fires on env.Stop and ctx; call
// release when Run returns.
func watchEnding(ctx context.Context, env Env) (e *ending, release func()) {
	e = &ending{ch: make(chan struct{}), notify: env.Ending, done: make(chan struct{})}
	go func() {
		select {
		case <-env.Stop:
			e.end()
		case <-ctx.Done():
			e.end()
		case <-e.done:
		}
	}()
	return e, func() { e.end(); close(e.done) }
}

func (e *ending) end() {
	e.once.Do(func() {
		close(e.ch)
		if e.notify != nil {
			e.notify()
		}
	})
}

func (e *ending) ended() bool {
	select {
	case <-e.ch:
		return true
	default:
		return false
	}
}

// waitFor sleeps d unless the executor ends first; it reports whether the
// full time passed.
func (e *ending) waitFor(d time.Duration) bool {
	if d <= 0 {
		return !e.ended()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-e.ch:
		return false
	}
}

// budget is a shared iteration count limit; zero means unlimited.
type budget struct {
	limit int64
	taken atomic.Int64
}

// take claims one iteration, reporting false once the limit is reached.
func (b *budget) take() bool {
	if b.limit <= 0 {
		return true
	}
	return b.taken.Add(1) <= b.limit
}

// closedLoop is one closed-model VU: iterations back to back (the VU's
// think time included) until stop closes, ctx ends or the budget runs out.
// Running out of budget does not close stop: iterations already started
// run to completion, so a run of N iterations completes N.
func closedLoop(ctx context.Context, vu VU, stop <-chan struct{}, b *budget, onBudgetOut func(), m Meter) {
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		default:
		}
		if !b.take() {
			if onBudgetOut != nil {
				onBudgetOut()
			}
			return
		}
		vu.Iterate(ctx, time.Time{}, stop)
		m.IterationDone()
	}
}
