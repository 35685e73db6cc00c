package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/brinkhq/brink/internal/agent"
	"github.com/brinkhq/brink/internal/cli"
	"github.com/brinkhq/brink/internal/coord"
	"github.com/brinkhq/brink/internal/coord/share"
	brinkv1 "github.com/brinkhq/brink/internal/gen/brink/v1"
	"github.com/brinkhq/brink/internal/hub"
	"github.com/brinkhq/brink/internal/results"
	"github.com/brinkhq/brink/internal/target"
)

func deployDir(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "deploy", "agent")
}

// checkAgentArgs parses a manifest's arguments with `brink agent`'s own
// flags, so that a renamed flag breaks this test rather than a deployment.
func checkAgentArgs(t *testing.T, where string, args []string) {
	t.Helper()
	if len(args) == 0 || args[0] != "agent" {
		t.Fatalf("%s: arguments %v do not start with the agent command", where, args)
	}
	// Orchestrators expand $(VAR) and ${VAR:-default}; the value does not
	// matter here.
	expand := regexp.MustCompile(`\$\([A-Z_]+\)|\$\{[A-Z_]+:-([^}]*)\}`)
	var expanded []string
	for _, a := range args[1:] {
		expanded = append(expanded, expand.ReplaceAllString(a, "x$1"))
	}
	env := cli.Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard, Getenv: os.Getenv}
	root := cli.NewRoot(&env)
	cmd, _, err := root.Find([]string{"agent"})
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.ParseFlags(expanded); err != nil {
		t.Errorf("%s: %v", where, err)
	}
	for _, name := range []string{"hub", "token-file", "work-dir"} {
		if !cmd.Flags().Changed(name) {
			t.Errorf("%s: no --%s: agents need the hub, its token and a writable work directory", where, name)
		}
	}
}

// TestDeployFiles checks the Marathon app, the Kubernetes Deployment and
// the Compose service: valid, running `brink agent` with real flags, the
// token from a secret file, no published port, and enough time to drain.
func TestDeployFiles(t *testing.T) {
	dir := deployDir(t)
	t.Run("marathon", func(t *testing.T) {
		var app struct {
			ID        string   `json:"id"`
			Args      []string `json:"args"`
			Instances int      `json:"instances"`
			Container struct {
				Docker struct {
					Image        string `json:"image"`
					PortMappings []any  `json:"portMappings"`
				} `json:"docker"`
			} `json:"container"`
			PortDefinitions  []any `json:"portDefinitions"`
			KillGracePeriodS int   `json:"taskKillGracePeriodSeconds"`
			RequirePorts     bool  `json:"requirePorts"`
		}
		b, err := os.ReadFile(filepath.Join(dir, "marathon.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &app); err != nil {
			t.Fatal(err)
		}
		checkAgentArgs(t, "marathon.json", app.Args)
		if app.Container.Docker.Image == "" || len(app.Container.Docker.PortMappings) > 0 || len(app.PortDefinitions) > 0 {
			t.Errorf("marathon.json: image %q, port mappings %v", app.Container.Docker.Image, app.Container.Docker.PortMappings)
		}
		if app.KillGracePeriodS < 35 {
			t.Errorf("marathon.json: %d s to stop, the agent drains for up to 30 s", app.KillGracePeriodS)
		}
	})
	t.Run("kubernetes", func(t *testing.T) {
		var d struct {
			Kind string
			Spec struct {
				Replicas int
				Template struct {
					Spec struct {
						TerminationGracePeriodSeconds int `yaml:"terminationGracePeriodSeconds"`
						Containers                    []struct {
							Image        string
							Args         []string
							Ports        []any
							VolumeMounts []struct {
								Name      string
								MountPath string `yaml:"mountPath"`
							} `yaml:"volumeMounts"`
						}
						Volumes []struct {
							Name   string
							Secret *struct {
								SecretName string `yaml:"secretName"`
							}
						}
					}
				}
			}
		}
		b, err := os.ReadFile(filepath.Join(dir, "kubernetes.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(b, &d); err != nil {
			t.Fatal(err)
		}
		ps := d.Spec.Template.Spec
		if d.Kind != "Deployment" || len(ps.Containers) != 1 {
			t.Fatalf("kubernetes.yaml: kind %q with %d containers", d.Kind, len(ps.Containers))
		}
		c := ps.Containers[0]
		checkAgentArgs(t, "kubernetes.yaml", c.Args)
		if len(c.Ports) > 0 || ps.TerminationGracePeriodSeconds < 35 {
			t.Errorf("kubernetes.yaml: ports %v, grace %d s", c.Ports, ps.TerminationGracePeriodSeconds)
		}
		secretMounted := false
		for _, v := range ps.Volumes {
			for _, m := range c.VolumeMounts {
				if v.Secret != nil && v.Name == m.Name && strings.Contains(strings.Join(c.Args, " "), m.MountPath) {
					secretMounted = true
				}
			}
		}
		if !secretMounted {
			t.Error("kubernetes.yaml: the token file is not read from a mounted Secret")
		}
	})
	t.Run("compose", func(t *testing.T) {
		var f struct {
			Services map[string]struct {
				Image           string
				Command         []string
				Ports           []any
				Secrets         []string
				StopGracePeriod string `yaml:"stop_grace_period"`
				NetworkMode     string `yaml:"network_mode"`
				ReadOnly        bool   `yaml:"read_only"`
				Tmpfs           []string
			}
			Secrets map[string]any
		}
		b, err := os.ReadFile(filepath.Join(dir, "compose.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(b, &f); err != nil {
			t.Fatal(err)
		}
		s, ok := f.Services["brink-agent"]
		if !ok {
			t.Fatalf("compose.yaml: no brink-agent service: %v", f.Services)
		}
		checkAgentArgs(t, "compose.yaml", s.Command)
		grace, err := time.ParseDuration(s.StopGracePeriod)
		if err != nil || grace < 35*time.Second || len(s.Ports) > 0 || len(s.Secrets) == 0 || f.Secrets[s.Secrets[0]] == nil {
			t.Errorf("compose.yaml: grace %q, ports %v, secrets %v", s.StopGracePeriod, s.Ports, s.Secrets)
		}
	})
}

// TestAgentImage builds the FROM scratch image of deploy/agent with the
// real dockerd, runs an agent container (host network, read-only, as
// nobody, work directory on a tmpfs as the manifests have it) against a
// hub and a target in this process, and checks a run through it and its
// graceful stop.
func TestAgentImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds brink and a Docker image; skipped with -short")
	}
	if out, err := exec.Command("docker", "info").CombinedOutput(); err != nil {
		t.Fatalf("dockerd is not reachable (run bash scripts/dockerd.sh): %v\n%s", err, out)
	}
	ctxDir := t.TempDir()
	build := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(ctxDir, "brink"), "github.com/brinkhq/brink/cmd/brink")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dockerfile, err := os.ReadFile(filepath.Join(deployDir(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), dockerfile, 0o644); err != nil {
		t.Fatal(err)
	}
	image := fmt.Sprintf("brink-agent-test:%d", os.Getpid())
	docker := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("docker", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	docker("build", "-q", "-t", image, ctxDir)
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "-f", image).Run() })

	hubURL := serveHub(t)
	tg, err := target.New(target.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = http.Serve(ln, tg) }()
	t.Cleanup(func() { ln.Close() })

	name := fmt.Sprintf("brink-agent-test-%d", os.Getpid())
	docker("run", "-d", "--name", name, "--network", "host", "--read-only", "--tmpfs", "/work:mode=1777",
		image, "agent", "--hub", hubURL, "--name", "in-docker", "--work-dir", "/work")
	t.Cleanup(func() { _ = exec.Command("docker", "rm", "-f", name).Run() })

	dir := t.TempDir()
	path := filepath.Join(dir, "s.yaml")
	text := fmt.Sprintf("scenarios:\n  main:\n    executor: constant-arrival-rate\n    rate: 50\n    duration: 3s\n    pre_allocated_vus: 5\n    steps:\n      - {name: page, url: \"http://%s/\"}\n", ln.Addr())
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	b, plan, err := agent.LoadBundle(path, os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	client := coord.NewClient(hubURL, "", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	resp, err := client.Start(ctx, &brinkv1.StartDistributedRunRequest{
		RunName: "docker", ScenarioFilename: b.Filename, Scenario: string(b.Text), Total: share.FromPlan(plan),
		Options: share.OptionsFromPlan(plan, 0), Agents: 1, WaitForAgentsMs: 60_000,
	})
	if err != nil {
		logs, _ := exec.Command("docker", "logs", name).CombinedOutput()
		t.Fatalf("%v\nagent container log:\n%s", err, logs)
	}
	res, err := client.Watch(ctx, resp.RunId, coord.WatchOptions{}, func(*brinkv1.RunUpdate) {})
	if err != nil {
		t.Fatal(err)
	}
	var sum results.Summary
	if err := json.Unmarshal(res.SummaryJson, &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Requests != 150 || sum.Requests != tg.Stats().Requests || !res.Complete {
		t.Errorf("the agent in Docker ran %d requests (complete %v); the target served %d; want 150",
			sum.Requests, res.Complete, tg.Stats().Requests)
	}
	// docker stop sends SIGTERM: the agent drains and exits 0.
	docker("stop", "-t", "40", name)
	if code := docker("inspect", "-f", "{{.State.ExitCode}}", name); code != "0" {
		logs, _ := exec.Command("docker", "logs", name).CombinedOutput()
		t.Errorf("the agent exited with %s after SIGTERM\n%s", code, logs)
	}
}

// serveHub runs a hub in this process on a loopback port.
func serveHub(t *testing.T) string {
	t.Helper()
	h, err := hub.New(hub.Options{DataDir: t.TempDir(), Version: cli.Version})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return "http://" + ln.Addr().String()
}
