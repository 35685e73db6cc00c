package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/brinkhq/brink/internal/hub"
	"github.com/brinkhq/brink/internal/target"
)

// agentsHub is a real hub for the distributed-run tests, with a token.
func agentsHub(t *testing.T, token string) (url, tokenFile string) {
	t.Helper()
	tokenFile = filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h, err := hub.New(hub.Options{DataDir: t.TempDir(), TokenFile: tokenFile, Version: Version})
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
	return "http://" + ln.Addr().String(), tokenFile
}

// cliAgent is `brink agent` running in memory.
type cliAgent struct {
	signals chan os.Signal
	done    chan int
	stderr  *syncBuffer
}

func startCLIAgent(t *testing.T, args ...string) *cliAgent {
	t.Helper()
	a := &cliAgent{signals: make(chan os.Signal, 2), done: make(chan int, 1), stderr: &syncBuffer{}}
	env := Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: a.stderr,
		Getenv: func(string) string { return "" }, Signals: a.signals}
	go func() { a.done <- Main(append([]string{"agent"}, args...), env) }()
	t.Cleanup(func() { a.stop(t, 2) })
	return a
}

// stop sends n signals and returns the exit code.
func (a *cliAgent) stop(t *testing.T, n int) int {
	for range n {
		select {
		case a.signals <- syscall.SIGTERM:
		default:
		}
	}
	select {
	case code := <-a.done:
		a.done <- code
		return code
	case <-time.After(60 * time.Second):
		t.Errorf("brink agent did not stop; stderr:\n%s", a.stderr.String())
		return -1
	}
}

func waitIdleAgents(t *testing.T, hubURL string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(hubURL + "/api/v1/agents")
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Data struct {
				Agents []struct{ Link, State string } `json:"agents"`
			} `json:"data"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		idle := 0
		for _, a := range body.Data.Agents {
			if a.Link == "connected" && a.State == "idle" {
				idle++
			}
		}
		if idle >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d agents idle after 30s", idle, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// runWithEnv runs the CLI in memory with the hub token in its environment.
func runWithEnv(t *testing.T, token string, signals chan os.Signal, args ...string) runResult {
	t.Helper()
	var stdout, stderr syncBuffer
	env := Env{
		Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Signals: signals,
		Getenv: func(name string) string {
			if name == hubTokenEnv {
				return token
			}
			return ""
		},
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

func TestRunAcrossAgents(t *testing.T) {
	srv, targetURL := startRunTarget(t, target.Config{})
	hubURL, tokenFile := agentsHub(t, "tok")
	startCLIAgent(t, "--hub", hubURL, "--token-file", tokenFile, "--name", "gen-1", "--labels", "pool=test")
	startCLIAgent(t, "--hub", hubURL, "--token-file", tokenFile, "--name", "gen-2", "--labels", "pool=test")
	waitIdleAgents(t, hubURL, 2)

	// Quick mode: the request travels with the run.
	out := filepath.Join(t.TempDir(), "run.json")
	r := runWithEnv(t, "tok", nil, "run", "--url", targetURL+"/q", "--rate", "40/s", "--duration", "3s",
		"--hub", hubURL, "--agents", "2", "--out", "json="+out)
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"t=1 ", "agent name=gen-1", "agent name=gen-2", "start skew:", "agents (2, on agent loss: continue)"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(r.stderr, "gen-1: scenario 1: 20 iterations per s") {
		t.Errorf("stderr does not show the shares:\n%s", r.stderr)
	}
	sum := readJSON(t, out)
	if got, served := int64(sum["requests"].(float64)), srv.Stats().Requests; got != served || served != 120 {
		t.Errorf("summary %d requests, the target served %d (want 120)", got, served)
	}
	// The generator side is in the JSON too: two agents, the start skew
	// that stdout printed, complete.
	agents, _ := sum["agents"].(map[string]any)
	list, _ := agents["agents"].([]any)
	if skew, _ := agents["start_skew_ms"].(float64); len(list) != 2 || skew <= 0 || agents["complete"] != true {
		t.Errorf("summary agents %v: want 2 agents, a start skew, complete", agents)
	}

	// A scenario file with an override and a threshold that fails: exit
	// code 99, like a local run.
	dir := t.TempDir()
	scenarioPath := filepath.Join(dir, "s.yaml")
	text := fmt.Sprintf(`scenarios:
  main:
    executor: constant-vus
    vus: 3
    duration: 1m
    steps:
      - {name: home, url: "%s/home"}
thresholds: ["p99<1us"]
`, targetURL)
	if err := os.WriteFile(scenarioPath, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r = runWithEnv(t, "tok", nil, "run", scenarioPath, "--duration", "2s", "--hub", hubURL, "--agent-selector", "pool=test")
	if r.code != ExitThresholdFailed || !strings.Contains(r.stdout, "p99<1us") {
		t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, ExitThresholdFailed, r.stdout, r.stderr)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("the --duration override did not reach the agents: the run took %s", took)
	}
}

func TestRunAcrossAgentsAbortsOnLoss(t *testing.T) {
	_, targetURL := startRunTarget(t, target.Config{})
	hubURL, tokenFile := agentsHub(t, "tok")
	startCLIAgent(t, "--hub", hubURL, "--token-file", tokenFile, "--name", "stays")
	doomed := startCLIAgent(t, "--hub", hubURL, "--token-file", tokenFile, "--name", "doomed")
	waitIdleAgents(t, hubURL, 2)
	go func() {
		time.Sleep(3 * time.Second)
		doomed.stop(t, 2) // two signals: exit at once, no draining
	}()
	r := runWithEnv(t, "tok", nil, "run", "--url", targetURL, "--vus", "2", "--duration", "30s",
		"--hub", hubURL, "--agents", "2", "--on-agent-loss", "abort")
	if r.code != ExitAborted || !strings.Contains(r.stderr, "doomed was lost") {
		t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, ExitAborted, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "event kind=agent_lost agent=doomed") {
		t.Errorf("stdout does not show the loss:\n%s", r.stdout)
	}
}

func TestRunAcrossAgentsUsageErrors(t *testing.T) {
	hubURL, _ := agentsHub(t, "tok")
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"run", "--url", "http://127.0.0.1:1/", "--agents", "2"}, ExitUsage, "need --hub"},
		{[]string{"run", "--url", "http://127.0.0.1:1/", "--on-agent-loss", "abort"}, ExitUsage, "applies to runs across agents"},
		{[]string{"run", "--url", "http://127.0.0.1:1/", "--hub", hubURL, "--agents", "2", "--on-agent-loss", "panic"}, ExitUsage, "use continue, rebalance or abort"},
		{[]string{"run", "--url", "http://127.0.0.1:1/", "--hub", hubURL, "--agent-selector", "zone"}, ExitUsage, "expected key=value"},
		{[]string{"run", "--url", "http://127.0.0.1:1/", "--hub", hubURL, "--agents", "3", "--agents-wait", "300ms"}, ExitError, "needs 3 agents"},
		{[]string{"agent"}, ExitUsage, "--hub is required"},
		{[]string{"agent", "--hub", "127.0.0.1:1"}, ExitUsage, "http:// or https://"},
		{[]string{"agent", "--hub", hubURL, "--labels", "bad"}, ExitUsage, "expected key=value"},
	}
	for _, tc := range tests {
		r := runWithEnv(t, "tok", nil, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d mentioning %q", tc.args, r.code, r.stderr, tc.code, tc.want)
		}
	}
	// An agent with a wrong token is refused for good: exit 2.
	r := runWithEnv(t, "wrong", nil, "agent", "--hub", hubURL, "--name", "x")
	if r.code != ExitUsage || !strings.Contains(r.stderr, "refused the token") {
		t.Errorf("wrong token: exit %d, stderr %q", r.code, r.stderr)
	}
}
