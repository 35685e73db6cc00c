package actuator

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/brinkhq/brink/internal/autoscale/internal/testimage"
)

const targetImage = "brink-target:autoscale-test"

// testService returns a service name no other test uses, and removes its
// containers at the end whatever happened.
func testService(t *testing.T, prefix string) string {
	t.Helper()
	name := fmt.Sprintf("%s-%d", prefix, rand.IntN(1_000_000))
	t.Cleanup(func() { removeServiceContainers(name) })
	return name
}

func removeServiceContainers(service string) {
	out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label="+LabelService+"="+service).Output()
	if ids := strings.Fields(string(out)); len(ids) > 0 {
		_ = exec.Command("docker", append([]string{"rm", "-f"}, ids...)...).Run()
	}
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func get(addr string) (string, error) {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + addr + "/")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return string(b), fmt.Errorf("status %d", resp.StatusCode)
	}
	return string(b), err
}

func TestDockerActuator(t *testing.T) {
	testimage.RequireDocker(t)
	testimage.Build(t, "./cmd/brink-target", targetImage)
	svc := testService(t, "brink-test-docker")
	parent := testCgroupParent(t, svc)
	ctx := context.Background()
	d, err := NewDocker(ctx, "", svc, DockerConfig{
		Image: targetImage, CPUs: 0.25, Memory: "64m", CgroupParent: parent,
		Env:     map[string]string{"REPLICA_URL": "http://127.0.0.1:{{port}}/"},
		Labels:  map[string]string{"team": "shop"},
		Command: []string{"--listen", "127.0.0.1:{{port}}"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()

	if err := d.SetReplicas(ctx, 2); err != nil {
		t.Fatal(err)
	}
	var reps []Replica
	waitFor(t, "2 running replicas answering", 30*time.Second, func() bool {
		reps, err = d.Replicas(ctx)
		if err != nil || len(reps) != 2 {
			return false
		}
		for _, r := range reps {
			if r.State != Running {
				return false
			}
			if _, err := get(r.Addr); err != nil {
				return false
			}
		}
		return true
	})
	if reps[0].Name != svc+"-1" || reps[1].Name != svc+"-2" || reps[0].Addr == reps[1].Addr {
		t.Fatalf("replicas %+v: want names %s-1, %s-2 on distinct ports", reps, svc, svc)
	}
	out, err := exec.Command("docker", "inspect", reps[0].ID).Output()
	if err != nil {
		t.Fatal(err)
	}
	var insp []struct {
		Config struct {
			Env    []string
			Labels map[string]string
		}
		State struct {
			Pid int
		}
		HostConfig struct {
			NanoCpus     int64
			Memory       int64
			NetworkMode  string
			CgroupParent string
		}
	}
	if err := json.Unmarshal(out, &insp); err != nil || len(insp) != 1 {
		t.Fatalf("docker inspect: %v", err)
	}
	port := reps[0].Addr[strings.LastIndex(reps[0].Addr, ":")+1:]
	c := insp[0]
	procCgroups, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", c.State.Pid))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		what string
		ok   bool
	}{
		{"--cpus 0.25", c.HostConfig.NanoCpus == 250_000_000},
		{"--memory 64m", c.HostConfig.Memory == 64<<20},
		{"--network host", c.HostConfig.NetworkMode == "host"},
		{"label brink.service", c.Config.Labels[LabelService] == svc},
		{"label brink.addr", c.Config.Labels[LabelAddr] == reps[0].Addr},
		{"template label", c.Config.Labels["team"] == "shop"},
		{"PORT env", containsString(c.Config.Env, "PORT="+port)},
		{"{{port}} in env", containsString(c.Config.Env, "REPLICA_URL=http://127.0.0.1:"+port+"/")},
		{"--cgroup-parent", parent == "" || c.HostConfig.CgroupParent == parent},
		{"its process in a cgroup under the parent", parent == "" || strings.Contains(string(procCgroups), parent+"/")},
	}
	for _, ch := range checks {
		if !ch.ok {
			t.Errorf("replica container lacks %s: %+v", ch.what, c)
		}
	}

	// Remove drains nothing itself (the autoscaler does), it stops and removes.
	if err := d.Remove(ctx, reps[1:]); err != nil {
		t.Fatal(err)
	}
	reps, err = d.Replicas(ctx)
	if err != nil || len(reps) != 1 || reps[0].Name != svc+"-1" {
		t.Fatalf("after removing -2: %+v, %v", reps, err)
	}
	// The freed name is reused by the next replica.
	if err := d.SetReplicas(ctx, 2); err != nil {
		t.Fatal(err)
	}
	reps, _ = d.Replicas(ctx)
	if len(reps) != 2 || reps[1].Name != svc+"-2" {
		t.Fatalf("after scaling back to 2: %+v", reps)
	}
	if err := d.SetReplicas(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if reps, _ := d.Replicas(ctx); len(reps) != 0 {
		t.Fatalf("after scaling to 0: %+v", reps)
	}
}

// testCgroupParent is a --cgroup-parent of the test's own with Docker's
// cgroupfs driver (removed at the end), or "" with the systemd driver, whose
// parents must be slices that the test would have to create through
// systemd.
func testCgroupParent(t *testing.T, svc string) string {
	t.Helper()
	out, err := exec.Command("docker", "info", "--format", "{{.CgroupDriver}}").Output()
	if err != nil || strings.TrimSpace(string(out)) != "cgroupfs" {
		t.Logf("cgroup_parent not checked: Docker's cgroup driver is %q", strings.TrimSpace(string(out)))
		return ""
	}
	parent := "/" + svc
	t.Cleanup(func() {
		// Cleanups run last first: the containers must go before their
		// parent's directories can.
		removeServiceContainers(svc)
		dirs, _ := filepath.Glob("/sys/fs/cgroup/*" + parent)
		if d := "/sys/fs/cgroup" + parent; isDir(d) {
			dirs = append(dirs, d)
		}
		for _, d := range dirs {
			_ = os.Remove(d)
		}
	})
	return parent
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestDockerActuatorErrors(t *testing.T) {
	testimage.RequireDocker(t)
	ctx := context.Background()
	svc := testService(t, "brink-test-docker-err")
	d, err := NewDocker(ctx, "", svc, DockerConfig{Image: "brink-no-such-image:never"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	err = d.SetReplicas(ctx, 1)
	if err == nil || !strings.Contains(err.Error(), "brink-no-such-image:never") {
		t.Fatalf("scaling with a missing image: %v, want an error naming the image", err)
	}
	if reps, _ := d.Replicas(ctx); len(reps) != 0 {
		t.Fatalf("a failed scale left replicas behind: %+v", reps)
	}
	// A replica that exits at once (bad flag) is pruned by the next scaling
	// call, so crashed replicas do not pile up.
	testimage.Build(t, "./cmd/brink-target", targetImage)
	crash, err := NewDocker(ctx, "", svc, DockerConfig{Image: targetImage, Command: []string{"--no-such-flag"}})
	if err != nil {
		t.Fatal(err)
	}
	defer crash.Close()
	if err := crash.SetReplicas(ctx, 1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the replica to exit", 20*time.Second, func() bool {
		reps, _ := crash.Replicas(ctx)
		return len(reps) == 1 && reps[0].State == Terminating
	})
	if err := crash.SetReplicas(ctx, 1); err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label="+LabelService+"="+svc).Output()
	if n := len(strings.Fields(string(out))); n != 1 {
		t.Fatalf("%d containers after a crash and a new replica, want 1 (the exited one pruned)", n)
	}
	if _, err := NewDocker(ctx, "", svc, DockerConfig{Image: "x", Ports: "9-1"}); err == nil || !strings.Contains(err.Error(), "ports") {
		t.Fatalf("bad port range: %v", err)
	}
	if _, err := NewDocker(ctx, "unix:///nonexistent/docker.sock", svc, DockerConfig{Image: "x"}); err == nil ||
		!strings.Contains(err.Error(), "does not answer") {
		t.Fatalf("unreachable engine: %v", err)
	}
	for _, bad := range []DockerConfig{{}, {Image: "x", CPUs: -1}, {Image: "x", Memory: "lots"}, {Image: "x", Host: "localhost"}} {
		if _, err := NewDocker(ctx, "", svc, bad); err == nil {
			t.Errorf("config %+v accepted", bad)
		}
	}
}
