package coord_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/brinkhq/brink/internal/agent"
	"github.com/brinkhq/brink/internal/coord"
	"github.com/brinkhq/brink/internal/target"
)

// TestHundredAgents runs one test across 100 agents against one hub, all
// in this process but each agent with its own connections, and measures
// the bytes each agent's link carries (both directions, on the wire):
// at most 16 KB/s per agent. The merged result is exact. (The hub's CPU
// for the same load is measured with the hub in its own process by
// bench/agents.sh.)
func TestHundredAgents(t *testing.T) {
	if testing.Short() {
		t.Skip("100 agents for 12 s; skipped with -short")
	}
	const agents = 100
	tg := startTarget(t, target.Config{})
	h := startHub(t, "")
	counters := make([]*countingTransport, agents)
	quiet := testQuietLog(t)
	for i := range agents {
		counters[i] = newCountingTransport()
		startAgent(t, agent.Options{HubURL: h.url(), Name: fmt.Sprintf("sim-%03d", i), Transport: counters[i], Logger: quiet})
	}
	waitAgents(t, h.url(), agents)
	path := scenarioFile(t, `    executor: constant-arrival-rate
    rate: 500
    duration: 12s
    pre_allocated_vus: 200
    max_vus: 1000`)
	req := startRequest(t, path, tg.url, agents, coord.PolicyContinue)
	rr := startRun(t, h.url(), "", req)
	waitFor(t, 60*time.Second, "the run to start", func() bool { return rr.seen.hasEvent(coord.KindAgentsStarted, "") })

	// Measure over the steady middle of the run.
	time.Sleep(3 * time.Second)
	before := make([]int64, agents)
	for i, c := range counters {
		before[i] = c.total()
	}
	t0 := time.Now()
	time.Sleep(6 * time.Second)
	elapsed := time.Since(t0).Seconds()
	rates := make([]float64, agents)
	for i, c := range counters {
		rates[i] = float64(c.total()-before[i]) / elapsed
	}
	slices.Sort(rates)
	t.Logf("link traffic per agent: median %.0f B/s, max %.0f B/s", rates[agents/2], rates[agents-1])
	if rates[agents-1] > 16<<10 {
		t.Errorf("an agent's link carried %.0f B/s, over 16 KB/s", rates[agents-1])
	}

	res := rr.wait(t)
	sum := summaryOf(t, res)
	served := tg.srv.Stats().Requests
	if sum.Requests != served || !res.Complete || res.Aborted || len(res.LostAgents) > 0 {
		t.Errorf("summary %d requests, target %d; complete %v aborted %v lost %v", sum.Requests, served, res.Complete, res.Aborted, res.LostAgents)
	}
	if got := sum.Iterations + sum.Dropped; got != 6000 {
		t.Errorf("%d iterations scheduled across 100 agents, want 500/s × 12 s = 6000", got)
	}
	t.Logf("start skew across 100 agents in one process: %s", time.Duration(res.StartSkewNs))
	// Synchronization, not a timing goal: agents that started on their
	// Assign instead of the common instant would be seconds apart.
	if time.Duration(res.StartSkewNs) > time.Second {
		t.Errorf("start skew %s", time.Duration(res.StartSkewNs))
	}
}

// TestTenThousandVUs: one agent runs 10,000 VUs against brink-target (in
// its own process, so that each side has its 10,000 connections) and
// streams every second to the hub without a gap. On a machine this busy
// the agent may miss heartbeats and be marked lost for a moment; it then
// buffers and resends, and still no second may be missing.
func TestTenThousandVUs(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 VUs for 10 s; skipped with -short")
	}
	targetURL := startTargetProcess(t)
	h := startHub(t, "")
	startAgent(t, agent.Options{HubURL: h.url(), Name: "big"})
	waitAgents(t, h.url(), 1)
	dir := t.TempDir()
	path := filepath.Join(dir, "vus.yaml")
	text := fmt.Sprintf(`scenarios:
  many:
    executor: constant-vus
    vus: 10000
    duration: 10s
    think: 1s
    steps:
      - {name: page, url: "%s/page"}
`, targetURL)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	rr := startRun(t, h.url(), "", startRequest(t, path, targetURL, 1, coord.PolicyContinue))
	res := rr.wait(t)
	sum := summaryOf(t, res)
	if res.Aborted || !res.Complete || len(res.LostAgents) > 0 {
		t.Fatalf("aborted %v (%s), complete %v, lost %v, events %v", res.Aborted, res.AbortReason, res.Complete, res.LostAgents, rr.seen.events)
	}
	if rr.seen.hasEvent(coord.KindAgentLost, "big") {
		t.Logf("the agent missed its heartbeats for a while (the machine is busy) and rejoined: %v", rr.seen.events)
	}
	for i := 1; i < len(sum.Timeline); i++ {
		if sum.Timeline[i].Unix != sum.Timeline[i-1].Unix+1 {
			t.Errorf("second %d is missing", sum.Timeline[i-1].Unix+1)
		}
	}
	if sum.MaxVUs != 10000 {
		t.Errorf("at most %d VUs, want 10000", sum.MaxVUs)
	}
	served := targetCount(t, targetURL)
	t.Logf("10,000 VUs: %d requests (%.0f/s), %d failed, target served %d, %d seconds, saturated: %v",
		sum.Requests, sum.RPS, sum.Failures, served, len(sum.Timeline), res.SaturatedAgents)
	if served > sum.Requests || sum.Requests-served > sum.Failures {
		t.Errorf("the run counted %d requests (%d failed), the target served %d", sum.Requests, sum.Failures, served)
	}
}

// startTargetProcess builds and starts brink-target on a free loopback
// port.
func startTargetProcess(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "brink-target")
	build := exec.Command("go", "build", "-o", bin, "github.com/brinkhq/brink/cmd/brink-target")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build brink-target: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "--listen", addr)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	})
	url := "http://" + addr
	waitFor(t, 30*time.Second, "brink-target to listen", func() bool {
		resp, err := http.Get(url + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	})
	return url
}

func targetCount(t *testing.T, url string) int64 {
	t.Helper()
	resp, err := http.Get(url + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s target.Stats
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s.Requests
}
