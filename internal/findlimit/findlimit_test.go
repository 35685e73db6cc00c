package findlimit

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/brinkhq/brink/internal/analysis"
	"github.com/brinkhq/brink/internal/results"
	"github.com/brinkhq/brink/internal/scenario"
	"github.com/brinkhq/brink/internal/threshold"
)

// queueModel answers a step as a service of fixed capacity would: below
// capacity every request takes base; above it a queue builds and latency
// grows with it. generatorMax, when set, is the rate from which the
// generator's CPU is saturated; poolMax the rate from which its VU pool
// drops iterations while responses stay fast.
type queueModel struct {
	capacity     float64
	base         time.Duration
	generatorMax float64
	poolMax      float64
	// flakyAt is a rate whose first step is disturbed (as by a neighbour
	// on a shared machine): its latency is a second longer.
	flakyAt float64
	// lateFrom is the rate from which the generator starts iterations
	// 80 ms late, and that lateness is in the latency.
	lateFrom float64
	rates    []float64
}

func (m *queueModel) RunStep(_ context.Context, rate float64, d time.Duration, onSecond func(*results.Second)) (*StepRun, error) {
	m.rates = append(m.rates, rate)
	start := time.Unix(1_700_000_000+int64(len(m.rates))*100, 0)
	run := &StepRun{Start: start, End: start.Add(d), RequestsPerIteration: 1}
	gen := analysis.Series{Name: analysis.GeneratorCPU}
	capacity := analysis.Series{Name: analysis.GeneratorCapacity}
	backlog := 0.0
	for i := range int(d.Seconds()) {
		sec := results.NewSecond(start.Unix() + int64(i))
		st := sec.Stats("GET /")
		served := math.Min(rate, m.capacity)
		backlog += rate - served
		wait := time.Duration(backlog / m.capacity * float64(time.Second))
		lat := m.base + wait
		if rate == m.flakyAt && len(m.rates) > 0 && countRate(m.rates, rate) == 1 {
			lat += time.Second
		}
		if m.lateFrom > 0 && rate >= m.lateFrom {
			lat += 80 * time.Millisecond
			run.JitterP99Ms = 80
		}
		if m.poolMax > 0 && rate > m.poolMax {
			sec.Dropped = int64(rate - m.poolMax)
			served = m.poolMax
		}
		n := int64(served)
		st.Requests = n
		for range n {
			st.Latency.Record(lat.Microseconds())
		}
		sec.Iterations = n
		cpu := 0.1
		if m.generatorMax > 0 && rate >= m.generatorMax {
			cpu = 1
		}
		gen.Points = append(gen.Points, analysis.Point{T: sec.T, V: cpu})
		capacity.Points = append(capacity.Points, analysis.Point{T: sec.T, V: 1})
		run.Seconds = append(run.Seconds, sec)
		if onSecond != nil {
			onSecond(sec)
		}
	}
	run.Generator = []analysis.Series{gen, capacity}
	return run, nil
}

func countRate(rates []float64, r float64) int {
	n := 0
	for _, x := range rates {
		if x == r {
			n++
		}
	}
	return n
}

func slos(t *testing.T, exprs ...string) []threshold.Threshold {
	t.Helper()
	ts, err := threshold.ParseAll(exprs)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func TestSearchAgainstAQueueModel(t *testing.T) {
	cases := []struct {
		name      string
		model     queueModel
		cfg       Config
		limitedBy string
		// the answer must lie in [min, max]
		min, max  float64
		wantRates []float64 // when set, the exact sequence of rates tried
	}{
		{name: "doubling then bisection finds 1000/s within 5%",
			model: queueModel{capacity: 1000, base: 5 * time.Millisecond},
			cfg:   Config{Start: 100, StepDuration: 10 * time.Second, Warmup: 2 * time.Second},
			// Every tried rate is either at most the capacity (held) or
			// above it (broke), so the answer is within 5% below it.
			limitedBy: "slo", min: 950, max: 1000,
			wantRates: []float64{100, 200, 400, 800, 1600, 1600, 1200, 1000, 1100, 1050}},
		{name: "a break that does not repeat is noise: doubling goes on",
			model:     queueModel{capacity: 1000, base: 5 * time.Millisecond, flakyAt: 200},
			cfg:       Config{Start: 100, StepDuration: 10 * time.Second, Warmup: 2 * time.Second},
			limitedBy: "slo", min: 950, max: 1000,
			wantRates: []float64{100, 200, 200, 400, 800, 1600, 1200, 1000, 1100, 1050}},
		{name: "without retries one noisy break halves the answer",
			model:     queueModel{capacity: 1000, base: 5 * time.Millisecond, flakyAt: 200},
			cfg:       Config{Start: 100, StepDuration: 10 * time.Second, Warmup: 2 * time.Second, Retries: -1},
			limitedBy: "slo", min: 190, max: 200},
		{name: "even the start breaks: halve down",
			model:     queueModel{capacity: 30, base: 5 * time.Millisecond},
			cfg:       Config{Start: 100, StepDuration: 10 * time.Second},
			limitedBy: "slo", min: 28.5, max: 30},
		{name: "the maximum rate holds",
			model:     queueModel{capacity: 1e9, base: 5 * time.Millisecond},
			cfg:       Config{Start: 100, Max: 500, StepDuration: 5 * time.Second},
			limitedBy: "max_rate", min: 500, max: 500,
			wantRates: []float64{100, 200, 400, 500}},
		{name: "the step budget runs out",
			model:     queueModel{capacity: 1000, base: 5 * time.Millisecond},
			cfg:       Config{Start: 100, StepDuration: 5 * time.Second, MaxSteps: 6},
			limitedBy: "steps", min: 800, max: 800},
		{name: "the generator's CPU saturates first",
			model: queueModel{capacity: 5000, base: 5 * time.Millisecond, generatorMax: 1500},
			cfg:   Config{Start: 100, StepDuration: 5 * time.Second},
			// 1600/s still held while the generator saturated: it counts.
			limitedBy: "generator", min: 1600, max: 1600},
		{name: "latency broken by the generator's own lateness",
			model:     queueModel{capacity: 5000, base: 30 * time.Millisecond, lateFrom: 1600},
			cfg:       Config{Start: 100, StepDuration: 5 * time.Second},
			limitedBy: "generator", min: 800, max: 800},
		{name: "the VU pool drops iterations while responses stay fast",
			model:     queueModel{capacity: 5000, base: 5 * time.Millisecond, poolMax: 700},
			cfg:       Config{Start: 100, StepDuration: 5 * time.Second},
			limitedBy: "generator", min: 400, max: 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.SLOs = slos(t, "p95<100ms", "error_rate<1%")
			var pauses []time.Duration
			cfg.Wait = func(_ context.Context, d time.Duration) error {
				pauses = append(pauses, d)
				return nil
			}
			m := tc.model
			res, err := Search(context.Background(), cfg, &m, nil)
			if err != nil {
				t.Fatal(err)
			}
			// After a step that broke, the pause lasts its slowest response.
			var want []time.Duration
			for _, s := range res.Steps[:max(len(res.Steps)-1, 0)] {
				if !s.OK {
					want = append(want, min(time.Duration(s.Summary.LatencyMs.Max*float64(time.Millisecond)), maxDrain))
				}
			}
			if len(pauses) != len(want) {
				t.Errorf("pauses %v, want %v", pauses, want)
			}
			for i := range min(len(pauses), len(want)) {
				if math.Abs(float64(pauses[i]-want[i])) > float64(time.Millisecond) {
					t.Errorf("pause %d = %s, want %s", i, pauses[i], want[i])
				}
			}
			if res.LimitedBy != tc.limitedBy {
				t.Errorf("limited by %q, want %q (%s)", res.LimitedBy, tc.limitedBy, res.Message)
			}
			if res.MaxRate < tc.min || res.MaxRate > tc.max {
				t.Errorf("max rate %g, want in [%g, %g]; rates tried %v", res.MaxRate, tc.min, tc.max, m.rates)
			}
			if tc.wantRates != nil && !equalRates(m.rates, tc.wantRates) {
				t.Errorf("rates tried %v, want %v", m.rates, tc.wantRates)
			}
			if len(res.Steps) != len(m.rates) {
				t.Errorf("%d steps recorded for %d runs", len(res.Steps), len(m.rates))
			}
			if _, err := json.Marshal(res); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func equalRates(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestConfigErrors(t *testing.T) {
	cases := []struct {
		cfg  Config
		want string
	}{
		{Config{}, "no SLO"},
		{Config{SLOs: slos(t, "p95<1s"), Start: 100, Max: 50}, "above the maximum"},
		{Config{SLOs: slos(t, "p95<1s"), Precision: 1.5}, "must be below 1"},
	}
	for _, tc := range cases {
		_, err := Search(context.Background(), tc.cfg, &queueModel{capacity: 1}, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

func TestPerReplicaCapacity(t *testing.T) {
	m := queueModel{capacity: 1000, base: 5 * time.Millisecond}
	noWait := func(context.Context, time.Duration) error { return nil }
	res, err := Search(context.Background(), Config{Start: 100, StepDuration: 5 * time.Second, SLOs: slos(t, "p95<100ms"), Wait: noWait}, &m, nil)
	if err != nil {
		t.Fatal(err)
	}
	res.SetReplicas(4)
	if res.PerReplicaRate != res.MaxRate/4 || res.CapacityPerReplica != res.MaxRPS/4 || res.MaxRPS == 0 {
		t.Fatalf("per replica: %+v", res)
	}
}

// paced serves at most perSecond requests per second: each request
// reserves the next free slot on a fixed schedule and waits for it, so
// below the capacity requests pass at once and above it a line builds and
// latency grows. The capacity does not depend on how busy the machine is.
func paced(t *testing.T, perSecond float64) string {
	var mu sync.Mutex
	var next time.Time
	gap := time.Duration(float64(time.Second) / perSecond)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		now := time.Now()
		if next.Before(now) {
			next = now
		}
		slot := next
		next = next.Add(gap)
		mu.Unlock()
		time.Sleep(time.Until(slot))
		w.Write([]byte("ok\n"))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestFindsAKnownCapacityWithTheEngine runs real steps with the load
// engine against a server of known capacity: 300 requests/s.
func TestFindsAKnownCapacityWithTheEngine(t *testing.T) {
	if testing.Short() {
		t.Skip("runs about 40 s of real load steps; skipped with -short")
	}
	const capacity = 300.0
	url := paced(t, capacity)
	cfg := Config{
		Start: 50, StepDuration: 3 * time.Second, Warmup: time.Second, Pause: 500 * time.Millisecond,
		SLOs: slos(t, "p95<100ms", "error_rate<1%"), MaxSteps: 12,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var seconds int
	obs := observerFuncs{second: func(*results.Second) { seconds++ }}
	res, err := Search(ctx, cfg, EngineRunner{Plan: URLPlan(scenario.QuickOptions{URL: url, Timeout: 5 * time.Second})}, obs)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range res.Steps {
		t.Logf("step %d %-6s %6.0f/s: %6.1f req/s, p95 %7.1f ms, ok=%v gen=%.2f/%.2f %s", s.N, s.Phase, s.Rate, s.RPS, s.P95Ms, s.OK, s.GeneratorCPU, s.GeneratorCapacity, s.Note)
	}
	t.Log(res.Message)
	if res.LimitedBy != "slo" {
		t.Fatalf("limited by %s: %s", res.LimitedBy, res.Message)
	}
	if res.MaxRate < 0.85*capacity || res.MaxRate > 1.05*capacity {
		t.Errorf("found %.0f/s, want the known capacity %.0f/s (−15%%, +5%%)", res.MaxRate, capacity)
	}
	if math.Abs(res.MaxRPS-res.MaxRate) > 0.1*res.MaxRate {
		t.Errorf("achieved %.1f req/s at the %.0f/s step", res.MaxRPS, res.MaxRate)
	}
	if seconds < len(res.Steps)*2 {
		t.Errorf("the observer saw %d seconds for %d steps", seconds, len(res.Steps))
	}
}

type observerFuncs struct {
	second func(*results.Second)
}

func (o observerFuncs) StepStarted(int, float64, time.Duration) {}
func (o observerFuncs) Second(s *results.Second)                { o.second(s) }
func (o observerFuncs) StepDone(Step)                           {}

func TestAtRateSplitsTheRateAmongScenarios(t *testing.T) {
	src := `
scenarios:
  browse:
    executor: constant-arrival-rate
    rate: 30
    duration: 1m
    max_vus: 500
    steps: [{url: "http://127.0.0.1:1/a"}]
  buy:
    executor: ramping-arrival-rate
    start_rate: 0
    stages: [{target: 10, duration: 1m}]
    steps: [{url: "http://127.0.0.1:1/b"}]
`
	plan, err := scenario.Parse("mix.yaml", []byte(src), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	plan, err = AtRate(plan, 200, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]scenario.ExecutorConfig{}
	for _, sc := range plan.Scenarios {
		got[sc.Name] = sc.Executor
	}
	if b := got["browse"]; b.Kind != scenario.ConstantArrivalRate || b.Rate != 150 || b.Duration != 5*time.Second || b.MaxVUs != 500 {
		t.Errorf("browse: %+v", b)
	}
	if b := got["buy"]; b.Kind != scenario.ConstantArrivalRate || b.Rate != 50 || b.MaxVUs != 100 {
		t.Errorf("buy: %+v", b)
	}
}
