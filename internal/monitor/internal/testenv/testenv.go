// Package testenv holds what the monitor's tests share: the real
// dependencies they need (dockerd, promtool) and the workload image they
// run in containers. A missing dependency fails the test with what to run,
// unless -short is given, in which case the test is skipped.
package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// PromtoolVersion is the Prometheus release whose promtool checks
// /metrics: the one go.mod requires.
const PromtoolVersion = "v0.316.0"

// Promtool builds promtool from the Go module proxy and returns its path.
// The first build on a machine takes minutes (it compiles Prometheus);
// later ones reuse Go's build cache.
func Promtool(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: building promtool takes minutes on a cold cache")
	}
	bin := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "install", "github.com/prometheus/prometheus/cmd/promtool@"+PromtoolVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+bin, "GOFLAGS=-buildvcs=false")
	cmd.Dir = bin // outside brink's module: the tool's own go.mod decides its dependencies
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building promtool %s from the module proxy: %v\n%s", PromtoolVersion, err, tail(out))
	}
	return filepath.Join(bin, "promtool")
}

// CheckMetrics pipes a /metrics page through `promtool check metrics`. The
// page must parse, and every lint finding must be an inherited one (see
// InheritedLint).
func CheckMetrics(t *testing.T, promtool string, page []byte) {
	t.Helper()
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(page)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit) && exit.ExitCode() == 3: // lint findings only
	default:
		t.Fatalf("promtool check metrics: %v\n%s%s", err, stdout.Bytes(), stderr.Bytes())
	}
	findings := 0
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if line == "" {
			continue
		}
		metric, text, _ := strings.Cut(line, " ")
		if !InheritedLint(metric, text) {
			t.Errorf("promtool check metrics: %s", line)
		}
		findings++
	}
	t.Logf("promtool check metrics: page parses; %d lint findings, all inherited names", findings)
}

// InheritedLint reports whether a promtool/promlint finding is one that
// comes with a name kept for dashboard compatibility: node_exporter's
// meminfo names are camelCase (node_memory_MemAvailable_bytes) and
// cAdvisor's container_memory_failcnt is a counter without _total.
// node_exporter and cAdvisor report the same findings on their own pages.
func InheritedLint(metric, text string) bool {
	switch {
	case strings.HasPrefix(metric, "node_memory_") && strings.Contains(text, "camelCase"):
		return true
	case metric == "container_memory_failcnt" && strings.Contains(text, `"_total" suffix`):
		return true
	}
	return false
}

func tail(b []byte) []byte {
	if len(b) > 4000 {
		return b[len(b)-4000:]
	}
	return b
}

// RequireDocker fails unless a Docker engine answers (skips with -short).
func RequireDocker(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: needs a running dockerd")
	}
	if _, err := exec.LookPath("docker"); err != nil {
		t.Fatal("the docker CLI is not installed: run bash scripts/setup.sh")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		t.Fatalf("dockerd is not reachable (%v: %s): run bash scripts/setup.sh (or bash scripts/dockerd.sh)", err, bytes.TrimSpace(out))
	}
}

// Docker runs the docker CLI against host ("" for the default engine) and
// returns its trimmed standard output, failing the test on error.
func Docker(t *testing.T, host string, args ...string) string {
	t.Helper()
	out, err := DockerErr(host, args...)
	if err != nil {
		t.Fatalf("docker %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// DockerErr is Docker without failing the test.
func DockerErr(host string, args ...string) (string, error) {
	if host != "" {
		args = append([]string{"-H", host}, args...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%w: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// WorkloadImage is the tag of the image that runs internal/monitor/workload.
const WorkloadImage = "brink-monitor-workload:test"

// TestLabel marks every container the monitor's tests start, so that a
// crashed run's leftovers can be found: docker ps -a --filter label=brink.test.
const TestLabel = "brink.test"

// BuildWorkload builds the workload program statically and the FROM
// scratch image that runs it on the engine at host, and returns the tag.
func BuildWorkload(t *testing.T, host string) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(dir, "workload"), "github.com/brinkhq/brink/internal/monitor/workload")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the workload program: %v\n%s", err, out)
	}
	dockerfile := "FROM scratch\nCOPY workload /workload\nENTRYPOINT [\"/workload\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := DockerErr(host, "build", "-q", "-t", WorkloadImage, dir); err != nil {
		t.Fatalf("building the workload image (no network needed: FROM scratch): %v", err)
	}
	return WorkloadImage
}

// Run starts a container on host with --network host and the test label,
// removes it when the test ends, and returns its full ID.
func Run(t *testing.T, host string, args ...string) string {
	t.Helper()
	CleanupLabelled(t, host)
	full := append([]string{"run", "-d", "--network", "host", "--label", TestLabel + "=" + t.Name()}, args...)
	return Docker(t, host, full...)
}

// CleanupLabelled removes, when the test ends, every container on host
// that carries the test's label, including one whose start failed after
// it was created.
func CleanupLabelled(t *testing.T, host string) {
	t.Cleanup(func() {
		ids, err := DockerErr(host, "ps", "-aq", "--filter", "label="+TestLabel+"="+t.Name())
		if err == nil && ids != "" {
			DockerErr(host, append([]string{"rm", "-f"}, strings.Fields(ids)...)...)
		}
	})
}

// Daemon is a private Docker engine for tests that restart it: its own
// socket, data and state directories and cgroup parent, started with
// --live-restore so that its containers survive its restarts, as on a
// production host. It never touches the machine's shared engine.
type Daemon struct {
	t    *testing.T
	dir  string
	Host string // unix:///.../docker.sock
	// CgroupParent is where its containers' cgroups live.
	CgroupParent string
	cmd          *exec.Cmd
	exited       chan struct{}
}

// StartDaemon starts a private engine and stops it (removing its
// containers, mounts, cgroups and files) when the test ends.
func StartDaemon(t *testing.T) *Daemon {
	t.Helper()
	RequireDocker(t)
	if _, err := exec.LookPath("dockerd"); err != nil {
		t.Fatal("dockerd is not installed: run bash scripts/setup.sh")
	}
	// Unix socket paths are limited to 108 bytes: keep the directory short.
	dir, err := os.MkdirTemp("", "bkd")
	if err != nil {
		t.Fatal(err)
	}
	d := &Daemon{t: t, dir: dir, Host: "unix://" + filepath.Join(dir, "d.sock"), CgroupParent: "/" + filepath.Base(dir)}
	t.Cleanup(d.cleanup)
	d.Start()
	return d
}

// Start starts the engine and waits until it answers.
func (d *Daemon) Start() {
	d.t.Helper()
	if err := d.start(); err != nil {
		d.t.Fatal(err)
	}
}

func (d *Daemon) start() error {
	log, err := os.OpenFile(filepath.Join(d.dir, "dockerd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	d.cmd = exec.Command("dockerd",
		"--host", d.Host,
		"--data-root", filepath.Join(d.dir, "data"),
		"--exec-root", filepath.Join(d.dir, "x"),
		"--pidfile", filepath.Join(d.dir, "d.pid"),
		"--bridge=none", "--iptables=false", "--ip6tables=false",
		"--cgroup-parent", d.CgroupParent,
		"--live-restore")
	d.cmd.Stdout, d.cmd.Stderr = log, log
	if err := d.cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("starting a private dockerd: %w", err)
	}
	exited := make(chan struct{})
	d.exited = exited
	cmd := d.cmd
	go func() { cmd.Wait(); log.Close(); close(exited) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := DockerErr(d.Host, "info", "--format", "{{.ServerVersion}}"); err == nil {
			return nil
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(filepath.Join(d.dir, "dockerd.log"))
			return fmt.Errorf("private dockerd exited:\n%s", tail(b))
		default:
		}
		if time.Now().After(deadline) {
			return errors.New("private dockerd did not answer within 60 s")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Stop stops the engine (SIGTERM) and waits for it to exit. Its
// containers keep running (live restore).
func (d *Daemon) Stop() {
	d.t.Helper()
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	select {
	case <-d.exited:
		return
	default:
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(60 * time.Second):
		d.cmd.Process.Kill()
		<-d.exited
	}
}

func (d *Daemon) cleanup() {
	if d.exited != nil {
		select {
		case <-d.exited:
			// Start it again to remove the containers it left running.
			if err := d.start(); err != nil {
				d.t.Logf("restarting the private dockerd for cleanup: %v", err)
			}
		default:
		}
	}
	if ids, err := DockerErr(d.Host, "ps", "-aq"); err == nil && ids != "" {
		DockerErr(d.Host, append([]string{"rm", "-f"}, strings.Fields(ids)...)...)
	}
	d.Stop()
	// dockerd bind-mounts its data root and a network namespace file.
	for _, m := range []string{filepath.Join(d.dir, "x", "netns", "default"), filepath.Join(d.dir, "data")} {
		syscall.Unmount(m, syscall.MNT_DETACH)
	}
	if err := os.RemoveAll(d.dir); err != nil {
		d.t.Logf("removing %s: %v", d.dir, err)
	}
	cgroups, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", filepath.Base(d.CgroupParent)))
	if dir := filepath.Join("/sys/fs/cgroup", filepath.Base(d.CgroupParent)); isDir(dir) {
		cgroups = append(cgroups, dir)
	}
	for _, cg := range cgroups {
		os.Remove(cg)
	}
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
