// Package lbtest runs a real HAProxy for tests of packages that drive it.
package lbtest

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/brinkhq/brink/internal/lb"
)

// HAProxy is a running HAProxy process.
type HAProxy struct {
	*lb.HAProxy
	Socket string
	cmd    *exec.Cmd
	exited chan error
	stop   sync.Once
	mu     sync.Mutex
	logs   bytes.Buffer
}

// Write implements io.Writer for HAProxy's output.
func (h *HAProxy) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.logs.Write(p)
}

// Logs returns what HAProxy printed.
func (h *HAProxy) Logs() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.logs.String()
}

// Start writes cfg (its Socket set to a temporary path) and runs HAProxy
// in the foreground until the test ends. Without haproxy the test is
// skipped with -short and fails otherwise, saying what to install.
func Start(t testing.TB, cfg lb.Config) *HAProxy {
	t.Helper()
	if testing.Short() {
		t.Skip("real HAProxy test skipped with -short")
	}
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		t.Fatalf("haproxy is not installed: run bash scripts/setup.sh (Debian package haproxy)")
	}
	dir, err := os.MkdirTemp("", "brink-haproxy-") // short path: Unix socket paths are limited to 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	cfg.Socket = filepath.Join(dir, "admin.sock")
	text, err := cfg.Render()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, text, 0o600); err != nil {
		t.Fatal(err)
	}
	h := &HAProxy{HAProxy: lb.NewHAProxy(cfg.Socket), Socket: cfg.Socket, exited: make(chan error, 1)}
	h.cmd = exec.Command(bin, "-db", "-f", path)
	h.cmd.Stdout, h.cmd.Stderr = h, h
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { h.exited <- h.cmd.Wait() }()
	t.Cleanup(func() {
		h.Stop()
		if t.Failed() {
			t.Logf("haproxy output:\n%s", h.Logs())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := h.Command(context.Background(), "show info"); err == nil {
			return h
		} else if time.Now().After(deadline) {
			t.Fatalf("haproxy did not open its socket within 10 s: %v\n%s", err, h.Logs())
		}
		select {
		case err := <-h.exited:
			h.stop.Do(func() {})
			t.Fatalf("haproxy exited at start: %v\n%s", err, h.Logs())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop kills HAProxy (idempotent).
func (h *HAProxy) Stop() {
	h.stop.Do(func() {
		_ = h.cmd.Process.Kill()
		<-h.exited
	})
}

// FreePort returns a port free on 127.0.0.1 now.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
