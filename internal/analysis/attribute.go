package analysis

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/brinkhq/brink/internal/output"
)

// resourceSet indexes an Input's series by name and entity.
type resourceSet map[string]map[string]*Series

func indexResources(series []Series) resourceSet {
	rs := resourceSet{}
	for i := range series {
		s := &series[i]
		if rs[s.Name] == nil {
			rs[s.Name] = map[string]*Series{}
		}
		if prev := rs[s.Name][s.Entity]; prev != nil {
			// The same series split in two parts (a restarted monitor):
			// join them.
			joined := &Series{Name: s.Name, Entity: s.Entity, Points: append(slices.Clone(prev.Points), s.Points...)}
			rs[s.Name][s.Entity] = joined
			continue
		}
		rs[s.Name][s.Entity] = s
	}
	return rs
}

// entities lists the entities of a series name, sorted.
func (rs resourceSet) entities(name string) []string {
	var out []string
	for e := range rs[name] {
		out = append(out, e)
	}
	slices.Sort(out)
	return out
}

// stat is a quantile of a series of one entity over [from, to]; NaN when
// there is no such series or no point in the window.
func (rs resourceSet) stat(name, entity string, from, to int64, q float64) float64 {
	s := rs[name][entity]
	if s == nil {
		return math.NaN()
	}
	return quantile(s.window(from, to), q)
}

// Attribution looks at the upper quartile of each resource over the window
// (the knee's second from one second before to six after): CPU pins at
// its limit at the knee and stays there, while a monitor's samples may lag
// the load by a second.
const attributionQuantile = 0.75

// attribute examines every resource in [from, to].
func attribute(in Input, tl *timeline, knee *Knee, from, to int64, o Options) []Finding {
	rs := indexResources(in.Resources)
	q := attributionQuantile
	var fs []Finding

	cpuFinding := func(res Resource, used, limit, throttled float64, entity, what string) {
		if math.IsNaN(used) {
			return
		}
		f := Finding{Resource: res, Entity: entity, Used: used}
		var parts []string
		if !math.IsNaN(limit) && limit > 0 {
			f.Limit, f.Utilization = limit, used/limit
			parts = append(parts, fmt.Sprintf("%s %s CPU at %s of %s cores (%s)", what, entity, cores(used), cores(limit), pct(f.Utilization)))
		} else {
			parts = append(parts, fmt.Sprintf("%s %s CPU at %s cores (no limit)", what, entity, cores(used)))
		}
		if !math.IsNaN(throttled) {
			f.ThrottledRatio = throttled
			parts = append(parts, fmt.Sprintf("throttled in %s of periods", pct(throttled)))
		}
		f.Saturated = f.Utilization >= o.Saturation || f.ThrottledRatio >= o.Throttled
		f.Text = strings.Join(parts, ", ")
		fs = append(fs, f)
	}
	for _, e := range rs.entities(TargetCPU) {
		cpuFinding(ResTargetCPU, rs.stat(TargetCPU, e, from, to, q), rs.stat(TargetCPULimit, e, from, to, 0.5),
			rs.stat(TargetThrottled, e, from, to, q), e, "target")
	}
	for _, e := range rs.entities(TargetMemory) {
		used := rs.stat(TargetMemory, e, from, to, 1)
		if math.IsNaN(used) {
			continue
		}
		f := Finding{Resource: ResTargetMemory, Entity: e, Used: used}
		if limit := rs.stat(TargetMemoryLimit, e, from, to, 0.5); !math.IsNaN(limit) && limit > 0 {
			f.Limit, f.Utilization = limit, used/limit
			f.Text = fmt.Sprintf("target %s memory at %s of %s (%s)", e, output.FormatBytes(int64(used)), output.FormatBytes(int64(limit)), pct(f.Utilization))
		} else {
			f.Text = fmt.Sprintf("target %s memory at %s (no limit)", e, output.FormatBytes(int64(used)))
		}
		f.Saturated = f.Utilization >= o.Saturation
		fs = append(fs, f)
	}
	for _, e := range rs.entities(LBCPU) {
		cpuFinding(ResLBCPU, rs.stat(LBCPU, e, from, to, q), rs.stat(LBCPULimit, e, from, to, 0.5),
			rs.stat(LBThrottled, e, from, to, q), e, "load balancer")
	}
	for _, e := range rs.entities(HostCPU) {
		used, n := rs.stat(HostCPU, e, from, to, q), rs.stat(HostCores, e, from, to, 0.5)
		if math.IsNaN(used) || math.IsNaN(n) || n <= 0 {
			continue
		}
		f := Finding{Resource: ResHostCPU, Entity: e, Used: used, Limit: n, Utilization: used / n}
		f.Saturated = f.Utilization >= o.Saturation
		f.Text = fmt.Sprintf("host %s CPU at %s of %s cores (%s)", e, cores(used), cores(n), pct(f.Utilization))
		if g := rs.stat(GeneratorCPU, "", from, to, q); !math.IsNaN(g) && used > 0 {
			f.Text += fmt.Sprintf(", %s of it the load generator", cores(g))
		}
		fs = append(fs, f)
	}

	// The generator: its CPU, its VU pool, its schedule.
	if used := rs.stat(GeneratorCPU, "", from, to, q); !math.IsNaN(used) {
		f := Finding{Resource: ResGeneratorCPU, Used: used}
		if c := rs.stat(GeneratorCapacity, "", from, to, 0.5); !math.IsNaN(c) && c > 0 {
			f.Limit, f.Utilization = c, used/c
			f.Saturated = f.Utilization >= o.Saturation
			f.Text = fmt.Sprintf("load generator CPU at %s of the %s cores it may use (%s)", cores(used), cores(c), pct(f.Utilization))
		} else {
			f.Text = fmt.Sprintf("load generator CPU at %s cores", cores(used))
		}
		fs = append(fs, f)
	}
	if tl.open {
		var dropped float64
		var seconds int
		var p95 []float64
		for i, u := range tl.unix {
			if u >= from && u <= to {
				dropped += tl.dropped[i]
				seconds++
				p95 = append(p95, tl.p95[i])
			}
		}
		if dropped > 0 && seconds > 0 {
			low, now := lowLoadP95(tl), median(p95)
			// Iterations wait for a free VU either because responses
			// slowed (the target's doing: each VU is busy longer) or
			// because the pool is too small for the rate at normal speed
			// (the generator's). Only the second is the generator's limit.
			slowed := math.IsNaN(now) || (!math.IsNaN(low) && now > o.LatencyFactor*low)
			if knee != nil {
				for _, s := range knee.Signals {
					slowed = slowed || (s.Kind == SignalLatency && s.Unix <= to)
				}
			}
			f := Finding{Resource: ResGeneratorVUs, Used: dropped / float64(seconds), Saturated: !slowed}
			if slowed {
				f.Text = fmt.Sprintf("the VU pool ran out (%s iterations/s dropped) because responses slowed (p95 %s, %s at low load): a consequence, not the cause",
					output.FormatRate(f.Used), formatMs(now), formatMs(low))
			} else {
				f.Text = fmt.Sprintf("the VU pool ran out (%s iterations/s dropped) while responses stayed fast (p95 %s): give the generator more VUs (max_vus)",
					output.FormatRate(f.Used), formatMs(now))
			}
			fs = append(fs, f)
		}
	}
	if j := rs.stat(GeneratorJitterP99, "", from, to, q); !math.IsNaN(j) {
		limit := float64(o.JitterLimit.Microseconds()) / 1000
		f := Finding{Resource: ResGeneratorJitter, Used: j, Limit: limit, Utilization: j / limit, Saturated: j >= limit}
		f.Text = fmt.Sprintf("the generator started iterations up to %s late (p99)", formatMs(j))
		fs = append(fs, f)
	}
	slices.SortStableFunc(fs, func(a, b Finding) int {
		if a.Saturated != b.Saturated {
			if a.Saturated {
				return -1
			}
			return 1
		}
		return cmp.Compare(score(b), score(a))
	})
	return fs
}

// LimitIn names the limiting resource over [from, to] (unix seconds) of a
// run, without looking for a knee: for a constant-load step known to have
// broken its SLOs.
func LimitIn(in Input, from, to int64, o Options) (*Limit, []Finding) {
	o = o.withDefaults()
	tl := newTimeline(in, o)
	fs := attribute(in, tl, nil, from, to, o)
	r := Result{Findings: fs, Limit: verdict(fs)}
	r.sanitize()
	return r.Limit, r.Findings
}

// score orders findings: a throttled CPU counts as at its limit even when
// its average use reads a little lower.
func score(f Finding) float64 {
	s := f.Utilization
	if f.ThrottledRatio > 0 && f.Saturated {
		s = math.Max(s, 1)
	}
	return s
}

// lowLoadP95 is the median p95 over the first tenth (at least three
// seconds) of the seconds with load.
func lowLoadP95(tl *timeline) float64 {
	var v []float64
	n := 0
	for _, x := range tl.offered {
		if x > 0 {
			n++
		}
	}
	want := max(3, n/10)
	for i, x := range tl.offered {
		if x > 0 && len(v) < want {
			v = append(v, tl.p95[i])
		}
	}
	return median(v)
}

// verdict names the limiting resource. Generator saturation wins whenever
// the generator's CPU was at its limit: the measurement is then about the
// generator, whatever the target did. Otherwise the target's own limits
// (CPU, memory) and the load balancer's come first, then the host's CPU,
// then the generator's schedule and VU pool.
func verdict(fs []Finding) *Limit {
	pick := func(match func(Finding) bool) *Finding {
		var best *Finding
		for i := range fs {
			f := &fs[i]
			if f.Saturated && match(*f) && (best == nil || score(*f) > score(*best)) {
				best = f
			}
		}
		return best
	}
	limit := func(f *Finding, lead string) *Limit {
		return &Limit{Resource: f.Resource, Entity: f.Entity, Generator: f.Resource.IsGenerator(), Text: lead + f.Text}
	}
	if f := pick(func(f Finding) bool { return f.Resource == ResGeneratorCPU }); f != nil {
		return limit(f, "the load generator, not the target: ")
	}
	if f := pick(func(f Finding) bool {
		return f.Resource == ResTargetCPU || f.Resource == ResTargetMemory || f.Resource == ResLBCPU
	}); f != nil {
		return limit(f, "")
	}
	if f := pick(func(f Finding) bool { return f.Resource == ResHostCPU }); f != nil {
		return limit(f, "")
	}
	if f := pick(func(f Finding) bool { return f.Resource.IsGenerator() }); f != nil {
		return limit(f, "the load generator, not the target: ")
	}
	text := "no monitored resource was at its limit: the bottleneck is elsewhere (the application's own concurrency, locks, a downstream service)"
	if len(fs) == 0 {
		text = "unknown: no resource series were recorded for this run (run `brink monitor` on the target's hosts and report the run to a hub)"
	}
	return &Limit{Resource: ResUnknown, Text: text}
}

// snapshot summarizes the resources over [from, to] (to < from: the whole
// series).
func snapshot(series []Series, from, to int64) Snapshot {
	if to < from {
		from, to = math.MinInt64, math.MaxInt64
	}
	rs := indexResources(series)
	nan := math.NaN()
	s := Snapshot{FromUnix: from, ToUnix: to,
		TargetCPU: nan, TargetCPUMax: nan, TargetCPULimit: nan, TargetThrottled: nan,
		TargetMemory: nan, TargetMemoryLimit: nan, HostCPU: nan, HostCores: nan,
		LBCPU: nan, LBCPULimit: nan, LBThrottled: nan, GeneratorCPU: nan, GeneratorCapacity: nan}
	mean := func(name, entity string) float64 {
		v := rs[name][entity]
		if v == nil {
			return nan
		}
		w := v.window(from, to)
		if len(w) == 0 {
			return nan
		}
		var sum float64
		for _, x := range w {
			sum += x
		}
		return sum / float64(len(w))
	}
	var cpus, limits []float64
	for _, e := range rs.entities(TargetCPU) {
		c := mean(TargetCPU, e)
		if math.IsNaN(c) {
			continue
		}
		s.Replicas++
		cpus = append(cpus, c)
		s.TargetCPUMax = nanMax(s.TargetCPUMax, c)
		limits = append(limits, mean(TargetCPULimit, e))
		s.TargetThrottled = nanMax(s.TargetThrottled, mean(TargetThrottled, e))
	}
	if len(cpus) > 0 {
		var sum float64
		for _, c := range cpus {
			sum += c
		}
		s.TargetCPU = sum / float64(len(cpus))
		s.TargetCPULimit = median(limits)
	}
	for _, e := range rs.entities(TargetMemory) {
		if m := mean(TargetMemory, e); !math.IsNaN(m) && (math.IsNaN(s.TargetMemory) || m > s.TargetMemory) {
			s.TargetMemory, s.TargetMemoryLimit = m, mean(TargetMemoryLimit, e)
		}
	}
	for _, e := range rs.entities(HostCPU) {
		if c := mean(HostCPU, e); !math.IsNaN(c) && (math.IsNaN(s.HostCPU) || c > s.HostCPU) {
			s.HostCPU, s.HostCores = c, mean(HostCores, e)
		}
	}
	for _, e := range rs.entities(LBCPU) {
		if c := mean(LBCPU, e); !math.IsNaN(c) && (math.IsNaN(s.LBCPU) || c > s.LBCPU) {
			s.LBCPU, s.LBCPULimit, s.LBThrottled = c, mean(LBCPULimit, e), mean(LBThrottled, e)
		}
	}
	s.GeneratorCPU, s.GeneratorCapacity = mean(GeneratorCPU, ""), mean(GeneratorCapacity, "")
	return s
}

// SnapshotOf summarizes resources over [from, to] (unix seconds, both
// included), for tables that compare runs.
func SnapshotOf(series []Series, from, to int64) Snapshot { return snapshot(series, from, to) }

func nanMax(a, b float64) float64 {
	switch {
	case math.IsNaN(a):
		return b
	case math.IsNaN(b):
		return a
	}
	return math.Max(a, b)
}

func cores(c float64) string { return fmt.Sprintf("%.2f", c) }

func pct(f float64) string { return fmt.Sprintf("%.0f%%", f*100) }
