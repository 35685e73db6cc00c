package coord_test

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/brinkhq/brink/internal/agent"
	"github.com/brinkhq/brink/internal/coord"
	"github.com/brinkhq/brink/internal/histogram"
	"github.com/brinkhq/brink/internal/hub/wire"
	"github.com/brinkhq/brink/internal/results"
	"github.com/brinkhq/brink/internal/target"
)

// TestDistributedRunIsExact runs one open-model test over three agents
// and checks the split, the synchronized start, the merged live view and
// the summary against the target's own count and a histogram holding
// every sample.
func TestDistributedRunIsExact(t *testing.T) {
	tg := startTarget(t, target.Config{Latency: 2 * time.Millisecond})
	h := startHub(t, "")
	for _, name := range []string{"a1", "a2", "a3"} {
		startAgent(t, agent.Options{HubURL: h.url(), Name: name, Labels: map[string]string{"zone": "test"}})
	}
	waitAgents(t, h.url(), 3)

	path := scenarioFile(t, `    executor: constant-arrival-rate
    rate: 100
    duration: 4s
    pre_allocated_vus: 10
    max_vus: 50`)
	req := startRequest(t, path, tg.url, 3, coord.PolicyContinue)
	req.Selector = map[string]string{"zone": "test"}
	rr := startRun(t, h.url(), "", req)

	// 100/s over 3 agents is 33.34 + 33.33 + 33.33, and the pools add up.
	var rates []float64
	var pools int64
	for _, s := range rr.resp.Shares {
		rates = append(rates, s.Executors[0].Rate)
		pools += s.Executors[0].MaxVus
	}
	if rates[0] != 33.34 || rates[1] != 33.33 || rates[2] != 33.33 || pools != 50 {
		t.Errorf("shares: rates %v, pools %d", rates, pools)
	}

	res := rr.wait(t)
	sum := summaryOf(t, res)
	if res.Aborted || !res.Complete || len(res.LostAgents) > 0 {
		t.Errorf("result: aborted %v complete %v lost %v", res.Aborted, res.Complete, res.LostAgents)
	}
	served := tg.srv.Stats().Requests
	if sum.Requests != served || served == 0 {
		t.Errorf("summary has %d requests, the target served %d", sum.Requests, served)
	}
	// Each agent schedules iteration i at i/rate for 4 s: 134 + 134 + 134.
	if scheduled := sum.Iterations + sum.Dropped; scheduled != 402 {
		t.Errorf("%d iterations and %d dropped: %d scheduled, want 402", sum.Iterations, sum.Dropped, scheduled)
	}
	if !res.ThresholdsOk || len(res.Thresholds) != 2 {
		t.Errorf("thresholds: ok %v %v", res.ThresholdsOk, res.Thresholds)
	}
	if res.StartSkewNs <= 0 {
		t.Error("no start skew measured")
	}
	// The goal is 50 ms (bench/agents.sh reports it); on a shared test
	// machine only synchronization itself is checked: agents that started
	// on their Assign instead of the common instant would be far apart.
	t.Logf("start skew across 3 agents: %s (clock uncertainty %s)", time.Duration(res.StartSkewNs), time.Duration(res.ClockUncertaintyNs))
	if time.Duration(res.StartSkewNs) > time.Second {
		t.Errorf("start skew %s", time.Duration(res.StartSkewNs))
	}

	// The run registry holds every agent's seconds; its merged latency is
	// the latency of one histogram with every sample: compare with the
	// merge of the live view's seconds, second by second (exact merge).
	view := h.run(rr.id)
	if view.Totals.Requests != served || len(view.Sources) != 3 {
		t.Errorf("registry: %d requests from %d sources", view.Totals.Requests, len(view.Sources))
	}
	// The run's summary, as the hub keeps it, says how the agents did.
	var kept struct {
		Requests int64                 `json:"requests"`
		Agents   results.AgentsSummary `json:"agents"`
	}
	if err := json.Unmarshal(view.Summary, &kept); err != nil {
		t.Fatal(err)
	}
	if kept.Requests != served || len(kept.Agents.Agents) != 3 || kept.Agents.StartSkewMs <= 0 || !kept.Agents.Complete {
		t.Errorf("kept summary: %+v", kept)
	}
	for _, a := range kept.Agents.Agents {
		if a.Outcome != coord.LinkDone || a.Produced == 0 || a.Held != a.Produced {
			t.Errorf("kept summary, agent %+v", a)
		}
	}
	lat, err := h.h.Runs().Latency(runsLatencyQuery(rr.id, rr.seen.seconds[0].UnixSecond))
	if err != nil {
		t.Fatal(err)
	}
	live := histogram.New()
	var liveRequests int64
	for _, p := range rr.seen.seconds {
		s, err := wire.SecondFromProto(p)
		if err != nil {
			t.Fatal(err)
		}
		total := s.Total()
		live.Merge(total.Latency)
		liveRequests += total.Requests
	}
	if liveRequests != served {
		t.Errorf("the live view shows %d requests, the target served %d", liveRequests, served)
	}
	for _, q := range lat.Quantiles {
		if got := live.Quantile(q.Q); got != q.Us {
			t.Errorf("p%v: live merge %dµs, registry %dµs", q.Q*100, got, q.Us)
		}
	}
	if p99 := sum.LatencyMs.P99; math.Abs(p99-float64(live.Quantile(0.99))/1000) > 1e-9 {
		t.Errorf("summary p99 %vms, merged histogram %vms", p99, float64(live.Quantile(0.99))/1000)
	}
	if !rr.seen.hasEvent(coord.KindAgentsStarted, "") || !rr.seen.hasEvent(coord.KindStartSkew, "") {
		t.Errorf("events: %v", rr.seen.events)
	}
	var ra coord.RunAgentsJSON
	getJSON(t, h.url()+"/api/v1/runs/"+rr.id+"/agents", &ra)
	if ra.State != coord.StateFinished || len(ra.Agents) != 3 || ra.StartSkewMs == nil {
		t.Errorf("run agents: %+v", ra)
	}
	for _, a := range ra.Agents {
		if a.Link != coord.LinkDone || a.Produced == 0 || a.Produced != a.Acked {
			t.Errorf("agent row %+v", a)
		}
	}
}
