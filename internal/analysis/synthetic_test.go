package analysis

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/brinkhq/brink/internal/results"
)

// model describes a synthetic run: how the offered load moves and how a
// service with a known capacity answers it. Noise is multiplicative and
// seeded, so every case is reproducible.
type model struct {
	seconds    int
	offered    func(t int) float64 // iterations/s (open) or VUs (closed)
	closed     bool
	capacity   float64             // good req/s at most
	collapseAt float64             // offered load from which the service stops answering (0: never)
	baseP95    float64             // ms at low load
	latencyAt  float64             // offered load from which p95 rises (0: at capacity)
	errorsAt   float64             // offered load from which 20% of requests fail (0: never)
	noise      float64             // relative noise of throughput and latency
	spikes     bool                // add single-second outliers
	bump       func(t int) float64 // p95 multiplier per second (nil: 1)
	dropped    func(t int, offered float64) int64
}

const t0 = 1_700_000_000

func (m model) timeline(seed uint64) []results.TimelinePoint {
	r := rand.New(rand.NewPCG(seed, 42))
	n := func() float64 { return 1 + m.noise*r.NormFloat64() }
	latencyAt := m.latencyAt
	if latencyAt == 0 {
		latencyAt = m.capacity
	}
	var tl []results.TimelinePoint
	for t := range m.seconds {
		x := m.offered(t)
		p := results.TimelinePoint{T: int64(t), Unix: t0 + int64(t)}
		demand := x
		if m.closed {
			p.VUs = int(x)
			demand = x * 1000 / m.baseP95 // Little's law at low-load latency
		} else {
			p.TargetRate = x
			p.VUs = int(x / 10)
		}
		good := math.Min(demand, m.capacity) * n()
		p95 := m.baseP95 * n()
		if x > latencyAt && !m.closed {
			p95 *= 1 + 20*(x-latencyAt)/latencyAt
		}
		if m.closed && demand > m.capacity {
			p95 *= demand / m.capacity
		}
		failed := 0.0
		if m.errorsAt > 0 && x >= m.errorsAt {
			failed = 0.2 * good / 0.8
		}
		if m.collapseAt > 0 && x >= m.collapseAt {
			good, failed = 0, 0
		}
		if m.bump != nil {
			p95 *= m.bump(t)
		}
		if m.spikes && t%17 == 5 {
			good *= 0.3
			p95 *= 10
		}
		p.Requests = int64(math.Max(0, math.Round(good+failed)))
		p.Failures = int64(math.Round(failed))
		p.RPS = float64(p.Requests)
		p.P50Ms, p.P95Ms, p.P99Ms = p95/2, p95, p95*1.5
		if m.dropped != nil {
			p.Dropped = m.dropped(t, x)
		}
		tl = append(tl, p)
	}
	return tl
}

func ramp(from, to float64, seconds int) func(int) float64 {
	return func(t int) float64 { return from + (to-from)*float64(t)/float64(seconds-1) }
}

func TestKneeOnSyntheticRuns(t *testing.T) {
	cases := []struct {
		name      string
		m         model
		wantKnee  bool
		wantCause SignalKind
		// wantOffered is the knee's offered load, within tolerance (a
		// fraction of it).
		wantOffered, tolerance float64
		throughout             bool
	}{
		{name: "capacity above the ramp: no knee",
			m:        model{seconds: 120, offered: ramp(100, 2000, 120), capacity: 5000, baseP95: 5, noise: 0.03},
			wantKnee: false},
		{name: "throughput plateau at 1000/s",
			m:        model{seconds: 120, offered: ramp(100, 2000, 120), capacity: 1000, latencyAt: 5000, baseP95: 5, noise: 0.02},
			wantKnee: true, wantCause: SignalThroughput, wantOffered: 1000, tolerance: 0.12},
		{name: "seed story: rises to 1400/s, then collapses to 0",
			m:        model{seconds: 150, offered: ramp(200, 2500, 150), capacity: 1400, collapseAt: 1900, latencyAt: 1400, baseP95: 4, noise: 0.03},
			wantKnee: true, wantOffered: 1400, tolerance: 0.12},
		{name: "latency turns up before throughput falls short",
			m:        model{seconds: 120, offered: ramp(100, 1500, 120), capacity: 5000, latencyAt: 800, baseP95: 10, noise: 0.03},
			wantKnee: true, wantCause: SignalLatency, wantOffered: 800, tolerance: 0.12},
		{name: "errors begin at 1200/s",
			m:        model{seconds: 120, offered: ramp(100, 2000, 120), capacity: 5000, latencyAt: 5000, errorsAt: 1200, baseP95: 5, noise: 0.02},
			wantKnee: true, wantCause: SignalErrors, wantOffered: 1200, tolerance: 0.05},
		{name: "noisy plateau (10% noise) at 1000/s",
			m:        model{seconds: 180, offered: ramp(100, 2000, 180), capacity: 1000, baseP95: 5, noise: 0.10},
			wantKnee: true, wantOffered: 1000, tolerance: 0.15},
		{name: "single-second spikes do not make a knee",
			m:        model{seconds: 120, offered: ramp(100, 2000, 120), capacity: 5000, baseP95: 5, noise: 0.03, spikes: true},
			wantKnee: false},
		{name: "stepped ramp: plateau at 1000/s",
			m: model{seconds: 120, offered: func(t int) float64 { return float64(200 * (1 + t/12)) },
				capacity: 1000, latencyAt: 5000, baseP95: 5, noise: 0.02},
			wantKnee: true, wantCause: SignalThroughput, wantOffered: 1000, tolerance: 0.21},
		{name: "closed model: throughput stops rising with VUs",
			m:        model{seconds: 120, offered: func(t int) float64 { return float64(1 + t/4) }, closed: true, capacity: 2000, baseP95: 10, noise: 0.02},
			wantKnee: true, wantOffered: 20, tolerance: 0.2},
		{name: "a few seconds of high latency that pass while the load holds are no knee",
			m: model{seconds: 90, offered: func(t int) float64 { return min(100+7.5*float64(t), 550) }, capacity: 5000, baseP95: 1.6, noise: 0.03,
				bump: func(t int) float64 {
					if t >= 66 && t < 72 {
						return 4 // a replica joining, a pause of the host
					}
					return 1
				}},
			wantKnee: false},
		{name: "constant load that the service keeps up with",
			m:        model{seconds: 60, offered: func(int) float64 { return 500 }, capacity: 1000, baseP95: 5, noise: 0.03},
			wantKnee: false},
		{name: "constant load above capacity: saturated throughout",
			m:        model{seconds: 60, offered: func(int) float64 { return 1500 }, capacity: 1000, baseP95: 5, noise: 0.03},
			wantKnee: true, wantCause: SignalThroughput, wantOffered: 1500, tolerance: 0.01, throughout: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for seed := uint64(1); seed <= 5; seed++ {
				res := Analyze(Input{Timeline: tc.m.timeline(seed)}, DefaultOptions())
				if (res.Knee != nil) != tc.wantKnee {
					t.Fatalf("seed %d: knee = %+v, want knee: %v (notes %v)", seed, res.Knee, tc.wantKnee, res.Notes)
				}
				if !tc.wantKnee {
					continue
				}
				k := res.Knee
				t.Logf("seed %d: %s", seed, res.Headline())
				if tc.wantCause != "" && k.Cause != tc.wantCause {
					t.Errorf("seed %d: cause = %s, want %s (signals %+v)", seed, k.Cause, tc.wantCause, k.Signals)
				}
				if math.Abs(k.Offered-tc.wantOffered) > tc.tolerance*tc.wantOffered {
					t.Errorf("seed %d: knee at %.1f offered, want %.0f ± %.0f%% (signals %+v)", seed, k.Offered, tc.wantOffered, tc.tolerance*100, k.Signals)
				}
				if k.Throughout != tc.throughout {
					t.Errorf("seed %d: saturated throughout = %v, want %v", seed, k.Throughout, tc.throughout)
				}
			}
		})
	}
}

func TestMaxSustainedIgnoresASingleSpike(t *testing.T) {
	tl := model{seconds: 30, offered: func(int) float64 { return 1000 }, capacity: 5000, baseP95: 5}.timeline(1)
	tl[10].Requests = 50000 // one wild second
	res := Analyze(Input{Timeline: tl}, DefaultOptions())
	if res.MaxSustainedRPS > 1000*1.01+50000/5 || res.MaxSustainedRPS < 1000 {
		t.Fatalf("max sustained = %.1f", res.MaxSustainedRPS)
	}
	// A 5-second mean contains the spike at most once.
	want := (4*1000.0 + 50000) / 5
	if math.Abs(res.MaxSustainedRPS-want) > 1 {
		t.Fatalf("max sustained = %.1f, want %.1f", res.MaxSustainedRPS, want)
	}
}

func TestEmptyAndIdleRuns(t *testing.T) {
	res := Analyze(Input{}, DefaultOptions())
	if res.Knee != nil || len(res.Notes) == 0 {
		t.Fatalf("empty run: %+v", res)
	}
	idle := []results.TimelinePoint{{T: 0, Unix: t0}, {T: 1, Unix: t0 + 1}}
	res = Analyze(Input{Timeline: idle}, DefaultOptions())
	if res.Knee != nil || res.Notes[0] != "no load was offered" {
		t.Fatalf("idle run: %+v", res)
	}
}
