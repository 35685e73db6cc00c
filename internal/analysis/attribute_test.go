package analysis

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/brinkhq/brink/internal/results"
)

// gauge is a resource series following f over the seconds of tl.
func gauge(tl []results.TimelinePoint, name, entity string, f func(p results.TimelinePoint) float64) Series {
	s := Series{Name: name, Entity: entity}
	for _, p := range tl {
		s.Points = append(s.Points, Point{T: p.Unix, V: f(p)})
	}
	return s
}

func constant(v float64) func(results.TimelinePoint) float64 {
	return func(results.TimelinePoint) float64 { return v }
}

// saturating rises with the good throughput and pins at limit once the
// throughput reaches capacity.
func saturating(capacity, limit float64) func(p results.TimelinePoint) float64 {
	return func(p results.TimelinePoint) float64 {
		return math.Min(limit, limit*float64(p.Requests-p.Failures)/capacity)
	}
}

func throttledFrom(capacity float64) func(p results.TimelinePoint) float64 {
	return func(p results.TimelinePoint) float64 {
		if float64(p.Requests) >= 0.95*capacity {
			return 0.8
		}
		return 0
	}
}

func TestLimitingResource(t *testing.T) {
	plateau := model{seconds: 120, offered: ramp(100, 2000, 120), capacity: 1000, baseP95: 5, noise: 0.02}
	tl := plateau.timeline(7)
	fastDrops := plateau
	fastDrops.latencyAt = 1e9 // responses stay fast: the pool, not the target, ran out
	fastDrops.dropped = func(_ int, x float64) int64 { return int64(math.Max(0, x-1000)) }
	tlFastDrops := fastDrops.timeline(7)
	slowDrops := plateau
	slowDrops.dropped = fastDrops.dropped
	tlSlowDrops := slowDrops.timeline(7)

	host := func(tl []results.TimelinePoint, busy float64) []Series {
		return []Series{gauge(tl, HostCPU, "node-1", constant(busy)), gauge(tl, HostCores, "node-1", constant(2))}
	}
	targetCPU := func(tl []results.TimelinePoint) []Series {
		return []Series{
			gauge(tl, TargetCPU, "web-1", saturating(1000, 0.5)),
			gauge(tl, TargetCPULimit, "web-1", constant(0.5)),
			gauge(tl, TargetThrottled, "web-1", throttledFrom(1000)),
		}
	}
	idleTarget := func(tl []results.TimelinePoint) []Series {
		return []Series{
			gauge(tl, TargetCPU, "web-1", constant(0.1)),
			gauge(tl, TargetCPULimit, "web-1", constant(0.5)),
			gauge(tl, TargetThrottled, "web-1", constant(0)),
		}
	}
	generator := func(tl []results.TimelinePoint, used float64) []Series {
		return []Series{gauge(tl, GeneratorCPU, "", saturating(1000, used)), gauge(tl, GeneratorCapacity, "", constant(1))}
	}
	join := func(ss ...[]Series) []Series {
		var out []Series
		for _, s := range ss {
			out = append(out, s...)
		}
		return out
	}
	cases := []struct {
		name      string
		tl        []results.TimelinePoint
		resources []Series
		want      Resource
		entity    string
		generator bool
		text      string
	}{
		{name: "target CPU at its limit and throttled",
			tl: tl, resources: join(targetCPU(tl), host(tl, 0.9), generator(tl, 0.3)),
			want: ResTargetCPU, entity: "web-1", text: "throttled in 80% of periods"},
		{name: "target memory near its limit",
			tl: tl, resources: join(idleTarget(tl), host(tl, 0.5),
				[]Series{gauge(tl, TargetMemory, "web-1", saturating(1000, 250e6)), gauge(tl, TargetMemoryLimit, "web-1", constant(256e6))}),
			want: ResTargetMemory, entity: "web-1", text: "250MB of 256MB (98%)"},
		{name: "the load balancer's CPU",
			tl: tl, resources: join(idleTarget(tl), host(tl, 0.9), []Series{
				gauge(tl, LBCPU, "lb-1", saturating(1000, 0.5)), gauge(tl, LBCPULimit, "lb-1", constant(0.5)), gauge(tl, LBThrottled, "lb-1", throttledFrom(1000)),
			}),
			want: ResLBCPU, entity: "lb-1"},
		{name: "host CPU when no container is at a limit",
			tl: tl, resources: join(idleTarget(tl), []Series{gauge(tl, HostCPU, "node-1", saturating(1000, 1.98)), gauge(tl, HostCores, "node-1", constant(2))}),
			want: ResHostCPU, entity: "node-1", text: "1.98 of 2.00 cores"},
		{name: "generator CPU saturated, target idle",
			tl: tl, resources: join(idleTarget(tl), host(tl, 1.2), generator(tl, 1)),
			want: ResGeneratorCPU, generator: true, text: "not the target"},
		{name: "generator CPU saturated wins even when the target is throttled",
			tl: tl, resources: join(targetCPU(tl), host(tl, 1.6), generator(tl, 1)),
			want: ResGeneratorCPU, generator: true},
		{name: "VU pool exhausted while responses stay fast",
			tl: tlFastDrops, resources: join(idleTarget(tlFastDrops), host(tlFastDrops, 0.5)),
			want: ResGeneratorVUs, generator: true, text: "max_vus"},
		{name: "VU pool exhausted because the target slowed: the target is named",
			tl: tlSlowDrops, resources: join(targetCPU(tlSlowDrops), host(tlSlowDrops, 0.9)),
			want: ResTargetCPU, entity: "web-1"},
		{name: "resources recorded, none at a limit",
			tl: tl, resources: join(idleTarget(tl), host(tl, 0.5)),
			want: ResUnknown, text: "elsewhere"},
		{name: "no resources recorded",
			tl: tl, want: ResUnknown, text: "brink monitor"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := Analyze(Input{Timeline: tc.tl, Resources: tc.resources}, DefaultOptions())
			if res.Knee == nil || res.Limit == nil {
				t.Fatalf("no knee or no limit: %+v", res)
			}
			l := res.Limit
			if l.Resource != tc.want || l.Entity != tc.entity || l.Generator != tc.generator {
				t.Errorf("limit = %+v, want %s %q generator=%v\nfindings: %+v", l, tc.want, tc.entity, tc.generator, res.Findings)
			}
			if !strings.Contains(l.Text, tc.text) {
				t.Errorf("limit text %q does not contain %q", l.Text, tc.text)
			}
			if tc.generator && strings.Contains(l.Text, "target web-1") {
				t.Errorf("generator saturation blamed on the target: %q", l.Text)
			}
			if _, err := json.Marshal(res); err != nil {
				t.Errorf("result does not encode: %v", err)
			}
		})
	}
}

func TestSlowedDropsAreNotedAsAConsequence(t *testing.T) {
	m := model{seconds: 120, offered: ramp(100, 2000, 120), capacity: 1000, baseP95: 5, noise: 0.02,
		dropped: func(_ int, x float64) int64 { return int64(math.Max(0, x-1000)) }}
	res := Analyze(Input{Timeline: m.timeline(3)}, DefaultOptions())
	var found bool
	for _, f := range res.Findings {
		if f.Resource == ResGeneratorVUs {
			found = true
			if f.Saturated || !strings.Contains(f.Text, "consequence") {
				t.Errorf("drops while the target slowed: %+v", f)
			}
		}
	}
	if !found {
		t.Fatalf("no VU pool finding: %+v", res.Findings)
	}
}

func TestSnapshotAndItsJSON(t *testing.T) {
	tl := model{seconds: 20, offered: func(int) float64 { return 100 }, capacity: 1000, baseP95: 5}.timeline(1)
	rs := []Series{
		gauge(tl, TargetCPU, "web-1", constant(0.4)), gauge(tl, TargetCPU, "web-2", constant(0.2)),
		gauge(tl, TargetCPULimit, "web-1", constant(0.5)), gauge(tl, TargetCPULimit, "web-2", constant(0.5)),
		gauge(tl, TargetThrottled, "web-1", constant(0.3)), gauge(tl, TargetThrottled, "web-2", constant(0.1)),
		gauge(tl, HostCPU, "node-1", constant(1.5)), gauge(tl, HostCores, "node-1", constant(2)),
	}
	s := SnapshotOf(rs, t0+5, t0+9)
	want := Snapshot{Replicas: 2, TargetCPU: 0.3, TargetCPUMax: 0.4, TargetCPULimit: 0.5, TargetThrottled: 0.3, HostCPU: 1.5, HostCores: 2}
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	if s.Replicas != want.Replicas || !near(s.TargetCPU, want.TargetCPU) || !near(s.TargetCPUMax, want.TargetCPUMax) ||
		!near(s.TargetCPULimit, want.TargetCPULimit) || !near(s.TargetThrottled, want.TargetThrottled) ||
		!near(s.HostCPU, want.HostCPU) || !near(s.HostCores, want.HostCores) {
		t.Fatalf("snapshot = %+v, want %+v", s, want)
	}
	if !math.IsNaN(s.LBCPU) || !math.IsNaN(s.TargetMemory) {
		t.Fatalf("absent figures should be NaN: %+v", s)
	}
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"lb_cpu_cores":null`) || !strings.Contains(string(data), `"target_cpu_cores":0.3`) {
		t.Fatalf("JSON: %s", data)
	}
	var back Snapshot
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if back.Replicas != 2 || !near(back.TargetCPU, 0.3) || !math.IsNaN(back.LBCPU) {
		t.Fatalf("round trip: %+v", back)
	}
}
