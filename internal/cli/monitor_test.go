package cli

import (
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestMonitorCommandServesAndStopsOnSIGTERM(t *testing.T) {
	var stdout, stderr lockedBuffer
	signals := make(chan os.Signal, 1)
	env := Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }, Signals: signals}
	done := make(chan int, 1)
	go func() {
		// Without Docker: raw cgroups and the host only.
		done <- Main([]string{"monitor", "--listen", "127.0.0.1:0", "--interval", "200ms", "--docker-host", "", "--hostname", "cli-test"}, env)
	}()
	addr := regexp.MustCompile(`serving (http://127\.0\.0\.1:\d+)/metrics every 200ms`)
	var url string
	for deadline := time.Now().Add(60 * time.Second); url == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := addr.FindStringSubmatch(stdout.String()); m != nil {
			url = m[1]
		}
	}
	if url == "" {
		t.Fatalf("monitor did not start; stdout %q stderr %q", stdout.String(), stderr.String())
	}
	var body string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get(url + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 {
			body = string(b)
			break
		}
	}
	for _, want := range []string{`node_cpu_seconds_total{host="cli-test",cpu="0",mode="idle"}`, "brink_monitor_ticks_total", `brink_monitor_interval_seconds{host="cli-test"} 0.2`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	signals <- syscall.SIGTERM
	select {
	case code := <-done:
		if code != ExitOK {
			t.Fatalf("exit %d, stderr %q", code, stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("monitor did not stop on SIGTERM")
	}
}

func TestMonitorCommandUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"interval too short", []string{"--interval", "1ms"}, "--interval"},
		{"unknown collector", []string{"--collectors", "cpu,gpu"}, `unknown collector "gpu"`},
		{"bad network regexp", []string{"--network-exclude", "("}, "--network-exclude"},
		{"buffer without remote write", []string{"--buffer-dir", t.TempDir()}, "need --remote-write"},
		{"bad remote-write URL", []string{"--remote-write", "ftp://hub/api/v1/write"}, "remote-write URL"},
		{"bad buffer size", []string{"--remote-write", "http://127.0.0.1:1/api/v1/write", "--buffer-max-bytes", "lots"}, "--buffer-max-bytes"},
		{"relative cgroup pattern", []string{"--cgroup-include", "system.slice/*"}, "must start with /"},
		{"bad log level", []string{"--log-level", "loud"}, "--log-level"},
		{"unknown flag", []string{"--intervall", "1s"}, "unknown flag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr lockedBuffer
			env := Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }}
			args := append([]string{"monitor", "--listen", "", "--docker-host", ""}, tt.args...)
			if code := Main(args, env); code != ExitUsage {
				t.Fatalf("exit %d, want %d; stderr %q", code, ExitUsage, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr %q does not mention %q", stderr.String(), tt.want)
			}
		})
	}
}
