package actuator

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/brinkhq/brink/internal/autoscale/internal/testimage"
)

const replicaImage = "brink-autoscale-replica:test"

// inSwarm makes this node a one-node swarm for the test, unless it already
// is one (then it is left as it was).
func inSwarm(t *testing.T) {
	t.Helper()
	out, err := exec.Command("docker", "info", "--format", "{{.Swarm.LocalNodeState}}").Output()
	if err != nil {
		t.Fatalf("docker info: %v", err)
	}
	if strings.TrimSpace(string(out)) == "active" {
		return
	}
	if out, err := exec.Command("docker", "swarm", "init", "--advertise-addr", "127.0.0.1").CombinedOutput(); err != nil {
		t.Fatalf("docker swarm init --advertise-addr 127.0.0.1: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("docker", "swarm", "leave", "--force").CombinedOutput(); err != nil {
			t.Errorf("docker swarm leave --force: %v\n%s", err, out)
		}
	})
}

// freePortRange finds base such that base+1..base+n are free now.
func freePortRange(t *testing.T, n int) int {
	t.Helper()
	for try := 0; try < 50; try++ {
		base := 20000 + rand.IntN(30000)
		ok := true
		for i := 1; i <= n && ok; i++ {
			l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(base+i))
			if err != nil {
				ok = false
				break
			}
			l.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free port range")
	return 0
}

func TestSwarmActuator(t *testing.T) {
	testimage.RequireDocker(t)
	testimage.Build(t, "./internal/autoscale/actuator/testdata/replica", replicaImage)
	inSwarm(t)
	name := fmt.Sprintf("brink-test-swarm-%d", rand.IntN(1_000_000))
	base := freePortRange(t, 4)
	out, err := exec.Command("docker", "service", "create", "--detach", "--quiet", "--no-resolve-image",
		"--name", name, "--replicas", "1", "--network", "host",
		"--env", "PORT_BASE="+strconv.Itoa(base), "--env", "SLOT={{.Task.Slot}}", "--env", "SHUTDOWN_DELAY=2s",
		"--stop-grace-period", "10s", "--label", LabelService+"=web", replicaImage).CombinedOutput()
	if err != nil {
		t.Fatalf("docker service create: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "service", "rm", name).Run() })

	ctx := context.Background()
	s, err := NewSwarm(ctx, "", "web", SwarmConfig{Service: name, PortBase: base})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	running := func(want int) func() bool {
		return func() bool {
			reps, err := s.Replicas(ctx)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, r := range reps {
				if r.State == Running {
					if _, err := get(r.Addr); err == nil {
						n++
					}
				}
			}
			return n == want && len(Active(reps)) == want
		}
	}
	waitFor(t, "1 task serving", 60*time.Second, running(1))
	if err := s.SetReplicas(ctx, 3); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "3 tasks serving on their slot ports", 60*time.Second, running(3))
	reps, _ := s.Replicas(ctx)
	for _, r := range reps {
		slot := strings.TrimPrefix(r.Name, name+".")
		n, _ := strconv.Atoi(slot)
		if r.Addr != "127.0.0.1:"+strconv.Itoa(base+n) {
			t.Errorf("task %s at %s, want port base+slot", r.Name, r.Addr)
		}
	}
	// Scaling in: Swarm picks the tasks; they show as terminating while they
	// still serve their shutdown delay, which is when a load balancer drains.
	if err := s.SetReplicas(ctx, 1); err != nil {
		t.Fatal(err)
	}
	sawTerminating := false
	waitFor(t, "2 tasks terminating", 30*time.Second, func() bool {
		reps, _ := s.Replicas(ctx)
		n := 0
		for _, r := range reps {
			if r.State == Terminating {
				n++
				if _, err := get(r.Addr); err == nil {
					sawTerminating = true
				}
			}
		}
		return n == 2 || sawTerminating
	})
	if !sawTerminating {
		t.Errorf("no terminating task was seen still serving during its shutdown delay")
	}
	waitFor(t, "1 task left", 60*time.Second, func() bool {
		reps, _ := s.Replicas(ctx)
		return len(reps) == 1 && reps[0].State == Running
	})
	if err := (&Swarm{cli: s.cli, cfg: SwarmConfig{Service: "brink-no-such-service"}}).SetReplicas(ctx, 2); err == nil ||
		!strings.Contains(err.Error(), "brink-no-such-service") {
		t.Fatalf("scaling a missing service: %v", err)
	}
}
