package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/brinkhq/brink/internal/analysis"
	"github.com/brinkhq/brink/internal/hubclient"
	"github.com/brinkhq/brink/internal/load"
	"github.com/brinkhq/brink/internal/results"
	"github.com/brinkhq/brink/internal/scenario"
	"github.com/brinkhq/brink/internal/target"
)

// helloCheck is the text every good answer of the sample app carries.
const helloCheck = target.HelloText

// requestTimeout bounds each request of the lab's load: long enough for a
// replica that queues, short enough that a dead one shows as failures.
const requestTimeout = 3 * time.Second

// ErrInterrupted means the lab was stopped (Ctrl-C) before it finished.
var ErrInterrupted = errors.New("lab interrupted")

// Run runs the whole lab: prerequisites, images, the stack, every phase,
// the report. Whatever happens, everything it started is removed before it
// returns, unless cfg.Keep is set and the phases finished. The report is
// returned with the error when the phases ran but writing it failed.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg = cfg.withDefaults()
	all := DefaultPhases()
	if err := cfg.Validate(all); err != nil {
		return nil, err
	}
	phases := selectPhases(all, cfg.Phases, cfg.Quick)
	exe := cfg.Executable
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("finding the brink binary to put in the images: %w", err)
		}
	}
	if cfg.HAProxy == "" {
		cfg.HAProxy = "haproxy"
	}
	ports := PortsFrom(cfg.PortBase)
	layout, layoutErr := detectCgroups(cfg.CgroupRoot)

	// Remains of an earlier lab come first: they may hold the ports.
	if layoutErr == nil {
		if err := clearLeftovers(ctx, cfg, layout); err != nil {
			return nil, err
		}
	}
	fmt.Fprintln(cfg.Stdout, "Checking prerequisites")
	eng, haproxy, err := checkPrereqs(ctx, checks{
		euid: os.Geteuid(), cgroupRoot: cfg.CgroupRoot, haproxy: cfg.HAProxy, exe: exe, ports: ports, service: cfg.Service,
		docker: connectDocker,
	})
	if err != nil {
		return nil, err
	}
	if layoutErr != nil {
		return nil, layoutErr
	}
	defer eng.Close()
	host, _ := os.Hostname()
	if host == "" {
		host = "localhost"
	}
	started := time.Now()
	id := newLabID(started, os.Getpid())
	stack := &Stack{
		cfg: cfg, eng: eng, ports: ports, layout: layout, hostname: host, log: cfg.Stdout,
		dir:   filepath.Join(cfg.StateDir, id),
		state: State{ID: id, OwnerPID: os.Getpid(), Started: started, Ports: ports, Service: cfg.Service},
		http:  &http.Client{Timeout: 2 * time.Second},
	}
	l := &lab{cfg: cfg, stack: stack, phases: phases}
	rep, runErr := l.run(ctx, eng, exe, haproxy)

	if cfg.Keep && runErr == nil {
		stack.state.Kept = true
		if err := stack.saveState(); err != nil {
			runErr = err
		} else {
			l.printKept()
			return rep, nil
		}
	}
	fmt.Fprintln(cfg.Stdout, "Cleaning up")
	cleanCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 60*time.Second)
	defer cancel()
	if err := stack.down(cleanCtx); err != nil {
		runErr = errors.Join(runErr, fmt.Errorf("cleaning up: %w (run brink lab --down to retry)", err))
	} else {
		fmt.Fprintln(cfg.Stdout, "  removed every container, process, cgroup and temporary file the lab started")
	}
	if ctx.Err() != nil && runErr != nil {
		return rep, fmt.Errorf("%w: %w", ErrInterrupted, runErr)
	}
	return rep, runErr
}

// labsOnDisk reads the state of every lab recorded in the state
// directory.
func labsOnDisk(base string) []*State {
	entries, err := os.ReadDir(base)
	if err != nil {
		return nil
	}
	var out []*State
	for _, e := range entries {
		if st, err := readState(filepath.Join(base, e.Name())); err == nil && st.ID == e.Name() {
			out = append(out, st)
		}
	}
	return out
}

// clearLeftovers handles what earlier labs left. A running lab of this
// state directory, or a kept one, is the user's to stop; the remains of
// labs whose process is gone (and that were not kept) are removed, those
// of this state directory and those recorded only in Docker's labels.
// Other labs' running stacks are never touched.
func clearLeftovers(ctx context.Context, cfg Config, layout cgroupLayout) error {
	var dead []*State
	for _, st := range labsOnDisk(cfg.StateDir) {
		switch {
		case st.Kept:
			return fmt.Errorf("a lab started %s with --keep is still running (dashboard http://%s/): stop it first with brink lab --down",
				st.Started.Format(time.DateTime), loopback(st.Ports.Hub))
		case processAlive(st.OwnerPID):
			return fmt.Errorf("another brink lab is running (pid %d, started %s): wait for it, or stop it with Ctrl-C in its terminal",
				st.OwnerPID, st.Started.Format(time.DateTime))
		}
		dead = append(dead, st)
	}
	eng, err := connectDocker(ctx)
	if err != nil {
		eng = nil // reported by the prerequisites; cgroups and files can go anyway
	} else {
		defer eng.Close()
	}
	_, err = removeDeadLabs(ctx, cfg, layout, eng, dead, "Removing what an earlier lab left behind")
	return err
}

// removeDeadLabs removes the given labs of the state directory, and the
// remains of labs known only from Docker's labels and the cgroups whose
// process is gone and that were not kept (a kept lab of another state
// directory is its owner's to remove). It returns the names of the
// containers it removed; header introduces what it prints.
func removeDeadLabs(ctx context.Context, cfg Config, layout cgroupLayout, eng *engine, labs []*State, header string) ([]string, error) {
	type remains struct {
		st  *State
		dir string
	}
	todo := map[string]remains{}
	for _, st := range labs {
		todo[st.ID] = remains{st, filepath.Join(cfg.StateDir, st.ID)}
	}
	if eng != nil {
		cs, err := eng.list(ctx, "")
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			if _, ok := todo[c.Lab]; ok || c.Lab == "" || processAlive(c.OwnerPID) || c.Keep {
				continue
			}
			todo[c.Lab] = remains{}
		}
	}
	// A lab's cgroups without containers or processes (a lab killed
	// before it started any) only need their directories removed.
	for _, id := range layout.instanceIDs() {
		if _, ok := todo[id]; ok {
			continue
		}
		if dirs := layout.instanceCgroupDirs(id); !hasProcesses(dirs) {
			if eng != nil {
				if cs, err := eng.list(ctx, id); err != nil || len(cs) > 0 {
					continue
				}
			}
			_ = removeCgroups(ctx, dirs, 0)
		}
	}
	layout.removeRootIfUnused()
	var removed []string
	var errs []error
	ids := make([]string, 0, len(todo))
	for id := range todo {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		r := todo[id]
		if id == ids[0] {
			fmt.Fprintln(cfg.Stdout, header)
		}
		names, err := removeLab(ctx, eng, layout, id, r.st, r.dir)
		removed = append(removed, names...)
		if err != nil {
			errs = append(errs, fmt.Errorf("lab %s: %w", id, err))
		}
		for _, n := range names {
			fmt.Fprintf(cfg.Stdout, "  removed container %s\n", n)
		}
		if r.st != nil && r.st.HAProxyPID > 0 {
			fmt.Fprintf(cfg.Stdout, "  stopped HAProxy (pid %d)\n", r.st.HAProxyPID)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return removed, fmt.Errorf("removing an earlier lab's remains: %w (run brink lab --down)", err)
	}
	return removed, nil
}

// processAlive reports whether a process with that pid exists (and is not
// a zombie).
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	for i := len(stat) - 1; i >= 0; i-- {
		if stat[i] == ')' {
			return i+2 < len(stat) && stat[i+2] != 'Z'
		}
	}
	return true
}

// Down removes the labs left running with --keep from this state
// directory, and the remains of labs that were killed: their containers,
// HAProxy, their cgroups and their directories. A lab whose process still
// runs is left alone: it cleans up after itself.
func Down(ctx context.Context, cfg Config) error {
	cfg = cfg.withDefaults()
	layout, err := detectCgroups(cfg.CgroupRoot)
	if err != nil {
		return err
	}
	var labs []*State
	var running []string
	for _, st := range labsOnDisk(cfg.StateDir) {
		if !st.Kept && processAlive(st.OwnerPID) && st.OwnerPID != os.Getpid() {
			running = append(running, fmt.Sprintf("pid %d", st.OwnerPID))
			continue
		}
		labs = append(labs, st)
	}
	eng, err := connectDocker(ctx)
	if err != nil {
		return fmt.Errorf("%w: run %s, then brink lab --down again", err, SetupCommand)
	}
	defer eng.Close()
	removed, err := removeDeadLabs(ctx, cfg, layout, eng, labs, "Removing labs that are not running")
	if err != nil {
		return err
	}
	if len(running) > 0 {
		fmt.Fprintf(cfg.Stdout, "left alone: a brink lab is running (%s); stop it with Ctrl-C in its terminal, it cleans up after itself\n", strings.Join(running, ", "))
		return nil
	}
	if len(removed) == 0 && len(labs) == 0 {
		fmt.Fprintln(cfg.Stdout, "no lab to remove: none is kept and none was left behind")
		return nil
	}
	fmt.Fprintln(cfg.Stdout, "the lab is down: no container, process, cgroup or state directory of it is left")
	return nil
}

// lab is one run of the phases.
type lab struct {
	cfg      Config
	stack    *Stack
	phases   []Phase
	capacity Calibration
	started  time.Time
	hostBusy *HostLoad
}

// HostLoad is the host's CPU use (cores) with nothing of the lab loaded.
type HostLoad struct {
	Used  float64 `json:"used_cores"`
	Cores float64 `json:"cores"`
}

// hostCPUBeforeLoad asks the monitor how busy the host is while the stack
// idles, so that a machine shared with other work is reported as such.
func (l *lab) hostCPUBeforeLoad(ctx context.Context) *HostLoad {
	w := newWatcher(l.stack.MonitorURL())
	// The monitor's figure covers its last interval: one sample after it
	// has run a second is enough.
	for try := 0; try < 3; try++ {
		if v, err := w.fetch(ctx); err == nil && v.Host.CPUUsed != nil {
			return &HostLoad{Used: *v.Host.CPUUsed, Cores: v.Host.CPUs}
		}
		if !sleepCtx(ctx, time.Second) {
			return nil
		}
	}
	return nil
}

func (l *lab) run(ctx context.Context, eng *engine, exe, haproxy string) (*Report, error) {
	l.started = time.Now()
	out := l.cfg.Stdout
	fmt.Fprintln(out, "Building images (offline, FROM scratch)")
	img, err := buildImages(ctx, eng, exe, out)
	if err != nil {
		return nil, err
	}
	l.stack.img = img
	fmt.Fprintf(out, "Starting the stack on 127.0.0.1 (host network), lab %s\n", l.stack.state.ID)
	if err := l.stack.up(ctx, haproxy); err != nil {
		return nil, err
	}
	l.capacity = nominalCapacity(l.cfg)
	l.hostBusy = l.hostCPUBeforeLoad(ctx)
	if b := l.hostBusy; b != nil && b.Cores > 0 && b.Used > 0.5*b.Cores {
		fmt.Fprintf(out, "  warning: the host is already busy before any load: %.1f of %.0f cores in use by other processes; the lab's figures will show it\n", b.Used, b.Cores)
	}
	// The generator is this process: bound it so that it cannot take the
	// CPU the target and the load balancer need on a small machine.
	prev := runtime.GOMAXPROCS(l.cfg.GeneratorCores)
	defer runtime.GOMAXPROCS(prev)

	var done []*PhaseResult
	for i, p := range l.phases {
		fmt.Fprintf(out, "\nPhase %d/%d: %s — %s\n", i+1, len(l.phases), p.Name, p.Title)
		fmt.Fprintf(out, "  %s\n", p.Story)
		res, err := l.runPhase(ctx, p)
		if err != nil {
			return nil, fmt.Errorf("phase %s: %w", p.Name, err)
		}
		done = append(done, res)
		fmt.Fprintf(out, "  %s\n", res.Headline)
		if p.Calibrates {
			l.capacity = calibrate(l.cfg, res)
			fmt.Fprintf(out, "  %s\n", l.capacity.Text)
		}
	}
	rep := buildReport(l.cfg, l.stack, l.capacity, done, l.started)
	rep.HostBeforeLoad = l.hostBusy
	fmt.Fprintln(out)
	writeConsole(out, rep)
	if err := writeReport(l.cfg.OutDir, rep); err != nil {
		return rep, err
	}
	fmt.Fprintf(out, "\nReport: %s and %s\n", filepath.Join(l.cfg.OutDir, "report.html"), filepath.Join(l.cfg.OutDir, "report.json"))
	return rep, nil
}

func (l *lab) printKept() {
	out := l.cfg.Stdout
	fmt.Fprintf(out, "\nThe stack is still running (--keep):\n")
	fmt.Fprintf(out, "  dashboard  %s/\n", l.stack.HubURL())
	fmt.Fprintf(out, "  service    %s (HAProxy, Runtime API at %s)\n", l.stack.ServiceURL(), l.stack.haproxySocket())
	fmt.Fprintf(out, "  monitor    %s/metrics\n", l.stack.MonitorURL())
	fmt.Fprintf(out, "Stop it with: brink lab --down\n")
}

// Calibration is one replica's capacity as the lab sized the overload
// from it.
type Calibration struct {
	CapacityRPS     float64 `json:"capacity_rps"`
	CPUPerRequestMs float64 `json:"cpu_per_request_ms"`
	Measured        bool    `json:"measured"`
	Text            string  `json:"text"`
}

// nominalCapacity is the capacity the configured CPU cost alone implies,
// used until the normal phase has measured the real one.
func nominalCapacity(cfg Config) Calibration {
	ms := float64(cfg.CPUCost) / float64(time.Millisecond)
	return Calibration{
		CapacityRPS: cfg.ReplicaCPUs * 1000 / ms, CPUPerRequestMs: ms,
		Text: fmt.Sprintf("capacity per replica assumed from the configured CPU cost: %.0f req/s (%.2f ms CPU per request, %.1f CPU)", cfg.ReplicaCPUs*1000/ms, ms, cfg.ReplicaCPUs),
	}
}

// calibrate derives one replica's capacity from the CPU the replicas spent
// per good request in a comfortable phase: the configured cost plus the
// server's own overhead, as the monitor measured it.
func calibrate(cfg Config, r *PhaseResult) Calibration {
	nominal := nominalCapacity(cfg)
	cpu, rps := r.Resources.CPUPerReplica, r.Peak.GoodRPS
	if cpu == nil || rps <= 0 || r.Resources.Replicas == 0 {
		nominal.Text += " (the monitor had no CPU figures for the normal phase)"
		return nominal
	}
	perReq := *cpu * float64(r.Resources.Replicas) / rps * 1000 // ms
	configured := float64(cfg.CPUCost) / float64(time.Millisecond)
	if perReq < 0.8*configured || perReq > 5*configured {
		nominal.Text += fmt.Sprintf(" (the measured %.2f ms per request is implausible for a cost of %.2f ms)", perReq, configured)
		return nominal
	}
	capacity := cfg.ReplicaCPUs * 1000 / perReq
	return Calibration{
		CapacityRPS: capacity, CPUPerRequestMs: perReq, Measured: true,
		Text: fmt.Sprintf("measured %.2f ms of CPU per request: one replica with %.1f CPU serves about %.0f req/s; the next phases ramp to %.0f/s",
			perReq, cfg.ReplicaCPUs, capacity, overloadPeak*capacity),
	}
}

// runPhase sets up the phase's replicas, runs its load with live progress
// while reporting it to the hub, and analyses it.
func (l *lab) runPhase(ctx context.Context, p Phase) (*PhaseResult, error) {
	s := l.stack
	changed, err := s.ScaleTo(ctx, p.Replicas)
	if err != nil {
		return nil, err
	}
	d := p.Duration
	if l.cfg.Quick {
		d = p.QuickDuration
	}
	shape := p.Load(l.capacity.CapacityRPS, d)
	yaml := scenarioYAML(p.Name, s.ServiceURL(), shape, requestTimeout)
	plan, err := scenario.Parse(p.Name+".yaml", []byte(yaml), "")
	if err != nil {
		return nil, fmt.Errorf("the phase's scenario: %w\n%s", err, yaml)
	}
	engine, err := load.New(ctx, plan)
	if err != nil {
		return nil, err
	}
	settle := time.Duration(0)
	if changed {
		// Let the monitor find the new replicas before the load starts.
		settle = 2 * time.Second
	}
	if p.Quiet > settle {
		settle = p.Quiet
		fmt.Fprintf(l.cfg.Stdout, "  idling %s so that the previous phase's load leaves the averaging windows\n", durationText(settle))
	}
	if !sleepCtx(ctx, settle) {
		return nil, ctx.Err()
	}
	before := l.targetStats(ctx)

	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	w := newWatcher(s.MonitorURL())
	go w.run(wctx)

	hub := hubclient.New(s.HubURL(), "", hubclient.WithSource("brink-lab"))
	run := hub.StartRun(ctx, hubclient.RunInfo{
		Name: "lab " + p.Name, Scenario: yaml, TargetService: s.Service(),
		Labels: map[string]string{"lab": s.state.ID, "phase": p.Name,
			"replicas": strconv.Itoa(p.Replicas), "mode": l.cfg.Mode},
	})
	defer run.Close()

	var companion Companion
	if p.Alongside != nil {
		env := PhaseEnv{Capacity: l.capacity.CapacityRPS, Log: func(format string, args ...any) {
			fmt.Fprintf(l.cfg.Stdout, "\n  "+format+"\n", args...)
		}}
		if companion, err = p.Alongside(ctx, s, env); err != nil {
			return nil, err
		}
	}

	sampler := analysis.NewGeneratorSampler()
	prog := newProgress(l.cfg.Stdout, l.cfg.IsTerminal, p.Name, shape.Duration(), s.Service())
	runDone := make(chan load.RunInfo, 1)
	go func() { runDone <- engine.Run(ctx) }()

	peak := newPeakWindow(shape.Peak())
	var acc *results.Accumulator
	for sec := range engine.Seconds() {
		if acc == nil {
			acc = results.NewAccumulator(engine.StartTime())
		}
		acc.Add(sec)
		run.Push(sec)
		sampler.Sample(sec.T)
		peak.add(sec, engine.StartTime())
		prog.second(time.Unix(sec.T+1, 0).Sub(engine.StartTime()), sec, w.latest())
	}
	info := <-runDone
	prog.done()
	stopWatch()
	var scaling []ScalingEvent
	if companion != nil {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		notes, err := companion.Stop(stopCtx)
		cancel()
		if err != nil && ctx.Err() == nil {
			return nil, err
		}
		scaling = notes
	}
	if acc == nil {
		acc = results.NewAccumulator(info.Start)
	}
	acc.SetEnd(info.End)
	summary := acc.Summary()
	summary.Name, summary.Run, summary.Aborted = "lab "+p.Name, run.ID(), info.Aborted
	finishCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	ferr := run.Finish(finishCtx, hubclient.Finish{End: info.End, Aborted: info.Aborted, ThresholdsOK: true, Summary: &summary})
	cancel()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if ferr != nil {
		fmt.Fprintf(l.cfg.Stderr, "warning: the hub has not received the whole %s run: %v\n", p.Name, ferr)
	}
	after := l.targetStats(ctx)
	serving, err := s.Replicas(ctx)
	if err != nil {
		return nil, err
	}

	res := &PhaseResult{
		Name: p.Name, Title: p.Title, Story: p.Story, Replicas: p.Replicas, ReplicasEnd: len(serving),
		RunID: run.ID(), RunURL: run.URL(), Scenario: yaml,
		Start: summary.Start, End: summary.End, PeakOfferedRPS: shape.Peak(),
		Requests: summary.Requests, Failures: summary.Failures, FailuresByKind: summary.FailuresByKind,
		ErrorRate: summary.ErrorRate, StatusErrorRate: statusErrorRate(summary.Requests, summary.Failures, summary.FailuresByKind),
		CheckFailures: summary.FailuresByKind[results.CheckFailed.String()],
		P95Ms:         summary.LatencyMs.P95, P99Ms: summary.LatencyMs.P99,
		Peak:     peak.figures(),
		Timeline: summary.Timeline, Notes: info.Notes, Scaling: scaling,
		TargetRequests: after.Requests - before.Requests, TargetErrorPages: after.ErrorPages - before.ErrorPages,
	}
	var jitter float64
	if info.Jitter != nil && info.Jitter.Count() > 0 {
		jitter = results.Ms(info.Jitter.Quantile(0.99))
	}
	if err := l.waitForMonitor(ctx, summary); err != nil {
		fmt.Fprintf(l.cfg.Stderr, "warning: %v\n", err)
	}
	rec, result, err := analysis.ForRun(ctx, analysis.NewHub(s.HubURL()), &summary, analysis.RunOptions{
		TargetService: s.Service(), LBService: LBService, Generator: sampler.Series(), GeneratorJitterP99Ms: jitter,
	})
	if err != nil {
		return nil, fmt.Errorf("analysing the run: %w", err)
	}
	res.Analysis = result
	res.Series = rec.Resources
	res.MaxSustainedRPS = result.MaxSustainedRPS
	res.Knee, res.Limit = result.Knee, result.Limit
	res.Headline = result.Headline()
	res.Resources = figuresOf(analysis.SnapshotOf(rec.Resources, res.Peak.FromUnix, res.Peak.ToUnix))
	return res, nil
}

// waitForMonitor waits until the hub holds the monitor's samples for the
// run's last second (they arrive a second or two after it), for at most
// 15 s.
func (l *lab) waitForMonitor(ctx context.Context, s results.Summary) error {
	if len(s.Timeline) == 0 {
		return nil
	}
	want := float64(s.Timeline[len(s.Timeline)-1].Unix + 1)
	q := `max(timestamp(container_cpu_usage_seconds_total{service="` + l.cfg.Service + `"}))`
	deadline := time.Now().Add(15 * time.Second)
	for {
		v, err := l.instantQuery(ctx, q)
		if err == nil && v >= want {
			return nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("the newest sample is from %s", time.Unix(int64(v), 0).Format(time.TimeOnly))
			}
			return fmt.Errorf("the monitor's samples for the end of the run did not reach the hub in 15 s (%v): the analysis may miss the last seconds", err)
		}
		if !sleepCtx(ctx, 250*time.Millisecond) {
			return ctx.Err()
		}
	}
}

// instantQuery evaluates a PromQL expression with one scalar answer on the
// hub.
func (l *lab) instantQuery(ctx context.Context, q string) (float64, error) {
	u := l.stack.HubURL() + "/api/v1/query?query=" + url.QueryEscape(q)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	resp, err := l.stack.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var env struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&env); err != nil {
		return 0, err
	}
	if env.Status != "success" {
		return 0, fmt.Errorf("hub query %q: %s", q, env.Error)
	}
	if len(env.Data.Result) == 0 {
		return 0, fmt.Errorf("hub query %q: no samples yet", q)
	}
	s, _ := env.Data.Result[0].Value[1].(string)
	return strconv.ParseFloat(s, 64)
}

// targetStats sums the replicas' own request counts (GET /stats), so that
// the report can put the app's count of error pages beside the checks
// that caught them.
func (l *lab) targetStats(ctx context.Context) target.Stats {
	var sum target.Stats
	cs, err := l.stack.Replicas(ctx)
	if err != nil {
		return sum
	}
	for _, c := range cs {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.Addr+"/stats", nil)
		if err != nil {
			continue
		}
		resp, err := l.stack.http.Do(req)
		if err != nil {
			continue
		}
		var st target.Stats
		if json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&st) == nil {
			sum.Requests += st.Requests
			sum.ErrorPages += st.ErrorPages
			sum.Failed += st.Failed
		}
		resp.Body.Close()
	}
	return sum
}

// statusErrorRate is the error rate a test that looks only at status
// codes would have reported: every failure except failed body checks
// (which happen only on answers below 400).
func statusErrorRate(requests, failures int64, byKind map[string]int64) float64 {
	if requests == 0 {
		return 0
	}
	return float64(failures-byKind[results.CheckFailed.String()]) / float64(requests)
}

// peakWindow gathers the seconds at the phase's peak offered load (at
// least 90 % of it, after the first two seconds), with exact latency
// histograms, for the comparison table.
type peakWindow struct {
	threshold float64
	stats     *results.Stats
	from, to  int64
	seconds   int
}

func newPeakWindow(peak float64) *peakWindow {
	return &peakWindow{threshold: 0.9 * peak, stats: results.NewStats()}
}

func (w *peakWindow) add(sec *results.Second, start time.Time) {
	if sec.TargetRate < w.threshold || sec.T < start.Unix()+2 {
		return
	}
	if w.seconds == 0 {
		w.from = sec.T
	}
	w.to = sec.T
	w.seconds++
	w.stats.Merge(sec.Total())
}

// PeakFigures are the load figures over the seconds at peak offered load.
type PeakFigures struct {
	FromUnix        int64   `json:"from_unix"`
	ToUnix          int64   `json:"to_unix"`
	Seconds         int     `json:"seconds"`
	Requests        int64   `json:"requests"`
	GoodRPS         float64 `json:"good_rps"`
	ErrorRate       float64 `json:"error_rate"`
	StatusErrorRate float64 `json:"status_error_rate"`
	P95Ms           float64 `json:"p95_ms"`
	P99Ms           float64 `json:"p99_ms"`
}

func (w *peakWindow) figures() PeakFigures {
	st := w.stats
	f := PeakFigures{FromUnix: w.from, ToUnix: w.to, Seconds: w.seconds, Requests: st.Requests}
	if w.seconds == 0 || st.Requests == 0 {
		return f
	}
	byKind := map[string]int64{}
	for k, c := range st.Failures {
		byKind[results.FailureKind(k).String()] = c
	}
	f.GoodRPS = float64(st.Successes()) / float64(w.seconds)
	f.ErrorRate = float64(st.FailureCount()) / float64(st.Requests)
	f.StatusErrorRate = statusErrorRate(st.Requests, st.FailureCount(), byKind)
	f.P95Ms, f.P99Ms = results.Ms(st.Latency.Quantile(0.95)), results.Ms(st.Latency.Quantile(0.99))
	return f
}

// ResourceFigures are the monitor's figures over the peak window: absent
// ones are null.
type ResourceFigures struct {
	Replicas          int      `json:"replicas"`
	CPUPerReplica     *float64 `json:"cpu_per_replica_cores"`
	CPUBusiestReplica *float64 `json:"cpu_busiest_replica_cores"`
	CPULimit          *float64 `json:"cpu_limit_cores"`
	Throttled         *float64 `json:"throttled_ratio"`
	Memory            *float64 `json:"memory_bytes"`
	MemoryLimit       *float64 `json:"memory_limit_bytes"`
	HostCPU           *float64 `json:"host_cpu_cores"`
	HostCores         *float64 `json:"host_cores"`
	LBCPU             *float64 `json:"lb_cpu_cores"`
	LBCPULimit        *float64 `json:"lb_cpu_limit_cores"`
	GeneratorCPU      *float64 `json:"generator_cpu_cores"`
}

func figuresOf(s analysis.Snapshot) ResourceFigures {
	p := func(v float64) *float64 {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil
		}
		return &v
	}
	return ResourceFigures{
		Replicas: s.Replicas, CPUPerReplica: p(s.TargetCPU), CPUBusiestReplica: p(s.TargetCPUMax), CPULimit: p(s.TargetCPULimit),
		Throttled: p(s.TargetThrottled), Memory: p(s.TargetMemory), MemoryLimit: p(s.TargetMemoryLimit),
		HostCPU: p(s.HostCPU), HostCores: p(s.HostCores), LBCPU: p(s.LBCPU), LBCPULimit: p(s.LBCPULimit),
		GeneratorCPU: p(s.GeneratorCPU),
	}
}
