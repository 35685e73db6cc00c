// Package autoscale decides how many replicas each service needs from what
// brink measures (CPU of the containers' limit, requests per replica,
// latency, any PromQL) and the capacity load tests found, and acts on the
// orchestrator (package actuator) and the load balancer (package lb)
// together, so that no request fails while it scales: a new replica joins
// the load balancer once it answers its health check, and a replica leaves
// it drained before it is stopped.
//
// Decide is the decision function (HPA's algorithm, plus a fast path);
// Autoscaler runs it every interval for every service of a Policy.
package autoscale

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/brinkhq/brink/internal/autoscale/actuator"
	"github.com/brinkhq/brink/internal/lb"
)

// Option configures an Autoscaler.
type Option func(*Autoscaler)

// WithCapacity gives the source of find-limit capacities for
// `capacity: from-run RUN` targets.
func WithCapacity(c CapacitySource) Option { return func(a *Autoscaler) { a.capacity = c } }

// WithDryRun makes the autoscaler recommend without acting: decisions
// become scale_recommended events, and nothing is started, stopped, added
// or removed.
func WithDryRun(on bool) Option { return func(a *Autoscaler) { a.dryRun = on } }

// WithLogger sets where operational messages go (default: discarded).
func WithLogger(l *slog.Logger) Option { return func(a *Autoscaler) { a.log = l } }

// WithProbeClient sets the HTTP client of replica health probes.
func WithProbeClient(hc *http.Client) Option { return func(a *Autoscaler) { a.probe = hc } }

// Autoscaler runs the policy's decisions and keeps orchestrator and load
// balancer in step.
type Autoscaler struct {
	source   MetricSource
	registry actuator.Registry
	lb       lb.Balancer
	sink     EventSink
	capacity CapacitySource
	dryRun   bool
	log      *slog.Logger
	probe    *http.Client
	reloadCh chan struct{}

	mu       sync.Mutex
	policy   *Policy
	modTime  time.Time
	services map[string]*serviceState
}

// New returns an autoscaler for policy. source answers PromQL; actuators
// builds each service's actuator (actuator.Builtin for the real ones);
// balancer is the load balancer (nil: the policy's haproxy socket, if
// any); sink receives events (nil: none).
func New(policy *Policy, source MetricSource, actuators actuator.Registry, balancer lb.Balancer, sink EventSink, opts ...Option) *Autoscaler {
	a := &Autoscaler{
		source: source, registry: actuators, lb: balancer, sink: sink, policy: policy,
		log:      slog.New(slog.DiscardHandler),
		probe:    &http.Client{Transport: &http.Transport{DisableKeepAlives: true}},
		reloadCh: make(chan struct{}, 1),
		services: map[string]*serviceState{},
	}
	if a.lb == nil && policy.HAProxy != nil {
		a.lb = lb.NewHAProxy(policy.HAProxy.Socket)
	}
	if a.sink == nil {
		a.sink = EventFunc(func(Event) {})
	}
	for _, o := range opts {
		o(a)
	}
	if policy.Path != "" {
		if fi, err := os.Stat(policy.Path); err == nil {
			a.modTime = fi.ModTime()
		}
	}
	return a
}

// serviceState is one service's running state.
type serviceState struct {
	policy   *ServicePolicy
	interval time.Duration

	targets      []Target // the policy's, with from-run capacities resolved
	capacityErr  string
	capacityNote string

	act       actuator.Actuator
	actSpec   actuator.Spec
	actTried  time.Time
	hist      History
	lbRequest *counterRing
	// lbRequests is lbRequest when the load balancer's own counter gives RPS.
	lbRequests *counterRing

	inLB          map[string]bool      // replicas that are servers of the backend
	firstSeen     map[string]time.Time // replicas not serving yet, since when
	unhealthySet  map[string]bool      // replicas already reported unhealthy
	awaitServing  int                  // after a scale-out: serving replicas to wait for
	awaitUntil    time.Time
	scaleOutAt    time.Time
	fastQuiet     time.Time // no fast-path decision before
	lastHeld      string
	lastRecommend int

	mu      sync.Mutex // guards the fields below, read by Status
	current int
	serving int
	last    *Decision
	faults  map[string]string
}

func (st *serviceState) tick() time.Duration {
	if st.policy.Fast.Enabled && st.policy.Fast.Every < time.Second {
		return st.policy.Fast.Every
	}
	return time.Second
}

// ServiceStatus is a service's state for the API and the UI.
type ServiceStatus struct {
	Service  string            `json:"service"`
	Min      int               `json:"min"`
	Max      int               `json:"max"`
	Replicas int               `json:"replicas"` // not terminating
	Serving  int               `json:"serving"`  // in the load balancer (or running, without one)
	DryRun   bool              `json:"dry_run"`
	Last     *Decision         `json:"last_decision"`
	Faults   map[string]string `json:"faults"`
}

// Status reports every service's replicas, last decision and faults.
func (a *Autoscaler) Status() []ServiceStatus {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]ServiceStatus, 0, len(a.services))
	for _, st := range a.services {
		st.mu.Lock()
		s := ServiceStatus{Service: st.policy.Name, Min: st.policy.Min, Max: st.policy.Max,
			Replicas: st.current, Serving: st.serving, DryRun: a.dryRun, Last: st.last, Faults: map[string]string{}}
		for k, v := range st.faults {
			s.Faults[k] = v
		}
		st.mu.Unlock()
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Service < out[j].Service })
	return out
}

// Reload asks Run to read the policy file again (as on SIGHUP). Run also
// notices changes of the file by itself.
func (a *Autoscaler) Reload() {
	select {
	case a.reloadCh <- struct{}{}:
	default:
	}
}

func (a *Autoscaler) emit(e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.DryRun = e.DryRun || a.dryRun
	a.log.Info(e.Message, "kind", e.Kind, "service", e.Service)
	a.sink.Record(e)
}

// Run decides and acts until ctx ends. It returns nil then, or an error
// when the policy cannot be used at all.
func (a *Autoscaler) Run(ctx context.Context) error {
	a.mu.Lock()
	policy := a.policy
	a.mu.Unlock()
	for _, s := range policy.Services {
		if s.LB != nil && a.lb == nil {
			return fmt.Errorf("autoscale: service %q has an lb section but no load balancer was given and the policy names no haproxy socket", s.Name)
		}
		if _, ok := a.registry[s.Actuator.Kind]; !ok {
			return fmt.Errorf("autoscale: service %q: actuator %q is not available", s.Name, s.Actuator.Kind)
		}
	}
	mode := ""
	if a.dryRun {
		mode = " (dry run: recommending only)"
	}
	a.emit(Event{Kind: KindPolicyLoaded, Message: fmt.Sprintf("autoscale policy %s loaded: %d service(s), decision every %s%s",
		nameOr(policy.Path, "(in memory)"), len(policy.Services), policy.Interval, mode)})

	type running struct {
		cancel context.CancelFunc
		done   chan struct{}
	}
	loops := map[string]running{}
	start := func(p *Policy) {
		a.mu.Lock()
		defer a.mu.Unlock()
		keep := map[string]bool{}
		for _, sp := range p.Services {
			keep[sp.Name] = true
			st := a.services[sp.Name]
			if st == nil {
				st = &serviceState{inLB: map[string]bool{}, firstSeen: map[string]time.Time{},
					unhealthySet: map[string]bool{}, faults: map[string]string{}, lastRecommend: -1}
				a.services[sp.Name] = st
			}
			if st.act != nil && !reflect.DeepEqual(st.actSpec, sp.Actuator) {
				closeActuator(st.act)
				st.act = nil
			}
			st.policy, st.interval = sp, p.Interval
			st.targets = append([]Target(nil), sp.Targets...)
			st.capacityErr, st.capacityNote = "", ""
			if sp.LB != nil && a.lb != nil {
				if st.lbRequest == nil {
					st.lbRequest = &counterRing{}
				}
				st.lbRequest.max = sp.Window + 10*time.Second
				st.lbRequests = st.lbRequest
			} else {
				st.lbRequests = nil
			}
			cctx, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			loops[sp.Name] = running{cancel, done}
			go func(st *serviceState) {
				defer close(done)
				a.runService(cctx, st)
			}(st)
		}
		for name, st := range a.services {
			if !keep[name] {
				closeActuator(st.act)
				delete(a.services, name)
			}
		}
	}
	stopAll := func() {
		for name, r := range loops {
			r.cancel()
			<-r.done
			delete(loops, name)
		}
	}
	start(policy)
	check := time.NewTicker(policy.Interval)
	defer check.Stop()
	for {
		reload := false
		select {
		case <-ctx.Done():
			stopAll()
			a.mu.Lock()
			for _, st := range a.services {
				closeActuator(st.act)
				st.act = nil
			}
			a.mu.Unlock()
			return nil
		case <-a.reloadCh:
			reload = true
		case <-check.C:
			reload = a.fileChanged()
		}
		if !reload || policy.Path == "" {
			continue
		}
		np, err := LoadPolicy(policy.Path)
		if err == nil {
			for _, s := range np.Services {
				if _, ok := a.registry[s.Actuator.Kind]; !ok {
					err = fmt.Errorf("service %q: actuator %q is not available", s.Name, s.Actuator.Kind)
				} else if s.LB != nil && a.lb == nil {
					err = fmt.Errorf("service %q has an lb section but brink started without a load balancer; restart to add one", s.Name)
				}
			}
		}
		if err != nil {
			a.emit(Event{Kind: KindPolicyInvalid, Message: fmt.Sprintf("autoscale policy not reloaded, the previous one stays in force: %v", err)})
			continue
		}
		stopAll()
		a.mu.Lock()
		a.policy = np
		a.mu.Unlock()
		policy = np
		check.Reset(policy.Interval)
		start(policy)
		a.emit(Event{Kind: KindPolicyLoaded, Message: fmt.Sprintf("autoscale policy %s reloaded: %d service(s), decision every %s", policy.Path, len(policy.Services), policy.Interval)})
	}
}

func nameOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (a *Autoscaler) fileChanged() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.policy.Path == "" {
		return false
	}
	fi, err := os.Stat(a.policy.Path)
	if err != nil || fi.ModTime().Equal(a.modTime) {
		return false
	}
	a.modTime = fi.ModTime()
	return true
}

func closeActuator(act actuator.Actuator) {
	if c, ok := act.(actuator.Closer); ok {
		_ = c.Close()
	}
}

// setFault notes a fault; an event is emitted when it starts.
func (a *Autoscaler) setFault(st *serviceState, key, msg string) {
	st.mu.Lock()
	_, had := st.faults[key]
	st.faults[key] = msg
	st.mu.Unlock()
	if !had {
		a.emit(Event{Kind: KindFault, Service: st.policy.Name, Message: msg})
	}
}

// clearFault ends a fault; an event says it recovered.
func (a *Autoscaler) clearFault(st *serviceState, key, msg string) {
	st.mu.Lock()
	_, had := st.faults[key]
	delete(st.faults, key)
	st.mu.Unlock()
	if had {
		a.emit(Event{Kind: KindRecovered, Service: st.policy.Name, Message: msg})
	}
}

func (a *Autoscaler) runService(ctx context.Context, st *serviceState) {
	t := time.NewTicker(st.tick())
	defer t.Stop()
	next := time.Now().Add(st.interval)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		if !a.ensureActuator(ctx, st, now) {
			continue
		}
		a.sampleLB(ctx, st, now)
		reps, ok := a.reconcile(ctx, st, now)
		if ctx.Err() != nil {
			return
		}
		if !now.Before(next) {
			next = next.Add(st.interval)
			if next.Before(now) {
				next = now.Add(st.interval)
			}
			if ok {
				a.decide(ctx, st, time.Now(), false, reps)
			}
		} else if ok && st.policy.Fast.Enabled && st.awaitServing == 0 && now.After(st.fastQuiet) {
			a.decide(ctx, st, now, true, reps)
		}
	}
}

func (a *Autoscaler) ensureActuator(ctx context.Context, st *serviceState, now time.Time) bool {
	if st.act != nil {
		return true
	}
	if now.Sub(st.actTried) < 5*time.Second {
		return false
	}
	st.actTried = now
	act, err := a.registry.New(ctx, st.policy.Name, st.policy.Actuator)
	if err != nil {
		a.setFault(st, "actuator", fmt.Sprintf("%s: actuator %s cannot start: %v; retrying every 5 s", st.policy.Name, st.policy.Actuator.Kind, err))
		return false
	}
	st.act, st.actSpec = act, st.policy.Actuator
	return true
}

func (a *Autoscaler) sampleLB(ctx context.Context, st *serviceState, now time.Time) {
	if st.lbRequests == nil {
		return
	}
	v, err := a.lb.FrontendRequests(ctx, st.policy.LB.Frontend)
	st.lbRequests.add(now, v, err)
}

// healthy says whether a replica may receive traffic: the orchestrator's
// own verdict when it has one, else an HTTP probe of the health path.
func (a *Autoscaler) healthy(ctx context.Context, st *serviceState, r actuator.Replica) bool {
	if r.Healthy != nil {
		return *r.Healthy
	}
	if r.Addr == "" {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, st.policy.LB.HealthTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+r.Addr+st.policy.LB.HealthPath, nil)
	if err != nil {
		return false
	}
	resp, err := a.probe.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode >= 200 && resp.StatusCode < 400
}

// reconcile lists the replicas and brings the load balancer in line:
// healthy new replicas join, terminating and vanished ones leave drained.
// ok is false when the replicas could not be listed.
func (a *Autoscaler) reconcile(ctx context.Context, st *serviceState, now time.Time) ([]actuator.Replica, bool) {
	name := st.policy.Name
	reps, err := st.act.Replicas(ctx)
	if err != nil {
		if ctx.Err() == nil {
			a.setFault(st, "actuator", fmt.Sprintf("%s: cannot list replicas through %s: %v; no decision until it answers", name, st.policy.Actuator.Kind, err))
		}
		return nil, false
	}
	a.clearFault(st, "actuator", fmt.Sprintf("%s: %s answers again", name, st.policy.Actuator.Kind))
	active := actuator.Active(reps)
	serving := 0
	if st.policy.LB == nil || a.lb == nil {
		for _, r := range active {
			if r.State == actuator.Running {
				serving++
			}
		}
	} else {
		serving = a.syncLB(ctx, st, reps, now)
	}
	st.mu.Lock()
	st.current, st.serving = len(active), serving
	st.mu.Unlock()
	if st.awaitServing > 0 && (serving >= st.awaitServing || now.After(st.awaitUntil)) {
		st.awaitServing = 0
		st.fastQuiet = now.Add(st.policy.Fast.Window)
	}
	return reps, true
}

func (a *Autoscaler) syncLB(ctx context.Context, st *serviceState, reps []actuator.Replica, now time.Time) int {
	name, cfg := st.policy.Name, st.policy.LB
	servers, err := a.lb.Servers(ctx, cfg.Backend)
	if err != nil {
		if ctx.Err() == nil {
			a.setFault(st, "lb", fmt.Sprintf("%s: load balancer unreachable: %v; new replicas cannot join and none are removed until it answers", name, err))
		}
		return 0
	}
	a.clearFault(st, "lb", fmt.Sprintf("%s: load balancer answers again", name))
	inLB := map[string]lb.Server{}
	for _, s := range servers {
		inLB[s.Name] = s
	}
	known := map[string]bool{}
	serving := 0
	for _, r := range reps {
		known[r.Name] = true
		_, present := inLB[r.Name]
		switch {
		case r.State == actuator.Terminating && present:
			// The orchestrator chose this replica: take it out now, while
			// it still answers, so no new request reaches it.
			a.drainAndDelete(ctx, st, r.Name, "the orchestrator is stopping it")
		case r.State == actuator.Terminating:
		case present:
			serving++
			delete(st.firstSeen, r.Name)
			// A replica that was serving before the autoscaler took over
			// (from HAProxy's configuration, or added by hand) gets the
			// policy's cap too, or it alone would take a queue's worth.
			if s := inLB[r.Name]; cfg.ServerMaxConn > 0 && s.MaxConn != int64(cfg.ServerMaxConn) {
				if err := a.lb.SetServerMaxConn(ctx, cfg.Backend, r.Name, cfg.ServerMaxConn); err != nil {
					a.setFault(st, "lb", fmt.Sprintf("%s: cannot set maxconn %d on %s: %v", name, cfg.ServerMaxConn, r.Name, err))
				}
			}
		case r.State == actuator.Running && r.Addr != "" && a.healthy(ctx, st, r):
			if err := a.lb.AddServerWith(ctx, cfg.Backend, r.Name, r.Addr, lb.ServerOptions{MaxConn: cfg.ServerMaxConn}); err != nil {
				a.setFault(st, "lb", fmt.Sprintf("%s: cannot add replica %s to backend %s: %v", name, r.Name, cfg.Backend, err))
				continue
			}
			serving++
			msg := fmt.Sprintf("%s: replica %s serving at %s", name, r.Name, r.Addr)
			if first, ok := st.firstSeen[r.Name]; ok {
				msg += fmt.Sprintf(", healthy %.1f s after it was first seen", now.Sub(first).Seconds())
			}
			if !st.scaleOutAt.IsZero() && now.Sub(st.scaleOutAt) < cfg.StartTimeout {
				msg += fmt.Sprintf(", %.1f s after the scale-out decision", now.Sub(st.scaleOutAt).Seconds())
			}
			a.emit(Event{Kind: KindReplicaServing, Service: name, Message: msg})
			delete(st.firstSeen, r.Name)
			delete(st.unhealthySet, r.Name)
		default:
			first, ok := st.firstSeen[r.Name]
			if !ok {
				st.firstSeen[r.Name] = now
			} else if now.Sub(first) > cfg.StartTimeout && !st.unhealthySet[r.Name] {
				st.unhealthySet[r.Name] = true
				a.emit(Event{Kind: KindReplicaUnhealthy, Service: name, Message: fmt.Sprintf(
					"%s: replica %s (%s, %s) has not answered GET %s for %s; it receives no traffic",
					name, r.Name, nameOr(r.Addr, "no address"), r.State, cfg.HealthPath, cfg.StartTimeout)})
			}
		}
	}
	for n := range st.firstSeen {
		if !known[n] {
			delete(st.firstSeen, n)
		}
	}
	// Servers that match no replica any more (stopped outside brink) leave
	// the backend, but never the last serving ones on a listing that found
	// nothing: an empty answer is more likely a misconfiguration.
	if serving > 0 {
		for _, s := range servers {
			if !known[s.Name] {
				a.drainAndDelete(ctx, st, s.Name, "no replica of that name exists any more")
			}
		}
	}
	st.inLB = map[string]bool{}
	for _, r := range reps {
		if _, ok := inLB[r.Name]; ok && r.State != actuator.Terminating {
			st.inLB[r.Name] = true
		}
	}
	return serving
}

func (a *Autoscaler) drainAndDelete(ctx context.Context, st *serviceState, server, why string) bool {
	cfg := st.policy.LB
	name := st.policy.Name
	start := time.Now()
	if err := a.lb.Drain(ctx, cfg.Backend, server); err != nil {
		a.setFault(st, "lb", fmt.Sprintf("%s: cannot drain %s: %v", name, server, err))
		return false
	}
	idle, err := a.lb.WaitIdle(ctx, cfg.Backend, server, cfg.DrainTimeout)
	if err != nil {
		a.setFault(st, "lb", fmt.Sprintf("%s: cannot watch %s drain: %v", name, server, err))
		return false
	}
	if err := a.lb.DeleteServer(ctx, cfg.Backend, server); err != nil {
		a.setFault(st, "lb", fmt.Sprintf("%s: cannot delete %s from backend %s: %v", name, server, cfg.Backend, err))
		return false
	}
	msg := fmt.Sprintf("%s: replica %s left the load balancer (%s), drained in %.1f s", name, server, why, time.Since(start).Seconds())
	if !idle {
		msg = fmt.Sprintf("%s: replica %s left the load balancer (%s) with sessions still open after the %s drain timeout", name, server, why, cfg.DrainTimeout)
	}
	a.emit(Event{Kind: KindReplicaRemoved, Service: name, Message: msg})
	return true
}

func (a *Autoscaler) resolveCapacity(ctx context.Context, st *serviceState) {
	for i, t := range st.targets {
		if t.Kind != RPS || t.FromRun == "" || (t.Value > 0 && st.capacityErr == "") {
			continue
		}
		if a.capacity == nil {
			st.capacityErr = fmt.Sprintf("capacity from-run %s needs the hub's run store: run the autoscaler in brink hub", t.FromRun)
			continue
		}
		c, err := a.capacity.Capacity(ctx, t.FromRun)
		if err != nil || c <= 0 {
			if err == nil {
				err = errors.New("the run found no capacity")
			}
			st.capacityErr = fmt.Sprintf("capacity of run %s: %v", t.FromRun, err)
			continue
		}
		st.targets[i].Value = c * t.Utilisation
		st.capacityErr = ""
		st.capacityNote = fmt.Sprintf("%.0f req/s per replica measured by run %s × %.2f", c, t.FromRun, t.Utilisation)
	}
}

func (a *Autoscaler) decide(ctx context.Context, st *serviceState, now time.Time, fast bool, reps []actuator.Replica) {
	a.resolveCapacity(ctx, st)
	current := len(actuator.Active(reps))
	window := st.policy.Window
	if fast {
		window = st.policy.Fast.Window
	}
	readings := st.readings(ctx, a.source, now, window, fast, current)
	if fast {
		trigger := false
		for _, r := range readings {
			trigger = trigger || (r.Missing == "" && r.Target.Value > 0 && r.Value/r.Target.Value >= st.policy.Fast.Ratio)
		}
		if !trigger {
			return
		}
	} else {
		for _, r := range readings {
			key := "metrics:" + r.Target.Name()
			if r.Missing != "" {
				a.setFault(st, key, fmt.Sprintf("%s: %s missing: %s; not scaling down on missing data", st.policy.Name, r.Target.Name(), r.Missing))
			} else {
				a.clearFault(st, key, fmt.Sprintf("%s: %s data is back", st.policy.Name, r.Target.Name()))
			}
		}
	}
	d := Decide(st.policy, &st.hist, Input{Now: now, Current: current, Readings: readings, Fast: fast})
	if fast && !d.Change() {
		return
	}
	st.mu.Lock()
	st.last = &d
	st.mu.Unlock()
	if !d.Change() {
		if d.Recommended >= 0 && d.Recommended != d.Current && d.Limited != "" {
			kind := strings.SplitN(d.Limited, " (", 2)[0]
			if kind != st.lastHeld {
				st.lastHeld = kind
				a.emit(Event{Time: now, Kind: KindScaleHeld, Service: st.policy.Name, Message: st.policy.Name + ": " + d.Reason,
					From: d.Current, To: d.Current, Decision: &d})
			}
		} else {
			st.lastHeld = ""
		}
		if a.dryRun {
			st.lastRecommend = -1
		}
		return
	}
	st.lastHeld = ""
	if a.dryRun {
		if d.Desired != st.lastRecommend {
			st.lastRecommend = d.Desired
			a.emit(Event{Time: now, Kind: KindScaleRecommended, Service: st.policy.Name,
				Message: st.policy.Name + ": would scale: " + d.Reason, From: d.Current, To: d.Desired, Decision: &d})
		}
		return
	}
	if d.Desired > d.Current {
		a.scaleOut(ctx, st, d, now)
	} else {
		a.scaleIn(ctx, st, d, reps, now)
	}
}

func (a *Autoscaler) scaleOut(ctx context.Context, st *serviceState, d Decision, now time.Time) {
	if err := st.act.SetReplicas(ctx, d.Desired); err != nil {
		a.emit(Event{Time: now, Kind: KindScaleFailed, Service: st.policy.Name, From: d.Current, To: d.Desired, Decision: &d,
			Message: fmt.Sprintf("%s: scale-out %d→%d failed: %v (reason was: %s)", st.policy.Name, d.Current, d.Desired, err, d.Reason)})
		a.setFault(st, "actuator", fmt.Sprintf("%s: %s refused to scale: %v", st.policy.Name, st.policy.Actuator.Kind, err))
		return
	}
	st.hist.Record(now, d.Current, d.Desired)
	st.scaleOutAt = now
	st.awaitServing = d.Desired
	start := 60 * time.Second
	if st.policy.LB != nil {
		start = st.policy.LB.StartTimeout
	}
	st.awaitUntil = now.Add(start)
	a.emit(Event{Time: now, Kind: KindScaleOut, Service: st.policy.Name, From: d.Current, To: d.Desired, Decision: &d,
		Message: st.policy.Name + ": " + d.Reason})
}

// victims picks n replicas to remove: those not serving first, then the
// newest.
func victims(active []actuator.Replica, inLB map[string]bool, n int) []actuator.Replica {
	rs := append([]actuator.Replica(nil), active...)
	sort.SliceStable(rs, func(i, j int) bool {
		if inLB[rs[i].Name] != inLB[rs[j].Name] {
			return !inLB[rs[i].Name]
		}
		if !rs[i].Created.Equal(rs[j].Created) {
			return rs[i].Created.After(rs[j].Created)
		}
		return rs[i].Name > rs[j].Name
	})
	if n > len(rs) {
		n = len(rs)
	}
	return rs[:n]
}

func (a *Autoscaler) scaleIn(ctx context.Context, st *serviceState, d Decision, reps []actuator.Replica, now time.Time) {
	name := st.policy.Name
	fail := func(err error) {
		a.emit(Event{Time: now, Kind: KindScaleFailed, Service: name, From: d.Current, To: d.Desired, Decision: &d,
			Message: fmt.Sprintf("%s: scale-in %d→%d failed: %v (reason was: %s)", name, d.Current, d.Desired, err, d.Reason)})
	}
	if st.policy.LB != nil {
		st.mu.Lock()
		_, lbDown := st.faults["lb"]
		st.mu.Unlock()
		if lbDown {
			fail(errors.New("the load balancer is unreachable, so no replica is removed until it answers (a replica removed undrained would fail requests)"))
			return
		}
	}
	remover, canChoose := st.act.(actuator.Remover)
	if !canChoose {
		// The orchestrator chooses; reconcile drains what it stops.
		if err := st.act.SetReplicas(ctx, d.Desired); err != nil {
			fail(err)
			a.setFault(st, "actuator", fmt.Sprintf("%s: %s refused to scale: %v", name, st.policy.Actuator.Kind, err))
			return
		}
	} else {
		chosen := victims(actuator.Active(reps), st.inLB, d.Current-d.Desired)
		if st.policy.LB != nil && a.lb != nil {
			for _, v := range chosen {
				if !st.inLB[v.Name] {
					continue
				}
				if !a.drainAndDelete(ctx, st, v.Name, "scale-in") {
					fail(fmt.Errorf("the load balancer could not drain %s, so no replica was removed", v.Name))
					return
				}
				delete(st.inLB, v.Name)
			}
		}
		if err := remover.Remove(ctx, chosen); err != nil {
			fail(err)
			a.setFault(st, "actuator", fmt.Sprintf("%s: %s could not remove replicas: %v", name, st.policy.Actuator.Kind, err))
			return
		}
	}
	st.hist.Record(now, d.Current, d.Desired)
	a.emit(Event{Time: now, Kind: KindScaleIn, Service: name, From: d.Current, To: d.Desired, Decision: &d,
		Message: name + ": " + d.Reason})
}
