package monitor_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/brinkhq/brink/internal/monitor"
	"github.com/brinkhq/brink/internal/monitor/cgroup"
)

// A raw cgroup of the kind the Mesos containerizer creates, on this
// machine's real hierarchy: a process in its own network namespace (made
// with unshare, sending to itself on its own loopback) with
// MARATHON_APP_ID in its environment. The monitor discovers the cgroup
// from the tree, names it from the process's environment, sees that the
// namespace is not the host's and reports the namespace's own counters.
func TestRawCgroupWithOwnNetworkNamespace(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: creates cgroups and a network namespace")
	}
	for _, tool := range []string{"unshare", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed: run bash scripts/setup.sh", tool)
		}
	}
	l, err := cgroup.Detect("/sys")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "workload")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/brinkhq/brink/internal/monitor/workload").CombinedOutput(); err != nil {
		t.Fatalf("building the workload: %v\n%s", err, out)
	}

	parent := fmt.Sprintf("brinkraw-%d", os.Getpid())
	const id = "0f1e2d3c-4b5a-4697-8877-665544332211"
	var dirs []string
	if l.Version == cgroup.V2 {
		dirs = []string{filepath.Join(l.Unified, parent, id)}
	} else {
		for _, root := range []string{l.CPU, l.CPUAcct, l.Memory, l.Pids, l.Blkio, l.Unified} {
			if root != "" {
				dirs = append(dirs, filepath.Join(root, parent, id))
			}
		}
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatalf("creating cgroup %s: %v", d, err)
		}
	}

	cmd := exec.Command("unshare", "--net", "sh", "-c", `ip link set lo up && exec "$0" loopback -max 2m`, bin)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "MARATHON_APP_ID=/raw/app", "MESOS_TASK_ID=raw_app.1", "SECRET=never-exported"}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		for _, d := range dirs {
			os.Remove(d)
			os.Remove(filepath.Dir(d))
		}
	})
	for _, d := range dirs {
		if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
			t.Fatalf("moving the process into %s: %v", d, err)
		}
	}
	// The environment is read when the cgroup is first seen: wait until the
	// process has exec'd the workload in its new namespace.
	waitFor(t, "the workload to run", 30*time.Second, func() bool {
		exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", cmd.Process.Pid))
		return exe == bin
	})

	// No Docker; every interface reported (the namespace has only lo).
	r := startMonitor(t, monitor.Config{DockerHost: "none", CgroupPatterns: []string{"/" + parent + "/*"}, NetworkExclude: regexp.MustCompile(`^$`)})
	sel := map[string]string{"name": id}
	var p page
	waitFor(t, "the raw cgroup in /metrics", 30*time.Second, func() bool {
		p = r.scrape(t)
		_, ok := p.get("container_cpu_usage_seconds_total", sel)
		return ok
	})
	if m := p.mustLabel(t, "container_network_mode", sel, "mode"); m != "private" {
		t.Fatalf("network mode %q, want private", m)
	}
	waitFor(t, "its loopback counters", 30*time.Second, func() bool {
		p = r.scrape(t)
		_, ok := p.get("container_network_transmit_bytes_total", map[string]string{"name": id, "interface": "lo"})
		return ok
	})
	if s := p.mustLabel(t, "container_cpu_usage_seconds_total", sel, "service"); s != "/raw/app" {
		t.Errorf("service = %q, want /raw/app from MARATHON_APP_ID", s)
	}
	if e := p.mustLabel(t, "container_cpu_usage_seconds_total", sel, "container_env_MESOS_TASK_ID"); e != "raw_app.1" {
		t.Errorf("container_env_MESOS_TASK_ID = %q", e)
	}
	tx0 := p.must(t, "container_network_transmit_bytes_total", map[string]string{"name": id, "interface": "lo"})
	waitFor(t, "its own loopback traffic to grow", 30*time.Second, func() bool {
		tx, ok := r.scrape(t).get("container_network_transmit_bytes_total", map[string]string{"name": id, "interface": "lo"})
		return ok && tx.v >= tx0.v+2048
	})
	// The host's loopback is not the container's: no host interface
	// appears under the container.
	if _, ok := p.get("container_network_transmit_bytes_total", map[string]string{"name": id, "interface": "eth0"}); ok {
		t.Error("the host's eth0 is reported under a container with its own namespace")
	}
}
