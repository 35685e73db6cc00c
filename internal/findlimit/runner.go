package findlimit

import (
	"context"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/brinkhq/brink/internal/analysis"
	"github.com/brinkhq/brink/internal/load"
	"github.com/brinkhq/brink/internal/results"
	"github.com/brinkhq/brink/internal/scenario"
)

// PlanFunc builds the plan of one step: rate iterations/s for d.
type PlanFunc func(rate float64, d time.Duration) (*scenario.Plan, error)

// EngineRunner runs steps with brink's load engine in this process.
type EngineRunner struct {
	Plan PlanFunc
}

// maxGrace bounds how long a step waits for its in-flight requests after
// its schedule ends, so an overloaded target cannot stretch a step.
const maxGrace = 10 * time.Second

// RunStep implements Runner.
func (r EngineRunner) RunStep(ctx context.Context, rate float64, d time.Duration, onSecond func(*results.Second)) (*StepRun, error) {
	plan, err := r.Plan(rate, d)
	if err != nil {
		return nil, err
	}
	for _, sc := range plan.Scenarios {
		sc.Executor.GracefulStop = min(sc.Executor.GracefulStop, maxGrace)
	}
	engine, err := load.New(ctx, plan)
	if err != nil {
		return nil, err
	}
	gen := analysis.NewGeneratorSampler()
	run := &StepRun{}
	collected := make(chan struct{})
	go func() {
		defer close(collected)
		for s := range engine.Seconds() {
			gen.Sample(s.T)
			run.Seconds = append(run.Seconds, s)
			if onSecond != nil {
				onSecond(s)
			}
		}
	}()
	info := engine.Run(ctx)
	<-collected
	run.Start, run.End = info.Start, info.End
	run.Generator = gen.Series()
	if info.Jitter != nil && info.Jitter.Count() > 0 {
		run.JitterP99Ms = results.Ms(info.Jitter.Quantile(0.99))
	}
	var reqs, iters int64
	for _, s := range run.Seconds {
		reqs += s.Total().Requests
		iters += s.Iterations
	}
	if iters > 0 {
		run.RequestsPerIteration = float64(reqs) / float64(iters)
	}
	return run, nil
}

// URLPlan is the plan of `find-limit --url`: the quick plan with its rate
// and duration set per step. base.VUs, when set, caps the VU pool.
func URLPlan(base scenario.QuickOptions) PlanFunc {
	return func(rate float64, d time.Duration) (*scenario.Plan, error) {
		o := base
		o.Rate, o.Duration, o.Ramp, o.Iterations = rate, d, "", 0
		return scenario.Quick(o)
	}
}

// FilePlan is the plan of `find-limit scenario.yaml`: the file's flows,
// each scenario's executor replaced by a constant arrival rate. The rate
// is shared among the file's scenarios in proportion to their own peak
// arrival rates, or equally when they are closed-model scenarios.
// getenv resolves {{env.NAME}} in the file (nil: the process environment).
func FilePlan(path string, getenv func(string) string) PlanFunc {
	return func(rate float64, d time.Duration) (*scenario.Plan, error) {
		if getenv == nil {
			getenv = os.Getenv
		}
		plan, err := scenario.LoadEnv(path, getenv)
		if err != nil {
			return nil, err
		}
		return AtRate(plan, rate, d)
	}
}

// AtRate turns every scenario of plan into a constant-arrival-rate
// executor so that together they start rate iterations/s for d.
func AtRate(plan *scenario.Plan, rate float64, d time.Duration) (*scenario.Plan, error) {
	if len(plan.Scenarios) == 0 {
		return nil, fmt.Errorf("the plan has no scenario")
	}
	var weights []float64
	var total float64
	for _, sc := range plan.Scenarios {
		w := 0.0
		if k := sc.Executor.Kind; k == scenario.ConstantArrivalRate || k == scenario.RampingArrivalRate {
			w = sc.Executor.PeakRatePerSecond()
		}
		weights = append(weights, w)
		total += w
	}
	for i, sc := range plan.Scenarios {
		share := 1 / float64(len(plan.Scenarios))
		if total > 0 {
			share = weights[i] / total
		}
		r := rate * share
		e := sc.Executor
		pool := e.MaxVUs
		e = scenario.ExecutorConfig{
			Kind: scenario.ConstantArrivalRate, Rate: r, TimeUnit: time.Second, Duration: d,
			GracefulStop:    e.GracefulStop,
			PreAllocatedVUs: max(10, int(math.Ceil(r/10))),
			MaxVUs:          max(pool, 100, int(math.Ceil(r*2))),
		}
		if e.PreAllocatedVUs > e.MaxVUs {
			e.PreAllocatedVUs = e.MaxVUs
		}
		if e.GracefulStop <= 0 {
			e.GracefulStop = scenario.DefaultGracefulStop
		}
		sc.Executor = e
	}
	return plan, nil
}
