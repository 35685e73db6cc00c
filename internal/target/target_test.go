package target

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func startTarget(t *testing.T, cfg Config) (*Server, string) {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv.URL
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestCountsAndControlEndpoints(t *testing.T) {
	_, url := startTarget(t, Config{})
	for i := 0; i < 7; i++ {
		if code, body := get(t, url+"/any/path?x=1"); code != 200 || !strings.HasPrefix(body, HelloText) {
			t.Fatalf("got %d %q", code, body)
		}
	}
	if code, body := get(t, url+"/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("healthz: %d %q", code, body)
	}
	_, body := get(t, url+"/stats")
	var st Stats
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	if st.Requests != 7 || st.Mode != ModeWell {
		t.Fatalf("stats %+v, want 7 requests in mode well", st)
	}
}

func TestFailureRateAndBodySize(t *testing.T) {
	tests := []struct {
		rate     float64
		size     int
		wantFail int
	}{
		{0, 0, 0}, {0.25, 100, 25}, {0.1, 5000, 10}, {1, 0, 100},
	}
	for _, tt := range tests {
		s, url := startTarget(t, Config{FailureRate: tt.rate, BodySize: tt.size})
		fails := 0
		for i := 0; i < 100; i++ {
			code, body := get(t, url)
			if code == 500 {
				fails++
				continue
			}
			if want := max(tt.size, len(HelloText)+1); len(body) != want {
				t.Fatalf("body of %d bytes, want %d", len(body), want)
			}
		}
		if fails != tt.wantFail || s.Stats().Failed != int64(tt.wantFail) {
			t.Errorf("rate %v: %d failures (stats %d), want %d", tt.rate, fails, s.Stats().Failed, tt.wantFail)
		}
	}
}

func TestLatencyAndStall(t *testing.T) {
	s, url := startTarget(t, Config{Latency: 30 * time.Millisecond})
	start := time.Now()
	get(t, url)
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Fatalf("request took %v, want at least the 30ms latency", d)
	}
	s.Stall(300 * time.Millisecond)
	start = time.Now()
	get(t, url)
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Fatalf("request during a 300ms stall took %v", d)
	}
	if code, _ := get(t, url+"/stall?for=nonsense"); code != 400 {
		t.Fatalf("bad stall request answered %d", code)
	}

	_, url = startTarget(t, Config{StallAt: 100 * time.Millisecond, StallFor: 300 * time.Millisecond})
	start = time.Now()
	get(t, url) // before the stall
	if d := time.Since(start); d >= 100*time.Millisecond {
		t.Logf("first request took %v (slow machine)", d)
	}
	time.Sleep(150 * time.Millisecond)
	start = time.Now()
	get(t, url)
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Fatalf("request inside the configured stall took %v, want about 250ms", d)
	}
}

func processCPU(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestCPUCost(t *testing.T) {
	_, url := startTarget(t, Config{CPUCost: 5 * time.Millisecond})
	get(t, url)
	before := processCPU(t)
	for i := 0; i < 40; i++ {
		get(t, url)
	}
	used := processCPU(t) - before
	// 40 × 5 ms = 200 ms of CPU; calibration is approximate and the test
	// process does some work of its own.
	if used < 120*time.Millisecond || used > 600*time.Millisecond {
		t.Fatalf("40 requests at 5ms CPU used %v of CPU, want about 200ms", used)
	}
}

func TestSeedModeOneAtATimeAndErrorPages(t *testing.T) {
	s, url := startTarget(t, Config{Mode: ModeSeed, Latency: 40 * time.Millisecond, SeedPatience: 100 * time.Millisecond})
	var (
		wg                sync.WaitGroup
		mu                sync.Mutex
		hello, errorPages int
	)
	start := time.Now()
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, body := get(t, url)
			mu.Lock()
			defer mu.Unlock()
			if code != 200 {
				t.Errorf("seed mode answered %d; it always answers 200", code)
			}
			switch {
			case strings.HasPrefix(body, HelloText):
				hello++
			case IsErrorPage([]byte(body)):
				errorPages++
			default:
				t.Errorf("unexpected body %q", body)
			}
		}()
	}
	wg.Wait()
	// One worker, 40 ms each, 100 ms patience: a few hellos, the rest error pages.
	if hello < 2 || errorPages < 3 || hello+errorPages != 10 {
		t.Fatalf("%d hellos and %d error pages", hello, errorPages)
	}
	if d := time.Since(start); d < time.Duration(hello)*40*time.Millisecond {
		t.Fatalf("%d hellos took %v: requests were not served one at a time", hello, d)
	}
	if st := s.Stats(); st.ErrorPages != int64(errorPages) || st.Requests != 10 {
		t.Fatalf("stats %+v", st)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []Config{{Mode: "fast"}, {FailureRate: 2}, {Latency: -1}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%+v: no error", cfg)
		}
	}
}

func TestParseFlagsAndServe(t *testing.T) {
	var stderr strings.Builder
	cfg, addr, err := ParseFlags([]string{"--listen", "127.0.0.1:0", "--mode", "seed", "--cpu", "1ms", "--failure-rate", "0.5"}, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Mode != ModeSeed || cfg.CPUCost != time.Millisecond || cfg.FailureRate != 0.5 || addr != "127.0.0.1:0" {
		t.Fatalf("parsed %+v %q", cfg, addr)
	}
	if _, _, err := ParseFlags([]string{"extra"}, &stderr); err == nil {
		t.Fatal("stray argument accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, "127.0.0.1:0", Config{}, io.Discard, func(a net.Addr) { ready <- a }) }()
	a := <-ready
	if code, _ := get(t, "http://"+a.String()+"/"); code != 200 {
		t.Fatalf("served %d", code)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
