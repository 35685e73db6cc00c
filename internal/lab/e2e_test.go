package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/brinkhq/brink/internal/autoscale"
	"github.com/brinkhq/brink/internal/output"
)

// The tests below run the real `brink lab` binary (built statically, as
// `make build` does) against the real dockerd, HAProxy and cgroups of this
// machine. They need root; with -short they are skipped, otherwise a
// missing dependency fails them with what to run.

func requireLabHost(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("brink lab end-to-end test (root, dockerd, HAProxy) skipped with -short")
	}
	if os.Geteuid() != 0 {
		t.Fatal("brink lab's end-to-end tests need root (cgroups, Docker): run them as root")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		t.Fatalf("dockerd is not reachable (%v: %s): run %s (or bash scripts/dockerd.sh)", err, bytes.TrimSpace(out), SetupCommand)
	}
	if _, err := exec.LookPath("haproxy"); err != nil {
		t.Fatalf("HAProxy is not installed: run %s", SetupCommand)
	}
}

// buildBrink builds cmd/brink statically into a temporary directory.
// Identical sources give an identical binary, so the lab's images (tagged
// by the binary's digest) are built once for all tests.
func buildBrink(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for !isFile(filepath.Join(dir, "go.mod")) {
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
	bin := filepath.Join(t.TempDir(), "brink")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, "./cmd/brink")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/brink: %v\n%s", err, out)
	}
	if err := checkStatic(bin); err != nil {
		t.Fatalf("the CGO_ENABLED=0 build: %v", err)
	}
	return bin
}

// freePortBase finds a base whose whole span of ports is free now.
func freePortBase(t *testing.T) int {
	t.Helper()
	for try := 0; try < 50; try++ {
		base := 20000 + rand.IntN(40000)
		free := true
		for _, np := range PortsFrom(base).All() {
			if portFree(np.Port) != nil {
				free = false
				break
			}
		}
		if free {
			return base
		}
	}
	t.Fatal("no free block of ports found")
	return 0
}

// syncBuffer collects a process's output while it runs.
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

// labProcess is one `brink lab` run.
type labProcess struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

// startLab runs `brink lab args...` with its state directory under tmp.
func startLab(t *testing.T, bin, tmp string, args ...string) *labProcess {
	t.Helper()
	p := &labProcess{out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, append([]string{"lab"}, args...)...)
	p.cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// wait waits for the lab to exit and returns its exit code.
func (p *labProcess) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("brink lab did not finish within %s:\n%s", timeout, p.out)
	}
	return p.cmd.ProcessState.ExitCode()
}

// waitOutput waits until the lab has printed want.
func (p *labProcess) waitOutput(t *testing.T, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(p.out.String(), want) {
		select {
		case <-p.done:
			t.Fatalf("brink lab exited (%s) before printing %q:\n%s", p.cmd.ProcessState, want, p.out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("brink lab did not print %q within %s:\n%s", want, timeout, p.out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// labIDRe finds the lab's id in its output.
var labIDRe = regexp.MustCompile(`host network\), lab (\S+)`)

// labID is the id the lab printed.
func (p *labProcess) labID(t *testing.T) string {
	t.Helper()
	m := labIDRe.FindStringSubmatch(p.out.String())
	if m == nil {
		t.Fatalf("brink lab did not print its id:\n%s", p.out)
	}
	return m[1]
}

// assertNothingLeft checks that no container, HAProxy, cgroup or state
// directory of the lab with the given id remains (id "": of any lab of
// the service, which never got an id), whatever other labs on the machine
// run.
func assertNothingLeft(t *testing.T, id, service, stateDir string) {
	t.Helper()
	filter := "label=" + LabelLab + "=" + id
	if id == "" {
		filter = "label=" + labelService + "=" + service
	}
	out, err := exec.Command("docker", "ps", "-a", "--filter", filter, "--format", "{{.Names}}").CombinedOutput()
	if err != nil {
		t.Fatalf("docker ps: %v: %s", err, out)
	}
	if s := strings.TrimSpace(string(out)); s != "" {
		t.Errorf("the lab's containers are left: %s", s)
	}
	layout, err := detectCgroups("/sys/fs/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	if id != "" {
		if dirs := layout.instanceCgroupDirs(id); len(dirs) > 0 {
			t.Errorf("the lab's cgroups are left: %v", dirs)
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if cmd := strings.ReplaceAll(string(b), "\x00", " "); strings.Contains(cmd, "haproxy") && strings.Contains(cmd, stateDir) {
			t.Errorf("HAProxy is left running: %s (%s)", filepath.Dir(p), cmd)
		}
	}
	if _, err := os.Stat(stateDir); !errors.Is(err, os.ErrNotExist) {
		entries, _ := os.ReadDir(stateDir)
		t.Errorf("the state directory %s is left (%v, %d entries)", stateDir, err, len(entries))
	}
}

func TestLabQuickEndToEnd(t *testing.T) {
	requireLabHost(t)
	bin := buildBrink(t)
	tmp, out := t.TempDir(), t.TempDir()
	base := freePortBase(t)
	started := time.Now()
	p := startLab(t, bin, tmp, "--quick", "--out", out, "--port-base", strconv.Itoa(base), "--service", "labtest")
	code := p.wait(t, 8*time.Minute)
	t.Logf("brink lab --quick took %s:\n%s", time.Since(started).Round(time.Second), p.out)
	if code != 0 {
		t.Fatalf("brink lab --quick exited with %d", code)
	}
	assertNothingLeft(t, p.labID(t), "labtest", filepath.Join(tmp, "brink-lab"))

	b, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	over, two, as := rep.Phase("overload"), rep.Phase("two-replicas"), rep.Phase("autoscale")
	if over == nil || two == nil || as == nil || rep.Phase("normal") == nil {
		t.Fatalf("report.json lacks phases: %s", b)
	}
	if rep.HostBeforeLoad != nil {
		t.Logf("host before load: %.2f of %.0f cores busy with other work", rep.HostBeforeLoad.Used, rep.HostBeforeLoad.Cores)
	}

	// The overload broke one replica: throttled at its limit, with failures
	// or a throughput plateau.
	thr := valueOr(over.Resources.Throttled, 0)
	if thr < 0.25 {
		t.Errorf("overload: the replica was throttled in %.0f%% of periods, want at least 25%%", 100*thr)
	}
	if over.Peak.ErrorRate < 0.01 && !plateaued(over) {
		t.Errorf("overload: %.2f%% failures at peak and knee %+v: want failures or a throughput plateau", 100*over.Peak.ErrorRate, over.Knee)
	}
	// Seed mode: the failures are 200s with the error page.
	if over.CheckFailures == 0 || over.TargetErrorPages == 0 || over.StatusErrorRate >= over.ErrorRate {
		t.Errorf("overload: %d failed body checks, %d error pages counted by the app, status-only error rate %.3f vs %.3f: the seed mode's 200 error pages were not caught",
			over.CheckFailures, over.TargetErrorPages, over.StatusErrorRate, over.ErrorRate)
	}
	// Two replicas served the same ramp better.
	if two.MaxSustainedRPS <= over.MaxSustainedRPS {
		t.Errorf("two replicas sustained %.0f req/s, one %.0f: want more with two", two.MaxSustainedRPS, over.MaxSustainedRPS)
	}
	if two.Peak.ErrorRate >= over.Peak.ErrorRate && !(two.Peak.ErrorRate == 0 && over.Peak.ErrorRate == 0) {
		t.Errorf("two replicas failed %.2f%% at peak, one %.2f%%: want fewer failures", 100*two.Peak.ErrorRate, 100*over.Peak.ErrorRate)
	}
	if two.Resources.Replicas != 2 {
		t.Errorf("two-replicas: the monitor saw %d replicas", two.Resources.Replicas)
	}
	// The autoscaler acted.
	scaledOut := false
	for _, e := range as.Scaling {
		scaledOut = scaledOut || e.Kind == autoscale.KindScaleOut
	}
	if !scaledOut || as.ReplicasEnd < 2 {
		t.Errorf("autoscale: no scale-out (events %+v, %d replicas at the end)", as.Scaling, as.ReplicasEnd)
	}
	for _, c := range rep.Conclusions {
		t.Logf("conclusion holds=%v: %s — %s", c.Holds, c.Claim, c.Evidence)
	}

	// The report files hold those numbers.
	html, err := os.ReadFile(filepath.Join(out, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		output.FormatRate(over.MaxSustainedRPS) + "/s", output.FormatRate(two.MaxSustainedRPS) + "/s",
		pct(over.Peak.ErrorRate), pct(two.Peak.ErrorRate), over.RunID, two.RunID, as.RunID,
	} {
		if !strings.Contains(string(html), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	for _, name := range []string{"normal", "overload", "two-replicas", "autoscale"} {
		if _, err := os.Stat(filepath.Join(out, "phases", name+".yaml")); err != nil {
			t.Errorf("phase scenario: %v", err)
		}
	}
	text := p.out.String()
	for _, want := range []string{"Comparison", "Knee", fmt.Sprintf("Dashboard: http://127.0.0.1:%d/", base+1), "removed every container"} {
		if !strings.Contains(text, want) {
			t.Errorf("the output lacks %q", want)
		}
	}
}

func TestLabInterruptCleansUp(t *testing.T) {
	requireLabHost(t)
	bin := buildBrink(t)
	tmp := t.TempDir()
	p := startLab(t, bin, tmp, "--quick", "--out", t.TempDir(), "--port-base", strconv.Itoa(freePortBase(t)), "--service", "labint")
	// Interrupt in the middle of the overload, with two containers, HAProxy
	// and a load of several hundred requests a second running.
	p.waitOutput(t, "Phase 2/", 5*time.Minute)
	id := p.labID(t)
	time.Sleep(3 * time.Second)
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	code := p.wait(t, 2*time.Minute)
	if code != 97 {
		t.Errorf("exit code %d after Ctrl-C, want 97 (aborted):\n%s", code, p.out)
	}
	text := p.out.String()
	for _, want := range []string{"interrupted", "removed every container"} {
		if !strings.Contains(text, want) {
			t.Errorf("the output lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "goroutine ") || strings.Contains(text, "panic") {
		t.Errorf("a stack trace in the output:\n%s", text)
	}
	assertNothingLeft(t, id, "labint", filepath.Join(tmp, "brink-lab"))
}

func TestLabKeepAndDown(t *testing.T) {
	requireLabHost(t)
	bin := buildBrink(t)
	tmp := t.TempDir()
	base := freePortBase(t)
	stateDir := filepath.Join(tmp, "brink-lab")
	p := startLab(t, bin, tmp, "--quick", "--phases", "normal", "--keep", "--out", t.TempDir(), "--port-base", strconv.Itoa(base), "--service", "labkeep")
	if code := p.wait(t, 5*time.Minute); code != 0 {
		t.Fatalf("brink lab --keep exited with %d:\n%s", code, p.out)
	}
	t.Cleanup(func() {
		cmd := exec.Command(bin, "lab", "--down")
		cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
		_ = cmd.Run()
	})
	if !strings.Contains(p.out.String(), "brink lab --down") {
		t.Errorf("--keep did not say how to stop the stack:\n%s", p.out)
	}
	// The stack still runs: hub, service through HAProxy, containers, cgroup.
	for _, u := range []string{fmt.Sprintf("http://127.0.0.1:%d/api/v1/status", base+1), fmt.Sprintf("http://127.0.0.1:%d/", base)} {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatalf("kept stack: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("kept stack: %s answered %d", u, resp.StatusCode)
		}
	}
	names, err := exec.Command("docker", "ps", "--filter", "label="+LabelLab, "--format", "{{.Names}}").CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"brink-lab-labkeep-hub", "brink-lab-labkeep-monitor", "brink-lab-labkeep-1"} {
		if !strings.Contains(string(names), want) {
			t.Errorf("kept stack: container %s is not running (running: %s)", want, names)
		}
	}
	id := p.labID(t)
	st, err := readState(filepath.Join(stateDir, id))
	if err != nil || !st.Kept || !haproxyRunning(st.HAProxyPID) {
		t.Fatalf("kept stack: state %+v (%v), HAProxy running: %v", st, err, st != nil && haproxyRunning(st.HAProxyPID))
	}

	// A second lab refuses to start over it and says what to do.
	second := startLab(t, bin, tmp, "--quick", "--port-base", strconv.Itoa(freePortBase(t)))
	if code := second.wait(t, time.Minute); code != 1 || !strings.Contains(second.out.String(), "brink lab --down") {
		t.Errorf("a second lab over a kept one: exit %d, want 1 with a hint to run brink lab --down:\n%s", code, second.out)
	}

	down := startLab(t, bin, tmp, "--down")
	if code := down.wait(t, 2*time.Minute); code != 0 {
		t.Fatalf("brink lab --down exited with %d:\n%s", code, down.out)
	}
	if !strings.Contains(down.out.String(), "the lab is down") {
		t.Errorf("--down output:\n%s", down.out)
	}
	assertNothingLeft(t, id, "labkeep", stateDir)
}

func TestLabKilledThenDown(t *testing.T) {
	requireLabHost(t)
	bin := buildBrink(t)
	tmp := t.TempDir()
	p := startLab(t, bin, tmp, "--quick", "--out", t.TempDir(), "--port-base", strconv.Itoa(freePortBase(t)), "--service", "labkill")
	p.waitOutput(t, "Phase 1/", 5*time.Minute)
	id := p.labID(t)
	// kill -9 leaves everything behind: no cleanup can run.
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	p.wait(t, time.Minute)
	down := startLab(t, bin, tmp, "--down")
	if code := down.wait(t, 2*time.Minute); code != 0 {
		t.Fatalf("brink lab --down exited with %d:\n%s", code, down.out)
	}
	for _, want := range []string{"removed container brink-lab-labkill-hub", "stopped HAProxy", "the lab is down"} {
		if !strings.Contains(down.out.String(), want) {
			t.Errorf("--down output lacks %q:\n%s", want, down.out)
		}
	}
	assertNothingLeft(t, id, "labkill", filepath.Join(tmp, "brink-lab"))
}

func TestLabPrerequisiteFailure(t *testing.T) {
	requireLabHost(t)
	bin := buildBrink(t)
	tmp := t.TempDir()
	base := freePortBase(t)
	busy, err := net.Listen("tcp", loopback(base+1))
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	// A container of the same service that the lab did not start would
	// count as one of its replicas.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	eng, err := connectDocker(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	img, err := buildImages(ctx, eng, bin, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := eng.run(ctx, containerSpec{
		Name: "brink-labtest-foreign", Image: img.Target, Labels: map[string]string{labelService: "labprereq"},
		Cmd: []string{"--listen", loopback(freePort(t))},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.remove(context.Background(), foreign)

	p := startLab(t, bin, tmp, "--quick", "--port-base", strconv.Itoa(base), "--service", "labprereq")
	code := p.wait(t, 2*time.Minute)
	text := p.out.String()
	if code != 1 {
		t.Errorf("exit code %d, want 1:\n%s", code, text)
	}
	for _, want := range []string{fmt.Sprintf("port 127.0.0.1:%d (hub) is in use", base+1), "fix: stop what listens there", "--port-base",
		"carry the label brink.service=labprereq (brink-labtest-foreign)", "--service"} {
		if !strings.Contains(text, want) {
			t.Errorf("the output lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "goroutine ") || strings.Contains(text, "Building images") {
		t.Errorf("the lab went on (or crashed) despite a missing prerequisite:\n%s", text)
	}
	if err := eng.remove(ctx, foreign); err != nil {
		t.Fatal(err)
	}
	assertNothingLeft(t, "", "labprereq", filepath.Join(tmp, "brink-lab"))
}
