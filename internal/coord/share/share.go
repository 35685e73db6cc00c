// Package share splits a plan's load across agents and applies one agent's
// share to the plan it parsed.
//
// Only load figures are split (VUs, rates, VU pool sizes, iteration
// budgets); durations, stages' lengths and start times come from the
// scenario file every agent holds, so a share is a handful of numbers.
// Splits are exact: the shares of every figure add up to the figure as
// written. Integers split as evenly as possible, the first agents taking
// one more (10 VUs over 3 agents: 4+3+3); rates split in hundredths of
// their time unit (10/s over 3 agents: 3.34+3.33+3.33). The same agents
// take the remainder in every stage, so a ramp's shares keep their order.
package share

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	brinkv1 "github.com/brinkhq/brink/internal/gen/brink/v1"
	"github.com/brinkhq/brink/internal/scenario"
)

// FromPlan is the plan's load as written: one ExecutorShare per scenario,
// with the executor's times (so command-line overrides on the starting
// machine reach every agent).
func FromPlan(p *scenario.Plan) *brinkv1.Share {
	out := &brinkv1.Share{}
	for i, sc := range p.Scenarios {
		e := sc.Executor
		x := &brinkv1.ExecutorShare{
			Scenario: int32(i), Kind: e.Kind, Vus: int64(e.VUs), StartVus: int64(e.StartVUs),
			Rate: e.Rate, StartRate: e.StartRate,
			PreAllocatedVus: int64(e.PreAllocatedVUs), MaxVus: int64(e.MaxVUs), Iterations: e.Iterations,
			DurationNs: int64(e.Duration), StartTimeNs: int64(e.StartTime), GracefulStopNs: int64(e.GracefulStop),
			TimeUnitNs: int64(e.TimeUnit),
		}
		for _, st := range e.Stages {
			x.StageTargets = append(x.StageTargets, st.Target)
			x.StageDurationsNs = append(x.StageDurationsNs, int64(st.Duration))
		}
		out.Executors = append(out.Executors, x)
	}
	return out
}

// OptionsFromPlan is the plan's request options; stepTimeout is the
// timeout every step was given on the command line (0: none).
func OptionsFromPlan(p *scenario.Plan, stepTimeout time.Duration) *brinkv1.PlanOptions {
	o := p.Options
	return &brinkv1.PlanOptions{
		TimeoutNs: int64(o.Timeout), Insecure: o.Insecure, Http2: o.HTTP2, Headers: maps.Clone(o.Headers),
		MaxConnsPerHost: int64(o.MaxConnsPerHost), StepTimeoutNs: int64(stepTimeout),
	}
}

// ApplyOptions sets the plan's request options to o (nil leaves them).
func ApplyOptions(p *scenario.Plan, o *brinkv1.PlanOptions) {
	if o == nil {
		return
	}
	p.Options = scenario.Options{
		Timeout: time.Duration(o.TimeoutNs), Insecure: o.Insecure, HTTP2: o.Http2,
		Headers: maps.Clone(o.Headers), MaxConnsPerHost: int(o.MaxConnsPerHost),
	}
	if o.StepTimeoutNs > 0 {
		for _, sc := range p.Scenarios {
			for _, fl := range sc.Flows {
				for _, st := range fl.Steps {
					st.Timeout = time.Duration(o.StepTimeoutNs)
				}
			}
		}
	}
}

// Ints splits total into n parts that add up to it: the first total mod n
// parts take one more.
func Ints(total int64, n int) []int64 {
	parts := make([]int64, n)
	if n <= 0 {
		return parts
	}
	base, rem := total/int64(n), total%int64(n)
	for i := range parts {
		parts[i] = base
		if int64(i) < rem {
			parts[i]++
		}
	}
	return parts
}

// Rates splits a rate into n parts in hundredths, so that the parts add
// up to the rate exactly (10 over 3: 3.34, 3.33, 3.33). A rate finer than
// a hundredth is split evenly with the rounding left on the first part.
func Rates(total float64, n int) []float64 {
	parts := make([]float64, n)
	if n <= 0 || total == 0 {
		return parts
	}
	cents := math.Round(total * 100)
	if math.Abs(cents-total*100) < 1e-6 {
		for i, c := range Ints(int64(cents), n) {
			parts[i] = float64(c) / 100
		}
		return parts
	}
	even := total / float64(n)
	rest := total
	for i := n - 1; i > 0; i-- {
		parts[i] = even
		rest -= even
	}
	parts[0] = rest
	return parts
}

// Split divides total into n shares whose figures add up to total's.
// Executors with no load in a share are left out of it.
func Split(total *brinkv1.Share, n int) []*brinkv1.Share {
	shares := make([]*brinkv1.Share, n)
	for i := range shares {
		shares[i] = &brinkv1.Share{OffsetMs: total.GetOffsetMs()}
	}
	for _, x := range total.GetExecutors() {
		for i, p := range splitExecutor(x, n) {
			if p != nil {
				shares[i].Executors = append(shares[i].Executors, p)
			}
		}
	}
	return shares
}

// splitExecutor returns n parts of x; a part with no load is nil.
func splitExecutor(x *brinkv1.ExecutorShare, n int) []*brinkv1.ExecutorShare {
	vus, startVUs := Ints(x.Vus, n), Ints(x.StartVus, n)
	rates, startRates := Rates(x.Rate, n), Rates(x.StartRate, n)
	pre, maxVUs, iters := Ints(x.PreAllocatedVus, n), Ints(x.MaxVus, n), Ints(x.Iterations, n)
	stages := make([][]float64, len(x.StageTargets))
	for s, target := range x.StageTargets {
		if isArrival(x.Kind) {
			stages[s] = Rates(target, n)
		} else {
			stages[s] = intsAsFloats(Ints(int64(math.Round(target)), n))
		}
	}
	out := make([]*brinkv1.ExecutorShare, n)
	for i := range out {
		p := &brinkv1.ExecutorShare{
			Scenario: x.Scenario, Kind: x.Kind, Vus: vus[i], StartVus: startVUs[i],
			Rate: rates[i], StartRate: startRates[i],
			PreAllocatedVus: pre[i], MaxVus: maxVUs[i], Iterations: iters[i],
			DurationNs: x.DurationNs, StartTimeNs: x.StartTimeNs, GracefulStopNs: x.GracefulStopNs,
			TimeUnitNs: x.TimeUnitNs, StageDurationsNs: slices.Clone(x.StageDurationsNs),
		}
		for s := range stages {
			p.StageTargets = append(p.StageTargets, stages[s][i])
		}
		// An iteration budget split to zero would leave a part with VUs
		// but no limit: that part runs nothing.
		if !hasLoad(p) || (x.Iterations > 0 && p.Iterations == 0) {
			continue
		}
		if isArrival(x.Kind) {
			// A VU pool is a limit, not load: an agent with a rate needs
			// at least one VU to run it, even when the plan's pool is
			// smaller than the number of agents.
			limit := p.MaxVus
			if x.MaxVus == 0 {
				limit = p.PreAllocatedVus
			}
			if limit < 1 {
				if x.MaxVus == 0 {
					p.PreAllocatedVus = 1
				} else {
					p.MaxVus = 1
				}
			}
		}
		out[i] = p
	}
	return out
}

func intsAsFloats(v []int64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

func isArrival(kind string) bool {
	return kind == scenario.ConstantArrivalRate || kind == scenario.RampingArrivalRate
}

// hasLoad reports whether an executor share runs anything.
func hasLoad(x *brinkv1.ExecutorShare) bool {
	positive := func(t float64) bool { return t > 0 }
	switch x.Kind {
	case scenario.ConstantVUs:
		return x.Vus > 0
	case scenario.RampingVUs:
		return x.StartVus > 0 || slices.ContainsFunc(x.StageTargets, positive)
	case scenario.ConstantArrivalRate:
		return x.Rate > 0
	case scenario.RampingArrivalRate:
		return x.StartRate > 0 || slices.ContainsFunc(x.StageTargets, positive)
	}
	return false
}

// HasIterationBudget reports whether an executor stops after a number of
// iterations rather than after its time: such load cannot be taken over
// mid-run, because the hub cannot know how much of the budget ran.
func HasIterationBudget(x *brinkv1.ExecutorShare) bool { return x.GetIterations() > 0 }

// Apply returns the plan an agent runs for share s: each scenario with
// the share's executor (figures and times), scenarios without a share
// left out, and, for a share that starts mid-run (s.OffsetMs > 0), every
// schedule cut so that it begins that far in. The result may have no
// scenario at all: that agent has nothing to run. The plan given is not
// changed.
func Apply(p *scenario.Plan, s *brinkv1.Share) (*scenario.Plan, error) {
	out := *p
	out.Scenarios = nil
	offset := time.Duration(s.GetOffsetMs()) * time.Millisecond
	for _, x := range s.GetExecutors() {
		i := int(x.Scenario)
		if i < 0 || i >= len(p.Scenarios) {
			return nil, fmt.Errorf("share for scenario %d: the plan has %d scenarios: hub and agent read different scenario files", i+1, len(p.Scenarios))
		}
		if len(x.StageTargets) != len(x.StageDurationsNs) {
			return nil, fmt.Errorf("share for scenario %d: %d stage targets but %d stage durations", i+1, len(x.StageTargets), len(x.StageDurationsNs))
		}
		cfg, ok := Cut(ExecutorConfig(x), offset)
		if !ok {
			continue
		}
		copied := *p.Scenarios[i]
		copied.Executor = cfg
		out.Scenarios = append(out.Scenarios, &copied)
	}
	return &out, nil
}

// ExecutorConfig is the executor an ExecutorShare describes.
func ExecutorConfig(x *brinkv1.ExecutorShare) scenario.ExecutorConfig {
	cfg := scenario.ExecutorConfig{
		Kind: x.Kind, VUs: int(x.Vus), StartVUs: int(x.StartVus), Rate: x.Rate, StartRate: x.StartRate,
		PreAllocatedVUs: int(x.PreAllocatedVus), MaxVUs: int(x.MaxVus), Iterations: x.Iterations,
		Duration: time.Duration(x.DurationNs), StartTime: time.Duration(x.StartTimeNs),
		GracefulStop: time.Duration(x.GracefulStopNs), TimeUnit: time.Duration(x.TimeUnitNs),
	}
	for k, target := range x.StageTargets {
		cfg.Stages = append(cfg.Stages, scenario.Stage{Target: target, Duration: time.Duration(x.StageDurationsNs[k])})
	}
	return cfg
}

// Cut returns the part of an executor's schedule that lies beyond offset
// (time since the plan started), and false when nothing is left. A ramp
// cut mid-stage starts from the value it had reached.
func Cut(cfg scenario.ExecutorConfig, offset time.Duration) (scenario.ExecutorConfig, bool) {
	if offset <= 0 {
		return cfg, true
	}
	if offset <= cfg.StartTime {
		cfg.StartTime -= offset
		return cfg, true
	}
	into := offset - cfg.StartTime
	cfg.StartTime = 0
	switch cfg.Kind {
	case scenario.ConstantVUs, scenario.ConstantArrivalRate:
		if cfg.Duration <= 0 {
			// Iteration-bounded: how much of the budget ran is unknown.
			return cfg, false
		}
		cfg.Duration -= into
		return cfg, cfg.Duration > 0
	case scenario.RampingVUs, scenario.RampingArrivalRate:
		from := cfg.StartRate
		if cfg.Kind == scenario.RampingVUs {
			from = float64(cfg.StartVUs)
		}
		var at time.Duration
		for k, st := range cfg.Stages {
			if into < at+st.Duration {
				reached := from + (st.Target-from)*float64(into-at)/float64(st.Duration)
				rest := append([]scenario.Stage{{Target: st.Target, Duration: at + st.Duration - into}}, cfg.Stages[k+1:]...)
				cfg.Stages = rest
				if cfg.Kind == scenario.RampingVUs {
					cfg.StartVUs = int(math.Floor(reached + 1e-9))
				} else {
					cfg.StartRate = reached
				}
				return cfg, true
			}
			at += st.Duration
			from = st.Target
		}
		return cfg, false
	}
	return cfg, false
}
