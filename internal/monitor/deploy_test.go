package monitor_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/brinkhq/brink/internal/monitor/internal/testenv"
	"github.com/prometheus/prometheus/prompb"
	"go.yaml.in/yaml/v3"
)

// moduleRoot is the repository root (where go.mod is).
func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

type composeFile struct {
	Services map[string]struct {
		NetworkMode string   `yaml:"network_mode"`
		Cgroup      string   `yaml:"cgroup"`
		CapAdd      []string `yaml:"cap_add"`
		SecurityOpt []string `yaml:"security_opt"`
		Volumes     []string `yaml:"volumes"`
		Command     []string `yaml:"command"`
	} `yaml:"services"`
}

// The FROM scratch image built from deploy/monitor/Dockerfile runs with
// deploy/monitor/compose.yaml's mounts, privileges and flags (only the
// listen and remote-write addresses changed to this test's) and reports
// the host and its containers as the binary does outside a container.
func TestDeployImage(t *testing.T) {
	testenv.RequireDocker(t)
	root := moduleRoot(t)

	ctxDir := t.TempDir()
	build := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(ctxDir, "bin", "brink"), "./cmd/brink")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building brink: %v\n%s", err, out)
	}
	const image = "brink-monitor:test"
	testenv.Docker(t, "", "build", "-q", "-f", filepath.Join(root, "deploy", "monitor", "Dockerfile"), "-t", image, ctxDir)

	b, err := os.ReadFile(filepath.Join(root, "deploy", "monitor", "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cf composeFile
	if err := yaml.Unmarshal(b, &cf); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	svc, ok := cf.Services["brink-monitor"]
	if !ok || svc.NetworkMode != "host" {
		t.Fatalf("compose.yaml: want service brink-monitor with network_mode host, got %+v", cf.Services)
	}

	rcv := &rwReceiver{series: map[string][]prompb.Sample{}}
	rw := httptest.NewServer(rcv)
	defer rw.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := ln.Addr().String()
	ln.Close()

	args := []string{"run", "-d", "--network", "host", "--label", testenv.TestLabel + "=" + t.Name()}
	for _, c := range svc.CapAdd {
		args = append(args, "--cap-add", c)
	}
	for _, o := range svc.SecurityOpt {
		args = append(args, "--security-opt", o)
	}
	if svc.Cgroup != "" {
		args = append(args, "--cgroupns", svc.Cgroup)
	}
	buffer := t.TempDir()
	for _, v := range svc.Volumes {
		if strings.HasPrefix(v, "brink-monitor-buffer:") {
			v = buffer + strings.TrimPrefix(v, "brink-monitor-buffer")
		}
		args = append(args, "-v", v)
	}
	args = append(args, image)
	for _, a := range svc.Command {
		switch {
		case strings.HasPrefix(a, "--listen="):
			a = "--listen=" + listen
		case strings.HasPrefix(a, "--remote-write="):
			a = "--remote-write=" + rw.URL + "/api/v1/write"
		}
		args = append(args, a)
	}
	testenv.CleanupLabelled(t, "")
	id := testenv.Docker(t, "", args...)
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := testenv.DockerErr("", "logs", id)
			t.Logf("monitor container logs:\n%s", logs)
		}
	})

	img := testenv.BuildWorkload(t, "")
	name := fmt.Sprintf("brink-e2e-deploy-%d", os.Getpid())
	testenv.Run(t, "", "--name", name, "--label", "brink.service=deployed", img, "idle", "-max", "3m")

	r := &running{base: "http://" + listen}
	sel := map[string]string{"name": name}
	var p page
	waitFor(t, "the containerized monitor to report the container", 90*time.Second, func() bool {
		var err error
		p, err = r.scrapeErr()
		if err != nil {
			return false
		}
		_, ok := p.get("container_cpu_usage_seconds_total", sel)
		return ok
	})
	if s := p.mustLabel(t, "container_cpu_usage_seconds_total", sel, "service"); s != "deployed" {
		t.Errorf("service = %q, want deployed", s)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs("/", &st); err != nil {
		t.Fatal(err)
	}
	size := p.must(t, "node_filesystem_size_bytes", map[string]string{"mountpoint": "/"}).v
	if want := float64(st.Blocks) * float64(st.Bsize); size != want {
		t.Errorf("node_filesystem_size_bytes{mountpoint=\"/\"} = %v from inside the container, want the host's %v", size, want)
	}
	if _, ok := p.get("node_network_receive_bytes_total", map[string]string{"device": "lo"}); !ok {
		t.Error("no host network counters")
	}
	waitFor(t, "remote write from the container", 30*time.Second, func() bool {
		return len(rcv.samples("__name__=container_cpu_usage_seconds_total,", "name="+name+",")) > 0
	})
}

// The other deployment files say what the compose file says: host
// network, one monitor per node, the same mounts, SYS_PTRACE.
func TestDeployManifests(t *testing.T) {
	root := moduleRoot(t)
	b, err := os.ReadFile(filepath.Join(root, "deploy", "monitor", "marathon.json"))
	if err != nil {
		t.Fatal(err)
	}
	var app struct {
		Constraints [][]string `json:"constraints"`
		Container   struct {
			Docker struct {
				Network    string `json:"network"`
				Parameters []struct {
					Key, Value string
				} `json:"parameters"`
			} `json:"docker"`
			Volumes []struct {
				HostPath, ContainerPath, Mode string
			} `json:"volumes"`
		} `json:"container"`
		Args []string `json:"args"`
	}
	if err := json.Unmarshal(b, &app); err != nil {
		t.Fatalf("marathon.json: %v", err)
	}
	if len(app.Constraints) != 1 || strings.Join(app.Constraints[0], " ") != "hostname UNIQUE" {
		t.Errorf("marathon.json constraints = %v, want [[hostname UNIQUE]]", app.Constraints)
	}
	params := map[string]string{}
	for _, p := range app.Container.Docker.Parameters {
		params[p.Key] = p.Value
	}
	if app.Container.Docker.Network != "HOST" || params["cap-add"] != "SYS_PTRACE" || params["cgroupns"] != "host" {
		t.Errorf("marathon.json docker = %+v, want HOST network, cap-add SYS_PTRACE, cgroupns host", app.Container.Docker)
	}
	mounts := map[string]string{}
	for _, v := range app.Container.Volumes {
		mounts[v.HostPath+":"+v.ContainerPath] = v.Mode
	}
	for m, mode := range map[string]string{"/:/rootfs": "RO", "/sys:/sys": "RO", "/var/run:/var/run": "RW", "/var/lib/docker:/var/lib/docker": "RO"} {
		if mounts[m] != mode {
			t.Errorf("marathon.json: volume %s is %q, want %s", m, mounts[m], mode)
		}
	}
	if !strings.Contains(strings.Join(app.Args, " "), "--path.procfs=/rootfs/proc") {
		t.Errorf("marathon.json args %v lack --path.procfs=/rootfs/proc", app.Args)
	}

	b, err = os.ReadFile(filepath.Join(root, "deploy", "monitor", "daemonset.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var ds struct {
		Kind string `yaml:"kind"`
		Spec struct {
			Template struct {
				Spec struct {
					HostNetwork bool `yaml:"hostNetwork"`
					Containers  []struct {
						Args            []string `yaml:"args"`
						SecurityContext struct {
							Capabilities struct {
								Add []string `yaml:"add"`
							} `yaml:"capabilities"`
						} `yaml:"securityContext"`
					} `yaml:"containers"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	if err := yaml.Unmarshal(b, &ds); err != nil {
		t.Fatalf("daemonset.yaml: %v", err)
	}
	pod := ds.Spec.Template.Spec
	if ds.Kind != "DaemonSet" || !pod.HostNetwork || len(pod.Containers) != 1 || strings.Join(pod.Containers[0].SecurityContext.Capabilities.Add, ",") != "SYS_PTRACE" {
		t.Errorf("daemonset.yaml: %+v", ds)
	}
	unit, err := os.ReadFile(filepath.Join(root, "deploy", "monitor", "brink-monitor.service"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ExecStart=/usr/local/bin/brink monitor", "StateDirectory=brink-monitor", "--buffer-dir=${STATE_DIRECTORY}", "Restart=always"} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("brink-monitor.service lacks %q", want)
		}
	}
}
