package load

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/brinkhq/brink/internal/results"
	"github.com/brinkhq/brink/internal/scenario"
	"github.com/brinkhq/brink/internal/target"
)

// startTarget runs the sample target app on a real loopback server.
func startTarget(t *testing.T, cfg target.Config) (*target.Server, string) {
	t.Helper()
	s, err := target.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv.URL
}

// runPlan runs a plan to the end, collecting its seconds into a summary.
func runPlan(t *testing.T, plan *scenario.Plan, during func(*Engine)) (results.Summary, RunInfo, []*results.Second) {
	t.Helper()
	e, err := New(context.Background(), plan)
	if err != nil {
		t.Fatal(err)
	}
	var secs []*results.Second
	collected := make(chan struct{})
	go func() {
		defer close(collected)
		for s := range e.Seconds() {
			secs = append(secs, s)
		}
	}()
	if during != nil {
		go during(e)
	}
	done := make(chan RunInfo, 1)
	go func() { done <- e.Run(context.Background()) }()
	var info RunInfo
	select {
	case info = <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("the run did not finish within 2 minutes")
	}
	<-collected
	acc := results.NewAccumulator(info.Start)
	for i, s := range secs {
		if i > 0 && s.T <= secs[i-1].T {
			t.Fatalf("second %d has T=%d after T=%d", i, s.T, secs[i-1].T)
		}
		acc.Add(s)
	}
	acc.SetEnd(info.End)
	return acc.Summary(), info, secs
}

func quick(t *testing.T, o scenario.QuickOptions) *scenario.Plan {
	t.Helper()
	p, err := scenario.Quick(o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func parse(t *testing.T, src string) *scenario.Plan {
	t.Helper()
	p, err := scenario.Parse("test.yaml", []byte(src), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Every request brink counts is one the target counted, and the other way
// round: the engine waits for in-flight requests before it reports.
func TestRequestCountsMatchTarget(t *testing.T) {
	tests := []struct {
		name string
		cfg  target.Config
		opts scenario.QuickOptions
		stop time.Duration // graceful Stop after this (0: none)
	}{
		{"iterations", target.Config{}, scenario.QuickOptions{VUs: 8, Iterations: 2000}, 0},
		{"duration with slow responses in flight at the end", target.Config{Latency: 30 * time.Millisecond},
			scenario.QuickOptions{VUs: 20, Duration: 700 * time.Millisecond}, 0},
		{"arrival rate", target.Config{Latency: 5 * time.Millisecond}, scenario.QuickOptions{Rate: 300, Duration: time.Second}, 0},
		{"graceful stop", target.Config{Latency: 100 * time.Millisecond}, scenario.QuickOptions{VUs: 10, Duration: time.Hour}, 450 * time.Millisecond},
		{"ramp", target.Config{Latency: time.Millisecond}, scenario.QuickOptions{Ramp: "300ms:10,300ms:0"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, url := startTarget(t, tt.cfg)
			tt.opts.URL = url + "/hello"
			var during func(*Engine)
			if tt.stop > 0 {
				during = func(e *Engine) { time.Sleep(tt.stop); e.Stop() }
			}
			sum, info, _ := runPlan(t, quick(t, tt.opts), during)
			got := srv.Stats()
			if sum.Requests == 0 || sum.Requests != got.Requests || got.InFlight != 0 {
				t.Fatalf("brink counted %d requests, the target %d (%d in flight)", sum.Requests, got.Requests, got.InFlight)
			}
			if sum.Failures != 0 {
				t.Fatalf("%d failures: %v; notes %v", sum.Failures, sum.FailuresByKind, info.Notes)
			}
			if tt.opts.Iterations > 0 && sum.Iterations != tt.opts.Iterations {
				t.Fatalf("%d iterations, want %d", sum.Iterations, tt.opts.Iterations)
			}
			if info.Aborted {
				t.Fatal("run reported as aborted")
			}
		})
	}
}

func TestScenarioFlowWithChecksAndExtraction(t *testing.T) {
	var logins, orders atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		n := logins.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"token":"tok-%d"}`, n)
	})
	mux.HandleFunc("GET /orders", func(w http.ResponseWriter, r *http.Request) {
		orders.Add(1)
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer tok-") || r.Header.Get("X-Run") != "flow" {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		io.WriteString(w, `{"orders":[1,2]}`)
	})
	mux.HandleFunc("GET /missing", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	mux.HandleFunc("GET /dead", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, target.ErrorPage) })
	srv := httptest.NewServer(mux)
	defer srv.Close()

	plan := parse(t, `
options:
  headers: {X-Run: flow}
scenarios:
  shop:
    executor: constant-vus
    vus: 3
    iterations: 30
    steps:
      - name: login
        method: POST
        url: `+srv.URL+`/login
        body: '{"user":"u"}'
        extract: {token: {json: token}}
      - name: orders
        url: `+srv.URL+`/orders
        headers: {Authorization: "Bearer {{token}}"}
        check: {status: 200, body_contains: orders}
      - name: expected-404
        url: `+srv.URL+`/missing
        check: {status: 404}
      - name: looks-alive
        url: `+srv.URL+`/dead
        check: {body_contains: Hello}
`)
	sum, info, _ := runPlan(t, plan, nil)
	by := sum.ByName
	if by["login"].Requests != 30 || by["orders"].Requests != 30 || logins.Load() != 30 || orders.Load() != 30 {
		t.Fatalf("login %d/%d, orders %d/%d requests (brink/server)", by["login"].Requests, logins.Load(), by["orders"].Requests, orders.Load())
	}
	if by["orders"].Failures != 0 || by["login"].Failures != 0 {
		t.Fatalf("extracted token not used: orders failures %v; notes %v", by["orders"].FailuresByKind, info.Notes)
	}
	if by["expected-404"].Failures != 0 {
		t.Fatalf("an expected 404 counted as failure: %v", by["expected-404"].FailuresByKind)
	}
	if by["looks-alive"].FailuresByKind["check_failed"] != 30 {
		t.Fatalf("200 with an error page: failures %v, want 30 check_failed", by["looks-alive"].FailuresByKind)
	}
	if len(info.Notes) == 0 || !strings.Contains(strings.Join(info.Notes, "\n"), "looks-alive: check_failed") {
		t.Fatalf("notes %v lack the failed check", info.Notes)
	}
}

func TestFailureKinds(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String() + "/"
	ln.Close()
	_, failing := startTarget(t, target.Config{FailureRate: 0.5})
	_, slow := startTarget(t, target.Config{Latency: time.Second})
	tests := []struct {
		name string
		opts scenario.QuickOptions
		kind string
		want int64
	}{
		{"refused", scenario.QuickOptions{URL: refused, VUs: 1, Iterations: 5}, "connect_refused", 5},
		{"5xx", scenario.QuickOptions{URL: failing, VUs: 2, Iterations: 100}, "http_5xx", 50},
		{"timeout", scenario.QuickOptions{URL: slow, VUs: 2, Iterations: 2, Timeout: 100 * time.Millisecond}, "timeout", 2},
		{"4xx", scenario.QuickOptions{URL: failing + "/stall", VUs: 1, Iterations: 3}, "http_4xx", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sum, info, _ := runPlan(t, quick(t, tt.opts), nil)
			if sum.FailuresByKind[tt.kind] != tt.want {
				t.Fatalf("failures %v, want %d %s; notes %v", sum.FailuresByKind, tt.want, tt.kind, info.Notes)
			}
		})
	}
}

// With a 1 s stall, the open model's latency (from the scheduled send time)
// shows the stall for every iteration scheduled during it; the closed model
// only sees one slow request per VU, because its VUs stop sending while
// they wait — exactly the coordinated omission the open model avoids.
func TestStallOpenVersusClosed(t *testing.T) {
	stall := func(e *Engine, s *target.Server) {
		time.Sleep(500 * time.Millisecond)
		s.Stall(time.Second)
	}
	srv, url := startTarget(t, target.Config{})
	open := quick(t, scenario.QuickOptions{URL: url, Rate: 200, Duration: 2500 * time.Millisecond, VUs: 400})
	sumOpen, _, _ := runPlan(t, open, func(e *Engine) { stall(e, srv) })

	srv2, url2 := startTarget(t, target.Config{})
	closed := quick(t, scenario.QuickOptions{URL: url2, VUs: 2, Duration: 2500 * time.Millisecond})
	sumClosed, _, _ := runPlan(t, closed, func(e *Engine) { stall(e, srv2) })

	// Open: ~200 of ~500 iterations fall in the stall, so p90 is hundreds of ms.
	if sumOpen.LatencyMs.P90 < 200 || sumOpen.LatencyMs.Max < 800 {
		t.Errorf("open model p90 %.1f ms, max %.1f ms: the stall is hidden", sumOpen.LatencyMs.P90, sumOpen.LatencyMs.Max)
	}
	// Closed: the 2 VUs each waited once; thousands of fast requests around it.
	if sumClosed.LatencyMs.Max < 800 || sumClosed.LatencyMs.P99 > 500 {
		t.Errorf("closed model p99 %.1f ms, max %.1f ms: want a fast p99 and one ~1 s request per VU", sumClosed.LatencyMs.P99, sumClosed.LatencyMs.Max)
	}
	if sumOpen.Dropped != 0 {
		t.Errorf("%d dropped with a pool of 400 VUs", sumOpen.Dropped)
	}
}

func TestGracefulStopExpiresAndAbort(t *testing.T) {
	srv, url := startTarget(t, target.Config{Latency: 3 * time.Second})
	plan := parse(t, `
scenarios:
  slow:
    vus: 4
    duration: 200ms
    graceful_stop: 300ms
    steps: [{url: "`+url+`/slow"}]
`)
	start := time.Now()
	sum, info, _ := runPlan(t, plan, nil)
	if took := time.Since(start); took > 2500*time.Millisecond {
		t.Errorf("run took %v: the 300ms graceful stop did not cut the 3s requests off", took)
	}
	if sum.Requests != 4 || sum.FailuresByKind["timeout"] != 4 || srv.Stats().Requests != 4 {
		t.Errorf("requests %d (target %d), failures %v; want 4 cut-off requests counted as timeouts", sum.Requests, srv.Stats().Requests, sum.FailuresByKind)
	}
	if info.Aborted {
		t.Error("an expired graceful stop is not an abort")
	}

	_, url = startTarget(t, target.Config{Latency: 3 * time.Second})
	start = time.Now()
	_, info, _ = runPlan(t, quick(t, scenario.QuickOptions{URL: url, VUs: 3, Duration: time.Hour}), func(e *Engine) {
		time.Sleep(200 * time.Millisecond)
		e.Abort()
	})
	if !info.Aborted || time.Since(start) > 2500*time.Millisecond {
		t.Errorf("abort: aborted=%v after %v", info.Aborted, time.Since(start))
	}
}

func TestSecondsAndJitter(t *testing.T) {
	_, url := startTarget(t, target.Config{})
	sum, info, secs := runPlan(t, quick(t, scenario.QuickOptions{URL: url, Rate: 500, Duration: 2 * time.Second}), nil)
	var total int64
	for _, s := range secs {
		total += s.Total().Requests
	}
	if total != sum.Requests || sum.Requests != 1000 || sum.Iterations != 1000 {
		t.Fatalf("seconds add up to %d requests, summary %d, iterations %d; want 1000", total, sum.Requests, sum.Iterations)
	}
	if len(secs) < 2 || len(secs) > 6 {
		t.Fatalf("%d seconds for a 2 s run", len(secs))
	}
	if info.Jitter.Count() != 1000 {
		t.Fatalf("jitter has %d samples, want one per iteration", info.Jitter.Count())
	}
	if n := len(info.JitterBySecond); n < 2 || info.JitterBySecond[0].T < secs[0].T || info.JitterBySecond[n-1].T > secs[len(secs)-1].T {
		t.Fatalf("per-second jitter %+v does not cover the run's seconds %d..%d", info.JitterBySecond, secs[0].T, secs[len(secs)-1].T)
	}
	var rateSeen bool
	for _, s := range secs {
		rateSeen = rateSeen || s.TargetRate == 500
	}
	if !rateSeen {
		t.Fatal("no second reported the 500/s target rate")
	}
	if info.VUs == 0 || info.LastFirstRequest <= 0 {
		t.Fatalf("VU start figures missing: %+v", info)
	}
}

func TestUnresolvableHostFailsBeforeTheRun(t *testing.T) {
	plan := quick(t, scenario.QuickOptions{URL: "http://no-such-host.invalid/", VUs: 1, Iterations: 1})
	if _, err := New(context.Background(), plan); err == nil || !strings.Contains(err.Error(), "no-such-host.invalid") {
		t.Fatalf("New = %v, want an error naming the host", err)
	}
}

func TestWarnsWhenVUsExceedTheOpenFileLimit(t *testing.T) {
	limit := openFileLimit()
	if limit == 0 {
		t.Fatal("no open file limit on this system")
	}
	few := quick(t, scenario.QuickOptions{URL: "http://127.0.0.1:1/", VUs: 2, Iterations: 1})
	many := quick(t, scenario.QuickOptions{URL: "http://127.0.0.1:1/", VUs: limit + 1, Iterations: 1})
	for _, tt := range []struct {
		plan *scenario.Plan
		want bool
	}{{few, false}, {many, true}} {
		e, err := New(context.Background(), tt.plan)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(e.Warnings()) > 0; got != tt.want {
			t.Errorf("warnings %v, want some: %v", e.Warnings(), tt.want)
		}
	}
}

// The open model connects its pre-allocated VUs before the schedule starts.
func TestArrivalRateConnectsPreallocatedVUs(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	plan := parse(t, `
scenarios:
  open:
    executor: constant-arrival-rate
    rate: 50/s
    duration: 200ms
    pre_allocated_vus: 5
    max_vus: 5
    steps: [{url: "`+srv.URL+`/"}]
`)
	sum, _, _ := runPlan(t, plan, nil)
	if sum.Requests != 10 || conns.Load() != 5 {
		t.Fatalf("%d requests over %d connections, want 10 over the 5 pre-allocated VUs' connections", sum.Requests, conns.Load())
	}
}
