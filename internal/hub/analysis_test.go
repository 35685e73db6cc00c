package hub

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/brinkhq/brink/internal/analysis"
	"github.com/brinkhq/brink/internal/coord"
	brinkv1 "github.com/brinkhq/brink/internal/gen/brink/v1"
	"github.com/brinkhq/brink/internal/gen/brink/v1/brinkv1connect"
	"github.com/brinkhq/brink/internal/hub/events"
	"github.com/brinkhq/brink/internal/hub/wire"
	"github.com/brinkhq/brink/internal/results"
	"github.com/prometheus/prometheus/prompb"
)

// rampRun is a synthetic open-model run against a service with a known
// capacity: the offered rate climbs by step each second from first; the
// service answers at most capacity req/s. Past the capacity either the
// target slows (its CPU pinned at its limit, throttled) or, with
// poolLimited, the generator's VU pool runs out while responses stay fast.
type rampRun struct {
	seconds     int
	first, step float64
	capacity    float64
	poolLimited bool
}

func (m rampRun) offered(i int) float64 { return m.first + m.step*float64(i) }

// second is what a generator would report for second i.
func (m rampRun) second(unix int64, i int) *results.Second {
	x := m.offered(i)
	s := results.NewSecond(unix)
	s.TargetRate = x
	s.VUs = 50
	st := s.Stats("home")
	st.Requests = int64(math.Min(x, m.capacity))
	p95us := int64(2000)
	switch {
	case m.poolLimited:
		s.Dropped = int64(x) - st.Requests
	case x > m.capacity:
		p95us += int64(1000 * (x - m.capacity))
	}
	st.Latency.RecordN(p95us/2, st.Requests*9/10)
	st.Latency.RecordN(p95us, st.Requests-st.Requests*9/10)
	s.Iterations = st.Requests
	return s
}

// cpu is the target's CPU use in second i: half a core at capacity.
func (m rampRun) cpu(i int) float64 {
	if m.poolLimited {
		return 0.1
	}
	return 0.5 * math.Min(m.offered(i), m.capacity) / m.capacity
}

// throttled is how many of the second's 10 CFS periods were throttled.
func (m rampRun) throttled(i int) float64 {
	if !m.poolLimited && m.offered(i) > m.capacity {
		return 7
	}
	return 0
}

// resources are the series a monitor on node-1 would remote-write for the
// target's container web-1 (0.5-core, 256 MiB limits) and the host
// (2 CPUs, 0.6 busy) over the run. A sample at t describes the second
// before t.
func (m rampRun) resources(service string, start time.Time) []prompb.TimeSeries {
	var cpu, periods, throttled, quota, period, ws, lim, idle, user []prompb.Sample
	var cpuSum, periodsSum, throttledSum float64
	for i := 0; i <= m.seconds+8; i++ {
		ms := start.Add(time.Duration(i) * time.Second).UnixMilli()
		if i > 0 && i <= m.seconds {
			cpuSum += m.cpu(i - 1)
			throttledSum += m.throttled(i - 1)
		}
		periodsSum += 10
		cpu = append(cpu, prompb.Sample{Timestamp: ms, Value: cpuSum})
		periods = append(periods, prompb.Sample{Timestamp: ms, Value: periodsSum})
		throttled = append(throttled, prompb.Sample{Timestamp: ms, Value: throttledSum})
		quota = append(quota, prompb.Sample{Timestamp: ms, Value: 50000})
		period = append(period, prompb.Sample{Timestamp: ms, Value: 100000})
		ws = append(ws, prompb.Sample{Timestamp: ms, Value: 50 << 20})
		lim = append(lim, prompb.Sample{Timestamp: ms, Value: 256 << 20})
		idle = append(idle, prompb.Sample{Timestamp: ms, Value: 0.7 * float64(i)})
		user = append(user, prompb.Sample{Timestamp: ms, Value: 0.3 * float64(i)})
	}
	c := []string{"service", service, "name", "web-1", "container", "web-1", "host", "node-1"}
	return []prompb.TimeSeries{
		series("container_cpu_usage_seconds_total", c, cpu...),
		series("container_cpu_cfs_periods_total", c, periods...),
		series("container_cpu_cfs_throttled_periods_total", c, throttled...),
		series("container_spec_cpu_quota", c, quota...),
		series("container_spec_cpu_period", c, period...),
		series("container_memory_working_set_bytes", c, ws...),
		series("container_spec_memory_limit_bytes", c, lim...),
		series("node_cpu_seconds_total", []string{"host", "node-1", "cpu", "0", "mode", "idle"}, idle...),
		series("node_cpu_seconds_total", []string{"host", "node-1", "cpu", "0", "mode", "user"}, user...),
		series("node_cpu_seconds_total", []string{"host", "node-1", "cpu", "1", "mode", "idle"}, idle...),
		series("node_cpu_seconds_total", []string{"host", "node-1", "cpu", "1", "mode", "user"}, user...),
	}
}

// report sends the run to the hub as `brink run --hub` does; with finish
// false the reporter "dies" after its last second. It returns the summary.
func (m rampRun) report(t *testing.T, url, id, service string, start time.Time, finish bool, extra map[string]any) results.Summary {
	t.Helper()
	ctx := context.Background()
	rpc := brinkv1connect.NewRunServiceClient(http.DefaultClient, url)
	if _, err := rpc.StartRun(ctx, connect.NewRequest(&brinkv1.StartRunRequest{RunId: id, Source: "laptop", Name: id,
		TargetService: service, StartUnixMs: start.UnixMilli()})); err != nil {
		t.Fatal(err)
	}
	acc := results.NewAccumulator(start)
	push := &brinkv1.PushSecondsRequest{RunId: id, Source: "laptop"}
	for i := range m.seconds {
		s := m.second(start.Unix()+int64(i), i)
		push.Seconds = append(push.Seconds, wire.SecondToProto(s, uint64(i+1)))
		acc.Add(s)
	}
	if _, err := rpc.PushSeconds(ctx, connect.NewRequest(push)); err != nil {
		t.Fatal(err)
	}
	acc.SetEnd(start.Add(time.Duration(m.seconds) * time.Second))
	sum := acc.Summary()
	if !finish {
		return sum
	}
	b, err := json.Marshal(sum)
	if err != nil {
		t.Fatal(err)
	}
	if extra != nil {
		var fields map[string]any
		if err := json.Unmarshal(b, &fields); err != nil {
			t.Fatal(err)
		}
		for k, v := range extra {
			fields[k] = v
		}
		if b, err = json.Marshal(fields); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := rpc.FinishRun(ctx, connect.NewRequest(&brinkv1.FinishRunRequest{RunId: id, Source: "laptop",
		EndUnixMs: sum.End.UnixMilli(), SummaryJson: b, ThresholdsOk: true, LastSequence: uint64(m.seconds)})); err != nil {
		t.Fatal(err)
	}
	return sum
}

func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "hub.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// getAnalysis fetches /api/v1/runs/<id>/analysis (with a query string).
func getAnalysis(t *testing.T, url, id, query string) RunAnalysis {
	t.Helper()
	var ra RunAnalysis
	getJSON(t, url+"/api/v1/runs/"+id+"/analysis"+query, &ra)
	return ra
}

// waitKept waits until the hub keeps a final analysis of run id.
func waitKept(t *testing.T, url, id string) RunAnalysis {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		var v struct {
			Analysis *RunAnalysis `json:"analysis"`
		}
		getJSON(t, url+"/api/v1/runs/"+id, &v)
		if v.Analysis != nil {
			if !v.Analysis.Final {
				t.Fatalf("run %s keeps a provisional analysis: %+v", id, v.Analysis)
			}
			return *v.Analysis
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s: no analysis kept 90 s after it ended", id)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func kneeEvents(t *testing.T, url, id string) []events.Event {
	t.Helper()
	var evs struct {
		Events []events.Event `json:"events"`
	}
	getJSON(t, url+"/api/v1/events?kind=knee&run="+id, &evs)
	return evs.Events
}

// TestRunAnalysis feeds a real hub a run that drives a 0.5-core container
// past its capacity, with the container's series remote-written as a
// monitor does, and checks that the hub places the knee at the capacity,
// names the container's CPU, keeps the analysis across a restart and marks
// the knee in the events.
func TestRunAnalysis(t *testing.T) {
	const delay = 5 * time.Second
	dir := t.TempDir()
	cfg := writeConfig(t, "runs:\n  analysis_delay: 5s\n")
	th := startHub(t, Options{DataDir: dir, ConfigFile: cfg})
	m := rampRun{seconds: 50, first: 40, step: 10, capacity: 300}
	start := time.Now().Truncate(time.Second).Add(-70 * time.Second)
	if code, body := remoteWrite(t, th.url, "", encodeWrite(t, m.resources("web", start))); code != http.StatusNoContent {
		t.Fatalf("remote write: %d %s", code, body)
	}
	finished := time.Now()
	m.report(t, th.url, "r-cpu", "web", start, true, nil)

	// Asked for before the delay is over, the analysis is computed but
	// provisional: not kept, no event.
	early := getAnalysis(t, th.url, "r-cpu", "")
	if time.Since(finished) < delay {
		if early.Final || early.Kept {
			t.Errorf("analysis asked for %v after the run ended is final (%v) or kept (%v)", time.Since(finished), early.Final, early.Kept)
		}
		if evs := kneeEvents(t, th.url, "r-cpu"); len(evs) != 0 {
			t.Errorf("a provisional analysis appended %d knee events", len(evs))
		}
	} else {
		t.Logf("the first request took %v, longer than the analysis delay: provisional state not checked", time.Since(finished))
	}

	kept := waitKept(t, th.url, "r-cpu")
	t.Logf("analysis: %s", kept.Text)
	k := kept.Knee
	if k == nil {
		t.Fatalf("no knee: %s (notes %v)", kept.Text, kept.Notes)
	}
	if k.OfferedUnit != "iterations/s" || math.Abs(k.Offered-m.capacity) > 0.2*m.capacity {
		t.Errorf("knee at %g %s, want within 20%% of %g iterations/s", k.Offered, k.OfferedUnit, m.capacity)
	}
	if l := kept.Limit; l == nil || l.Resource != analysis.ResTargetCPU || l.Entity != "web-1" || l.Generator {
		t.Errorf("limit %+v, want the CPU of web-1", l)
	}
	if !kept.Kept || kept.ServiceChosen {
		t.Errorf("kept analysis: kept %v, service chosen %v", kept.Kept, kept.ServiceChosen)
	}
	if kept.TimelineFrom != timelineFromSummary || kept.Seconds != m.seconds || kept.TargetService != "web" || kept.ResourceSeries == 0 {
		t.Errorf("analysis facts: from %q, %d seconds, service %q, %d resource series", kept.TimelineFrom, kept.Seconds, kept.TargetService, kept.ResourceSeries)
	}
	if !strings.HasPrefix(kept.Text, "knee at ") || !strings.Contains(kept.Text, "target web-1 CPU at 0.50 of 0.50 cores") ||
		!strings.Contains(kept.Text, "throttled in 70% of periods") {
		t.Errorf("headline %q", kept.Text)
	}
	evs := kneeEvents(t, th.url, "r-cpu")
	if len(evs) != 1 {
		t.Fatalf("%d knee events, want 1: %+v", len(evs), evs)
	}
	e := evs[0]
	if e.TimeMs != (k.Unix+1)*1000 || e.Message != kept.Text || e.Service != "web" ||
		e.Fields["limit"] != "target_cpu" || e.Fields["generator"] != "false" || e.Fields["entity"] != "web-1" {
		t.Errorf("knee event %+v, knee second %d", e, k.Unix)
	}
	// The endpoint answers the kept analysis as it is, also when asked for
	// the run's own service by name.
	for _, q := range []string{"", "?service=web"} {
		if again := getAnalysis(t, th.url, "r-cpu", q); again.ComputedMs != kept.ComputedMs || !again.Final {
			t.Errorf("%s: kept analysis computed at %d, endpoint answers one computed at %d", q, kept.ComputedMs, again.ComputedMs)
		}
	}

	// A restarted hub still has it, and does not compute it again.
	th.stop()
	th = startHub(t, Options{DataDir: dir, ConfigFile: cfg})
	if again := getAnalysis(t, th.url, "r-cpu", ""); again.ComputedMs != kept.ComputedMs || again.Knee == nil || again.Knee.Unix != k.Unix {
		t.Errorf("after a restart: computed at %d (kept %d), knee %+v", again.ComputedMs, kept.ComputedMs, again.Knee)
	}
	// ?refresh=1 computes it again; the same knee is not marked twice.
	time.Sleep(2 * time.Millisecond)
	fresh := getAnalysis(t, th.url, "r-cpu", "?refresh=1")
	if !fresh.Final || fresh.ComputedMs <= kept.ComputedMs || fresh.Knee == nil || fresh.Knee.Unix != k.Unix {
		t.Errorf("refreshed: final %v, computed at %d (kept %d), knee %+v", fresh.Final, fresh.ComputedMs, kept.ComputedMs, fresh.Knee)
	}
	if evs := kneeEvents(t, th.url, "r-cpu"); len(evs) != 1 {
		t.Errorf("%d knee events after a refresh of the same knee, want 1", len(evs))
	}
	if got := waitKept(t, th.url, "r-cpu"); got.ComputedMs != fresh.ComputedMs {
		t.Errorf("the refreshed analysis was not kept: %d, want %d", got.ComputedMs, fresh.ComputedMs)
	}

	for path, code := range map[string]int{
		"/api/v1/runs/nope/analysis":            http.StatusNotFound,
		"/api/v1/runs/r-cpu/analysis?refresh=2": http.StatusBadRequest,
	} {
		resp, err := http.Get(th.url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != code {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, code)
		}
	}
}

// TestRunAnalysisAfterRestart: a run that ended just before the hub
// stopped, during its analysis delay, is analyzed when the hub is back,
// without anyone asking.
func TestRunAnalysisAfterRestart(t *testing.T) {
	dir := t.TempDir()
	th := startHub(t, Options{DataDir: dir, ConfigFile: writeConfig(t, "runs:\n  analysis_delay: 1h\n")})
	m := rampRun{seconds: 50, first: 40, step: 10, capacity: 300}
	start := time.Now().Truncate(time.Second).Add(-70 * time.Second)
	if code, body := remoteWrite(t, th.url, "", encodeWrite(t, m.resources("web", start))); code != http.StatusNoContent {
		t.Fatalf("remote write: %d %s", code, body)
	}
	m.report(t, th.url, "r-restart", "web", start, true, nil)
	th.stop()
	th = startHub(t, Options{DataDir: dir, ConfigFile: writeConfig(t, "runs:\n  analysis_delay: 1s\n")})
	kept := waitKept(t, th.url, "r-restart")
	if kept.Knee == nil || kept.Limit == nil || kept.Limit.Resource != analysis.ResTargetCPU {
		t.Errorf("after a restart: %s", kept.Text)
	}
	if evs := kneeEvents(t, th.url, "r-restart"); len(evs) != 1 {
		t.Errorf("%d knee events, want 1", len(evs))
	}
}

// TestRunAnalysisChosenService: a run that named no target service (as
// `brink run --url` reports) has its knee but no container to blame; asked
// for with ?service=, the hub looks at that service's containers without
// replacing what it keeps.
func TestRunAnalysisChosenService(t *testing.T) {
	th := startHub(t, Options{ConfigFile: writeConfig(t, "runs:\n  analysis_delay: 1s\n")})
	m := rampRun{seconds: 50, first: 40, step: 10, capacity: 300}
	start := time.Now().Truncate(time.Second).Add(-70 * time.Second)
	if code, body := remoteWrite(t, th.url, "", encodeWrite(t, m.resources("web", start))); code != http.StatusNoContent {
		t.Fatalf("remote write: %d %s", code, body)
	}
	m.report(t, th.url, "r-nosvc", "", start, true, nil)
	kept := waitKept(t, th.url, "r-nosvc")
	t.Logf("analysis: %s", kept.Text)
	if kept.Knee == nil || kept.Limit == nil || kept.Limit.Resource != analysis.ResUnknown || kept.TargetService != "" ||
		!strings.Contains(kept.Limit.Text, "no target service") {
		t.Fatalf("without a target service: knee %+v, limit %+v, service %q", kept.Knee, kept.Limit, kept.TargetService)
	}
	chosen := getAnalysis(t, th.url, "r-nosvc", "?service=web")
	t.Logf("analysis of web: %s", chosen.Text)
	if !chosen.ServiceChosen || chosen.Kept || !chosen.Final || chosen.TargetService != "web" ||
		chosen.Limit == nil || chosen.Limit.Resource != analysis.ResTargetCPU || chosen.Limit.Entity != "web-1" ||
		chosen.Knee == nil || chosen.Knee.Unix != kept.Knee.Unix {
		t.Errorf("with ?service=web: %+v", chosen)
	}
	if again := getAnalysis(t, th.url, "r-nosvc", ""); again.ComputedMs != kept.ComputedMs || again.TargetService != "" {
		t.Errorf("a chosen service replaced the kept analysis: %+v", again)
	}
	if evs := kneeEvents(t, th.url, "r-nosvc"); len(evs) != 1 {
		t.Errorf("%d knee events, want 1", len(evs))
	}
}

// TestRunAnalysisSummaryFields: what the reporter's summary says about the
// run counts: its target service when the run was started without one, and
// how late the generator started its iterations.
func TestRunAnalysisSummaryFields(t *testing.T) {
	th := startHub(t, Options{ConfigFile: writeConfig(t, "runs:\n  analysis_delay: 1s\n")})
	m := rampRun{seconds: 50, first: 40, step: 10, capacity: 300}
	start := time.Now().Truncate(time.Second).Add(-70 * time.Second)
	if code, body := remoteWrite(t, th.url, "", encodeWrite(t, m.resources("web", start))); code != http.StatusNoContent {
		t.Fatalf("remote write: %d %s", code, body)
	}
	m.report(t, th.url, "r-sum", "", start, true, map[string]any{
		"target_service": "web", "schedule_jitter_ms": results.Latency{P50: 0.05, P99: 25, Max: 40},
	})
	kept := waitKept(t, th.url, "r-sum")
	if kept.TargetService != "web" || kept.Limit == nil || kept.Limit.Resource != analysis.ResTargetCPU || kept.Limit.Entity != "web-1" {
		t.Errorf("service %q, limit %+v: want the summary's target service web and its container", kept.TargetService, kept.Limit)
	}
	late := false
	for _, n := range kept.Notes {
		late = late || strings.Contains(n, "25.0ms late")
	}
	if !late {
		t.Errorf("notes %q do not mention the schedule lateness (p99 25 ms)", kept.Notes)
	}
}

// TestRunAnalysisGenerator: a run whose generator ran out of VUs while the
// target answered fast is the generator's knee, reported as such, also
// when the reporter died and the hub rebuilt the run from its series.
func TestRunAnalysisGenerator(t *testing.T) {
	th := startHub(t, Options{ConfigFile: writeConfig(t, "runs:\n  finalize_grace: 1s\n  lost_after: 3s\n  analysis_delay: 1s\n")})
	m := rampRun{seconds: 50, first: 40, step: 10, capacity: 250, poolLimited: true}
	start := time.Now().Truncate(time.Second).Add(-70 * time.Second)
	if code, body := remoteWrite(t, th.url, "", encodeWrite(t, m.resources("api", start))); code != http.StatusNoContent {
		t.Fatalf("remote write: %d %s", code, body)
	}
	m.report(t, th.url, "r-gen", "api", start, false, nil)
	kept := waitKept(t, th.url, "r-gen")
	t.Logf("analysis: %s", kept.Text)
	if kept.TimelineFrom != timelineFromSeries || kept.Seconds != m.seconds {
		t.Errorf("a run without a summary: timeline from %q with %d seconds", kept.TimelineFrom, kept.Seconds)
	}
	if kept.Knee == nil || kept.Limit == nil || !kept.Limit.Generator || kept.Limit.Resource != analysis.ResGeneratorVUs {
		t.Fatalf("knee %+v limit %+v, want the generator's VU pool (%s)", kept.Knee, kept.Limit, kept.Text)
	}
	evs := kneeEvents(t, th.url, "r-gen")
	if len(evs) != 1 || !strings.Contains(evs[0].Message, "the load generator, not the target") || evs[0].Fields["generator"] != "true" {
		t.Errorf("knee events %+v", evs)
	}
}

// TestRunAnalysisSaturatedAgent: in a distributed run, an agent whose CPU
// was at its limit by the knee makes the knee the generator's even though
// the target was throttled too.
func TestRunAnalysisSaturatedAgent(t *testing.T) {
	th := startHub(t, Options{ConfigFile: writeConfig(t, "runs:\n  analysis_delay: 1s\n")})
	m := rampRun{seconds: 50, first: 40, step: 10, capacity: 300}
	start := time.Now().Truncate(time.Second).Add(-70 * time.Second)
	if code, body := remoteWrite(t, th.url, "", encodeWrite(t, m.resources("web", start))); code != http.StatusNoContent {
		t.Fatalf("remote write: %d %s", code, body)
	}
	if _, err := th.Events().Append(events.Event{Kind: coord.KindAgentSaturated, Run: "r-dist", Service: "web", Host: "gen-1",
		TimeMs: start.Add(10 * time.Second).UnixMilli(), Message: "agent a1 is saturated", Fields: map[string]string{"agent": "a1"}}); err != nil {
		t.Fatal(err)
	}
	agents := results.AgentsSummary{Complete: true, Agents: []results.AgentSummary{
		{Name: "a1", Hostname: "gen-1", Outcome: "done", Saturated: true, SaturationReason: "CPU at 97% of 1 cores for 3s"},
		{Name: "a2", Hostname: "gen-2", Outcome: "done"},
	}}
	m.report(t, th.url, "r-dist", "web", start, true, map[string]any{"agents": agents})
	kept := waitKept(t, th.url, "r-dist")
	t.Logf("analysis: %s", kept.Text)
	l := kept.Limit
	if l == nil || !l.Generator || l.Resource != analysis.ResGeneratorCPU || l.Entity != "a1" ||
		!strings.Contains(l.Text, "agent a1 (gen-1): CPU at 97% of 1 cores for 3s") {
		t.Fatalf("limit %+v, want agent a1's CPU", l)
	}
	if len(kept.Findings) < 2 || kept.Findings[0].Entity != "a1" {
		t.Errorf("findings %+v", kept.Findings)
	}
}

// TestBlameSaturatedAgents covers which agents' saturation makes a knee the
// generator's.
func TestBlameSaturatedAgents(t *testing.T) {
	const knee = 1_700_000_100
	cpu := results.AgentSummary{Name: "a1", Hostname: "h1", Saturated: true, SaturationReason: "CPU at 95% of 2 cores for 3s"}
	pool := results.AgentSummary{Name: "a2", Hostname: "h2", Saturated: true, SaturationReason: "12 iterations dropped at 10:00:00: every VU of the pool was busy"}
	at := func(name string, unix int64) events.Event {
		return events.Event{Kind: coord.KindAgentSaturated, TimeMs: unix * 1000, Fields: map[string]string{"agent": name}}
	}
	targetLimit := &analysis.Limit{Resource: analysis.ResTargetCPU, Entity: "web-1", Text: "target web-1 CPU"}
	tests := []struct {
		name      string
		knee      bool
		agents    []results.AgentSummary
		events    []events.Event
		limit     *analysis.Limit
		generator bool
	}{
		{"no agents section", true, nil, nil, targetLimit, false},
		{"no knee", false, []results.AgentSummary{cpu}, nil, nil, false},
		{"CPU-saturated before the knee", true, []results.AgentSummary{cpu}, []events.Event{at("a1", knee-5)}, targetLimit, true},
		{"CPU-saturated, time unknown", true, []results.AgentSummary{cpu}, nil, targetLimit, true},
		{"CPU-saturated within the window", true, []results.AgentSummary{cpu}, []events.Event{at("a1", knee+6)}, targetLimit, true},
		{"CPU-saturated only after the window", true, []results.AgentSummary{cpu}, []events.Event{at("a1", knee+30)}, targetLimit, false},
		{"VU pool only: the analysis judges dropped iterations itself", true, []results.AgentSummary{pool}, []events.Event{at("a2", knee-5)}, targetLimit, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := analysis.Result{Limit: tt.limit}
			if tt.knee {
				res.Knee = &analysis.Knee{Unix: knee}
			}
			var as *results.AgentsSummary
			if tt.agents != nil {
				as = &results.AgentsSummary{Agents: tt.agents}
			}
			blameSaturatedAgents(&res, as, tt.events)
			got := res.Limit != nil && res.Limit.Generator
			if got != tt.generator {
				t.Fatalf("generator blamed: %v, want %v (limit %+v)", got, tt.generator, res.Limit)
			}
			if got && (res.Limit.Entity != "a1" || !strings.HasPrefix(res.Limit.Text, "the load generator, not the target: agent a1 (h1)")) {
				t.Errorf("limit %+v", res.Limit)
			}
		})
	}
}
