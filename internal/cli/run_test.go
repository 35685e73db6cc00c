package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/brinkhq/brink/internal/target"
)

// syncBuffer is an io.Writer safe for the progress and signal goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
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

type runResult struct {
	code           int
	stdout, stderr string
}

// runBrink runs the CLI in memory; signals, when not nil, is its Ctrl-C.
func runBrink(t *testing.T, signals chan os.Signal, stdin string, args ...string) runResult {
	t.Helper()
	var stdout, stderr syncBuffer
	env := Env{
		Stdin: strings.NewReader(stdin), Stdout: &stdout, Stderr: &stderr,
		Getenv: func(string) string { return "" }, Signals: signals,
	}
	done := make(chan int, 1)
	go func() { done <- Main(args, env) }()
	select {
	case code := <-done:
		return runResult{code, stdout.String(), stderr.String()}
	case <-time.After(2 * time.Minute):
		t.Fatalf("brink %v did not finish; stdout:\n%s\nstderr:\n%s", args, stdout.String(), stderr.String())
		return runResult{}
	}
}

func startRunTarget(t *testing.T, cfg target.Config) (*target.Server, string) {
	t.Helper()
	s, err := target.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv.URL
}

func readJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRunQuickModeWritesOutputsAndCountsExactly(t *testing.T) {
	srv, url := startRunTarget(t, target.Config{Latency: 2 * time.Millisecond})
	dir := t.TempDir()
	body := filepath.Join(dir, "body.json")
	if err := os.WriteFile(body, []byte(`{"n":1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runBrink(t, nil, "", "run", "--url", url+"/orders", "--vus", "5", "--duration", "1500ms",
		"--method", "PUT", "--body", "@"+body, "--header", "Content-Type: application/json",
		"--threshold", "error_rate<1%", "--threshold", "p99<5s",
		"--out", "json="+filepath.Join(dir, "run.json"), "--out", "csv="+filepath.Join(dir, "run.csv"),
		"--report", filepath.Join(dir, "run.html"))
	if r.code != ExitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	sum := readJSON(t, filepath.Join(dir, "run.json"))
	requests := int64(sum["requests"].(float64))
	if requests == 0 || requests != srv.Stats().Requests {
		t.Fatalf("brink counted %d requests, the target %d", requests, srv.Stats().Requests)
	}
	for _, key := range []string{"requests", "failures", "rps", "dropped", "latency_ms", "by_name", "timeline"} {
		if _, ok := sum[key]; !ok {
			t.Errorf("summary JSON lacks %q", key)
		}
	}
	if _, ok := sum["by_name"].(map[string]any)["PUT "+url+"/orders"]; !ok {
		t.Errorf("by_name lacks the PUT step: %v", sum["by_name"])
	}
	csv, err := os.ReadFile(filepath.Join(dir, "run.csv"))
	if err != nil || !strings.HasPrefix(string(csv), "t,unix,vus") {
		t.Errorf("CSV: %v %q", err, csv)
	}
	html, err := os.ReadFile(filepath.Join(dir, "run.html"))
	if err != nil || !bytes.Contains(html, []byte("<svg")) {
		t.Errorf("HTML report: %v, %d bytes", err, len(html))
	}
	for _, want := range []string{"run finished", "thresholds", "p99<5s", "engine: 5 VUs started"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	// Not a terminal: one plain line per second.
	if !strings.Contains(r.stdout, " vus=5 rate=0 rps=") {
		t.Errorf("no per-second lines:\n%s", r.stdout)
	}
}

func TestRunExitCodes(t *testing.T) {
	_, url := startRunTarget(t, target.Config{})
	dir := t.TempDir()
	badFile := filepath.Join(dir, "bad.yaml")
	os.WriteFile(badFile, []byte("scenarios:\n  a:\n    executor: constant-vus\n    vus: 2\n    duraton: 1s\n    steps: [{url: \"http://127.0.0.1:1/\"}]\n"), 0o644)
	goodFile := filepath.Join(dir, "good.yaml")
	os.WriteFile(goodFile, []byte("thresholds: ['rps>1000000000']\nscenarios:\n  a:\n    vus: 2\n    duration: 1h\n    steps: [{url: \""+url+"/\"}]\n"), 0o644)
	tests := []struct {
		name   string
		args   []string
		want   int
		stderr string
	}{
		{"threshold failed", []string{"--url", url, "--iterations", "20", "--threshold", "p50<0.001ms"}, ExitThresholdFailed, "thresholds failed"},
		{"file threshold failed, duration overridden", []string{goodFile, "--duration", "300ms", "--vus", "3"}, ExitThresholdFailed, "1 of 1 thresholds failed"},
		{"nothing to run", nil, ExitUsage, "give a scenario file or --url"},
		{"bad rate", []string{"--url", url, "--rate", "fast"}, ExitUsage, "--rate"},
		{"bad threshold", []string{"--url", url, "--threshold", "p95<200mss"}, ExitUsage, "column"},
		{"bad out", []string{"--url", url, "--out", "xml=a.xml"}, ExitUsage, "unknown format"},
		{"unknown flag", []string{"--url", url, "--vu", "3"}, ExitUsage, "unknown flag"},
		{"url with file", []string{goodFile, "--url", url}, ExitUsage, "cannot be combined"},
		{"override without a target", []string{goodFile, "--rate", "5/s"}, ExitUsage, "constant-arrival-rate"},
		{"bad file", []string{badFile}, ExitUsage, "bad.yaml:5:5"},
		{"missing file", []string{filepath.Join(dir, "nope.yaml")}, ExitUsage, "nope.yaml"},
		{"unknown host", []string{"--url", "http://no-such-host.invalid/", "--iterations", "1"}, ExitError, "no-such-host.invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runBrink(t, nil, "", append([]string{"run"}, tt.args...)...)
			if r.code != tt.want || !strings.Contains(r.stderr, tt.stderr) {
				t.Fatalf("exit %d, want %d; stderr lacks %q?\n%s\nstdout:\n%s", r.code, tt.want, tt.stderr, r.stderr, r.stdout)
			}
			if strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr, "panic") {
				t.Fatalf("stack trace in stderr:\n%s", r.stderr)
			}
		})
	}
}

func TestRunCtrlC(t *testing.T) {
	// First Ctrl-C: graceful. In-flight requests finish; counts match; exit 0.
	srv, url := startRunTarget(t, target.Config{Latency: 200 * time.Millisecond})
	dir := t.TempDir()
	signals := make(chan os.Signal, 2)
	time.AfterFunc(700*time.Millisecond, func() { signals <- os.Interrupt })
	r := runBrink(t, signals, "", "run", "--url", url, "--vus", "10", "--duration", "1h", "--out", "json="+filepath.Join(dir, "a.json"))
	if r.code != ExitOK || !strings.Contains(r.stderr, "stopping") {
		t.Fatalf("graceful stop: exit %d\n%s\n%s", r.code, r.stderr, r.stdout)
	}
	sum := readJSON(t, filepath.Join(dir, "a.json"))
	if got := int64(sum["requests"].(float64)); got == 0 || got != srv.Stats().Requests || sum["failures"].(float64) != 0 {
		t.Fatalf("after Ctrl-C: brink %d requests (%v failed), target %d", got, sum["failures"], srv.Stats().Requests)
	}
	if sum["aborted"].(bool) {
		t.Fatal("a graceful stop reported as aborted")
	}

	// Second Ctrl-C: abort now, exit 97, results so far still written.
	_, url = startRunTarget(t, target.Config{Latency: 5 * time.Second})
	signals = make(chan os.Signal, 2)
	time.AfterFunc(500*time.Millisecond, func() { signals <- os.Interrupt; signals <- syscall.SIGTERM })
	start := time.Now()
	r = runBrink(t, signals, "", "run", "--url", url, "--vus", "3", "--duration", "1h", "--out", "json="+filepath.Join(dir, "b.json"))
	if r.code != ExitAborted || time.Since(start) > 4*time.Second {
		t.Fatalf("abort: exit %d after %v\n%s", r.code, time.Since(start), r.stderr)
	}
	if !readJSON(t, filepath.Join(dir, "b.json"))["aborted"].(bool) {
		t.Fatal("aborted run not marked aborted in JSON")
	}
}

func TestRunUnreachableTarget(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String() + "/"
	ln.Close()
	dir := t.TempDir()
	r := runBrink(t, nil, "", "run", "--url", url, "--vus", "2", "--duration", "1h", "--out", "json="+filepath.Join(dir, "r.json"))
	if r.code != ExitError || !strings.Contains(r.stderr, "target unreachable") || !strings.Contains(r.stdout, "connection refused") {
		t.Fatalf("exit %d\nstderr:\n%s\nstdout:\n%s", r.code, r.stderr, r.stdout)
	}
	sum := readJSON(t, filepath.Join(dir, "r.json"))
	if sum["failures_by_kind"].(map[string]any)["connect_refused"].(float64) == 0 {
		t.Fatalf("partial results lack the refused connections: %v", sum["failures_by_kind"])
	}
}

func TestRunScenarioFileWithChecks(t *testing.T) {
	_, well := startRunTarget(t, target.Config{})
	_, seed := startRunTarget(t, target.Config{Mode: target.ModeSeed, Latency: 20 * time.Millisecond, SeedPatience: 30 * time.Millisecond})
	dir := t.TempDir()
	file := filepath.Join(dir, "seed.yaml")
	os.WriteFile(file, []byte(fmt.Sprintf(`
scenarios:
  healthy:
    executor: constant-vus
    vus: 2
    iterations: 40
    steps:
      - {name: well, url: "%s/", check: {status: 200, body_contains: "%s"}}
  overloaded:
    executor: constant-vus
    vus: 8
    iterations: 40
    steps:
      - {name: seed, url: "%s/", check: {status: 200, body_contains: "%s"}}
`, well, target.HelloText, seed, target.HelloText)), 0o644)
	r := runBrink(t, nil, "", "run", file, "--threshold", "failures{name=well}==0", "--out", "json="+filepath.Join(dir, "s.json"))
	sum := readJSON(t, filepath.Join(dir, "s.json"))
	byName := sum["by_name"].(map[string]any)
	seedFailures := byName["seed"].(map[string]any)["failures_by_kind"].(map[string]any)
	if r.code != ExitOK || byName["well"].(map[string]any)["requests"].(float64) != 40 || seedFailures["check_failed"] == nil {
		t.Fatalf("exit %d; well %v; seed failures %v\n%s\n%s", r.code, byName["well"], seedFailures, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "seed: check_failed") {
		t.Fatalf("the failed body check is not explained:\n%s", r.stdout)
	}
}

func TestRunHelpTeaches(t *testing.T) {
	r := runBrink(t, nil, "", "run", "--help")
	for _, want := range []string{"--rate", "--ramp", "Ctrl-C", "brink run checkout.yaml", "Exit codes", "--service", "--name", "saturation analysis"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("help lacks %q", want)
		}
	}
	if r.code != ExitOK {
		t.Fatalf("exit %d", r.code)
	}
}

// Reading the body from standard input.
func TestRunBodyFromStdin(t *testing.T) {
	var got []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, r.Method+" "+string(b))
		mu.Unlock()
	}))
	defer srv.Close()
	r := runBrink(t, nil, "payload", "run", "--url", srv.URL, "--body", "@-", "--iterations", "3")
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 3 || got[0] != "POST payload" {
		t.Fatalf("server saw %v", got)
	}
}

func TestRunHTTP2(t *testing.T) {
	var mu sync.Mutex
	protos := map[string]int{}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		protos[r.Proto]++
		mu.Unlock()
		io.WriteString(w, "ok")
	}))
	srv.Config.Protocols = &protocols
	srv.Start()
	defer srv.Close()
	r := runBrink(t, nil, "", "run", "--url", srv.URL, "--http2", "--vus", "4", "--iterations", "40")
	mu.Lock()
	defer mu.Unlock()
	if r.code != ExitOK || protos["HTTP/2.0"] != 40 {
		t.Fatalf("exit %d, protocols seen %v\n%s", r.code, protos, r.stderr)
	}
}

// A run reported to a real hub: the hub's totals, computed from the
// seconds it stored, equal the local summary and the target's count.
func TestRunReportsToHub(t *testing.T) {
	hubURL := startTestHub(t)
	srv, url := startRunTarget(t, target.Config{})
	dir := t.TempDir()
	r := runBrink(t, nil, "", "run", "--url", url, "--vus", "4", "--iterations", "300",
		"--hub", hubURL, "--out", "json="+filepath.Join(dir, "h.json"))
	if r.code != ExitOK {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	sum := readJSON(t, filepath.Join(dir, "h.json"))
	id, _ := sum["run"].(string)
	if id == "" || int64(sum["requests"].(float64)) != srv.Stats().Requests {
		t.Fatalf("run id %q, %v requests (target %d)", id, sum["requests"], srv.Stats().Requests)
	}
	resp, err := http.Get(hubURL + "/api/v1/runs/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Data struct {
			Status string `json:"status"`
			Totals struct {
				Requests int64 `json:"requests"`
			} `json:"totals"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if body.Data.Status != "finished" || body.Data.Totals.Requests != 300 {
		t.Fatalf("hub has run %s as %q with %d requests, want finished with 300", id, body.Data.Status, body.Data.Totals.Requests)
	}
}

// --ramp with --rate ramps the arrival rate: ∫ rate over the stages
// iterations, each counted by the target.
func TestRunRampedRate(t *testing.T) {
	srv, url := startRunTarget(t, target.Config{})
	dir := t.TempDir()
	r := runBrink(t, nil, "", "run", "--url", url, "--rate", "100/s", "--ramp", "1s:300,500ms:300", "--out", "json="+filepath.Join(dir, "r.json"))
	if r.code != ExitOK {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	sum := readJSON(t, filepath.Join(dir, "r.json"))
	// (100+300)/2 × 1 s + 300 × 0.5 s = 350 iterations, none dropped.
	if sum["requests"].(float64) != 350 || sum["dropped"].(float64) != 0 || srv.Stats().Requests != 350 {
		t.Fatalf("requests %v, dropped %v, target %d; want 350", sum["requests"], sum["dropped"], srv.Stats().Requests)
	}
	if !strings.Contains(r.stdout, "schedule: 350 iterations started late by") {
		t.Fatalf("no schedule line:\n%s", r.stdout)
	}
}

// An open model whose pool is too small for a slow target drops iterations
// and says why.
func TestRunDroppedIterationsExplained(t *testing.T) {
	_, url := startRunTarget(t, target.Config{Latency: 100 * time.Millisecond})
	r := runBrink(t, nil, "", "run", "--url", url, "--rate", "100/s", "--vus", "2", "--duration", "1s")
	if r.code != ExitOK || !strings.Contains(r.stdout, "dropped: ") || !strings.Contains(r.stdout, "raise --vus") {
		t.Fatalf("exit %d\n%s", r.code, r.stdout)
	}
}
