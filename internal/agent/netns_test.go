package agent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMultiHostInNetworkNamespaces runs the hub, two agents and the
// target as real processes, each in its own network namespace joined by
// veth pairs with addresses the test picks (10.203.x.y, inside the
// namespaces only), runs a test across the agents from the hub's
// namespace, takes one agent's link to the hub down for 8 s, and checks
// the fault behaviour: the agent is marked lost within 3 s, the loss is on
// the run's timeline, the agent keeps generating and, once its link is
// back, resends its seconds: the run ends with exactly the requests the
// target served. Everything the test created is removed, even on failure.
//
//	hub ns ──veth── agent1 ns ──veth── target ns
//	   └────veth─── agent2 ns ──veth─────┘
func TestMultiHostInNetworkNamespaces(t *testing.T) {
	if testing.Short() {
		t.Skip("builds brink and runs a 20 s test in network namespaces; skipped with -short")
	}
	if os.Geteuid() != 0 {
		t.Fatal("this test creates network namespaces and veth pairs: run it as root (CI does)")
	}
	for _, tool := range []string{"ip", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing: run bash scripts/setup.sh (iproute2, curl)", tool)
		}
	}
	bin := buildBinaries(t)
	n := netnsLab(t)

	// Addresses: one /30 per link; the target also answers on a /32 on its
	// loopback that both agents route to over their own link, so one URL
	// in the scenario works on both.
	x := os.Getpid()%200 + 20
	addr := func(host int) string { return fmt.Sprintf("10.203.%d.%d", x, host) }
	targetIP := addr(100)
	n.link("hub", addr(1), "agent1", addr(2))
	n.link("hub", addr(5), "agent2", addr(6))
	n.link("target", addr(9), "agent1", addr(10))
	n.link("target", addr(13), "agent2", addr(14))
	n.run("target", "ip", "addr", "add", targetIP+"/32", "dev", "lo")
	n.run("agent1", "ip", "route", "add", targetIP+"/32", "via", addr(9))
	n.run("agent2", "ip", "route", "add", targetIP+"/32", "via", addr(13))

	dir := t.TempDir()
	n.start("target", filepath.Join(dir, "target.log"), bin.target, "--listen", "0.0.0.0:8080")
	n.start("hub", filepath.Join(dir, "hub.log"), bin.brink, "hub", "--listen", "0.0.0.0:9339", "--data", filepath.Join(dir, "hub-data"))
	n.waitHTTP("target", "http://127.0.0.1:8080/healthz")
	n.waitHTTP("hub", "http://127.0.0.1:9339/api/v1/status")
	n.start("agent1", filepath.Join(dir, "agent1.log"), bin.brink, "agent", "--hub", "http://"+addr(1)+":9339", "--name", "agent1",
		"--work-dir", filepath.Join(dir, "w1"))
	n.start("agent2", filepath.Join(dir, "agent2.log"), bin.brink, "agent", "--hub", "http://"+addr(5)+":9339", "--name", "agent2",
		"--work-dir", filepath.Join(dir, "w2"))

	scenario := filepath.Join(dir, "netns.yaml")
	text := fmt.Sprintf(`scenarios:
  main:
    executor: constant-arrival-rate
    rate: 100
    duration: 20s
    pre_allocated_vus: 10
    max_vus: 50
    steps:
      - {name: page, url: "http://%s:8080/page"}
`, targetIP)
	if err := os.WriteFile(scenario, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "run.json")
	var cliOut bytes.Buffer
	cli := exec.Command("ip", "netns", "exec", n.ns("hub"), bin.brink, "run", scenario, "--hub", "http://127.0.0.1:9339",
		"--agents", "2", "--agents-wait", "30s", "--on-agent-loss", "continue", "--out", "json="+out)
	cli.Stdout, cli.Stderr = &cliOut, &cliOut
	if err := cli.Start(); err != nil {
		t.Fatal(err)
	}
	cliDone := make(chan error, 1)
	go func() { cliDone <- cli.Wait() }()

	// Once the run is under way, cut agent2's link to the hub; its link
	// to the target stays up.
	n.waitFor(30*time.Second, "the run to start", func() bool {
		return strings.Contains(n.get("hub", "http://127.0.0.1:9339/api/v1/events?kind=agents_started"), "agents_started")
	})
	time.Sleep(3 * time.Second)
	cut := time.Now()
	n.run("agent2", "ip", "link", "set", n.veth("agent2", "hub"), "down")
	n.waitFor(10*time.Second, "agent2 to be marked lost", func() bool {
		return strings.Contains(n.get("hub", "http://127.0.0.1:9339/api/v1/events?kind=agent_lost"), "agent2")
	})
	time.Sleep(8*time.Second - time.Since(cut))
	n.run("agent2", "ip", "link", "set", n.veth("agent2", "hub"), "up")

	select {
	case err := <-cliDone:
		if err != nil {
			t.Fatalf("brink run: %v\n%s", err, cliOut.String())
		}
	case <-time.After(3 * time.Minute):
		t.Fatalf("brink run did not finish\n%s", cliOut.String())
	}
	t.Logf("brink run:\n%s", cliOut.String())

	var events struct {
		Data struct {
			Events []struct {
				TimeMs        int64 `json:"time_ms"`
				Kind, Message string
			} `json:"events"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(n.get("hub", "http://127.0.0.1:9339/api/v1/events?limit=100")), &events); err != nil {
		t.Fatal(err)
	}
	var lostAt time.Time
	rejoined := false
	for _, e := range events.Data.Events {
		switch {
		case e.Kind == "agent_lost" && strings.Contains(e.Message, "agent2"):
			lostAt = time.UnixMilli(e.TimeMs)
		case e.Kind == "agent_rejoined" && strings.Contains(e.Message, "agent2"):
			rejoined = true
		}
	}
	if lostAt.IsZero() || !rejoined {
		t.Fatalf("events: lost at %v, rejoined %v: %+v", lostAt, rejoined, events.Data.Events)
	}
	detection := lostAt.Sub(cut)
	t.Logf("agent2 marked lost %s after its link went down", detection)
	if detection > 3*time.Second {
		t.Errorf("agent2 marked lost after %s, want at most 3s", detection)
	}

	var summary struct {
		Requests int64 `json:"requests"`
		Failures int64 `json:"failures"`
		Timeline []struct {
			Unix int64 `json:"unix"`
		} `json:"timeline"`
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &summary); err != nil {
		t.Fatal(err)
	}
	var stats struct {
		Requests int64 `json:"requests"`
	}
	if err := json.Unmarshal([]byte(n.get("target", "http://127.0.0.1:8080/stats")), &stats); err != nil {
		t.Fatal(err)
	}
	// Every request the agents counted reached the target, and no second
	// was counted twice. A request that failed in transport (the
	// connection closed before the target read it) is counted by brink as
	// a failure and never by the target: only such failures may differ.
	if stats.Requests > summary.Requests || summary.Requests-stats.Requests > summary.Failures || stats.Requests < 1900 {
		t.Errorf("the run counted %d requests (%d failed), the target served %d (planned 2000)", summary.Requests, summary.Failures, stats.Requests)
	}
	t.Logf("run counted %d requests (%d failed); the target served %d", summary.Requests, summary.Failures, stats.Requests)
	for i := 1; i < len(summary.Timeline); i++ {
		if summary.Timeline[i].Unix != summary.Timeline[i-1].Unix+1 {
			t.Errorf("second %d is missing from the timeline", summary.Timeline[i-1].Unix+1)
		}
	}
	if !strings.Contains(cliOut.String(), "start skew:") {
		t.Error("the CLI did not report the start skew")
	}
}

type binaries struct{ brink, target string }

func buildBinaries(t *testing.T) binaries {
	t.Helper()
	dir := t.TempDir()
	b := binaries{brink: filepath.Join(dir, "brink"), target: filepath.Join(dir, "brink-target")}
	for out, pkg := range map[string]string{b.brink: "github.com/brinkhq/brink/cmd/brink", b.target: "github.com/brinkhq/brink/cmd/brink-target"} {
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, msg)
		}
	}
	return b
}

// netns creates namespaces and veth pairs and removes them all on cleanup.
type netns struct {
	t      *testing.T
	prefix string

	mu     sync.Mutex
	made   map[string]bool
	veths  map[[2]string]string // (ns, peer ns) -> interface name in ns
	nextID int
	procs  []*exec.Cmd
}

func netnsLab(t *testing.T) *netns {
	n := &netns{t: t, prefix: fmt.Sprintf("brk%d", os.Getpid()%100000), made: map[string]bool{}, veths: map[[2]string]string{}}
	t.Cleanup(n.cleanup)
	return n
}

func (n *netns) ns(name string) string { return n.prefix + "-" + name }

func (n *netns) veth(name, peer string) string { return n.veths[[2]string{name, peer}] }

func (n *netns) ensure(name string) {
	if n.made[name] {
		return
	}
	n.sh("ip", "netns", "add", n.ns(name))
	n.made[name] = true
	n.run(name, "ip", "link", "set", "lo", "up")
}

// link joins two namespaces with a veth pair: addrA/30 in a, addrB/30 in b.
func (n *netns) link(a, addrA, b, addrB string) {
	n.ensure(a)
	n.ensure(b)
	n.nextID++
	ifA, ifB := fmt.Sprintf("%sv%da", n.prefix, n.nextID), fmt.Sprintf("%sv%db", n.prefix, n.nextID)
	n.sh("ip", "link", "add", ifA, "type", "veth", "peer", "name", ifB)
	n.sh("ip", "link", "set", ifA, "netns", n.ns(a))
	n.sh("ip", "link", "set", ifB, "netns", n.ns(b))
	n.run(a, "ip", "addr", "add", addrA+"/30", "dev", ifA)
	n.run(b, "ip", "addr", "add", addrB+"/30", "dev", ifB)
	n.run(a, "ip", "link", "set", ifA, "up")
	n.run(b, "ip", "link", "set", ifB, "up")
	n.veths[[2]string{a, b}], n.veths[[2]string{b, a}] = ifA, ifB
}

func (n *netns) sh(args ...string) {
	n.t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		n.t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// run runs a command inside namespace name.
func (n *netns) run(name string, args ...string) {
	n.t.Helper()
	n.sh(append([]string{"ip", "netns", "exec", n.ns(name)}, args...)...)
}

// start runs a long-lived process inside namespace name, logging to log.
func (n *netns) start(name, log string, args ...string) {
	n.t.Helper()
	f, err := os.Create(log)
	if err != nil {
		n.t.Fatal(err)
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", n.ns(name)}, args...)...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	n.mu.Lock()
	n.procs = append(n.procs, cmd)
	n.mu.Unlock()
	n.t.Cleanup(func() {
		f.Close()
		if n.t.Failed() {
			b, _ := os.ReadFile(log)
			n.t.Logf("%s log:\n%s", name, b)
		}
	})
}

// get fetches a URL from inside namespace name.
func (n *netns) get(name, url string) string {
	out, err := exec.Command("ip", "netns", "exec", n.ns(name), "curl", "-fsS", "--max-time", "5", url).Output()
	if err != nil {
		return ""
	}
	return string(out)
}

func (n *netns) waitHTTP(name, url string) {
	n.t.Helper()
	n.waitFor(30*time.Second, url, func() bool { return n.get(name, url) != "" })
}

func (n *netns) waitFor(timeout time.Duration, what string, cond func() bool) {
	n.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			n.t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// cleanup stops every process and deletes every namespace (which removes
// the veth pairs in them).
func (n *netns) cleanup() {
	n.mu.Lock()
	procs := n.procs
	n.mu.Unlock()
	for _, p := range procs {
		_ = p.Process.Signal(os.Interrupt)
	}
	for _, p := range procs {
		done := make(chan struct{})
		go func() { _ = p.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(40 * time.Second):
			_ = p.Process.Kill()
			<-done
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for name := range n.made {
		if out, err := exec.CommandContext(ctx, "ip", "netns", "del", n.ns(name)).CombinedOutput(); err != nil {
			n.t.Errorf("removing namespace %s: %v %s", n.ns(name), err, out)
		}
	}
}
