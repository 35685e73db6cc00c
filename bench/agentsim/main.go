// Command agentsim measures distributed load against a running hub: it
// starts many real agents (internal/agent) in this one process, each with
// its own connections to the hub whose bytes it counts, runs a test
// across them with the same client `brink run --agents` uses, and prints
// the hub's CPU use (from /proc/<pid>/stat of the hub process), bytes on
// the wire per agent, the start skew and whether every second arrived.
//
//	agentsim -hub http://127.0.0.1:9339 -hub-pid 1234 -agents 100 -rate 20 -duration 30s
//	agentsim -hub ... -agents 1 -vus 10000 -think 1s -target http://127.0.0.1:8080 -duration 20s
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/brinkhq/brink/internal/agent"
	"github.com/brinkhq/brink/internal/coord"
	"github.com/brinkhq/brink/internal/coord/share"
	brinkv1 "github.com/brinkhq/brink/internal/gen/brink/v1"
	"github.com/brinkhq/brink/internal/results"
	"github.com/brinkhq/brink/internal/target"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "agentsim:", err)
		os.Exit(1)
	}
}

func run() error {
	hubURL := flag.String("hub", "", "hub URL")
	hubPID := flag.Int("hub-pid", 0, "the hub's process id, to measure its CPU")
	agents := flag.Int("agents", 100, "agents to run in this process")
	rate := flag.Float64("rate", 20, "open model: iterations per second per agent (0: closed model with -vus)")
	vus := flag.Int("vus", 0, "closed model: VUs in total")
	think := flag.Duration("think", 0, "closed model: think time after each iteration")
	duration := flag.Duration("duration", 30*time.Second, "length of the test")
	targetURL := flag.String("target", "", "target URL (default: brink-target in this process)")
	version := flag.String("version", "dev", "the brink version the agents announce (the hub's, to avoid version-skew warnings)")
	flag.Parse()
	if *hubURL == "" {
		return fmt.Errorf("-hub is required")
	}
	ctx := context.Background()

	tURL := *targetURL
	var tgt *target.Server
	if tURL == "" {
		srv, err := target.New(target.Config{})
		if err != nil {
			return err
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		go func() { _ = (&http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}).Serve(ln) }()
		tgt, tURL = srv, "http://"+ln.Addr().String()
	}

	dir, err := os.MkdirTemp("", "agentsim-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	counters := make([]*countingTransport, *agents)
	level := slog.LevelWarn
	if os.Getenv("AGENTSIM_DEBUG") != "" {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	agentCtx, stopAgents := context.WithCancel(ctx)
	defer stopAgents()
	for i := range *agents {
		counters[i] = newCountingTransport()
		a, err := agent.New(agent.Options{
			HubURL: *hubURL, Name: fmt.Sprintf("sim-%03d", i), Labels: map[string]string{"bench": "agentsim"},
			Version: *version, Logger: logger, Transport: counters[i], WorkDir: filepath.Join(dir, strconv.Itoa(i)),
		})
		if err != nil {
			return err
		}
		go func() { _ = a.Run(agentCtx) }()
	}
	if err := waitIdle(ctx, *hubURL, *agents); err != nil {
		return err
	}

	executor := fmt.Sprintf("    executor: constant-arrival-rate\n    rate: %v\n    duration: %s\n    pre_allocated_vus: %d\n    max_vus: %d\n",
		*rate*float64(*agents), *duration, 2**agents, 20**agents)
	if *rate == 0 {
		executor = fmt.Sprintf("    executor: constant-vus\n    vus: %d\n    duration: %s\n", *vus, *duration)
		if *think > 0 {
			executor += fmt.Sprintf("    think: %s\n", *think)
		}
	}
	path := filepath.Join(dir, "sim.yaml")
	text := fmt.Sprintf("scenarios:\n  sim:\n%s    steps:\n      - {name: page, url: \"%s/page\"}\n", executor, tURL)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		return err
	}
	b, plan, err := agent.LoadBundle(path, os.Getenv)
	if err != nil {
		return err
	}
	client := coord.NewClient(*hubURL, "", nil)
	startCtx, cancel := context.WithTimeout(ctx, time.Minute)
	resp, err := client.Start(startCtx, &brinkv1.StartDistributedRunRequest{
		RunName: "agentsim", ScenarioFilename: b.Filename, Scenario: string(b.Text), Total: share.FromPlan(plan),
		Options: share.OptionsFromPlan(plan, 0), Agents: int32(*agents), WaitForAgentsMs: 30_000,
		PlannedMs: plan.PlannedDuration().Milliseconds(),
	})
	cancel()
	if err != nil {
		return err
	}

	// Bytes and hub CPU over the steady middle of the run.
	var startedAt time.Time
	var bytesAt0 []int64
	var cpuAt0 time.Duration
	var measured atomic.Bool
	var cpuPct float64
	var perAgent []float64
	var seconds, lostEvents int
	window := *duration - 10*time.Second
	if window < 5*time.Second {
		window = *duration / 2
	}
	result, err := client.Watch(ctx, resp.RunId, coord.WatchOptions{GiveUpAfter: time.Minute}, func(u *brinkv1.RunUpdate) {
		seconds += len(u.Seconds)
		for _, e := range u.Events {
			switch e.Kind {
			case coord.KindAgentLost:
				lostEvents++
			case coord.KindStartSkew:
				fmt.Println("event:", e.Message)
			}
		}
		if u.StartUnixNs == 0 || measured.Load() {
			return
		}
		now := time.Now()
		if startedAt.IsZero() && now.After(time.Unix(0, u.StartUnixNs).Add(5*time.Second)) {
			startedAt = now
			cpuAt0 = processCPU(*hubPID)
			for _, c := range counters {
				bytesAt0 = append(bytesAt0, c.total())
			}
		}
		if !startedAt.IsZero() && now.Sub(startedAt) >= window {
			elapsed := now.Sub(startedAt)
			cpuPct = 100 * float64(processCPU(*hubPID)-cpuAt0) / float64(elapsed)
			for i, c := range counters {
				perAgent = append(perAgent, float64(c.total()-bytesAt0[i])/elapsed.Seconds())
			}
			measured.Store(true)
		}
	})
	if err != nil {
		return err
	}
	var sum results.Summary
	if err := json.Unmarshal(result.SummaryJson, &sum); err != nil {
		return err
	}
	slices.Sort(perAgent)
	var avg float64
	for _, v := range perAgent {
		avg += v
	}
	if len(perAgent) > 0 {
		avg /= float64(len(perAgent))
	}
	fmt.Printf("agents=%d run=%s\n", *agents, resp.RunId)
	if *hubPID > 0 {
		fmt.Printf("hub_cpu_percent_of_one_core=%.1f (over %s of steady load)\n", cpuPct, window)
	}
	if len(perAgent) > 0 {
		fmt.Printf("link_bytes_per_agent_per_second avg=%.0f max=%.0f (both directions, on the wire)\n", avg, perAgent[len(perAgent)-1])
	}
	fmt.Printf("start_skew_ms=%.3f clock_uncertainty_ms=%.3f\n", float64(result.StartSkewNs)/1e6, float64(result.ClockUncertaintyNs)/1e6)
	fmt.Printf("requests=%d rps=%.0f p99_ms=%.2f failures=%d dropped=%d\n", sum.Requests, sum.RPS, sum.LatencyMs.P99, sum.Failures, sum.Dropped)
	if tgt != nil {
		fmt.Printf("target_served=%d exact=%v\n", tgt.Stats().Requests, tgt.Stats().Requests == sum.Requests)
	}
	gaps := 0
	for i := 1; i < len(sum.Timeline); i++ {
		if sum.Timeline[i].Unix != sum.Timeline[i-1].Unix+1 {
			gaps++
		}
	}
	fmt.Printf("complete=%v seconds_in_summary=%d gaps=%d lost_events=%d saturated=%s live_seconds=%d\n",
		result.Complete, len(sum.Timeline), gaps, lostEvents, strings.Join(result.SaturatedAgents, ","), seconds)
	// An agent marked lost for a moment on a busy machine rejoins and
	// resends; what must never happen is a missing second.
	if !result.Complete || gaps > 0 || len(result.LostAgents) > 0 || result.Aborted {
		return fmt.Errorf("the run lost data or agents: complete=%v gaps=%d lost=%v aborted=%v", result.Complete, gaps, result.LostAgents, result.Aborted)
	}
	return nil
}

func waitIdle(ctx context.Context, hubURL string, n int) error {
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get(hubURL + "/api/v1/agents")
		if err == nil {
			var body struct {
				Data struct {
					Agents []coord.AgentJSON `json:"agents"`
				} `json:"data"`
			}
			err = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			idle := 0
			for _, a := range body.Data.Agents {
				if a.Link == "connected" && a.State == "idle" {
					idle++
				}
			}
			if err == nil && idle >= n {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("fewer than %d agents linked after a minute", n)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// processCPU is a process's user+system CPU time from /proc/<pid>/stat.
func processCPU(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses.
	rest := string(b[strings.LastIndexByte(string(b), ')')+2:])
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const clockTicks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / clockTicks
}

// countingTransport counts the bytes of every connection it dials.
type countingTransport struct {
	*http.Transport
	n atomic.Int64
}

func newCountingTransport() *countingTransport {
	ct := &countingTransport{}
	d := &net.Dialer{Timeout: 3 * time.Second, KeepAlive: 15 * time.Second}
	ct.Transport = &http.Transport{
		MaxIdleConnsPerHost: 4, IdleConnTimeout: 90 * time.Second,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &countingConn{Conn: c, n: &ct.n}, nil
		},
	}
	return ct
}

func (ct *countingTransport) total() int64 { return ct.n.Load() }

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.n.Add(int64(n))
	return n, err
}

func (c *countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.n.Add(int64(n))
	return n, err
}

var _ io.Writer = (*countingConn)(nil)
