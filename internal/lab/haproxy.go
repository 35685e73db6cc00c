package lab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/brinkhq/brink/internal/lb"
)

// haproxyProcess is HAProxy running as a process in its own limit cgroup:
// the marathon-lb of the seed's set-up, limited to 0.5 CPU and 128 MB.
type haproxyProcess struct {
	cmd     *exec.Cmd
	exited  chan struct{}
	cfgPath string
	logPath string
	api     *lb.HAProxy
}

// startHAProxy writes cfg to dir, checks it with `haproxy -c`, starts
// HAProxy in the foreground (-db) in a session of its own (so a Ctrl-C on
// the terminal reaches the lab, which then stops it in order), moves it into
// group, and waits for its Runtime API to answer.
func startHAProxy(ctx context.Context, bin, dir string, cfg lb.Config, group *limitGroup) (*haproxyProcess, error) {
	text, err := cfg.Render()
	if err != nil {
		return nil, err
	}
	p := &haproxyProcess{
		cfgPath: filepath.Join(dir, "haproxy.cfg"),
		logPath: filepath.Join(dir, "haproxy.log"),
		exited:  make(chan struct{}),
		api:     lb.NewHAProxy(cfg.Socket),
	}
	if err := os.WriteFile(p.cfgPath, text, 0o644); err != nil {
		return nil, fmt.Errorf("writing HAProxy's configuration: %w", err)
	}
	if out, err := exec.CommandContext(ctx, bin, "-c", "-f", p.cfgPath).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("haproxy rejected the configuration %s: %w\n%s", p.cfgPath, err, strings.TrimSpace(string(out)))
	}
	logFile, err := os.Create(p.logPath)
	if err != nil {
		return nil, fmt.Errorf("creating HAProxy's log: %w", err)
	}
	defer logFile.Close() // the child holds its own descriptor
	p.cmd = exec.Command(bin, "-db", "-f", p.cfgPath)
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	if err := group.add(p.cmd.Process.Pid); err != nil {
		p.kill()
		return nil, err
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, err := p.api.Command(ctx, "show info"); err == nil {
			return p, nil
		} else if time.Now().After(deadline) {
			p.kill()
			return nil, fmt.Errorf("HAProxy's Runtime API at %s did not answer within 15 s: %w\n%s", cfg.Socket, err, p.logTail())
		}
		select {
		case <-p.exited:
			return nil, fmt.Errorf("HAProxy exited at start (%s):\n%s", p.cmd.ProcessState, p.logTail())
		case <-ctx.Done():
			p.kill()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// PID is the HAProxy process id.
func (p *haproxyProcess) PID() int { return p.cmd.Process.Pid }

// stop ends HAProxy: SIGTERM (it stops at once), SIGKILL after grace.
func (p *haproxyProcess) stop(grace time.Duration) error {
	select {
	case <-p.exited:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return nil
	case <-time.After(grace):
	}
	p.kill()
	select {
	case <-p.exited:
		return nil
	case <-time.After(5 * time.Second):
		return fmt.Errorf("HAProxy (pid %d) did not exit after SIGKILL", p.PID())
	}
}

func (p *haproxyProcess) kill() {
	_ = p.cmd.Process.Kill()
}

func (p *haproxyProcess) logTail() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return strings.Join(lines, "\n")
}

// haproxyRunning reports whether pid is a live HAProxy, so that `--down`
// never signals an unrelated process that reused a recorded pid.
func haproxyRunning(pid int) bool {
	if pid <= 0 {
		return false
	}
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil || strings.TrimSpace(string(comm)) != "haproxy" {
		return false
	}
	// A zombie has exited; it only waits for its parent.
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	if i := strings.LastIndexByte(string(stat), ')'); i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
		return false
	}
	return true
}

// stopPID ends a HAProxy recorded by an earlier lab: SIGTERM, then SIGKILL
// after grace.
func stopPID(ctx context.Context, pid int, grace time.Duration) error {
	if !haproxyRunning(pid) {
		return nil
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	if waitGone(ctx, pid, grace) {
		return nil
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	if waitGone(ctx, pid, 5*time.Second) {
		return nil
	}
	return fmt.Errorf("HAProxy (pid %d) is still running after SIGKILL", pid)
}

// waitGone waits up to d for a HAProxy process to end.
func waitGone(ctx context.Context, pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for haproxyRunning(pid) {
		if time.Now().After(deadline) || !sleepCtx(ctx, 50*time.Millisecond) {
			return false
		}
	}
	return true
}
