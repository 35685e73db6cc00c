// Command autoscale is the autoscaling benchmark (bench/autoscale.sh): one
// load profile — comfortable, a step to 3x one replica's capacity, a hold,
// a drop back — run under brink's policy and under an HPA-default policy
// (HPA's formula, 15 s sync, 10 % tolerance, 300 s scale-down window) with
// the same actuator (real Docker replicas of brink-target) and the same
// load balancer (real HAProxy driven through its Runtime API), printed
// side by side.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/brinkhq/brink/internal/autoscale"
	"github.com/brinkhq/brink/internal/autoscale/actuator"
	"github.com/brinkhq/brink/internal/histogram"
	"github.com/brinkhq/brink/internal/lb"
)

type options struct {
	image, haproxy                string
	cpus                          float64
	cost                          string
	comfortable, step             float64
	before, hold, after, hpaAfter time.Duration
	slo                           time.Duration
	max                           int
	utilisation                   float64
	policies                      string
	capacity                      float64
	serverMaxConn                 int
}

func main() {
	var o options
	flag.StringVar(&o.image, "image", "brink-target:bench", "image of the replicas (FROM scratch brink-target)")
	flag.StringVar(&o.haproxy, "haproxy", "haproxy", "HAProxy binary")
	flag.Float64Var(&o.cpus, "cpus", 0.15, "CPU limit of a replica")
	flag.StringVar(&o.cost, "cost", "1ms", "busy CPU time per request in the replica (brink-target --cpu)")
	flag.Float64Var(&o.comfortable, "comfortable", 0.5, "load before and after the step, in replica capacities")
	flag.Float64Var(&o.step, "step", 3, "load during the step, in replica capacities")
	flag.DurationVar(&o.before, "before", 30*time.Second, "comfortable load before the step")
	flag.DurationVar(&o.hold, "hold", 90*time.Second, "step load duration")
	flag.DurationVar(&o.after, "after", 120*time.Second, "comfortable load after the step, brink policy")
	flag.DurationVar(&o.hpaAfter, "hpa-after", 360*time.Second, "comfortable load after the step, HPA-default policy (its scale-down window is 300 s)")
	flag.DurationVar(&o.slo, "slo", 200*time.Millisecond, "p95 latency SLO")
	flag.IntVar(&o.max, "max", 6, "max replicas")
	flag.Float64Var(&o.utilisation, "utilisation", 0.7, "rps_per_replica target as a fraction of the measured capacity")
	flag.StringVar(&o.policies, "policies", "brink,hpa", "which policies to run, comma-separated")
	flag.Float64Var(&o.capacity, "capacity", 0, "one replica's capacity in req/s (0: measure it first)")
	flag.IntVar(&o.serverMaxConn, "server-maxconn", 16, "concurrent requests per replica at HAProxy; the rest queue there (0: no cap)")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench/autoscale:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	ctx := context.Background()
	work, err := os.MkdirTemp("", "brink-bench-autoscale-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	if o.capacity == 0 {
		c, err := measureCapacity(ctx, o)
		if err != nil {
			return fmt.Errorf("measure one replica's capacity: %w", err)
		}
		o.capacity = c
	}
	fmt.Printf("one replica (--cpus %.2f, %s CPU per request): capacity %.0f req/s\n", o.cpus, o.cost, o.capacity)
	var results []result
	for i, name := range strings.Split(o.policies, ",") {
		r, err := runProfile(ctx, o, strings.TrimSpace(name), filepath.Join(work, fmt.Sprint(i)))
		if err != nil {
			return fmt.Errorf("%s policy: %w", name, err)
		}
		results = append(results, r)
	}
	printTable(o, results)
	return nil
}

// measureCapacity saturates one replica with closed-loop requests.
func measureCapacity(ctx context.Context, o options) (float64, error) {
	d, err := actuator.NewDocker(ctx, "", "brink-bench-capacity", dockerTemplate(o))
	if err != nil {
		return 0, err
	}
	defer d.Close()
	defer d.SetReplicas(context.WithoutCancel(ctx), 0)
	if err := d.SetReplicas(ctx, 1); err != nil {
		return 0, err
	}
	var addr string
	deadline := time.Now().Add(30 * time.Second)
	for addr == "" {
		reps, err := d.Replicas(ctx)
		if err == nil && len(reps) == 1 && reps[0].State == actuator.Running {
			if resp, err := http.Get("http://" + reps[0].Addr + "/healthz"); err == nil {
				resp.Body.Close()
				addr = reps[0].Addr
			}
		}
		if time.Now().After(deadline) {
			return 0, errors.New("the replica did not answer within 30 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var done atomic.Int64
	warm, measure := 2*time.Second, 6*time.Second
	start := time.Now()
	var wg sync.WaitGroup
	var counting atomic.Bool
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Since(start) < warm+measure {
				resp, err := client.Get("http://" + addr + "/")
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode == 200 && counting.Load() {
						done.Add(1)
					}
				}
			}
		}()
	}
	time.Sleep(warm)
	counting.Store(true)
	t0 := time.Now()
	wg.Wait()
	return float64(done.Load()) / time.Since(t0).Seconds(), nil
}

func dockerTemplate(o options) actuator.DockerConfig {
	return actuator.DockerConfig{
		Image: o.image, CPUs: o.cpus, Memory: "128m",
		Command:     []string{"--listen", "127.0.0.1:{{port}}", "--cpu", o.cost},
		StopTimeout: 10 * time.Second,
	}
}

// second is what one second of the profile saw.
type second struct {
	offered  float64
	ok, fail int64
	lat      *histogram.Histogram
	replicas int
	serving  int
	queued   int64 // requests waiting in HAProxy's backend queue
	active   int64 // sessions on the servers
}

type result struct {
	policy          string
	decision        time.Duration // first scale-out decision after the step
	serving         time.Duration // first new replica serving after the step
	startToServe    time.Duration // that replica: scale-out decision to serving
	failed, total   int64
	aboveSLO        int
	reversals       int
	backToMin       time.Duration // after the drop; -1 if never
	excess, deficit float64       // replica-seconds above / below need
	maxReplicas     int
	downWindow      time.Duration // the policy's scale-down stabilisation window
	loadAfter       string
	events          []autoscale.Event
}

type eventLog struct {
	mu sync.Mutex
	ev []autoscale.Event
}

func (l *eventLog) Record(e autoscale.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ev = append(l.ev, e)
}

func (l *eventLog) all() []autoscale.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]autoscale.Event(nil), l.ev...)
}

func runProfile(ctx context.Context, o options, name, dir string) (result, error) {
	res := result{policy: name, backToMin: -1}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return res, err
	}
	frontPort, err := freePort()
	if err != nil {
		return res, err
	}
	socket := filepath.Join(dir, "admin.sock")
	cfg := lb.Config{Socket: socket, Services: []lb.ServiceConfig{{Name: "web", Bind: fmt.Sprintf("127.0.0.1:%d", frontPort), ServerMaxConn: o.serverMaxConn}}}
	text, err := cfg.Render()
	if err != nil {
		return res, err
	}
	if err := os.WriteFile(filepath.Join(dir, "haproxy.cfg"), text, 0o600); err != nil {
		return res, err
	}
	hp := exec.Command(o.haproxy, "-db", "-f", filepath.Join(dir, "haproxy.cfg"))
	hpLog, err := os.Create(filepath.Join(dir, "haproxy.log"))
	if err != nil {
		return res, err
	}
	defer hpLog.Close()
	hp.Stdout, hp.Stderr = hpLog, hpLog
	if err := hp.Start(); err != nil {
		return res, fmt.Errorf("start HAProxy: %w", err)
	}
	defer func() { _ = hp.Process.Kill(); _ = hp.Wait() }()
	h := lb.NewHAProxy(socket)
	for i := 0; ; i++ {
		if _, err := h.Command(ctx, "show info"); err == nil {
			break
		} else if i > 100 {
			return res, fmt.Errorf("HAProxy socket: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	service := "brink-bench-" + name
	target := o.capacity * o.utilisation
	yaml := fmt.Sprintf(`
haproxy: {socket: %s}
services:
  %s:
    min: 1
    max: %d
    targets:
      - rps_per_replica: %.1f
    actuator:
      docker:
        image: %s
        cpus: %g
        memory: 128m
        command: ["--listen", "127.0.0.1:{{port}}", "--cpu", "%s"]
    lb: {frontend: web, backend: web, health_path: /healthz, drain_timeout: 30s, server_maxconn: %d}
`, socket, service, o.max, target, o.image, o.cpus, o.cost, o.serverMaxConn)
	p, err := autoscale.ParsePolicy(name+".yaml", []byte(yaml))
	if err != nil {
		return res, err
	}
	after := o.after
	if name == "hpa" {
		p = autoscale.HPADefault(p)
		after = o.hpaAfter
	} else if name != "brink" {
		return res, fmt.Errorf("unknown policy %q (want brink or hpa)", name)
	}
	res.downWindow = p.Services[0].ScaleDown.Stabilization
	act, err := actuator.NewDocker(ctx, "", service, dockerTemplate(o))
	if err != nil {
		return res, err
	}
	defer act.Close()
	defer act.SetReplicas(context.WithoutCancel(ctx), 0)
	if err := act.SetReplicas(ctx, 1); err != nil {
		return res, err
	}
	events := &eventLog{}
	a := autoscale.New(p, nil, actuator.Builtin(actuator.Options{}), h, events)
	actx, stopAutoscaler := context.WithCancel(ctx)
	asDone := make(chan error, 1)
	go func() { asDone <- a.Run(actx) }()
	defer func() { stopAutoscaler(); <-asDone }()
	// Wait for the first replica to serve before the load starts.
	for i := 0; ; i++ {
		st := a.Status()
		if len(st) == 1 && st[0].Serving >= 1 {
			break
		}
		if i > 600 {
			return res, errors.New("the first replica did not serve within 60 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	fmt.Printf("\n== %s policy (load average before: %s): %.0f req/s for %s, %.0f req/s for %s, %.0f req/s for %s\n", name, loadAverage(),
		o.comfortable*o.capacity, o.before, o.step*o.capacity, o.hold, o.comfortable*o.capacity, after)

	total := o.before + o.hold + after
	secs := make([]*second, int(total/time.Second)+1)
	for i := range secs {
		secs[i] = &second{lat: histogram.New()}
	}
	start := time.Now().Truncate(time.Second).Add(time.Second)
	rateAt := func(t time.Duration) float64 {
		switch {
		case t < o.before:
			return o.comfortable * o.capacity
		case t < o.before+o.hold:
			return o.step * o.capacity
		}
		return o.comfortable * o.capacity
	}
	var mu sync.Mutex
	failures := map[string]int{}
	record := func(sched time.Time, ok bool, lat time.Duration, why string) {
		i := int(sched.Sub(start) / time.Second)
		if i < 0 || i >= len(secs) {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if ok {
			secs[i].ok++
			secs[i].lat.RecordDuration(lat)
		} else {
			secs[i].fail++
			secs[i].lat.RecordDuration(lat)
			failures[fmt.Sprintf("%+.0fs %s", sched.Sub(start.Add(o.before)).Seconds(), why)]++
		}
	}
	client := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4000, MaxConnsPerHost: 4000}}
	url := fmt.Sprintf("http://127.0.0.1:%d/", frontPort)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4000)
	// Sample replicas each second.
	sampleCtx, stopSample := context.WithCancel(ctx)
	go func() {
		tk := time.NewTicker(time.Second)
		defer tk.Stop()
		for {
			select {
			case <-sampleCtx.Done():
				return
			case now := <-tk.C:
				i := int(now.Sub(start) / time.Second)
				st := a.Status()
				var queued, active int64
				if rows, err := h.Stat(sampleCtx); err == nil {
					for _, r := range rows {
						if r.Proxy() == "web" && r.Service() == "BACKEND" {
							queued, active = r.Int("qcur"), r.Int("scur")
						}
					}
				}
				if i >= 0 && i < len(secs) && len(st) == 1 {
					mu.Lock()
					secs[i].replicas, secs[i].serving = st[0].Replicas, st[0].Serving
					secs[i].queued, secs[i].active = queued, active
					mu.Unlock()
				}
			}
		}
	}()
	// Open model: requests are scheduled at the offered rate whatever the
	// answers do; latency counts from the scheduled time.
	next := start
	var dropped int64
	for time.Since(start) < total {
		t := next.Sub(start)
		r := rateAt(t)
		i := int(t / time.Second)
		if i < len(secs) {
			mu.Lock()
			if secs[i].offered == 0 {
				secs[i].offered = r
			}
			mu.Unlock()
		}
		next = next.Add(time.Duration(float64(time.Second) / r))
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
		sched := next
		select {
		case sem <- struct{}{}:
		default:
			dropped++
			record(sched, false, 0, "not sent: 4,000 in flight")
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			resp, err := client.Get(url)
			ok, why := false, ""
			if err == nil {
				b, rerr := io.ReadAll(resp.Body)
				resp.Body.Close()
				ok = rerr == nil && resp.StatusCode == 200 && strings.HasPrefix(string(b), "Hello")
				why = fmt.Sprintf("HTTP %d %.40q %v", resp.StatusCode, b, rerr)
			} else {
				why = err.Error()
				if len(why) > 80 {
					why = why[len(why)-80:]
				}
			}
			record(sched, ok, time.Since(sched), why)
		}()
	}
	wg.Wait()
	stopSample()
	if dropped > 0 {
		fmt.Printf("   (%d requests could not be sent: 4,000 already in flight; counted as failed)\n", dropped)
	}

	if len(failures) > 0 {
		fmt.Println("   failures (second after the step, reason, count):")
		n := 0
		for k, v := range failures {
			if n++; n > 15 {
				fmt.Printf("   ... %d more kinds\n", len(failures)-15)
				break
			}
			fmt.Printf("     %s: %d\n", k, v)
		}
	}
	res.loadAfter = loadAverage()
	res.events = events.all()
	step, drop := start.Add(o.before), start.Add(o.before+o.hold)
	for _, e := range res.events {
		switch e.Kind {
		case autoscale.KindScaleOut:
			if e.Time.After(step) && res.decision == 0 {
				res.decision = e.Time.Sub(step)
			}
			if e.Time.After(drop) {
				res.reversals++ // out after the drop: the load only went down
			}
		case autoscale.KindScaleIn:
			if e.Time.After(step) && e.Time.Before(drop) {
				res.reversals++ // in while the step load held
			}
		case autoscale.KindReplicaServing:
			if e.Time.After(step) && res.serving == 0 {
				res.serving = e.Time.Sub(step)
				res.startToServe = res.serving - res.decision
			}
		}
	}
	for i, s := range secs {
		res.total += s.ok + s.fail
		res.failed += s.fail
		if s.lat.Count() > 0 && s.lat.QuantileDuration(0.95) > o.slo {
			res.aboveSLO++
		}
		need := int(math.Ceil(s.offered/o.capacity - 1e-9))
		if need < 1 {
			need = 1
		}
		if s.replicas > need {
			res.excess += float64(s.replicas - need)
		} else if s.replicas < need {
			res.deficit += float64(need - s.replicas)
		}
		if s.replicas > res.maxReplicas {
			res.maxReplicas = s.replicas
		}
		at := start.Add(time.Duration(i) * time.Second)
		if res.backToMin < 0 && at.After(drop) && s.replicas == 1 {
			res.backToMin = at.Sub(drop)
		}
	}
	fmt.Println("   every 5 s: second after the step, offered/s, ok, failed, p95, replicas, serving, LB queue, LB sessions")
	for i := 0; i < len(secs); i += 5 {
		s := secs[i]
		at := time.Duration(i)*time.Second - o.before
		fmt.Printf("   %+5.0fs %5.0f %5d %5d %8s %2d %2d %5d %5d\n", at.Seconds(), s.offered, s.ok, s.fail,
			s.lat.QuantileDuration(0.95).Round(time.Millisecond), s.replicas, s.serving, s.queued, s.active)
	}
	for _, e := range res.events {
		if e.Kind == autoscale.KindScaleOut || e.Kind == autoscale.KindScaleIn || e.Kind == autoscale.KindScaleFailed ||
			e.Kind == autoscale.KindReplicaServing || e.Kind == autoscale.KindReplicaRemoved {
			fmt.Printf("   %+7.1fs %-16s %s\n", e.Time.Sub(step).Seconds(), e.Kind, e.Message)
		}
	}
	return res, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func printTable(o options, rs []result) {
	fmt.Printf("\nStep from %.0f to %.0f req/s (%.1fx one replica's %.0f req/s), target %.0f req/s per replica, p95 SLO %s\n\n",
		o.comfortable*o.capacity, o.step*o.capacity, o.step, o.capacity, o.capacity*o.utilisation, o.slo)
	row := func(label string, f func(r result) string) {
		fmt.Printf("%-44s", label)
		for _, r := range rs {
			fmt.Printf(" %18s", f(r))
		}
		fmt.Println()
	}
	row("", func(r result) string { return r.policy })
	row("decision after the step (goal <= 5 s)", func(r result) string { return secs(r.decision) })
	row("first new replica serving after the step", func(r result) string { return secs(r.serving) })
	row("  of which decision -> serving (start+LB)", func(r result) string { return secs(r.startToServe) })
	row("failed requests (goal 0)", func(r result) string { return fmt.Sprintf("%d of %d", r.failed, r.total) })
	row("seconds with p95 above the SLO", func(r result) string { return fmt.Sprint(r.aboveSLO) })
	row("direction reversals at constant load (goal 0)", func(r result) string { return fmt.Sprint(r.reversals) })
	row("back to min after the drop (goal: within the", func(r result) string {
		if r.backToMin < 0 {
			return "not within the run"
		}
		return secs(r.backToMin)
	})
	row("  scale-down window)", func(r result) string { return "window " + secs(r.downWindow) })
	row("replica-seconds above need", func(r result) string { return fmt.Sprintf("%.0f", r.excess) })
	row("replica-seconds below need", func(r result) string { return fmt.Sprintf("%.0f", r.deficit) })
	row("most replicas", func(r result) string { return fmt.Sprint(r.maxReplicas) })
	row("load average at the end (1/5/15 min)", func(r result) string { return r.loadAfter })
	fmt.Printf("\n(This machine has %d cores; a load average far above that means other work competed with the replicas.)\n", runtime.NumCPU())
}

// loadAverage is the first three fields of /proc/loadavg.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], "/")
}

func secs(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}
