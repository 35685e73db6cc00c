package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/brinkhq/brink/internal/analysis"
	"github.com/brinkhq/brink/internal/findlimit"
	"github.com/brinkhq/brink/internal/hub"
)

// flBuffer is an io.Writer safe for concurrent progress output.
type flBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *flBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *flBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runCLI runs brink in memory and returns its exit code and output.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr flBuffer
	env := Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }}
	done := make(chan int, 1)
	go func() { done <- Main(args, env) }()
	select {
	case code := <-done:
		return code, stdout.String(), stderr.String()
	case <-time.After(4 * time.Minute):
		t.Fatalf("brink %v did not finish; stdout:\n%s\nstderr:\n%s", args, stdout.String(), stderr.String())
		return 0, "", ""
	}
}

// pacedServer serves at most perSecond requests per second on a fixed
// schedule: a capacity that does not depend on how busy the machine is.
func pacedServer(t *testing.T, perSecond float64) string {
	var mu sync.Mutex
	var next time.Time
	gap := time.Duration(float64(time.Second) / perSecond)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		now := time.Now()
		if next.Before(now) {
			next = now
		}
		slot := next
		next = next.Add(gap)
		mu.Unlock()
		time.Sleep(time.Until(slot))
		w.Write([]byte("ok\n"))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestFindLimitUsageErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("scenarios:\n  a:\n    executor: nope\n"), 0o644)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"find-limit"}, "give a scenario file or --url"},
		{[]string{"find-limit", "a.yaml", "b.yaml"}, "one scenario file"},
		{[]string{"find-limit", "--url", "http://127.0.0.1:1/"}, "no SLO"},
		{[]string{"find-limit", "--url", "http://127.0.0.1:1/", "--slo", "p95<"}, "--slo"},
		{[]string{"find-limit", "--url", "http://127.0.0.1:1/", "--slo", "p95<1s", "--out", "csv=x"}, "expected json=PATH"},
		{[]string{"find-limit", "--url", "http://127.0.0.1:1/", "--slo", "p95<1s", "--service", "web"}, "--service needs --hub"},
		{[]string{"find-limit", "--url", "http://127.0.0.1:1/", "--slo", "p95<1s", "--step", "2s", "--warmup", "2s"}, "shorter than --step"},
		{[]string{"find-limit", "--url", "http://127.0.0.1:1/", "--slo", "p95<1s", "--start", "x"}, "--start"},
		{[]string{"find-limit", "--url", "ftp://x/", "--slo", "p95<1s"}, "--url"},
		{[]string{"find-limit", bad, "--slo", "p95<1s"}, "bad.yaml:3"},
		{[]string{"find-limit", bad, "--url", "http://127.0.0.1:1/"}, "cannot be combined"},
	}
	for _, tc := range cases {
		code, _, stderr := runCLI(t, tc.args...)
		if code != ExitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d mentioning %q", tc.args, code, stderr, ExitUsage, tc.want)
		}
	}
}

func startTestHub(t *testing.T) string {
	t.Helper()
	h, err := hub.New(hub.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			t.Error("the hub did not stop")
		}
	})
	return "http://" + ln.Addr().String()
}

// TestFindLimitFindsAKnownCapacity runs the command against a server
// that serves 200 requests/s, writes the JSON result and records the
// search in a real hub, whose run labels carry the capacity.
func TestFindLimitFindsAKnownCapacity(t *testing.T) {
	if testing.Short() {
		t.Skip("runs about 30 s of real load steps; skipped with -short")
	}
	const capacity = 200.0
	url := pacedServer(t, capacity)
	hubURL := startTestHub(t)
	out := filepath.Join(t.TempDir(), "limit.json")
	code, stdout, stderr := runCLI(t, "find-limit", "--url", url, "--slo", "p95<100ms", "--slo", "error_rate<1%",
		"--start", "50/s", "--step", "3s", "--warmup", "1s", "--pause", "300ms", "--replicas", "2",
		"--hub", hubURL, "--out", "json="+out)
	t.Log(stdout)
	if code != ExitOK {
		t.Fatalf("exit %d\nstderr: %s", code, stderr)
	}
	for _, want := range []string{"step  1", "50.0/s", "held", "broke p95<100ms", "highest sustainable rate", "capacity per replica", "recorded in the hub as run"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q", want)
		}
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var res findlimit.Result
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatal(err)
	}
	if res.MaxRate < 0.85*capacity || res.MaxRate > 1.05*capacity {
		t.Errorf("found %g/s, want %g/s (−15%%, +5%%)", res.MaxRate, capacity)
	}
	if res.Replicas != 2 || res.PerReplicaRate != res.MaxRate/2 || res.LimitedBy != "slo" {
		t.Errorf("result: %+v", res)
	}

	// The hub holds the search as a run whose labels give the capacity.
	i := strings.Index(stdout, "recorded in the hub as run ")
	id := strings.Fields(stdout[i+len("recorded in the hub as run "):])[0]
	run, err := analysis.NewHub(hubURL).Run(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	got, err := findlimit.CapacityFromLabels(run.Labels)
	if err != nil {
		t.Fatal(err)
	}
	if got != res.CapacityPerReplica {
		t.Errorf("hub label capacity %g, result %g", got, res.CapacityPerReplica)
	}
	if run.StartedMs != res.Steps[0].StartMs {
		t.Errorf("run started at %d, first step at %d", run.StartedMs, res.Steps[0].StartMs)
	}
}
