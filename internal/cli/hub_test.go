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
