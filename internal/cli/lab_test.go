package cli

import (
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/brinkhq/brink/internal/target"
)

func TestLabUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown mode", []string{"lab", "--mode", "fast"}, `mode "fast"`},
		{"bad service", []string{"lab", "--service", "My Web"}, "lower-case letters"},
		{"unknown phase", []string{"lab", "--phases", "normal,spike"}, `phase "spike"`},
		{"ports out of range", []string{"lab", "--port-base", "65530"}, "within 1024..65535"},
		{"down with other flags", []string{"lab", "--down", "--quick"}, "--down takes no other flag"},
		{"an argument", []string{"lab", "now"}, `unexpected argument "now"`},
		{"bad flag", []string{"lab", "--fast"}, "unknown flag"},
		{"target with an unknown flag", []string{"lab", "target", "--speed", "9"}, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runBrink(t, nil, "", tt.args...)
			if r.code != ExitUsage {
				t.Fatalf("exit %d, want %d (usage); stderr:\n%s", r.code, ExitUsage, r.stderr)
			}
			if !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("stderr lacks %q:\n%s", tt.want, r.stderr)
			}
			if strings.Contains(r.stderr, "goroutine ") {
				t.Fatalf("a stack trace:\n%s", r.stderr)
			}
		})
	}
}

func TestLabHelp(t *testing.T) {
	r := runBrink(t, nil, "", "lab", "--help")
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"0.5 CPU, 256 MB", "brink lab --down", "bash scripts/setup.sh", "--quick", "--keep", "--port-base"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("brink lab --help lacks %q", want)
		}
	}
	r = runBrink(t, nil, "", "lab", "target", "--help")
	if r.code != ExitOK || !strings.Contains(r.stdout, "--mode") || !strings.Contains(r.stdout, "--cpu") {
		t.Fatalf("brink lab target --help: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// brink lab target is what the lab's containers run: the sample app,
// counting what it serves, stopped by SIGTERM.
func TestLabTargetServes(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	signals := make(chan os.Signal, 1)
	done := make(chan runResult, 1)
	go func() {
		done <- runBrink(t, signals, "", "lab", "target", "--listen", addr, "--mode", "seed", "--cpu", "1ms")
	}()
	hc := &http.Client{Timeout: 5 * time.Second}
	get := func(path string) (int, string, error) {
		resp, err := hc.Get("http://" + addr + path)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), err
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if code, _, err := get("/healthz"); err == nil && code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("brink lab target did not answer on %s", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	code, body, err := get("/")
	if err != nil || code != 200 || !strings.HasPrefix(body, target.HelloText) {
		t.Fatalf("GET /: %d %q %v", code, body, err)
	}
	code, body, err = get("/stats")
	if err != nil || code != 200 || !strings.Contains(body, `"requests":1`) || !strings.Contains(body, `"mode":"seed"`) {
		t.Fatalf("GET /stats: %d %s %v", code, body, err)
	}
	signals <- syscall.SIGTERM
	r := <-done
	if r.code != ExitOK {
		t.Fatalf("exit %d after SIGTERM: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "mode seed") || !strings.Contains(r.stderr, "served 1 requests") {
		t.Fatalf("the target's log:\n%s", r.stderr)
	}
}
