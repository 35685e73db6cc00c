package lab

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/brinkhq/brink/internal/autoscale"
	"github.com/brinkhq/brink/internal/autoscale/actuator"
)

// autoscaleMax is the most replicas the lab's autoscaler may run: the
// overload needs two; a third leaves room for a cautious decision without
// taking a 2-core host's last CPU.
const autoscaleMax = 3

// autoscaleWindow is the autoscaler's averaging window: short, so that the
// lab's short phases see it react, and so that the quiet time before the
// phase (the window and a margin) stays short too.
const autoscaleWindow = 5 * time.Second

// autoscalePhase is one replica with the autoscaler on, under the same
// ramp as the overload: the autoscaler should add replicas (started by its
// Docker actuator, put in HAProxy once healthy) before errors begin.
func autoscalePhase() Phase {
	return Phase{
		Name: "autoscale", Title: "Same overload, one replica and the autoscaler", Replicas: 1, InQuick: true,
		Story: "The same ramp against one replica, with brink's autoscaler watching CPU and requests per replica: " +
			"it starts replicas through Docker and adds them to HAProxy once they answer, before the first one breaks. " +
			fmt.Sprintf("HAProxy lets %d requests at a time into each replica; the rest wait in its queue for whichever replica is free first, a new one included.", autoscaleServerMaxConn),
		Duration: 90 * time.Second, QuickDuration: 22 * time.Second,
		Load:      overloadRamp,
		Quiet:     autoscaleWindow + 2*time.Second,
		Alongside: startAutoscaler,
	}
}

// autoscaleServerMaxConn is how many requests HAProxy lets into one
// replica at a time during the autoscale phase. The sample app serves one
// request at a time and answers its overload page to a request that waited
// too long inside it; with the cap the excess waits in HAProxy's queue
// instead, where a replica that joins takes it at once. Eight requests at
// a few milliseconds each stay far below the app's patience.
const autoscaleServerMaxConn = 8

// policyYAML is the lab's autoscale policy, as a file `brink hub` would
// take: scale out when a replica passes 70 % of its measured capacity or of
// its CPU limit, react within a second to a sharp rise, never scale in
// during the phase.
func policyYAML(s *Stack, capacity float64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# brink lab's autoscale policy (the autoscale phase).\n")
	b.WriteString("interval: 2s\n")
	fmt.Fprintf(&b, "haproxy:\n  socket: %s\n", s.haproxySocket())
	b.WriteString("services:\n")
	fmt.Fprintf(&b, "  %s:\n", s.Service())
	fmt.Fprintf(&b, "    min: 1\n    max: %d\n", autoscaleMax)
	fmt.Fprintf(&b, "    window: %s\n", durationText(autoscaleWindow))
	b.WriteString("    targets:\n")
	fmt.Fprintf(&b, "      - rps_per_replica: %d   # 70%% of one replica's measured capacity\n", int(math.Round(0.7*capacity)))
	b.WriteString("      - cpu: 0.7\n")
	b.WriteString("    scale_up:\n      stabilization: 0s\n      policies:\n        - {pods: 2, period: 10s}\n")
	b.WriteString("    scale_down:\n      stabilization: 300s\n      policies:\n        - {pods: 1, period: 30s}\n")
	b.WriteString("    fast_path:\n      ratio: 1.2\n      window: 3s\n      every: 1s\n")
	b.WriteString("    actuator:\n      docker:\n")
	fmt.Fprintf(&b, "        image: %s\n", s.img.Target)
	fmt.Fprintf(&b, "        cpus: %g\n", s.cfg.ReplicaCPUs)
	fmt.Fprintf(&b, "        memory: %dm\n", s.cfg.ReplicaMemory>>20)
	fmt.Fprintf(&b, "        command: [\"--listen\", \"127.0.0.1:{{port}}\", \"--mode\", %q, \"--cpu\", %q]\n", s.cfg.Mode, s.cfg.CPUCost.String())
	labels := s.labels(roleWeb, "")
	fmt.Fprintf(&b, "        labels: {%s: %q, %s: %q, %s: %q, %s: %s}\n", LabelLab, labels[LabelLab], labelPID, labels[labelPID],
		labelKeep, labels[labelKeep], labelRole, roleWeb)
	fmt.Fprintf(&b, "        name_prefix: brink-lab-%s-auto-\n", s.Service())
	b.WriteString("        stop_timeout: 2s\n")
	if parent := s.cgroupParent(webCgroup); parent != "" {
		// Beside the lab's own replicas, sharing the lab's CPU weight.
		fmt.Fprintf(&b, "        cgroup_parent: %s\n", parent)
	}
	b.WriteString("    lb:\n")
	fmt.Fprintf(&b, "      backend: %s\n", s.Service())
	b.WriteString("      health_path: /healthz\n      drain_timeout: 10s\n")
	fmt.Fprintf(&b, "      server_maxconn: %d   # the rest waits in HAProxy's queue, for whichever replica is free first\n", autoscaleServerMaxConn)
	return b.String()
}

// autoscaler is the autoscale phase's companion: brink's autoscaler
// running in this process against the lab's hub (metrics), Docker
// (replicas) and HAProxy (backend servers).
type autoscaler struct {
	cancel context.CancelFunc
	done   chan error
	start  time.Time

	mu     sync.Mutex
	events []autoscale.Event
}

func startAutoscaler(ctx context.Context, s *Stack, env PhaseEnv) (Companion, error) {
	text := policyYAML(s, env.Capacity)
	policy, err := autoscale.ParsePolicy("autoscale.yaml", []byte(text))
	if err != nil {
		return nil, fmt.Errorf("the lab's autoscale policy: %w\n%s", err, text)
	}
	a := &autoscaler{done: make(chan error, 1), start: time.Now()}
	sink := autoscale.EventFunc(func(e autoscale.Event) {
		switch e.Kind {
		case autoscale.KindScaleOut, autoscale.KindScaleIn, autoscale.KindReplicaServing, autoscale.KindReplicaRemoved,
			autoscale.KindScaleFailed, autoscale.KindReplicaUnhealthy, autoscale.KindFault:
			a.mu.Lock()
			a.events = append(a.events, e)
			a.mu.Unlock()
			env.Log("autoscaler %s: %s", clock(e.Time.Sub(a.start)), e.Message)
		}
	})
	scaler := autoscale.New(policy, autoscale.NewHTTPSource(s.HubURL(), nil), actuator.Builtin(actuator.Options{}), s.Balancer(), sink,
		autoscale.WithLogger(slog.New(slog.DiscardHandler)))
	actx, cancel := context.WithCancel(ctx)
	a.cancel = cancel
	go func() { a.done <- scaler.Run(actx) }()
	return a, nil
}

// Stop ends the autoscaler and returns what it did.
func (a *autoscaler) Stop(ctx context.Context) ([]ScalingEvent, error) {
	a.cancel()
	var err error
	select {
	case err = <-a.done:
	case <-ctx.Done():
		err = fmt.Errorf("the autoscaler did not stop: %w", ctx.Err())
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]ScalingEvent, 0, len(a.events))
	for _, e := range a.events {
		out = append(out, ScalingEvent{Time: e.Time, Kind: e.Kind, Message: e.Message, From: e.From, To: e.To})
	}
	return out, err
}
