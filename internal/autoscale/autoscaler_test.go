package autoscale

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/brinkhq/brink/internal/lb"
	"github.com/brinkhq/brink/internal/lb/lbtest"
	"github.com/brinkhq/brink/internal/store"
)

func startLB(t *testing.T) (*lbtest.HAProxy, string) {
	t.Helper()
	port := lbtest.FreePort(t)
	h := lbtest.Start(t, lb.Config{Services: []lb.ServiceConfig{{Name: "web", Bind: fmt.Sprintf("127.0.0.1:%d", port)}}})
	return h, fmt.Sprintf("http://127.0.0.1:%d/", port)
}

func runAutoscaler(t *testing.T, a *Autoscaler) context.CancelFunc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("Run did not return within 30 s of cancel")
		}
	})
	return cancel
}

// TestStepLoadThroughLB is the autoscaler's promise on a small scale: a
// load step through HAProxy adds replicas that serve before long, the count
// does not move while the load is constant, the drop brings it back to min
// after the scale-down window, and no request fails on the way.
func TestStepLoadThroughLB(t *testing.T) {
	h, url := startLB(t)
	act := newLocalActuator(t, "web", 1)
	p, err := ParsePolicy("step.yaml", []byte(fmt.Sprintf(`
interval: 1s
haproxy: {socket: %s}
services:
  web:
    min: 1
    max: 4
    window: 3s
    targets:
      - rps_per_replica: 50
    scale_down:
      stabilization: 4s
    fast_path: {ratio: 1.3, window: 2s, every: 250ms}
    actuator: {docker: {image: unused}}
    lb: {drain_timeout: 5s, server_maxconn: 8}
`, h.Socket)))
	if err != nil {
		t.Fatal(err)
	}
	// The first replica serves before the autoscaler starts, added without
	// a cap (as a server from HAProxy's configuration would be): the
	// autoscaler adopts it and gives it the policy's maxconn.
	first, _ := act.Replicas(context.Background())
	if err := h.AddServer(context.Background(), "web", first[0].Name, first[0].Addr); err != nil {
		t.Fatal(err)
	}
	events := &eventLog{}
	a := New(p, nil, act.registry(), h.HAProxy, events)
	runAutoscaler(t, a)
	events.waitFor(t, "the first replica serving with the policy's maxconn", 10*time.Second, func() bool {
		ss, err := h.Servers(context.Background(), "web")
		return err == nil && len(ss) == 1 && ss[0].MaxConn == 8 && len(a.Status()) == 1 && a.Status()[0].Serving == 1
	})

	loadCtx, stopLoad := context.WithTimeout(context.Background(), 2*time.Minute)
	defer stopLoad()
	load := startLoad(loadCtx, url, 30)
	time.Sleep(4 * time.Second)
	if n := len(events.of(KindScaleOut)) + len(events.of(KindScaleIn)); n != 0 || act.count() != 1 {
		t.Fatalf("scaled at a comfortable load (30 req/s, target 50 per replica):\n%s", events.dump())
	}

	step := time.Now()
	load.rate.Store(140) // ceil(140 / 50) = 3 replicas
	events.waitFor(t, "3 replicas serving", 20*time.Second, func() bool {
		st := a.Status()
		return act.count() == 3 && len(st) == 1 && st[0].Serving == 3
	})
	firstOut := events.of(KindScaleOut)[0]
	t.Logf("decision %.1f s after the step: %s", firstOut.Time.Sub(step).Seconds(), firstOut.Message)
	if !strings.Contains(firstOut.Message, "rps/replica") || !strings.Contains(firstOut.Message, "> target 50") {
		t.Errorf("scale-out reason %q does not give the metric and target", firstOut.Message)
	}
	if firstOut.Decision == nil || len(firstOut.Decision.Targets) != 1 {
		t.Errorf("scale-out event carries no inputs: %+v", firstOut)
	}
	outs := len(events.of(KindScaleOut))
	time.Sleep(5 * time.Second) // constant load: nothing may move
	if len(events.of(KindScaleOut)) != outs || len(events.of(KindScaleIn)) != 0 || act.count() != 3 {
		t.Fatalf("replicas moved while the load was constant:\n%s", events.dump())
	}

	drop := time.Now()
	load.rate.Store(20)
	events.waitFor(t, "back to 1 replica", 30*time.Second, func() bool { return act.count() == 1 })
	t.Logf("back to min %.1f s after the drop", time.Since(drop).Seconds())
	time.Sleep(time.Second)
	stopLoad()
	load.wg.Wait()

	t.Logf("requests: %d ok, %d failed", load.ok.Load(), load.fail.Load())
	if load.fail.Load() != 0 {
		t.Fatalf("%d requests failed while scaling: %v\nevents:\n%s", load.fail.Load(), load.errs, events.dump())
	}
	// Every scale-out comes before every scale-in: no reversal.
	seenIn := false
	for _, e := range events.all() {
		switch e.Kind {
		case KindScaleIn:
			seenIn = true
		case KindScaleOut:
			if seenIn {
				t.Fatalf("scale-out after a scale-in during one step profile:\n%s", events.dump())
			}
		}
	}
	if len(events.of(KindReplicaRemoved)) != 2 {
		t.Fatalf("want 2 replicas drained out of the load balancer:\n%s", events.dump())
	}
	for _, e := range events.of(KindReplicaRemoved) {
		if !strings.Contains(e.Message, "drained in") {
			t.Errorf("removal not drained: %s", e.Message)
		}
	}
	servers, err := h.Servers(context.Background(), "web")
	if err != nil || len(servers) != 1 {
		t.Fatalf("backend at the end: %+v, %v", servers, err)
	}
	if servers[0].MaxConn != 8 {
		t.Fatalf("the remaining server has maxconn %d, want the policy's 8", servers[0].MaxConn)
	}
}

// cpuFeed writes container CPU series into a real TSDB every second, as
// brink monitor would: usage in cores per replica name, limit 0.5 core.
type cpuFeed struct {
	db    *store.TSDB
	mu    sync.Mutex
	usage map[string]float64 // cores
	total map[string]float64
	last  time.Time
}

func newCPUFeed(t *testing.T) *cpuFeed {
	db, err := store.OpenTSDB(store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &cpuFeed{db: db, usage: map[string]float64{}, total: map[string]float64{}}
}

func (f *cpuFeed) set(name string, cores float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.usage[name] = cores
}

// write appends one sample per series at t; the usage counters grow by
// the set cores times the time since the previous write.
func (f *cpuFeed) write(t *testing.T, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	app := f.db.Appender(context.Background())
	ms := at.UnixMilli()
	elapsed := 1.0
	if !f.last.IsZero() {
		elapsed = at.Sub(f.last).Seconds()
	}
	f.last = at
	for name, cores := range f.usage {
		f.total[name] += cores * elapsed
		base := []string{"host", "node-1", "name", name, "service", "web"}
		for _, s := range []struct {
			metric string
			v      float64
		}{{"container_cpu_usage_seconds_total", f.total[name]}, {"container_spec_cpu_quota", 50000}, {"container_spec_cpu_period", 100000}} {
			if _, err := app.Append(0, labels.FromStrings(append([]string{"__name__", s.metric}, base...)...), ms, s.v); err != nil {
				t.Errorf("append: %v", err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Errorf("commit: %v", err)
	}
}

// run backfills the last 20 s and then writes every second until ctx ends.
func (f *cpuFeed) run(t *testing.T, ctx context.Context) {
	now := time.Now()
	for i := 20; i > 0; i-- {
		f.write(t, now.Add(-time.Duration(i)*time.Second))
	}
	go func() {
		tk := time.NewTicker(time.Second)
		defer tk.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case at := <-tk.C:
				f.write(t, at)
			}
		}
	}()
}

// TestCPUTargetFromTSDB reads container CPU through real PromQL over a
// real TSDB and scales on it; the new replica, not reporting yet, does not
// cause a second scale-out (HPA's rule for replicas without data).
func TestCPUTargetFromTSDB(t *testing.T) {
	feed := newCPUFeed(t)
	feed.set("web-1", 0.45) // 0.9 of the 0.5-core limit
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	feed.run(t, ctx)
	act := newLocalActuator(t, "web", 1)
	p, err := ParsePolicy("cpu.yaml", []byte(`
interval: 1s
services:
  web:
    min: 1
    max: 4
    targets:
      - cpu: 0.6
    fast_path: false
    actuator: {docker: {image: unused}}
`))
	if err != nil {
		t.Fatal(err)
	}
	events := &eventLog{}
	a := New(p, NewPromQLSource(nil, feed.db), act.registry(), nil, events)
	runAutoscaler(t, a)
	events.waitFor(t, "scale-out on CPU", 15*time.Second, func() bool { return len(events.of(KindScaleOut)) == 1 })
	// 0.45 of 0.5 core is 0.9; PromQL's rate() extrapolates at the window's
	// edges, so the value read depends on where the newest sample lies.
	out := events.of(KindScaleOut)[0]
	if !regexp.MustCompile(`^web: cpu 0\.[89]\d of limit over 15s > target 0\.60 → 1→2$`).MatchString(out.Message) {
		t.Fatalf("reason %q", out.Message)
	}
	if v := out.Decision.Targets[0].Value; v < 0.8 || v > 0.95 {
		t.Fatalf("cpu utilisation read %v, want about 0.9", v)
	}
	time.Sleep(3 * time.Second)
	if act.count() != 2 || len(events.of(KindScaleOut)) != 1 {
		t.Fatalf("the replica without data yet caused another scale-out:\n%s", events.dump())
	}
	st := a.Status()
	if len(st) != 1 || st[0].Last == nil || st[0].Last.Targets[0].Name != "cpu" {
		t.Fatalf("status %+v", st)
	}
}

// TestFaults checks that each fault is reported and never causes a
// scale-in.
func TestFaults(t *testing.T) {
	t.Run("metrics missing", func(t *testing.T) {
		// RPS (from the LB) is low and asks for a scale-in; CPU has no data
		// at all. Missing data must hold the replicas.
		h, _ := startLB(t)
		feed := newCPUFeed(t)
		act := newLocalActuator(t, "web", 2)
		p, err := ParsePolicy("missing.yaml", []byte(fmt.Sprintf(`
interval: 1s
haproxy: {socket: %s}
services:
  web:
    min: 1
    max: 4
    window: 2s
    targets:
      - rps_per_replica: 50
      - cpu: 0.6
    scale_down: {stabilization: 0s}
    actuator: {docker: {image: unused}}
    lb: {}
`, h.Socket)))
		if err != nil {
			t.Fatal(err)
		}
		events := &eventLog{}
		a := New(p, NewPromQLSource(nil, feed.db), act.registry(), h.HAProxy, events)
		runAutoscaler(t, a)
		events.waitFor(t, "a hold for missing data", 15*time.Second, func() bool {
			for _, e := range events.of(KindScaleHeld) {
				if strings.Contains(e.Message, "never scaling down on missing data") {
					return true
				}
			}
			return false
		})
		faults := events.of(KindFault)
		found := false
		for _, f := range faults {
			found = found || strings.Contains(f.Message, "cpu missing: no container_cpu_usage_seconds_total")
		}
		if !found {
			t.Fatalf("no fault event names the missing CPU data:\n%s", events.dump())
		}
		time.Sleep(2 * time.Second)
		if act.count() != 2 || len(events.of(KindScaleIn)) != 0 {
			t.Fatalf("scaled in on missing data:\n%s", events.dump())
		}
		if st := a.Status(); st[0].Faults["metrics:cpu"] == "" {
			t.Fatalf("status does not show the fault: %+v", st)
		}
	})

	t.Run("load balancer unreachable", func(t *testing.T) {
		// CPU says scale in; the load balancer dies first. No replica may be
		// removed undrained, and the fault says why.
		h, _ := startLB(t)
		feed := newCPUFeed(t)
		feed.set("web-1", 0.01)
		feed.set("web-2", 0.01)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		feed.run(t, ctx)
		act := newLocalActuator(t, "web", 2)
		p, err := ParsePolicy("lbdown.yaml", []byte(fmt.Sprintf(`
interval: 1s
haproxy: {socket: %s}
services:
  web:
    min: 1
    max: 4
    targets:
      - cpu: 0.6
    scale_down: {stabilization: 3s}
    actuator: {docker: {image: unused}}
    lb: {}
`, h.Socket)))
		if err != nil {
			t.Fatal(err)
		}
		events := &eventLog{}
		a := New(p, NewPromQLSource(nil, feed.db), act.registry(), h.HAProxy, events)
		runAutoscaler(t, a)
		events.waitFor(t, "both replicas in the load balancer", 10*time.Second, func() bool {
			return len(events.of(KindReplicaServing)) == 2
		})
		h.Stop()
		events.waitFor(t, "a refused scale-in", 20*time.Second, func() bool { return len(events.of(KindScaleFailed)) > 0 })
		fail := events.of(KindScaleFailed)[0].Message
		if !strings.Contains(fail, "load balancer is unreachable") {
			t.Fatalf("scale-in failure reason: %s", fail)
		}
		lbFault := false
		for _, f := range events.of(KindFault) {
			lbFault = lbFault || strings.Contains(f.Message, "load balancer unreachable")
		}
		if !lbFault || act.count() != 2 {
			t.Fatalf("want an lb fault and 2 replicas kept (have %d):\n%s", act.count(), events.dump())
		}
	})

	t.Run("actuator error", func(t *testing.T) {
		h, url := startLB(t)
		act := newLocalActuator(t, "web", 1)
		act.setErr = fmt.Errorf("docker: create replica web-2 of \"web\" from image brink-target:gone: No such image: brink-target:gone")
		p, err := ParsePolicy("acterr.yaml", []byte(fmt.Sprintf(`
interval: 1s
haproxy: {socket: %s}
services:
  web:
    min: 1
    max: 4
    window: 2s
    targets:
      - rps_per_replica: 20
    actuator: {docker: {image: unused}}
    lb: {}
`, h.Socket)))
		if err != nil {
			t.Fatal(err)
		}
		events := &eventLog{}
		a := New(p, nil, act.registry(), h.HAProxy, events)
		runAutoscaler(t, a)
		events.waitFor(t, "the replica joins the load balancer", 10*time.Second, func() bool {
			return len(events.of(KindReplicaServing)) == 1
		})
		ctx, stop := context.WithTimeout(context.Background(), time.Minute)
		defer stop()
		load := startLoad(ctx, url, 60)
		events.waitFor(t, "a failed scale-out", 20*time.Second, func() bool { return len(events.of(KindScaleFailed)) > 0 })
		stop()
		load.wg.Wait()
		msg := events.of(KindScaleFailed)[0].Message
		if !strings.Contains(msg, "scale-out 1→") || !strings.Contains(msg, "No such image: brink-target:gone") {
			t.Fatalf("failure event %q", msg)
		}
		if st := a.Status(); !strings.Contains(st[0].Faults["actuator"], "refused to scale") {
			t.Fatalf("status faults %+v", st[0].Faults)
		}
		if load.fail.Load() != 0 {
			t.Fatalf("%d requests failed on the one replica: %v", load.fail.Load(), load.errs)
		}
	})
}

// TestDryRunAndReload: a dry run recommends and never acts; the policy file
// is reloaded when it changes, and an invalid edit keeps the old policy.
func TestDryRunAndReload(t *testing.T) {
	feed := newCPUFeed(t)
	feed.set("web-1", 0.45)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	feed.run(t, ctx)
	act := newLocalActuator(t, "web", 1)
	path := filepath.Join(t.TempDir(), "policy.yaml")
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const policy = `
interval: 1s
services:
  web:
    min: 1
    max: %d
    targets: [{cpu: 0.6}]
    fast_path: false
    actuator: {docker: {image: unused}}
`
	write(fmt.Sprintf(policy, 4))
	p, err := LoadPolicy(path)
	if err != nil {
		t.Fatal(err)
	}
	events := &eventLog{}
	a := New(p, NewPromQLSource(nil, feed.db), act.registry(), nil, events, WithDryRun(true))
	runAutoscaler(t, a)
	events.waitFor(t, "a recommendation", 15*time.Second, func() bool { return len(events.of(KindScaleRecommended)) > 0 })
	rec := events.of(KindScaleRecommended)[0]
	if !rec.DryRun || rec.To != 2 || !strings.Contains(rec.Message, "would scale") {
		t.Fatalf("recommendation %+v", rec)
	}
	time.Sleep(2 * time.Second)
	if act.count() != 1 || len(events.of(KindScaleRecommended)) != 1 {
		t.Fatalf("dry run acted or repeated itself (replicas %d):\n%s", act.count(), events.dump())
	}

	time.Sleep(1100 * time.Millisecond) // a distinct modification time
	write("services: [\n")
	events.waitFor(t, "the invalid edit reported", 10*time.Second, func() bool { return len(events.of(KindPolicyInvalid)) == 1 })
	if msg := events.of(KindPolicyInvalid)[0].Message; !strings.Contains(msg, "previous one stays in force") || !strings.Contains(msg, path) {
		t.Fatalf("invalid reload message %q", msg)
	}
	time.Sleep(1100 * time.Millisecond)
	write(fmt.Sprintf(policy, 1)) // max 1: the recommendation becomes "hold"
	events.waitFor(t, "the reload", 10*time.Second, func() bool { return len(events.of(KindPolicyLoaded)) == 2 })
	if st := a.Status(); st[0].Max != 1 {
		t.Fatalf("reloaded policy not in force: %+v", st[0])
	}
}
