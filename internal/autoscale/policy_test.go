package autoscale

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestExamplePoliciesParse(t *testing.T) {
	files, err := filepath.Glob("../../deploy/autoscale/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example policies found: %v", err)
	}
	for _, f := range files {
		if _, err := LoadPolicy(f); err != nil {
			t.Errorf("%v", err)
		}
	}
	p, err := LoadPolicy("../../deploy/autoscale/docker-haproxy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := p.Service("web")
	if p.Interval != 5*time.Second || p.HAProxy.Socket != "/run/brink/haproxy.sock" || s == nil {
		t.Fatalf("policy %+v", p)
	}
	if s.Min != 1 || s.Max != 4 || len(s.Targets) != 2 || s.Targets[0].Kind != CPU || s.Targets[0].Value != 0.7 ||
		s.Targets[1].Kind != RPS || s.Targets[1].Value != 300 {
		t.Fatalf("service %+v", s)
	}
	if s.ScaleDown.Stabilization != 60*time.Second || len(s.ScaleDown.Policies) != 1 || s.ScaleDown.Policies[0].Pods != 1 {
		t.Fatalf("scale_down %+v", s.ScaleDown)
	}
	if s.Actuator.Kind != "docker" || s.Actuator.Docker.Image != "brink-target:latest" || s.Actuator.Docker.CPUs != 0.5 ||
		s.Actuator.Docker.PortEnv != "PORT" {
		t.Fatalf("actuator %+v", s.Actuator.Docker)
	}
	if s.LB.Backend != "web" || s.LB.Frontend != "web" || s.LB.DrainTimeout != 30*time.Second {
		t.Fatalf("lb %+v", s.LB)
	}
	c, _ := LoadPolicy("../../deploy/autoscale/capacity-from-run.yaml")
	if tg := c.Service("web").Targets[0]; tg.FromRun != "r-20261124-190000-a1b2" || tg.Utilisation != 0.7 {
		t.Fatalf("from-run target %+v", tg)
	}
}

func TestPolicyDefaults(t *testing.T) {
	p, err := ParsePolicy("p.yaml", []byte("services:\n  web:\n    max: 3\n    targets: [{cpu: 0.5}]\n    actuator: {docker: {image: x}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := p.Services[0]
	if p.Interval != 5*time.Second || s.Min != 1 || s.Tolerance != 0.1 || s.Window != 15*time.Second ||
		!s.Fast.Enabled || s.Fast.Ratio != 1.3 || s.ScaleDown.Stabilization != 60*time.Second || s.ScaleUp.Stabilization != 0 ||
		!s.ScaleDown.FromMeasurements {
		t.Fatalf("defaults: %+v", s)
	}
	h := HPADefault(p).Services[0]
	if HPADefault(p).Interval != 15*time.Second || h.ScaleDown.Stabilization != 300*time.Second || h.ScaleDown.FromMeasurements || h.Fast.Enabled ||
		len(h.ScaleUp.Policies) != 2 || h.Max != 3 || h.Actuator.Docker.Image != "x" {
		t.Fatalf("HPA defaults: %+v", h)
	}
	if s.Fast.Enabled != true {
		t.Fatal("HPADefault changed the original policy")
	}
}

// TestPolicyErrors checks that every mistake is reported where it is.
func TestPolicyErrors(t *testing.T) {
	const ok = "    targets: [{cpu: 0.5}]\n    actuator: {docker: {image: x}}\n"
	tests := []struct {
		name, yaml, want string
	}{
		{"not yaml", "services: [", "p.yaml: not valid YAML"},
		{"empty", "", "p.yaml: empty policy"},
		{"unknown top key", "service:\n  web: {}\n", "p.yaml:1:1: unknown key \"service\" in the policy (allowed: interval, haproxy, services)"},
		{"no services", "interval: 5s\n", "p.yaml:1:1: services: is required"},
		{"bad interval", "interval: fast\nservices: {}\n", "p.yaml:1:11: interval: \"fast\" is not a duration"},
		{"interval too short", "interval: 10ms\nservices: {}\n", "p.yaml:1:11: interval 10ms is out of range"},
		{"services empty", "services: {}\n", "p.yaml:1:11: services: is empty"},
		{"no max", "services:\n  web:\n" + ok, "p.yaml:2:3: service \"web\": max is required"},
		{"max below min", "services:\n  web:\n    min: 3\n    max: 2\n" + ok, "p.yaml:4:10: service \"web\": max 2 is below min 3"},
		{"min zero", "services:\n  web:\n    min: 0\n    max: 2\n" + ok, "p.yaml:3:10: service \"web\": min 0 is out of range [1, 10000]"},
		{"unknown service key", "services:\n  web:\n    max: 2\n    replicas: 3\n" + ok, "p.yaml:4:5: unknown key \"replicas\" in service \"web\""},
		{"cpu above 1", "services:\n  web:\n    max: 2\n    targets:\n      - cpu: 1.5\n    actuator: {docker: {image: x}}\n",
			"p.yaml:5:14: service \"web\": cpu (fraction of the CPU limit) 1.5 is out of range (0, 1]"},
		{"two kinds in a target", "services:\n  web:\n    max: 2\n    targets:\n      - {cpu: 0.5, p95: 1s}\n    actuator: {docker: {image: x}}\n",
			"p.yaml:5:9: service \"web\": each target has exactly one of cpu, rps_per_replica, p95, promql (found 2)"},
		{"target without value", "services:\n  web:\n    max: 2\n    targets:\n      - promql: up\n    actuator: {docker: {image: x}}\n",
			"p.yaml:5:9: service \"web\": a promql target needs target:"},
		{"bad promql", "services:\n  web:\n    max: 2\n    targets:\n      - promql: sum(rate(x[5m])\n        target: 3\n    actuator: {docker: {image: x}}\n",
			"p.yaml:5:32: service \"web\": PromQL: unclosed left parenthesis"},
		{"target on cpu", "services:\n  web:\n    max: 2\n    targets:\n      - cpu: 0.5\n        target: 3\n    actuator: {docker: {image: x}}\n",
			"p.yaml:6:9: service \"web\": target belongs to promql targets only"},
		{"bad capacity", "services:\n  web:\n    max: 2\n    targets:\n      - rps_per_replica: {capacity: 400}\n    actuator: {docker: {image: x}}\n",
			"p.yaml:5:37: service \"web\": rps_per_replica: capacity must be \"from-run RUN_ID\""},
		{"bad p95", "services:\n  web:\n    max: 2\n    targets:\n      - p95: 250\n    actuator: {docker: {image: x}}\n",
			"p.yaml:5:14: service \"web\": p95 4m10s is out of range [1µs, 1m0s]"},
		{"policy with both", "services:\n  web:\n    max: 2\n" + ok + "    scale_up:\n      policies:\n        - {pods: 1, percent: 50, period: 15s}\n",
			"p.yaml:8:11: service \"web\": scale_up: a policy has exactly one of pods or percent"},
		{"policy without period", "services:\n  web:\n    max: 2\n" + ok + "    scale_down:\n      policies:\n        - {pods: 1}\n",
			"p.yaml:8:11: service \"web\": scale_down: a policy needs a period"},
		{"bad select", "services:\n  web:\n    max: 2\n" + ok + "    scale_down:\n      select: fastest\n",
			"p.yaml:7:15: service \"web\": scale_down: select \"fastest\" must be max, min or disabled"},
		{"bad stabilization_from", "services:\n  web:\n    max: 2\n" + ok + "    scale_down:\n      stabilization_from: samples\n",
			"p.yaml:7:27: service \"web\": scale_down: stabilization_from \"samples\" must be measurements"},
		{"no actuator", "services:\n  web:\n    max: 2\n    targets: [{cpu: 0.5}]\n", "p.yaml:2:3: service \"web\": actuator is required: one of docker, swarm, marathon, kubernetes"},
		{"unknown actuator", "services:\n  web:\n    max: 2\n    targets: [{cpu: 0.5}]\n    actuator: {nomad: {}}\n",
			"p.yaml:5:16: unknown key \"nomad\" in service \"web\": actuator (allowed: docker, swarm, marathon, kubernetes)"},
		{"unknown docker key", "services:\n  web:\n    max: 2\n    targets: [{cpu: 0.5}]\n    actuator:\n      docker:\n        image: x\n        cpu: 0.5\n",
			"p.yaml:8:9: unknown key \"cpu\" in service \"web\": actuator docker (allowed: image, cpus, memory, env, labels, command, port_env, host, name_prefix, stop_timeout, cgroup_parent, ports)"},
		{"docker type error", "services:\n  web:\n    max: 2\n    targets: [{cpu: 0.5}]\n    actuator:\n      docker:\n        image: x\n        cpus: half\n",
			"p.yaml:8:15: service \"web\": actuator docker: cannot unmarshal !!str `half` into float64"},
		{"docker invalid", "services:\n  web:\n    max: 2\n    targets: [{cpu: 0.5}]\n    actuator:\n      docker:\n        memory: 1g\n",
			"p.yaml:7:9: service \"web\": docker: image is required"},
		{"swarm without port base", "services:\n  web:\n    max: 2\n    targets: [{cpu: 0.5}]\n    actuator:\n      swarm: {service: s}\n",
			"p.yaml:6:14: service \"web\": swarm: port_base 0 must be between 1 and 65000"},
		{"lb without haproxy", "services:\n  web:\n    max: 2\n" + ok + "    lb: {}\n",
			"p.yaml:2:3: service \"web\" has an lb: section but the policy has no haproxy: socket"},
		{"lb unknown key", "haproxy: {socket: /s}\nservices:\n  web:\n    max: 2\n" + ok + "    lb: {backend_name: x}\n",
			"p.yaml:7:10: unknown key \"backend_name\" in service \"web\": lb"},
		{"bad service name", "services:\n  \"web app\":\n    max: 2\n" + ok, "p.yaml:2:3: service name \"web app\": only letters"},
		{"fast path off is fine, ratio 1 is not", "services:\n  web:\n    max: 2\n" + ok + "    fast_path: {ratio: 1}\n",
			"p.yaml:6:24: service \"web\": fast_path: ratio 1 is out of range (1, 100]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePolicy("p.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatalf("accepted:\n%s", tt.yaml)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("error\n  %v\nwant it to start with\n  %s", err, tt.want)
			}
		})
	}
}

func TestLoadPolicyMissingFile(t *testing.T) {
	_, err := LoadPolicy(filepath.Join(t.TempDir(), "none.yaml"))
	if err == nil || !os.IsNotExist(errorsUnwrapAll(err)) {
		t.Fatalf("missing file: %v", err)
	}
}

func errorsUnwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok || u.Unwrap() == nil {
			return err
		}
		err = u.Unwrap()
	}
}
