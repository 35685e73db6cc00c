package load

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/brinkhq/brink/internal/histogram"
	"github.com/brinkhq/brink/internal/load/httpclient"
	"github.com/brinkhq/brink/internal/results"
	"github.com/brinkhq/brink/internal/scenario"
)

// secondsBuffer is how many finished seconds may wait for a slow consumer
// before the engine's per-second emitter blocks (nothing is ever dropped).
const secondsBuffer = 64

// Engine runs a plan: its scenarios concurrently, each with its executor,
// and emits one results.Second per wall-clock second on Seconds.
type Engine struct {
	plan      *scenario.Plan
	client    *httpclient.Client
	collector *Collector
	scenarios []*scenarioRun
	seconds   chan *results.Second

	stopOnce sync.Once
	stopCh   chan struct{}
	abortMu  sync.Mutex
	abort    context.CancelFunc
	aborted  atomic.Bool

	start        time.Time
	vuIDs        atomic.Int64
	lastVUCreate atomic.Int64 // ns after start
	lastFirstReq atomic.Int64 // ns after start

	notesMu sync.Mutex
	notes   map[string]string // first message per request name and failure kind

	warnings []string
}

// RunInfo describes a finished run beyond its per-second results.
type RunInfo struct {
	Start, End time.Time
	// Aborted reports a hard abort (Abort or the parent context), as
	// opposed to a graceful stop.
	Aborted bool
	// Jitter is how late open-model iterations started after their
	// scheduled time (µs); empty for closed-model runs.
	Jitter *histogram.Histogram
	// JitterBySecond is the same lateness per second (its p99), for the
	// seconds in which the open model started iterations.
	JitterBySecond []JitterSecond
	// VUs is how many VUs were created; LastVUCreated and LastFirstRequest
	// are when (after Start) the last of them was created and sent its
	// first request.
	VUs                             int
	LastVUCreated, LastFirstRequest time.Duration
	// Notes hold the first message of each kind of failure per request
	// name (transport errors, failed checks, request-building errors),
	// sorted, for the user to see why requests failed.
	Notes []string
}

type scenarioRun struct {
	engine   *Engine
	index    int
	scenario *scenario.Scenario
	executor Executor
	flows    map[*scenario.Flow][]*stepPlan

	vusMu sync.Mutex
	vus   []*engineVU
}

type stepPlan struct {
	step     *scenario.Step
	name     int
	label    string
	static   *httpclient.Request // prepared once when the step is static
	capture  httpclient.Capture
	evaluate bool
	headers  http.Header // plan-wide headers, for dynamic steps
}

// New prepares a plan: executors, static requests serialized once, and the
// DNS of every static URL resolved once (an unresolvable host fails here,
// before any load starts).
func New(ctx context.Context, plan *scenario.Plan) (*Engine, error) {
	if len(plan.Scenarios) == 0 {
		return nil, fmt.Errorf("the plan has no scenario")
	}
	client := httpclient.New(httpclient.Options{
		Timeout:         plan.Options.Timeout,
		Insecure:        plan.Options.Insecure,
		HTTP2:           plan.Options.HTTP2,
		MaxConnsPerHost: plan.Options.MaxConnsPerHost,
	}, nil)
	e := &Engine{
		plan: plan, client: client,
		seconds: make(chan *results.Second, secondsBuffer),
		stopCh:  make(chan struct{}),
		notes:   map[string]string{},
	}
	planHeaders := http.Header{}
	for k, v := range plan.Options.Headers {
		planHeaders.Set(k, v)
	}
	nameIndex := map[string]int{}
	var names []string
	endpoints := map[string]bool{}
	for i, sc := range plan.Scenarios {
		exec, err := NewExecutor(sc.Executor)
		if err != nil {
			return nil, fmt.Errorf("scenario %q: %w", sc.Name, err)
		}
		run := &scenarioRun{engine: e, index: i, scenario: sc, executor: exec, flows: map[*scenario.Flow][]*stepPlan{}}
		for _, fl := range sc.Flows {
			for _, st := range fl.Steps {
				idx, ok := nameIndex[st.Name]
				if !ok {
					idx = len(names)
					nameIndex[st.Name] = idx
					names = append(names, st.Name)
				}
				sp := &stepPlan{
					step: st, name: idx, label: st.Name,
					capture:  httpclient.Capture{Header: st.NeedsHeaders(), Body: st.NeedsBody()},
					evaluate: st.NeedsEvaluate(),
					headers:  planHeaders,
				}
				if st.Static() {
					r, err := st.Build(nil)
					if err != nil {
						return nil, fmt.Errorf("scenario %q step %q: %w", sc.Name, st.Name, err)
					}
					prepared, err := httpclient.Prepare(r.Method, r.URL, mergeHeaders(planHeaders, r.Header), r.Body)
					if err != nil {
						return nil, fmt.Errorf("scenario %q step %q: %w", sc.Name, st.Name, err)
					}
					prepared.Timeout = st.Timeout
					sp.static = prepared
					endpoints[prepared.Endpoint.HostPort] = true
				}
				run.flows[fl] = append(run.flows[fl], sp)
			}
		}
		e.scenarios = append(e.scenarios, run)
	}
	for _, hp := range slices.Sorted(maps.Keys(endpoints)) {
		if _, err := client.Resolver().Resolve(ctx, hp); err != nil {
			return nil, fmt.Errorf("target %s: %w", hp, err)
		}
	}
	e.collector = NewCollector(names, len(plan.Scenarios))
	if limit, vus := openFileLimit(), peakVUs(plan); limit > 0 && vus+64 > limit {
		e.warnings = append(e.warnings, fmt.Sprintf(
			"up to %d VUs may each hold a connection, but this process may open only %d files: "+
				"connections beyond that fail (raise it with ulimit -n, or lower the VUs)", vus, limit))
	}
	return e, nil
}

// Warnings are problems with the plan that do not stop it from running.
func (e *Engine) Warnings() []string { return e.warnings }

// peakVUs is the most VUs the plan's scenarios may run at once.
func peakVUs(plan *scenario.Plan) int {
	total := 0
	for _, sc := range plan.Scenarios {
		x := sc.Executor
		switch x.Kind {
		case scenario.ConstantVUs:
			total += x.VUs
		case scenario.RampingVUs:
			peak := x.StartVUs
			for _, st := range x.Stages {
				peak = max(peak, int(st.Target))
			}
			total += peak
		default:
			total += max(x.MaxVUs, x.PreAllocatedVUs)
		}
	}
	return total
}

// mergeHeaders layers a step's headers over the plan's.
func mergeHeaders(plan, step http.Header) http.Header {
	if len(plan) == 0 {
		return step
	}
	h := plan.Clone()
	for k, v := range step {
		h[k] = v
	}
	return h
}

// Seconds delivers one results.Second per wall-clock second while the run
// lasts, then the final partial second, then closes. The consumer must
// keep reading: the emitter waits rather than drop a second.
func (e *Engine) Seconds() <-chan *results.Second { return e.seconds }

// StartTime is when Run started; it is valid once the first Second has
// been received from Seconds, or once Run has returned.
func (e *Engine) StartTime() time.Time { return e.start }

// Stop asks for a graceful stop: no new iterations or requests; in-flight
// requests get each scenario's graceful stop time to finish.
func (e *Engine) Stop() { e.stopOnce.Do(func() { close(e.stopCh) }) }

// Abort stops at once: in-flight requests are cut off.
func (e *Engine) Abort() {
	e.aborted.Store(true)
	e.abortMu.Lock()
	defer e.abortMu.Unlock()
	if e.abort != nil {
		e.abort()
	}
}

// Run executes the plan and returns when every scenario has finished and
// the last second has been emitted.
func (e *Engine) Run(ctx context.Context) RunInfo {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	e.abortMu.Lock()
	e.abort = cancel
	e.abortMu.Unlock()
	if e.aborted.Load() {
		cancel()
	}
	e.start = time.Now()

	emitterDone := make(chan struct{})
	finished := make(chan struct{})
	go e.emitSeconds(finished, emitterDone)

	var wg sync.WaitGroup
	for _, sc := range e.scenarios {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sc.run(ctx)
		}()
	}
	wg.Wait()
	end := time.Now()
	close(finished)
	<-emitterDone
	e.client.Close()

	return RunInfo{
		Start: e.start, End: end,
		Aborted:          e.aborted.Load() || ctx.Err() != nil,
		Jitter:           e.collector.Jitter(),
		JitterBySecond:   e.collector.JitterBySecond(),
		VUs:              int(e.vuIDs.Load()),
		LastVUCreated:    time.Duration(e.lastVUCreate.Load()),
		LastFirstRequest: time.Duration(e.lastFirstReq.Load()),
		Notes:            e.sortedNotes(),
	}
}

func (sc *scenarioRun) run(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// A cancelled scenario cuts its in-flight requests off.
	unregister := context.AfterFunc(ctx, sc.interruptAll)
	var (
		graceMu sync.Mutex
		grace   *time.Timer
	)
	env := Env{
		NewVU: sc.newVU,
		Meter: scenarioMeter{c: sc.engine.collector, scenario: sc.index},
		Stop:  sc.engine.stopCh,
		Ending: func() {
			graceMu.Lock()
			defer graceMu.Unlock()
			if grace == nil {
				grace = time.AfterFunc(sc.scenario.Executor.GracefulStop, cancel)
			}
		},
	}
	sc.executor.Run(ctx, env)
	graceMu.Lock()
	if grace != nil {
		grace.Stop()
	}
	graceMu.Unlock()
	unregister()
	sc.closeAll()
}

func (sc *scenarioRun) newVU(id int) VU {
	e := sc.engine
	gid := int(e.vuIDs.Add(1)) - 1
	v := &engineVU{
		sc: sc, shard: gid % e.collector.Shards(),
		state:   sc.scenario.NewVU(id),
		session: e.client.NewSession(),
	}
	sc.vusMu.Lock()
	sc.vus = append(sc.vus, v)
	sc.vusMu.Unlock()
	atomicMax(&e.lastVUCreate, int64(time.Since(e.start)))
	return v
}

func (sc *scenarioRun) interruptAll() {
	sc.vusMu.Lock()
	defer sc.vusMu.Unlock()
	for _, v := range sc.vus {
		v.session.Interrupt()
	}
}

func (sc *scenarioRun) closeAll() {
	sc.vusMu.Lock()
	defer sc.vusMu.Unlock()
	for _, v := range sc.vus {
		v.session.Close()
	}
}

func atomicMax(a *atomic.Int64, v int64) {
	for {
		cur := a.Load()
		if v <= cur || a.CompareAndSwap(cur, v) {
			return
		}
	}
}

// emitSeconds snapshots the collector at every wall-clock second boundary,
// and once more when the run has finished.
func (e *Engine) emitSeconds(finished <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	defer close(e.seconds)
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		next := time.Now().Truncate(time.Second).Add(time.Second)
		t.Reset(time.Until(next))
		select {
		case <-t.C:
			e.seconds <- e.collector.Snapshot(next.Unix() - 1)
		case <-finished:
			e.seconds <- e.collector.Snapshot(time.Now().Unix())
			return
		}
	}
}

// note keeps the first message for a request name and failure kind.
func (e *Engine) note(name, kind, msg string) {
	key := name + "\x00" + kind
	e.notesMu.Lock()
	defer e.notesMu.Unlock()
	if _, ok := e.notes[key]; !ok && len(e.notes) < 100 {
		e.notes[key] = fmt.Sprintf("%s: %s: %s", name, kind, msg)
	}
}

func (e *Engine) sortedNotes() []string {
	e.notesMu.Lock()
	defer e.notesMu.Unlock()
	return slices.Sorted(maps.Values(e.notes))
}

// scenarioMeter reports one scenario's executor to the collector.
type scenarioMeter struct {
	c        *Collector
	scenario int
}

func (m scenarioMeter) AddVUs(d int)                    { m.c.AddVUs(d) }
func (m scenarioMeter) IterationDone()                  { m.c.IterationDone() }
func (m scenarioMeter) Dropped(n int64)                 { m.c.Dropped(n) }
func (m scenarioMeter) SetTargetRate(perSecond float64) { m.c.SetTargetRate(m.scenario, perSecond) }
