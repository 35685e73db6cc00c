package lb

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestRenderGolden(t *testing.T) {
	cfg := Config{
		Socket:    "/run/brink/haproxy.sock",
		StatsBind: "127.0.0.1:8404",
		Services: []ServiceConfig{
			{Name: "web", Bind: "127.0.0.1:8080", ServerMaxConn: 64,
				Servers: []ServerAddr{{"web-1", "127.0.0.1:18081"}}},
			{Name: "api", Backend: "api_be", Bind: "127.0.0.1:8081", Balance: "leastconn"},
		},
	}
	got, err := cfg.Render()
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "haproxy.cfg.golden")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/lb -run TestRenderGolden -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("rendered config differs from %s (rerun with -update if intended):\n%s", golden, got)
	}
}

func TestConfigValidate(t *testing.T) {
	base := func() Config {
		return Config{Socket: "/tmp/s.sock", Services: []ServiceConfig{{Name: "web", Bind: "127.0.0.1:80"}}}
	}
	tests := []struct {
		name   string
		modify func(*Config)
		want   string
	}{
		{"ok", func(*Config) {}, ""},
		{"no socket", func(c *Config) { c.Socket = "" }, "socket path"},
		{"socket with space", func(c *Config) { c.Socket = "/tmp/a b" }, "socket path"},
		{"no service", func(c *Config) { c.Services = nil }, "no service"},
		{"name injection", func(c *Config) { c.Services[0].Name = "web\n    bind 0.0.0.0:1" }, "only letters"},
		{"bad bind", func(c *Config) { c.Services[0].Bind = "8080" }, "bind"},
		{"static balance", func(c *Config) { c.Services[0].Balance = "source" }, "cannot take servers at run time"},
		{"bad server addr", func(c *Config) {
			c.Services[0].Servers = []ServerAddr{{"s1", "127.0.0.1"}}
		}, "not host:port"},
		{"duplicate", func(c *Config) { c.Services = append(c.Services, c.Services[0]) }, "used twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base()
			tt.modify(&c)
			_, err := c.Render()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestParseStat(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "show_stat.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := ParseStat(f)
	if err != nil {
		t.Fatal(err)
	}
	var servers []Server
	for _, r := range rows {
		if r.Proxy() == "web" && r.IsServer() {
			servers = append(servers, serverFromRow(r))
		}
	}
	want := []Server{
		{Backend: "web", Name: "web-1", Addr: "127.0.0.1:18081", Status: "UP", Sessions: 3, Queued: 1, Total: 1200},
		{Backend: "web", Name: "web-2", Addr: "127.0.0.1:18082", Status: "DRAIN", Sessions: 0, Queued: 0, Total: 300},
	}
	if fmt.Sprint(servers) != fmt.Sprint(want) {
		t.Fatalf("servers\n got %v\nwant %v", servers, want)
	}
	for _, bad := range []string{"", "pxname,svname\nweb,FRONTEND\n", "Unknown command.\n"} {
		if _, err := ParseStat(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseStat(%q) accepted non-CSV", bad)
		}
	}
}

// haproxyBin returns the haproxy binary or stops the test: a skip with
// -short, a failure that says what to run otherwise.
func haproxyBin(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("real HAProxy test skipped with -short")
	}
	p, err := exec.LookPath("haproxy")
	if err != nil {
		t.Fatalf("haproxy is not installed: run bash scripts/setup.sh (Debian package haproxy)")
	}
	return p
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// StartTestHAProxy runs HAProxy with cfg in the foreground and stops it at
// the end of the test.
func startHAProxy(t *testing.T, cfg Config) *HAProxy {
	t.Helper()
	bin := haproxyBin(t)
	dir := t.TempDir()
	cfg.Socket = filepath.Join(dir, "admin.sock")
	text, err := cfg.Render()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, text, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-c", "-f", path).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c rejected the generated config: %v\n%s\n%s", err, out, text)
	}
	var logs bytes.Buffer
	cmd := exec.Command(bin, "-db", "-f", path)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("haproxy output:\n%s", logs.String())
		}
	})
	h := NewHAProxy(cfg.Socket)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := h.Command(context.Background(), "show info"); err == nil {
			return h
		} else if time.Now().After(deadline) {
			t.Fatalf("haproxy did not open its socket within 10 s: %v", err)
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("haproxy exited at start: %v\n%s", err, logs.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// backend is a real HTTP server on 127.0.0.1 counting what it served.
type backend struct {
	name   string
	addr   string
	served atomic.Int64
	srv    *http.Server
	done   chan struct{}
}

func startBackend(t *testing.T, name string) *backend {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{name: name, addr: l.Addr().String(), done: make(chan struct{})}
	b.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Millisecond) // a little work, so sessions overlap
		b.served.Add(1)
		io.WriteString(w, "ok "+name)
	})}
	go func() { defer close(b.done); _ = b.srv.Serve(l) }()
	t.Cleanup(func() { b.stop() })
	return b
}

// stop shuts the server down gracefully (idle keep-alive connections are
// closed, in-flight requests finish).
func (b *backend) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = b.srv.Shutdown(ctx)
	<-b.done
}

// loadLoop sends GET requests through url from workers until stop is
// closed or max requests were sent; it counts every outcome.
type loadResult struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	errs       []string
}

func loadLoop(ctx context.Context, url string, workers int, max int64, res *loadResult) *sync.WaitGroup {
	var wg sync.WaitGroup
	var sent atomic.Int64
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && sent.Add(1) <= max {
				resp, err := client.Get(url)
				if err == nil {
					body, rerr := io.ReadAll(resp.Body)
					resp.Body.Close()
					if rerr == nil && resp.StatusCode == 200 && bytes.HasPrefix(body, []byte("ok ")) {
						res.ok.Add(1)
						continue
					}
					err = fmt.Errorf("status %d body %q read error %v", resp.StatusCode, body, rerr)
				}
				res.failed.Add(1)
				res.mu.Lock()
				if len(res.errs) < 10 {
					res.errs = append(res.errs, err.Error())
				}
				res.mu.Unlock()
			}
		}()
	}
	return &wg
}

// TestAddDrainRemoveUnderLoad is the load balancer's promise: servers come
// and go while requests flow, and not one request fails.
func TestAddDrainRemoveUnderLoad(t *testing.T) {
	b1, b2, b3 := startBackend(t, "s1"), startBackend(t, "s2"), startBackend(t, "s3")
	port := freePort(t)
	h := startHAProxy(t, Config{Services: []ServiceConfig{{
		Name: "web", Bind: fmt.Sprintf("127.0.0.1:%d", port),
		Servers: []ServerAddr{{"s1", b1.addr}},
	}}})
	ctx := context.Background()

	loadCtx, stopLoad := context.WithTimeout(ctx, 60*time.Second)
	defer stopLoad()
	var res loadResult
	wg := loadLoop(loadCtx, fmt.Sprintf("http://127.0.0.1:%d/", port), 8, 200000, &res)

	waitServed := func(b *backend, n int64) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		start := b.served.Load()
		for b.served.Load()-start < n {
			if time.Now().After(deadline) {
				t.Fatalf("server %s served %d requests in 20 s, want %d", b.name, b.served.Load()-start, n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	remove := func(b *backend) {
		t.Helper()
		if err := h.Drain(ctx, "web", b.name); err != nil {
			t.Fatal(err)
		}
		idle, err := h.WaitIdle(ctx, "web", b.name, 10*time.Second)
		if err != nil || !idle {
			t.Fatalf("WaitIdle(%s) = %v, %v", b.name, idle, err)
		}
		if err := h.DeleteServer(ctx, "web", b.name); err != nil {
			t.Fatal(err)
		}
		b.stop()
	}

	waitServed(b1, 200)
	for _, b := range []*backend{b2, b3} {
		if err := h.AddServer(ctx, "web", b.name, b.addr); err != nil {
			t.Fatal(err)
		}
	}
	waitServed(b2, 200)
	waitServed(b3, 200)
	servers, err := h.Servers(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	if len(servers) != 3 {
		t.Fatalf("servers after adding two: %v", servers)
	}
	remove(b1)
	waitServed(b3, 200)
	remove(b2)
	waitServed(b3, 200)
	// Adding back a name that was deleted works (the replica came back).
	b4 := startBackend(t, "s1")
	if err := h.AddServer(ctx, "web", "s1", b4.addr); err != nil {
		t.Fatal(err)
	}
	waitServed(b4, 200)
	// A replica that stops before it could be drained (an orchestrator chose
	// it and stopped it first): connections are refused, and HAProxy's
	// retries send the requests to the other server.
	b3.stop()
	waitServed(b4, 500)
	if err := h.DeleteServer(ctx, "web", "s3"); err != nil {
		t.Fatal(err)
	}
	waitServed(b4, 200)
	stopLoad()
	wg.Wait()

	total := res.ok.Load() + res.failed.Load()
	served := b1.served.Load() + b2.served.Load() + b3.served.Load() + b4.served.Load()
	t.Logf("requests: %d ok, %d failed; served by s1=%d s2=%d s3=%d s1'=%d", res.ok.Load(), res.failed.Load(),
		b1.served.Load(), b2.served.Load(), b3.served.Load(), b4.served.Load())
	if res.failed.Load() != 0 {
		t.Fatalf("%d of %d requests failed while servers were added and removed: %v", res.failed.Load(), total, res.errs)
	}
	if served != res.ok.Load() {
		t.Fatalf("servers counted %d requests, the client %d successes", served, res.ok.Load())
	}
	// HAProxy's own counter of requests received is exact too.
	received, err := h.FrontendRequests(ctx, "web")
	if err != nil || received != total {
		t.Fatalf("frontend counted %d requests (%v), the client sent %d", received, err, total)
	}
	if _, err := h.FrontendRequests(ctx, "nope"); err == nil || !strings.Contains(err.Error(), `no frontend "nope"`) {
		t.Fatalf("unknown frontend: %v", err)
	}
	servers, err = h.Servers(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	if len(servers) != 1 || servers[0].Name != "s1" || servers[0].Addr != b4.addr {
		t.Fatalf("servers at the end: %+v", servers)
	}
}

func TestRuntimeAPIErrors(t *testing.T) {
	b := startBackend(t, "s1")
	h := startHAProxy(t, Config{Services: []ServiceConfig{{
		Name: "web", Bind: fmt.Sprintf("127.0.0.1:%d", freePort(t)),
	}}})
	ctx := context.Background()
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"unknown backend", func() error { return h.AddServer(ctx, "nope", "s1", b.addr) }, `no backend "nope"`},
		{"bad name", func() error { return h.AddServer(ctx, "web", "s 1", b.addr) }, "only letters"},
		{"bad addr", func() error { return h.AddServer(ctx, "web", "s1", "localhost") }, "address"},
		{"drain unknown server", func() error { return h.Drain(ctx, "web", "ghost") }, "ghost"},
		{"delete unknown server is a no-op", func() error { return h.DeleteServer(ctx, "web", "ghost") }, ""},
		{"unreachable socket", func() error {
			return NewHAProxy(filepath.Join(t.TempDir(), "none.sock")).AddServer(ctx, "web", "s1", b.addr)
		}, "unreachable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want %q in it", err, tt.want)
			}
		})
	}
	err := NewHAProxy(filepath.Join(t.TempDir(), "none.sock")).Drain(ctx, "web", "s1")
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("unreachable socket: %v is not ErrUnreachable", err)
	}
	// Adding twice with the same address is idempotent; another address is refused.
	if err := h.AddServer(ctx, "web", "s1", b.addr); err != nil {
		t.Fatal(err)
	}
	if err := h.AddServer(ctx, "web", "s1", b.addr); err != nil {
		t.Fatalf("second identical add: %v", err)
	}
	if err := h.AddServer(ctx, "web", "s1", "127.0.0.1:1"); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("add with another address: %v", err)
	}
	// Settings of servers added at run time.
	if err := h.AddServerWith(ctx, "web", "s2", b.addr, ServerOptions{MaxConn: 7}); err != nil {
		t.Fatal(err)
	}
	servers, err := h.Servers(ctx, "web")
	if err != nil || len(servers) != 2 || servers[1].Name != "s2" || servers[1].MaxConn != 7 || servers[0].MaxConn != 0 {
		t.Fatalf("servers %+v, %v: want s2 with maxconn 7", servers, err)
	}
}

func TestSetServerMaxConn(t *testing.T) {
	b := startBackend(t, "s1")
	h := startHAProxy(t, Config{Services: []ServiceConfig{{
		Name: "web", Bind: fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		Servers: []ServerAddr{{"s1", b.addr}},
	}}})
	ctx := context.Background()
	maxConnOf := func() int64 {
		t.Helper()
		ss, err := h.Servers(ctx, "web")
		if err != nil || len(ss) != 1 {
			t.Fatalf("servers: %+v, %v", ss, err)
		}
		return ss[0].MaxConn
	}
	if got := maxConnOf(); got != 0 {
		t.Fatalf("a server from the configuration without maxconn shows %d", got)
	}
	if err := h.SetServerMaxConn(ctx, "web", "s1", 4); err != nil {
		t.Fatal(err)
	}
	if got := maxConnOf(); got != 4 {
		t.Fatalf("after set maxconn 4: %d", got)
	}
	if err := h.SetServerMaxConn(ctx, "web", "s1", 0); err != nil {
		t.Fatal(err)
	}
	if got := maxConnOf(); got != 0 {
		t.Fatalf("after set maxconn 0 (no cap): %d", got)
	}
	if err := h.SetServerMaxConn(ctx, "web", "ghost", 4); err == nil || !strings.Contains(err.Error(), "ghost") {
		t.Fatalf("unknown server: %v", err)
	}
	if err := h.SetServerMaxConn(ctx, "web", "s1", -1); err == nil || !strings.Contains(err.Error(), "negative") {
		t.Fatalf("negative maxconn: %v", err)
	}
}
