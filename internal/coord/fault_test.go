package coord_test

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/brinkhq/brink/internal/agent"
	"github.com/brinkhq/brink/internal/coord"
	brinkv1 "github.com/brinkhq/brink/internal/gen/brink/v1"
	"github.com/brinkhq/brink/internal/hub/wire"
	"github.com/brinkhq/brink/internal/target"
)

// TestAgentKilledMidRun kills one of three agents two seconds into a run
// and checks, for each loss policy, that the hub marks it lost within
// 3 s, puts the loss on the run's timeline, and continues, rebalances or
// aborts.
func TestAgentKilledMidRun(t *testing.T) {
	tests := []struct {
		policy string
		// the merged target rate the survivors schedule after the loss
		rateAfter float64
	}{
		{coord.PolicyContinue, 40},
		{coord.PolicyRebalance, 60},
		{coord.PolicyAbort, 0},
	}
	for _, tc := range tests {
		t.Run(tc.policy, func(t *testing.T) {
			t.Parallel()
			tg := startTarget(t, target.Config{})
			h := startHub(t, "")
			agents := map[string]*testAgent{}
			for _, name := range []string{"a1", "a2", "a3"} {
				agents[name] = startAgent(t, agent.Options{HubURL: h.url(), Name: name})
			}
			waitAgents(t, h.url(), 3)
			path := scenarioFile(t, `    executor: constant-arrival-rate
    rate: 60
    duration: 10s
    pre_allocated_vus: 6
    max_vus: 30`)
			rr := startRun(t, h.url(), "", startRequest(t, path, tg.url, 3, tc.policy))
			waitFor(t, 20*time.Second, "the run to start", func() bool { return rr.seen.hasEvent(coord.KindAgentsStarted, "") })
			time.Sleep(2 * time.Second)
			killed := time.Now()
			agents["a3"].kill()

			res := rr.wait(t)
			lostAt := rr.seen.eventTime(coord.KindAgentLost, "a3")
			if lostAt.IsZero() {
				t.Fatalf("no agent_lost event for a3: %v", rr.seen.events)
			}
			detection := lostAt.Sub(killed)
			t.Logf("%s: agent lost %s after it was killed", tc.policy, detection)
			if detection > 3*time.Second {
				t.Errorf("lost after %s, want at most 3s", detection)
			}
			if len(res.LostAgents) != 1 || res.LostAgents[0] != "a3" {
				t.Errorf("lost agents %v", res.LostAgents)
			}
			// The hub's event list has it too, on the run.
			var evs struct {
				Events []struct {
					Kind, Run, Message string
				} `json:"events"`
			}
			getJSON(t, h.url()+"/api/v1/events?kind=agent_lost&run="+rr.id, &evs)
			if len(evs.Events) != 1 || !strings.Contains(evs.Events[0].Message, "a3") {
				t.Errorf("hub events: %+v", evs.Events)
			}
			sum := summaryOf(t, res)
			if tc.policy == coord.PolicyAbort {
				if !res.Aborted || !strings.Contains(res.AbortReason, "a3") || !sum.Aborted {
					t.Errorf("aborted %v (%q)", res.Aborted, res.AbortReason)
				}
				if ended := time.Since(killed); ended > 8*time.Second {
					t.Errorf("the aborted run took %s to end", ended)
				}
				return
			}
			if res.Aborted {
				t.Errorf("run aborted: %s", res.AbortReason)
			}
			// The survivors' scheduled rate, in the live view, once the
			// loss was handled and before the plan's end.
			var rates []float64
			for _, p := range rr.seen.seconds {
				s, err := wire.SecondFromProto(p)
				if err != nil {
					t.Fatal(err)
				}
				if time.Unix(s.T, 0).After(lostAt.Add(time.Second)) && s.VUs > 0 && s.TargetRate > 0 {
					rates = append(rates, s.TargetRate)
				}
			}
			if len(rates) < 2 {
				t.Fatalf("too few seconds after the loss: %v", rates)
			}
			for _, r := range rates[:len(rates)-1] {
				if math.Abs(r-tc.rateAfter) > 0.5 {
					t.Errorf("target rate after the loss %v, want %v (all: %v)", r, tc.rateAfter, rates)
					break
				}
			}
			if tc.policy == coord.PolicyRebalance && !rr.seen.hasEvent(coord.KindShareMoved, "a3") {
				t.Errorf("no share_rebalanced event: %v", rr.seen.events)
			}
			// Everything the hub holds is in the summary, exactly.
			if v := h.run(rr.id); v.Totals.Requests != sum.Requests {
				t.Errorf("summary %d requests, registry %d", sum.Requests, v.Totals.Requests)
			}
		})
	}
}

// TestLinkDropAndHubRestartLoseNothing cuts one agent's link for 30 s,
// then restarts the hub; the agents keep generating, buffer and resend,
// and the run ends with exactly the requests the target served.
func TestLinkDropAndHubRestartLoseNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("cuts a link for 30 s; skipped with -short")
	}
	tg := startTarget(t, target.Config{})
	h := startHub(t, "")
	proxy := startProxy(t, h.addr)
	startAgent(t, agent.Options{HubURL: h.url(), Name: "direct"})
	startAgent(t, agent.Options{HubURL: proxy.url(), Name: "behind-proxy"})
	waitAgents(t, h.url(), 2)
	path := scenarioFile(t, `    executor: constant-arrival-rate
    rate: 40
    duration: 50s
    pre_allocated_vus: 4
    max_vus: 20`)
	rr := startRun(t, h.url(), "", startRequest(t, path, tg.url, 2, coord.PolicyContinue))
	waitFor(t, 20*time.Second, "the run to start", func() bool { return rr.seen.hasEvent(coord.KindAgentsStarted, "") })
	time.Sleep(2 * time.Second)

	proxy.cutLink()
	cut := time.Now()
	waitFor(t, 10*time.Second, "the hub to mark the cut-off agent lost", func() bool {
		return rr.seen.hasEvent(coord.KindAgentLost, "behind-proxy")
	})
	t.Logf("cut-off agent lost after %s", time.Since(cut))
	time.Sleep(30*time.Second - time.Since(cut))
	proxy.restore()
	waitFor(t, 15*time.Second, "the agent to rejoin", func() bool { return rr.seen.hasEvent(coord.KindAgentRejoined, "behind-proxy") })

	// Now the hub restarts, with both agents mid-run.
	time.Sleep(2 * time.Second)
	h.stop()
	time.Sleep(3 * time.Second)
	h.start()

	res := rr.wait(t)
	sum := summaryOf(t, res)
	served := tg.srv.Stats().Requests
	if !res.Complete || res.Aborted || len(res.LostAgents) != 0 {
		t.Errorf("result: complete %v aborted %v lost %v", res.Complete, res.Aborted, res.LostAgents)
	}
	if sum.Requests != served {
		t.Errorf("summary %d requests, the target served %d", sum.Requests, served)
	}
	v := h.run(rr.id)
	if v.Totals.Requests != served {
		t.Errorf("registry %d requests, the target served %d", v.Totals.Requests, served)
	}
	// No missing and no doubled seconds: each agent's seconds are
	// contiguous and each was counted once.
	for _, src := range v.Sources {
		if src.Complete == nil || !*src.Complete || uint64(src.Seconds) != src.LastSequence {
			t.Errorf("source %s: %d seconds held, last sequence %d, complete %v", src.Source, src.Seconds, src.LastSequence, src.Complete)
		}
	}
	if got, want := len(sum.Timeline), int(sum.Timeline[len(sum.Timeline)-1].Unix-sum.Timeline[0].Unix)+1; got != want {
		t.Errorf("timeline has %d seconds over a span of %d: a second is missing", got, want)
	}
	t.Logf("served %d requests; summary %d; start skew %s", served, sum.Requests, time.Duration(res.StartSkewNs))
}

// TestVersionSkew: an agent speaking another agent protocol is refused
// with a message naming both versions; one with another brink version but
// the same protocol runs, with a warning on the run's timeline.
func TestVersionSkew(t *testing.T) {
	h := startHub(t, "")
	a, err := agent.New(agent.Options{HubURL: h.url(), Name: "future", Version: "v9.0.0", Protocol: agent.Protocol + 1,
		Logger: testLog(t, "agent future"), WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	err = runBriefly(t, a)
	if !errors.Is(err, agent.ErrRefused) || !strings.Contains(err.Error(), "version skew") ||
		!strings.Contains(err.Error(), "v9.0.0") || !strings.Contains(err.Error(), "brink test") {
		t.Errorf("agent with another protocol: %v", err)
	}
	if !strings.Contains(h.logs.String(), "refused an agent that speaks another agent protocol") {
		t.Error("the hub did not log the refusal")
	}

	tg := startTarget(t, target.Config{})
	startAgent(t, agent.Options{HubURL: h.url(), Name: "older", Version: "v0.9.0"})
	waitAgents(t, h.url(), 1)
	path := scenarioFile(t, `    executor: constant-vus
    vus: 1
    duration: 1s`)
	rr := startRun(t, h.url(), "", startRequest(t, path, tg.url, 1, coord.PolicyContinue))
	res := rr.wait(t)
	if res.Aborted || !rr.seen.hasEvent(coord.KindVersionSkew, "older") {
		t.Errorf("aborted %v, events %v", res.Aborted, rr.seen.events)
	}
	var list struct {
		Agents []coord.AgentJSON `json:"agents"`
	}
	getJSON(t, h.url()+"/api/v1/agents", &list)
	if len(list.Agents) != 1 || list.Agents[0].SameVersion || list.Agents[0].Version != "v0.9.0" {
		t.Errorf("agents: %+v", list.Agents)
	}
}

// TestWrongTokenIsRefused: only agents with the hub's token join; a
// wrong token is refused with 401 and logged.
func TestWrongTokenIsRefused(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := startHub(t, tokenFile)
	for _, token := range []string{"", "wrong"} {
		a, err := agent.New(agent.Options{HubURL: h.url(), Name: "intruder", Token: token, Logger: testLog(t, "intruder"), WorkDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		err = runBriefly(t, a)
		if !errors.Is(err, agent.ErrRefused) || !strings.Contains(err.Error(), "refused the token") {
			t.Errorf("token %q: %v", token, err)
		}
	}
	if !strings.Contains(h.logs.String(), "refused a request with a missing or wrong token") {
		t.Error("the hub did not log the refusal")
	}
	var list struct {
		Agents []coord.AgentJSON `json:"agents"`
	}
	getJSON(t, h.url()+"/api/v1/agents", &list)
	if len(list.Agents) != 0 {
		t.Errorf("a refused agent is listed: %+v", list.Agents)
	}
	// The right token joins; the run RPCs need it too.
	startAgent(t, agent.Options{HubURL: h.url(), Name: "member", Token: "s3cret"})
	waitAgents(t, h.url(), 1)
	c := coord.NewClient(h.url(), "wrong", nil)
	_, err := c.Start(t.Context(), &brinkv1.StartDistributedRunRequest{Scenario: "x"})
	if err == nil || !strings.Contains(err.Error(), "refused the token") {
		t.Errorf("start with a wrong token: %v", err)
	}
}

// runBriefly runs an agent that is expected to be refused.
func runBriefly(t *testing.T, a *agent.Agent) error {
	t.Helper()
	ctx, cancel := contextWithTimeout(10 * time.Second)
	defer cancel()
	err := a.Run(ctx)
	if ctx.Err() != nil {
		t.Fatal("the agent was not refused within 10s")
	}
	return err
}

// TestGeneratorSaturationIsReported: an agent whose VU pool runs dry, and
// one whose CPU stays above 90 %, are reported saturated: on the run's
// timeline, in its result and in the agents' rows, so that generator
// limits are never read as the target's.
func TestGeneratorSaturationIsReported(t *testing.T) {
	tg := startTarget(t, target.Config{Latency: 300 * time.Millisecond})
	h := startHub(t, "")
	startAgent(t, agent.Options{HubURL: h.url(), Name: "a-pool"})
	startAgent(t, agent.Options{HubURL: h.url(), Name: "b-cpu", CPU: func() float64 { return 0.97 }})
	waitAgents(t, h.url(), 2)
	// 20/s per agent with a 300 ms target needs about 6 VUs; each agent's
	// pool has 2. Agent b-cpu also reports a hot CPU.
	path := scenarioFile(t, `    executor: constant-arrival-rate
    rate: 40
    duration: 5s
    pre_allocated_vus: 2
    max_vus: 4`)
	rr := startRun(t, h.url(), "", startRequest(t, path, tg.url, 2, coord.PolicyContinue))
	res := rr.wait(t)
	if !slices.Equal(res.SaturatedAgents, []string{"a-pool", "b-cpu"}) {
		t.Errorf("saturated agents %v, want a-pool and b-cpu", res.SaturatedAgents)
	}
	for _, name := range []string{"a-pool", "b-cpu"} {
		if !rr.seen.hasEvent(coord.KindAgentSaturated, name) {
			t.Errorf("no agent_saturated event for %s: %v", name, rr.seen.events)
		}
	}
	var ra coord.RunAgentsJSON
	getJSON(t, h.url()+"/api/v1/runs/"+rr.id+"/agents", &ra)
	for _, a := range ra.Agents {
		if !a.Saturated || a.SaturationReason == "" {
			t.Errorf("row %s: saturated %v %q", a.Name, a.Saturated, a.SaturationReason)
		}
		if a.Name == "a-pool" && !strings.Contains(a.SaturationReason, "dropped") {
			t.Errorf("a-pool saturated because %q, want dropped iterations", a.SaturationReason)
		}
		t.Logf("%s: %s", a.Name, a.SaturationReason)
	}
	if sum := summaryOf(t, res); sum.Dropped == 0 {
		t.Error("no dropped iterations recorded")
	}

	// With pools large enough, only the hot CPU saturates.
	waitAgents(t, h.url(), 2)
	path = scenarioFile(t, `    executor: constant-arrival-rate
    rate: 40
    duration: 5s
    pre_allocated_vus: 20
    max_vus: 40`)
	rr = startRun(t, h.url(), "", startRequest(t, path, tg.url, 2, coord.PolicyContinue))
	res = rr.wait(t)
	if !slices.Equal(res.SaturatedAgents, []string{"b-cpu"}) {
		t.Errorf("saturated agents %v, want b-cpu", res.SaturatedAgents)
	}
	getJSON(t, h.url()+"/api/v1/runs/"+rr.id+"/agents", &ra)
	for _, a := range ra.Agents {
		if a.Name == "b-cpu" && !strings.Contains(a.SaturationReason, "CPU at 97%") {
			t.Errorf("b-cpu saturated because %q, want its CPU", a.SaturationReason)
		}
	}
}

// TestAgentBackAfterTheRunSettled: an agent cut off until after its run
// settled comes back, delivers the seconds it buffered (the hub stores
// them), is released and can take the next run.
func TestAgentBackAfterTheRunSettled(t *testing.T) {
	tg := startTarget(t, target.Config{})
	h := startHub(t, "")
	proxy := startProxy(t, h.addr)
	startAgent(t, agent.Options{HubURL: h.url(), Name: "direct"})
	startAgent(t, agent.Options{HubURL: proxy.url(), Name: "late"})
	waitAgents(t, h.url(), 2)
	path := scenarioFile(t, `    executor: constant-arrival-rate
    rate: 20
    duration: 3s
    pre_allocated_vus: 2`)
	rr := startRun(t, h.url(), "", startRequest(t, path, tg.url, 2, coord.PolicyContinue))
	waitFor(t, 20*time.Second, "the run to start", func() bool { return rr.seen.hasEvent(coord.KindAgentsStarted, "") })
	time.Sleep(time.Second)
	proxy.cutLink()
	res := rr.wait(t)
	if !slices.Equal(res.LostAgents, []string{"late"}) {
		t.Errorf("lost agents %v", res.LostAgents)
	}
	proxy.restore()

	// The agent's buffered seconds reach the registry; the agent is idle
	// again and takes the next run.
	served := tg.srv.Stats().Requests
	waitFor(t, 30*time.Second, "the late agent's seconds to be stored", func() bool {
		return h.run(rr.id).Totals.Requests == served
	})
	waitAgents(t, h.url(), 2)
	rr2 := startRun(t, h.url(), "", startRequest(t, path, tg.url, 2, coord.PolicyContinue))
	res2 := rr2.wait(t)
	if !res2.Complete || len(res2.LostAgents) > 0 {
		t.Errorf("second run: complete %v, lost %v", res2.Complete, res2.LostAgents)
	}
}

// TestEveryAgentCutOffForAMoment: when the only agent of a run is lost
// for a few seconds and comes back, the run goes on to its planned end:
// a moment without any agent is not the end of the run.
func TestEveryAgentCutOffForAMoment(t *testing.T) {
	tg := startTarget(t, target.Config{})
	h := startHub(t, "")
	proxy := startProxy(t, h.addr)
	startAgent(t, agent.Options{HubURL: proxy.url(), Name: "only"})
	waitAgents(t, h.url(), 1)
	path := scenarioFile(t, `    executor: constant-arrival-rate
    rate: 20
    duration: 12s
    pre_allocated_vus: 2`)
	rr := startRun(t, h.url(), "", startRequest(t, path, tg.url, 1, coord.PolicyContinue))
	waitFor(t, 20*time.Second, "the run to start", func() bool { return rr.seen.hasEvent(coord.KindAgentsStarted, "") })
	time.Sleep(time.Second)
	proxy.cutLink()
	waitFor(t, 10*time.Second, "the agent to be lost", func() bool { return rr.seen.hasEvent(coord.KindAgentLost, "only") })
	proxy.restore()
	res := rr.wait(t)
	sum := summaryOf(t, res)
	if res.Aborted || !res.Complete || len(res.LostAgents) > 0 || sum.Iterations+sum.Dropped != 240 {
		t.Errorf("aborted %v complete %v lost %v, %d iterations scheduled (want 240: the whole plan)",
			res.Aborted, res.Complete, res.LostAgents, sum.Iterations+sum.Dropped)
	}
	if served := tg.srv.Stats().Requests; sum.Requests != served {
		t.Errorf("summary %d requests, target %d", sum.Requests, served)
	}
}
