package autoscale

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/brinkhq/brink/internal/autoscale/actuator"
	"github.com/brinkhq/brink/internal/autoscale/internal/testimage"
	"github.com/brinkhq/brink/internal/target"
)

// TestDockerEndToEnd runs the whole chain for real: the sample target in
// FROM scratch containers created by the Docker actuator (CPU and memory
// limits, host network, a port each), HAProxy in front driven through its
// Runtime API, and a load step through HAProxy. Replicas join when
// healthy, leave drained, and no request fails.
func TestDockerEndToEnd(t *testing.T) {
	testimage.RequireDocker(t)
	const image = "brink-target:autoscale-e2e"
	testimage.Build(t, "./cmd/brink-target", image)
	svc := fmt.Sprintf("brink-e2e-%d", rand.IntN(1_000_000))
	t.Cleanup(func() {
		out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label="+actuator.LabelService+"="+svc).Output()
		if ids := strings.Fields(string(out)); len(ids) > 0 {
			_ = exec.Command("docker", append([]string{"rm", "-f"}, ids...)...).Run()
		}
	})
	h, url := startLB(t)
	p, err := ParsePolicy("e2e.yaml", []byte(fmt.Sprintf(`
interval: 1s
haproxy: {socket: %s}
services:
  %s:
    min: 1
    max: 3
    window: 3s
    targets:
      - rps_per_replica: 40
    scale_down: {stabilization: 5s}
    fast_path: {ratio: 1.3, window: 2s, every: 250ms}
    actuator:
      docker:
        image: %s
        cpus: 0.25
        memory: 64m
        command: ["--listen", "127.0.0.1:{{port}}"]
        stop_timeout: 5s
    lb: {frontend: web, backend: web, health_path: /healthz, drain_timeout: 5s}
`, h.Socket, svc, image)))
	if err != nil {
		t.Fatal(err)
	}
	events := &eventLog{}
	a := New(p, nil, actuator.Builtin(actuator.Options{}), h.HAProxy, events)
	runAutoscaler(t, a)
	// No replica at the start: below min, the first decision creates one.
	events.waitFor(t, "the first replica serving", 30*time.Second, func() bool { return len(events.of(KindReplicaServing)) == 1 })
	if out := events.of(KindScaleOut); len(out) != 1 || !strings.Contains(out[0].Message, "below min 1 → 0→1") {
		t.Fatalf("first scale-out:\n%s", events.dump())
	}

	loadCtx, stopLoad := context.WithTimeout(context.Background(), 3*time.Minute)
	defer stopLoad()
	load := startLoadExpecting(loadCtx, url, 20, target.HelloText)
	time.Sleep(3 * time.Second)
	step := time.Now()
	load.rate.Store(100) // ceil(100 / 40) = 3
	events.waitFor(t, "3 replicas serving", 60*time.Second, func() bool {
		st := a.Status()
		return len(st) == 1 && st[0].Serving == 3
	})
	outs := events.of(KindScaleOut)
	serving := events.of(KindReplicaServing)
	t.Logf("decision %.1f s after the step (%s); third replica serving %.1f s after the step",
		outs[1].Time.Sub(step).Seconds(), outs[1].Message, serving[len(serving)-1].Time.Sub(step).Seconds())
	time.Sleep(4 * time.Second)
	if n := len(events.of(KindScaleOut)); n != len(outs) || len(events.of(KindScaleIn)) != 0 {
		t.Fatalf("replicas moved under constant load:\n%s", events.dump())
	}
	load.rate.Store(10)
	events.waitFor(t, "back to 1 replica", 60*time.Second, func() bool {
		st := a.Status()
		return len(st) == 1 && st[0].Replicas == 1 && len(events.of(KindScaleIn)) > 0
	})
	time.Sleep(time.Second)
	stopLoad()
	load.wg.Wait()
	t.Logf("requests: %d ok, %d failed\n%s", load.ok.Load(), load.fail.Load(), events.dump())
	if load.fail.Load() != 0 {
		t.Fatalf("%d requests failed: %v", load.fail.Load(), load.errs)
	}
	out, err := exec.Command("docker", "ps", "-aq", "--filter", "label="+actuator.LabelService+"="+svc).Output()
	if err != nil || len(strings.Fields(string(out))) != 1 {
		t.Fatalf("containers left: %q, %v (want exactly the one replica)", out, err)
	}
}
