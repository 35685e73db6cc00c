package cli

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// lockedBuffer collects the hub's output while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestHubCommandServesAndStopsOnSIGTERM(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "hub.yaml")
	if err := os.WriteFile(cfg, []byte("runs:\n  finalize_grace: 2s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr lockedBuffer
	signals := make(chan os.Signal, 1)
	env := Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }, Signals: signals}
	done := make(chan int, 1)
	go func() {
		done <- Main([]string{"hub", "--listen", "127.0.0.1:0", "--data", filepath.Join(dir, "data"), "--config", cfg, "--retention", "2d"}, env)
	}()
	addrPattern := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)
	var url string
	for deadline := time.Now().Add(60 * time.Second); url == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := addrPattern.FindStringSubmatch(stdout.String()); m != nil {
			url = m[1]
		}
	}
	if url == "" {
		t.Fatalf("hub did not start; stdout %q stderr %q", stdout.String(), stderr.String())
	}
	resp, err := http.Get(url + "/api/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Data struct {
			Retention string `json:"retention"`
			Version   string `json:"version"`
		} `json:"data"`
	}
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil || st.Data.Retention != "2d" || st.Data.Version != Version {
		t.Fatalf("status %+v %v", st, err)
	}
	signals <- syscall.SIGTERM
	select {
	case code := <-done:
		if code != ExitOK || !strings.Contains(stdout.String(), "brink hub stopped") {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("hub did not stop on SIGTERM")
	}
}

func TestHubCommandUsageErrors(t *testing.T) {
	dir := t.TempDir()
	badCfg := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(badCfg, []byte("query:\n  timeout: soon\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad retention", []string{"--retention", "forever"}, "--retention"},
		{"bad size", []string{"--retention-size", "lots"}, "--retention-size"},
		{"bad log level", []string{"--log-level", "loud"}, "--log-level"},
		{"missing token file", []string{"--token-file", filepath.Join(dir, "nope")}, "token file"},
		{"bad config", []string{"--config", badCfg}, "line 2 column 12"},
		{"unknown flag", []string{"--lissen", "x"}, "unknown flag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr lockedBuffer
			env := Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }}
			args := append([]string{"hub", "--listen", "127.0.0.1:0", "--data", filepath.Join(dir, "data-"+tt.name)}, tt.args...)
			if code := Main(args, env); code != ExitUsage || !strings.Contains(stderr.String(), tt.want) {
				t.Fatalf("exit %d, stderr %q; want %d mentioning %q", code, stderr.String(), ExitUsage, tt.want)
			}
		})
	}
}

func TestHubAutoscalePolicyErrorsAreUsageErrors(t *testing.T) {
	dir := t.TempDir()
	policy := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(policy, []byte("services:\n  web:\n    min: 1\n    maxx: 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr lockedBuffer
	env := Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }}
	code := Main([]string{"hub", "--listen", "127.0.0.1:0", "--data", filepath.Join(dir, "data"), "--autoscale", policy}, env)
	if code != ExitUsage || !strings.Contains(stderr.String(), "policy.yaml:4:5") {
		t.Fatalf("exit %d, stderr %q: want exit 2 with the key's file:line:column", code, stderr.String())
	}
}

// The hub runs the autoscaler it is given: a dry-run policy's loaded event
// and its first decision reach the hub's own event log.
func TestHubRunsTheAutoscalerInDryRun(t *testing.T) {
	dir := t.TempDir()
	policy := filepath.Join(dir, "policy.yaml")
	// A Kubernetes actuator pointed at a kubeconfig that does not exist:
	// nothing here can act, and dry-run must not try; the hub still records
	// that the policy was loaded and reports the actuator's fault as an event.
	body := "interval: 1s\nservices:\n  web:\n    min: 1\n    max: 3\n    targets:\n      - cpu: 0.7\n" +
		"    actuator:\n      kubernetes:\n        kubeconfig: " + filepath.Join(dir, "missing-kubeconfig") +
		"\n        namespace: shop\n        kind: Deployment\n        name: web\n        port: 8080\n"
	if err := os.WriteFile(policy, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr lockedBuffer
	signals := make(chan os.Signal, 1)
	env := Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }, Signals: signals}
	done := make(chan int, 1)
	go func() {
		done <- Main([]string{"hub", "--listen", "127.0.0.1:0", "--data", filepath.Join(dir, "data"), "--autoscale", policy, "--autoscale-dry-run"}, env)
	}()
	addrPattern := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)
	var url string
	for deadline := time.Now().Add(60 * time.Second); url == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := addrPattern.FindStringSubmatch(stdout.String()); m != nil {
			url = m[1]
		}
	}
	if url == "" {
		t.Fatalf("hub did not start; stdout %q stderr %q", stdout.String(), stderr.String())
	}
	kinds := map[string]bool{}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && !(kinds["autoscale_policy_loaded"] && kinds["autoscale_fault"]); time.Sleep(200 * time.Millisecond) {
		resp, err := http.Get(url + "/api/v1/events")
		if err != nil {
			t.Fatal(err)
		}
		var ev struct {
			Data struct {
				Events []struct {
					Kind    string `json:"kind"`
					Message string `json:"message"`
				} `json:"events"`
			} `json:"data"`
		}
		err = json.NewDecoder(resp.Body).Decode(&ev)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ev.Data.Events {
			kinds[e.Kind] = true
		}
	}
	signals <- syscall.SIGTERM
	if code := <-done; code != ExitOK {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
	if !kinds["autoscale_policy_loaded"] || !kinds["autoscale_fault"] {
		t.Fatalf("events seen %v: want the policy loaded and the actuator fault", kinds)
	}
}
