package coord_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/brinkhq/brink/internal/agent"
	"github.com/brinkhq/brink/internal/coord"
	"github.com/brinkhq/brink/internal/coord/share"
	brinkv1 "github.com/brinkhq/brink/internal/gen/brink/v1"
	"github.com/brinkhq/brink/internal/hub"
	"github.com/brinkhq/brink/internal/hub/runs"
	"github.com/brinkhq/brink/internal/results"
	"github.com/brinkhq/brink/internal/target"
)

// testLog is a logger that writes to the test log, so that a failing
// test shows what the hub and agents said.
func testLog(t *testing.T, who string) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})).With("who", who)
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// testHub is a real hub on a loopback port; it can be stopped and started
// again on the same address and data directory.
type testHub struct {
	t         *testing.T
	addr      string
	dir       string
	tokenFile string
	version   string
	logs      *syncBuffer
	h         *hub.Hub
	cancel    context.CancelFunc
	done      chan error
}

func startHub(t *testing.T, tokenFile string) *testHub {
	t.Helper()
	th := &testHub{t: t, addr: "127.0.0.1:0", dir: t.TempDir(), tokenFile: tokenFile, version: "test", logs: &syncBuffer{}}
	th.start()
	t.Cleanup(th.stop)
	return th
}

func (th *testHub) url() string { return "http://" + th.addr }

func (th *testHub) start() {
	t := th.t
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.MultiWriter(testWriter{t}, th.logs), &slog.HandlerOptions{Level: slog.LevelInfo}))
	h, err := hub.New(hub.Options{DataDir: th.dir, TokenFile: th.tokenFile, Version: th.version, Logger: logger.With("who", "hub")})
	if err != nil {
		t.Fatal(err)
	}
	var ln net.Listener
	// After a restart the port may still be held briefly.
	for i := 0; ; i++ {
		ln, err = net.Listen("tcp", th.addr)
		if err == nil || i == 100 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	th.addr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	th.h, th.cancel, th.done = h, cancel, make(chan error, 1)
	go func() { th.done <- h.Run(ctx, ln) }()
}

func (th *testHub) stop() {
	if th.cancel == nil {
		return
	}
	th.cancel()
	th.cancel = nil
	select {
	case err := <-th.done:
		if err != nil {
			th.t.Errorf("hub stopped with %v", err)
		}
	case <-time.After(60 * time.Second):
		th.t.Error("hub did not stop within 60s")
	}
}

func (th *testHub) run(id string) runs.View {
	th.t.Helper()
	v, err := th.h.Runs().Get(id)
	if err != nil {
		th.t.Fatal(err)
	}
	return v
}

// getJSON reads a hub JSON endpoint's data.
func getJSON(t *testing.T, url string, out any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if resp.StatusCode != 200 || json.Unmarshal(b, &env) != nil || json.Unmarshal(env.Data, out) != nil {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
}

// testTarget is brink's sample web app on a loopback port.
type testTarget struct {
	srv *target.Server
	url string
}

func startTarget(t *testing.T, cfg target.Config) *testTarget {
	t.Helper()
	srv, err := target.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	return &testTarget{srv: srv, url: "http://" + ln.Addr().String()}
}

// testAgent is an agent running in this process.
type testAgent struct {
	name   string
	a      *agent.Agent
	cancel context.CancelFunc
	done   chan error
}

func startAgent(t *testing.T, opts agent.Options) *testAgent {
	t.Helper()
	if opts.Version == "" {
		opts.Version = "test"
	}
	if opts.Logger == nil {
		opts.Logger = testLog(t, "agent "+opts.Name)
	}
	if opts.WorkDir == "" {
		opts.WorkDir = t.TempDir()
	}
	a, err := agent.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ta := &testAgent{name: opts.Name, a: a, cancel: cancel, done: make(chan error, 1)}
	go func() { ta.done <- a.Run(ctx) }()
	t.Cleanup(ta.kill)
	return ta
}

// kill ends the agent at once: its load stops, its undelivered seconds
// are gone, and it says nothing more to the hub.
func (ta *testAgent) kill() {
	if ta.cancel == nil {
		return
	}
	ta.cancel()
	ta.cancel = nil
	<-ta.done
}

// waitAgents waits until the hub lists n connected idle agents.
func waitAgents(t *testing.T, hubURL string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var got struct {
			Agents []coord.AgentJSON `json:"agents"`
		}
		getJSON(t, hubURL+"/api/v1/agents", &got)
		idle := 0
		for _, a := range got.Agents {
			if a.Link == "connected" && a.State == "idle" {
				idle++
			}
		}
		if idle >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d agents connected and idle after 30s: %+v", idle, n, got.Agents)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// scenarioFile writes a scenario that reads a CSV feed and the target's
// URL from the environment, so that both travel with the run.
func scenarioFile(t *testing.T, executor string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "paths.csv"), []byte("path\n/a\n/b\n/c\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	text := fmt.Sprintf(`
feeds:
  paths: {file: paths.csv, mode: shared}
scenarios:
  main:
%s
    steps:
      - name: page
        url: "{{env.BRINK_TEST_TARGET}}{{paths.path}}"
        check:
          status: 200
          body_contains: "Hello from brink-target"
thresholds:
  - error_rate<1%%
  - p99<2s
`, executor)
	path := filepath.Join(dir, "test.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startRequest builds a distributed run of the scenario at path.
func startRequest(t *testing.T, path, targetURL string, agents int, policy string) *brinkv1.StartDistributedRunRequest {
	t.Helper()
	getenv := func(name string) string {
		if name == "BRINK_TEST_TARGET" {
			return targetURL
		}
		return ""
	}
	b, plan, err := agent.LoadBundle(path, getenv)
	if err != nil {
		t.Fatal(err)
	}
	return &brinkv1.StartDistributedRunRequest{
		RunName: "test", ScenarioFilename: b.Filename, Scenario: string(b.Text), Files: b.Files, Env: b.Env,
		Total: share.FromPlan(plan), Options: share.OptionsFromPlan(plan, 0), Agents: int32(agents), OnAgentLoss: policy,
		PlannedMs: plan.PlannedDuration().Milliseconds(), Thresholds: plan.Thresholds,
		WaitForAgentsMs: 20_000, Source: "test",
	}
}

// watched is what a Watch saw.
type watched struct {
	mu      sync.Mutex
	seconds []*brinkv1.Second
	events  []*brinkv1.RunEvent
	states  []string
	rows    []*brinkv1.AgentRow
}

func (w *watched) add(u *brinkv1.RunUpdate) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seconds = append(w.seconds, u.Seconds...)
	w.events = append(w.events, u.Events...)
	if len(w.states) == 0 || w.states[len(w.states)-1] != u.State {
		w.states = append(w.states, u.State)
	}
	if len(u.Agents) > 0 {
		w.rows = u.Agents
	}
}

func (w *watched) hasEvent(kind, agentName string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, e := range w.events {
		if e.Kind == kind && (agentName == "" || e.Agent == agentName) {
			return true
		}
	}
	return false
}

func (w *watched) eventTime(kind, agentName string) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, e := range w.events {
		if e.Kind == kind && (agentName == "" || e.Agent == agentName) {
			return time.UnixMilli(e.TimeMs)
		}
	}
	return time.Time{}
}

// runAndWatch starts a run and follows it to its result in the background.
type runningRun struct {
	id     string
	resp   *brinkv1.StartDistributedRunResponse
	client *coord.Client
	seen   *watched
	done   chan struct{}
	result *brinkv1.RunResult
	err    error
}

func startRun(t *testing.T, hubURL, token string, req *brinkv1.StartDistributedRunRequest) *runningRun {
	t.Helper()
	c := coord.NewClient(hubURL, token, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := c.Start(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	rr := &runningRun{id: resp.RunId, resp: resp, client: c, seen: &watched{}, done: make(chan struct{})}
	watchCtx, stopWatch := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(stopWatch)
	go func() {
		defer close(rr.done)
		rr.result, rr.err = c.Watch(watchCtx, rr.id, coord.WatchOptions{}, rr.seen.add)
	}()
	return rr
}

func (rr *runningRun) wait(t *testing.T) *brinkv1.RunResult {
	t.Helper()
	select {
	case <-rr.done:
	case <-time.After(5 * time.Minute):
		t.Fatal("the run did not settle within 5 minutes")
	}
	if rr.err != nil {
		t.Fatal(rr.err)
	}
	return rr.result
}

func summaryOf(t *testing.T, r *brinkv1.RunResult) results.Summary {
	t.Helper()
	var s results.Summary
	if err := json.Unmarshal(r.SummaryJson, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// countingTransport counts bytes on the wire, both ways, of every
// connection it dials.
type countingTransport struct {
	*http.Transport
	read, written atomic.Int64
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
			return &countingConn{Conn: c, ct: ct}, nil
		},
	}
	return ct
}

func (ct *countingTransport) total() int64 { return ct.read.Load() + ct.written.Load() }

type countingConn struct {
	net.Conn
	ct *countingTransport
}

func (c *countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.ct.read.Add(int64(n))
	return n, err
}

func (c *countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.ct.written.Add(int64(n))
	return n, err
}

// runsLatencyQuery asks for a run's exact latency from its first second.
func runsLatencyQuery(id string, firstSecond int64) runs.LatencyQuery {
	return runs.LatencyQuery{ID: id, FromMs: firstSecond * 1000, Quantile: []float64{0.5, 0.9, 0.99, 0.999, 1}}
}

// linkProxy forwards TCP connections to a backend, and can cut the link
// the way a network partition does: nothing passes, nothing is closed, so
// each side only notices by its own timeouts. Restoring closes what was
// cut off, as a real network's endpoints would have given up by then.
type linkProxy struct {
	t       *testing.T
	ln      net.Listener
	backend string

	mu    sync.Mutex
	cut   bool
	gate  chan struct{} // closed while the link is up
	conns map[net.Conn]struct{}
}

func startProxy(t *testing.T, backend string) *linkProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &linkProxy{t: t, ln: ln, backend: backend, gate: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	close(p.gate)
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.closeAll()
	})
	return p
}

func (p *linkProxy) url() string { return "http://" + p.ln.Addr().String() }

func (p *linkProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.track(c)
		go p.serve(c)
	}
}

func (p *linkProxy) track(c net.Conn) {
	p.mu.Lock()
	p.conns[c] = struct{}{}
	p.mu.Unlock()
}

func (p *linkProxy) waitUp() {
	p.mu.Lock()
	g := p.gate
	p.mu.Unlock()
	<-g
}

func (p *linkProxy) serve(client net.Conn) {
	p.waitUp()
	server, err := net.Dial("tcp", p.backend)
	if err != nil {
		client.Close()
		return
	}
	p.track(server)
	pipe := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				// Data that arrives while the link is cut waits, like
				// packets nobody acknowledges.
				p.waitUp()
				if _, werr := dst.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		dst.Close()
		src.Close()
	}
	go pipe(server, client)
	pipe(client, server)
}

// cutLink stops all traffic; restore ends it.
func (p *linkProxy) cutLink() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.cut {
		p.cut = true
		p.gate = make(chan struct{})
	}
}

func (p *linkProxy) restore() {
	p.closeAll()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		p.cut = false
		close(p.gate)
	}
}

func (p *linkProxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// syncBuffer collects log output for assertions.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

// testQuietLog logs warnings and errors only, for tests with many agents.
func testQuietLog(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
