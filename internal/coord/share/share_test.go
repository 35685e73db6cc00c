package share

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	brinkv1 "github.com/brinkhq/brink/internal/gen/brink/v1"
	"github.com/brinkhq/brink/internal/scenario"
)

func TestInts(t *testing.T) {
	tests := []struct {
		total int64
		n     int
		want  []int64
	}{
		{10, 3, []int64{4, 3, 3}},
		{2500, 5, []int64{500, 500, 500, 500, 500}},
		{2, 5, []int64{1, 1, 0, 0, 0}},
		{0, 2, []int64{0, 0}},
		{7, 1, []int64{7}},
	}
	for _, tc := range tests {
		if got := Ints(tc.total, tc.n); !slices.Equal(got, tc.want) {
			t.Errorf("Ints(%d, %d) = %v, want %v", tc.total, tc.n, got, tc.want)
		}
	}
}

func TestRates(t *testing.T) {
	tests := []struct {
		total float64
		n     int
		want  []float64
	}{
		{10, 3, []float64{3.34, 3.33, 3.33}},
		{1, 3, []float64{0.34, 0.33, 0.33}},
		{0.05, 10, []float64{0.01, 0.01, 0.01, 0.01, 0.01, 0, 0, 0, 0, 0}},
		{250, 4, []float64{62.5, 62.5, 62.5, 62.5}},
		{0, 3, []float64{0, 0, 0}},
	}
	for _, tc := range tests {
		got := Rates(tc.total, tc.n)
		if !slices.Equal(got, tc.want) {
			t.Errorf("Rates(%v, %d) = %v, want %v", tc.total, tc.n, got, tc.want)
		}
		if sum := sumF(got); math.Abs(sum-tc.total) > 1e-9 {
			t.Errorf("Rates(%v, %d) adds up to %v", tc.total, tc.n, sum)
		}
	}
	// Finer than a hundredth: still adds up.
	got := Rates(1.0/3, 7)
	if sum := sumF(got); math.Abs(sum-1.0/3) > 1e-12 {
		t.Errorf("Rates(1/3, 7) adds up to %v", sum)
	}
}

func sumF(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s
}

// TestSplitAddsUp checks, for every executor kind and several agent
// counts, that every split figure adds up to the plan's.
func TestSplitAddsUp(t *testing.T) {
	totals := []*brinkv1.ExecutorShare{
		{Kind: scenario.ConstantVUs, Vus: 2500},
		{Kind: scenario.ConstantVUs, Vus: 10, Iterations: 1000},
		{Kind: scenario.RampingVUs, StartVus: 1, StageTargets: []float64{10, 50, 0}},
		{Kind: scenario.ConstantArrivalRate, Rate: 10, PreAllocatedVus: 5, MaxVus: 50},
		{Kind: scenario.RampingArrivalRate, StartRate: 0, StageTargets: []float64{100, 333.33, 0}, PreAllocatedVus: 20, MaxVus: 200},
	}
	for _, n := range []int{1, 2, 3, 5, 7} {
		for i, x := range totals {
			x.Scenario = int32(i)
		}
		shares := Split(&brinkv1.Share{Executors: totals}, n)
		if len(shares) != n {
			t.Fatalf("n=%d: %d shares", n, len(shares))
		}
		for i, total := range totals {
			var sum brinkv1.ExecutorShare
			sum.StageTargets = make([]float64, len(total.StageTargets))
			for _, s := range shares {
				for _, p := range s.Executors {
					if p.Scenario != int32(i) {
						continue
					}
					sum.Vus += p.Vus
					sum.StartVus += p.StartVus
					sum.Rate += p.Rate
					sum.StartRate += p.StartRate
					sum.PreAllocatedVus += p.PreAllocatedVus
					sum.MaxVus += p.MaxVus
					sum.Iterations += p.Iterations
					for k, v := range p.StageTargets {
						sum.StageTargets[k] += v
					}
				}
			}
			if sum.Vus != total.Vus || sum.StartVus != total.StartVus || sum.Iterations != total.Iterations ||
				sum.PreAllocatedVus != total.PreAllocatedVus || sum.MaxVus != total.MaxVus ||
				math.Abs(sum.Rate-total.Rate) > 1e-9 || math.Abs(sum.StartRate-total.StartRate) > 1e-9 {
				t.Errorf("n=%d %s: shares add up to %v, want %v", n, total.Kind, &sum, total)
			}
			for k := range total.StageTargets {
				if math.Abs(sum.StageTargets[k]-total.StageTargets[k]) > 1e-9 {
					t.Errorf("n=%d %s stage %d: shares add up to %v, want %v", n, total.Kind, k+1, sum.StageTargets[k], total.StageTargets[k])
				}
			}
		}
	}
}

func TestSplitRampKeepsOrderAcrossStages(t *testing.T) {
	shares := Split(&brinkv1.Share{Executors: []*brinkv1.ExecutorShare{
		{Kind: scenario.RampingVUs, StageTargets: []float64{10, 5, 0}},
	}}, 3)
	want := [][]float64{{4, 2, 0}, {3, 2, 0}, {3, 1, 0}}
	for i, s := range shares {
		if got := s.Executors[0].StageTargets; !slices.Equal(got, want[i]) {
			t.Errorf("agent %d stages %v, want %v", i, got, want[i])
		}
	}
}

func TestSplitLeavesOutAgentsWithoutLoad(t *testing.T) {
	tests := []struct {
		name  string
		total *brinkv1.ExecutorShare
		n     int
		want  []bool // whether each agent gets the executor
	}{
		{"two VUs over five agents", &brinkv1.ExecutorShare{Kind: scenario.ConstantVUs, Vus: 2}, 5, []bool{true, true, false, false, false}},
		{"budget smaller than agents", &brinkv1.ExecutorShare{Kind: scenario.ConstantVUs, Vus: 6, Iterations: 2}, 3, []bool{true, true, false}},
		{"rate over agents", &brinkv1.ExecutorShare{Kind: scenario.ConstantArrivalRate, Rate: 0.02, MaxVus: 1}, 3, []bool{true, true, false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			shares := Split(&brinkv1.Share{Executors: []*brinkv1.ExecutorShare{tc.total}}, tc.n)
			for i, s := range shares {
				if got := len(s.Executors) == 1; got != tc.want[i] {
					t.Errorf("agent %d has load %v, want %v", i, got, tc.want[i])
				}
			}
		})
	}
}

func TestSplitGivesEveryRatedAgentAVU(t *testing.T) {
	shares := Split(&brinkv1.Share{Executors: []*brinkv1.ExecutorShare{
		{Kind: scenario.ConstantArrivalRate, Rate: 30, PreAllocatedVus: 1, MaxVus: 2},
	}}, 3)
	for i, s := range shares {
		x := s.Executors[0]
		if x.MaxVus < 1 || x.PreAllocatedVus > x.MaxVus {
			t.Errorf("agent %d: pool pre %d max %d", i, x.PreAllocatedVus, x.MaxVus)
		}
	}
}

func TestCut(t *testing.T) {
	s := time.Second
	tests := []struct {
		name   string
		cfg    scenario.ExecutorConfig
		offset time.Duration
		want   scenario.ExecutorConfig
		ok     bool
	}{
		{"constant mid-run", scenario.ExecutorConfig{Kind: scenario.ConstantVUs, VUs: 3, Duration: 60 * s}, 20 * s,
			scenario.ExecutorConfig{Kind: scenario.ConstantVUs, VUs: 3, Duration: 40 * s}, true},
		{"constant after its end", scenario.ExecutorConfig{Kind: scenario.ConstantVUs, VUs: 3, Duration: 10 * s}, 20 * s,
			scenario.ExecutorConfig{}, false},
		{"not started yet", scenario.ExecutorConfig{Kind: scenario.ConstantArrivalRate, Rate: 5, Duration: 10 * s, StartTime: 30 * s}, 20 * s,
			scenario.ExecutorConfig{Kind: scenario.ConstantArrivalRate, Rate: 5, Duration: 10 * s, StartTime: 10 * s}, true},
		{"started late, cut", scenario.ExecutorConfig{Kind: scenario.ConstantArrivalRate, Rate: 5, Duration: 10 * s, StartTime: 15 * s}, 20 * s,
			scenario.ExecutorConfig{Kind: scenario.ConstantArrivalRate, Rate: 5, Duration: 5 * s}, true},
		{"iterations cannot be cut", scenario.ExecutorConfig{Kind: scenario.ConstantVUs, VUs: 3, Iterations: 100}, 20 * s,
			scenario.ExecutorConfig{}, false},
		{"ramp mid-stage", scenario.ExecutorConfig{Kind: scenario.RampingVUs, StartVUs: 0,
			Stages: []scenario.Stage{{Target: 10, Duration: 10 * s}, {Target: 10, Duration: 20 * s}}}, 5 * s,
			scenario.ExecutorConfig{Kind: scenario.RampingVUs, StartVUs: 5,
				Stages: []scenario.Stage{{Target: 10, Duration: 5 * s}, {Target: 10, Duration: 20 * s}}}, true},
		{"rate ramp mid-stage", scenario.ExecutorConfig{Kind: scenario.RampingArrivalRate, StartRate: 10,
			Stages: []scenario.Stage{{Target: 20, Duration: 10 * s}, {Target: 0, Duration: 10 * s}}}, 15 * s,
			scenario.ExecutorConfig{Kind: scenario.RampingArrivalRate, StartRate: 10,
				Stages: []scenario.Stage{{Target: 0, Duration: 5 * s}}}, true},
		{"ramp over", scenario.ExecutorConfig{Kind: scenario.RampingVUs, Stages: []scenario.Stage{{Target: 10, Duration: 10 * s}}}, 10 * s,
			scenario.ExecutorConfig{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Cut(tc.cfg, tc.offset)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if ok && !sameConfig(got, tc.want) {
				t.Errorf("Cut = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func sameConfig(a, b scenario.ExecutorConfig) bool {
	return a.Kind == b.Kind && a.VUs == b.VUs && a.Duration == b.Duration && a.StartTime == b.StartTime &&
		a.StartVUs == b.StartVUs && a.Rate == b.Rate && math.Abs(a.StartRate-b.StartRate) < 1e-9 &&
		slices.Equal(a.Stages, b.Stages)
}

const twoScenarios = `
scenarios:
  browse:
    executor: constant-vus
    vus: 10
    duration: 30s
    steps:
      - {name: home, url: "http://127.0.0.1:1/"}
  buy:
    executor: ramping-arrival-rate
    start_rate: 0
    pre_allocated_vus: 5
    max_vus: 20
    stages:
      - { duration: 10s, target: 10 }
      - { duration: 10s, target: 10 }
    steps:
      - {name: buy, url: "http://127.0.0.1:1/buy"}
`

func TestApply(t *testing.T) {
	plan, err := scenario.ParseEnv("two.yaml", []byte(twoScenarios), "", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	total := FromPlan(plan)
	shares := Split(total, 3)

	got, err := Apply(plan, shares[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Scenarios) != 2 || got.Scenarios[0].Executor.VUs != 4 || got.Scenarios[1].Executor.Stages[0].Target != 3.34 {
		t.Errorf("agent 0 plan: %+v / %+v", got.Scenarios[0].Executor, got.Scenarios[1].Executor)
	}
	if plan.Scenarios[0].Executor.VUs != 10 {
		t.Error("Apply changed the plan it was given")
	}

	// Taken over 15 s in: browse continues for 15 s, buy's ramp is over
	// and in its flat stage.
	late := shares[1]
	late.OffsetMs = 15_000
	got, err = Apply(plan, late)
	if err != nil {
		t.Fatal(err)
	}
	if got.Scenarios[0].Executor.Duration != 15*time.Second || got.Scenarios[1].Executor.StartRate != 3.33 ||
		len(got.Scenarios[1].Executor.Stages) != 1 || got.Scenarios[1].Executor.Stages[0].Duration != 5*time.Second {
		t.Errorf("late plan: %+v / %+v", got.Scenarios[0].Executor, got.Scenarios[1].Executor)
	}

	// Past the end: nothing to run.
	late.OffsetMs = 40_000
	got, err = Apply(plan, late)
	if err != nil || len(got.Scenarios) != 0 {
		t.Errorf("past the end: %v scenarios, err %v", len(got.Scenarios), err)
	}
}

func TestApplyRefusesAShareForAnotherFile(t *testing.T) {
	plan, err := scenario.ParseEnv("two.yaml", []byte(twoScenarios), "", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		x    *brinkv1.ExecutorShare
		want string
	}{
		{"unknown scenario", &brinkv1.ExecutorShare{Scenario: 5, Kind: scenario.ConstantVUs, Vus: 1}, "different scenario files"},
		{"stages without durations", &brinkv1.ExecutorShare{Scenario: 1, Kind: scenario.RampingArrivalRate, StageTargets: []float64{1}}, "1 stage targets but 0 stage durations"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Apply(plan, &brinkv1.Share{Executors: []*brinkv1.ExecutorShare{tc.x}})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

// TestOverridesTravel: the starting machine's plan, after command-line
// overrides, is what agents run, though they parse the file as written.
func TestOverridesTravel(t *testing.T) {
	parse := func() *scenario.Plan {
		p, err := scenario.ParseEnv("two.yaml", []byte(twoScenarios), "", func(string) string { return "" })
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	starting := parse()
	starting.Scenarios[0].Executor.Duration = 5 * time.Minute
	starting.Scenarios[1].Executor.Stages = []scenario.Stage{{Target: 30, Duration: time.Minute}}
	starting.Options.Headers = map[string]string{"X-Test": "1"}
	shares := Split(FromPlan(starting), 2)

	agentPlan := parse()
	got, err := Apply(agentPlan, shares[1])
	if err != nil {
		t.Fatal(err)
	}
	ApplyOptions(got, OptionsFromPlan(starting, 3*time.Second))
	if e := got.Scenarios[0].Executor; e.Duration != 5*time.Minute || e.VUs != 5 {
		t.Errorf("browse: %+v", e)
	}
	if e := got.Scenarios[1].Executor; len(e.Stages) != 1 || e.Stages[0] != (scenario.Stage{Target: 15, Duration: time.Minute}) || e.MaxVUs != 10 {
		t.Errorf("buy: %+v", e)
	}
	if got.Options.Headers["X-Test"] != "1" || got.Scenarios[0].Flows[0].Steps[0].Timeout != 3*time.Second {
		t.Errorf("options %+v, step timeout %v", got.Options, got.Scenarios[0].Flows[0].Steps[0].Timeout)
	}
}
