// Package scenario reads brink scenario files (YAML) and the --url quick
// mode into a Plan, and provides the per-virtual-user runtime the load
// engine drives: request building from precompiled templates, checks,
// value extraction, CSV data feeds, think time and weighted flows.
package scenario

import (
	"net/http"
	"time"
)

// Executor kinds.
const (
	ConstantVUs         = "constant-vus"
	RampingVUs          = "ramping-vus"
	ConstantArrivalRate = "constant-arrival-rate"
	RampingArrivalRate  = "ramping-arrival-rate"
)

// ExecutorKinds lists every executor kind, in documentation order.
var executorKinds = []string{ConstantVUs, RampingVUs, ConstantArrivalRate, RampingArrivalRate}

// Defaults applied when a file or the quick mode leaves a value out.
const (
	DefaultTimeout      = 30 * time.Second
	DefaultGracefulStop = 30 * time.Second
	DefaultTimeUnit     = time.Second
)

// Plan is everything one `brink run` executes: its scenarios run
// concurrently, each with its own executor.
type Plan struct {
	// Name names the run (the file's name:); empty when not set.
	Name string
	// TargetService is the service under test as the monitor names it
	// (the file's target_service:); empty when not set.
	TargetService string
	Scenarios     []*Scenario
	Thresholds    []string // raw expressions, already validated with threshold.Parse
	Options       Options
	feeds         []*feed
}

// Options apply to every request of the plan.
type Options struct {
	Insecure        bool          // accept any TLS certificate
	HTTP2           bool          // negotiate HTTP/2 over TLS (h2) instead of HTTP/1.1
	Timeout         time.Duration // default per-request timeout; steps may override
	MaxConnsPerHost int           // 0 means one connection per VU
	// Headers go on every request, under the step's own headers (a step
	// header with the same name wins). Step.Build does not add them: the
	// engine layers them, so that --header on the command line applies too.
	Headers map[string]string
}

// Scenario is one workload: an executor driving virtual users, each of
// which repeatedly picks a flow (by weight) and runs its steps in order.
type Scenario struct {
	Name     string
	Executor ExecutorConfig
	Flows    []*Flow
	Think    Think // after each iteration

	plan        *Plan
	cumWeights  []float64 // cumulative flow weights for NextFlow
	varSlots    map[string]int
	varNames    []string
	usesFeeds   []bool // indexed like plan.feeds
	usesAnyFeed bool
}

// ExecutorConfig says how a scenario schedules its iterations. Field names
// in files follow k6: executor, vus, duration, iterations, stages,
// rate, time_unit, pre_allocated_vus, max_vus, start_rate, start_vus,
// graceful_stop, start_time.
type ExecutorConfig struct {
	Kind         string // ConstantVUs | RampingVUs | ConstantArrivalRate | RampingArrivalRate
	VUs          int
	Duration     time.Duration
	StartTime    time.Duration // delay from the start of the run
	GracefulStop time.Duration // how long in-flight iterations may finish after the end
	Iterations   int64         // total iterations across all VUs; 0 = unlimited

	StartVUs int     // ramping-vus
	Stages   []Stage // ramping-vus (Target = VUs) / ramping-arrival-rate (Target = rate per TimeUnit)

	Rate      float64       // constant-arrival-rate: iterations per TimeUnit
	StartRate float64       // ramping-arrival-rate: rate per TimeUnit at the start
	TimeUnit  time.Duration // the unit of Rate, StartRate and rate stage targets

	PreAllocatedVUs int // arrival-rate executors: VUs started up front
	MaxVUs          int // arrival-rate executors: the pool's limit; beyond it iterations are dropped
}

// Stage is one segment of a ramp: move linearly to Target over Duration.
type Stage struct {
	Target   float64
	Duration time.Duration
}

// PlannedDuration is how long the executor runs, not counting its start
// time or graceful stop. It is 0 for an iteration-bounded run with no
// duration.
func (e ExecutorConfig) PlannedDuration() time.Duration {
	switch e.Kind {
	case RampingVUs, RampingArrivalRate:
		var d time.Duration
		for _, s := range e.Stages {
			d += s.Duration
		}
		return d
	default:
		return e.Duration
	}
}

// PeakRatePerSecond is the highest arrival rate of an arrival-rate
// executor, per second.
func (e ExecutorConfig) PeakRatePerSecond() float64 {
	unit := e.TimeUnit
	if unit <= 0 {
		unit = DefaultTimeUnit
	}
	peak := max(e.Rate, e.StartRate)
	for _, s := range e.Stages {
		peak = max(peak, s.Target)
	}
	return peak * float64(time.Second) / float64(unit)
}

// PlannedDuration is the length of the whole plan: the latest end of any
// scenario (start time plus its planned duration).
func (p *Plan) PlannedDuration() time.Duration {
	var d time.Duration
	for _, s := range p.Scenarios {
		d = max(d, s.Executor.StartTime+s.Executor.PlannedDuration())
	}
	return d
}

// Flow is a sequence of steps that one iteration runs.
type Flow struct {
	Name   string
	Weight float64
	Steps  []*Step
}

// Step is one named request with its checks and extractions.
type Step struct {
	Name    string
	Method  string
	Timeout time.Duration // always set: the step's own or the plan's default
	Think   Think         // after this step

	url      *template
	headers  []headerTemplate
	body     *template // nil when the body is a file's raw bytes (fixedBody)
	fixed    []byte
	static   bool
	cached   *Request
	checks   []check
	extracts []extract

	needsHeaders bool
	needsBody    bool
}

type headerTemplate struct {
	name  string // canonical form
	value *template
}

// Request is what a step sends. Requests returned for Static steps are
// shared between calls and VUs: treat them as read-only.
type Request struct {
	Method string
	URL    string
	Header http.Header
	Body   []byte
}

// Response is what Evaluate inspects. Header and Body may be nil when the
// step's NeedsHeaders / NeedsBody report that they are not read.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Static reports whether Build always returns the same request, so the
// engine may prepare it once.
func (st *Step) Static() bool { return st.static }

// NeedsHeaders reports whether checks or extractions read response headers.
func (st *Step) NeedsHeaders() bool { return st.needsHeaders }

// NeedsBody reports whether checks or extractions read the response body.
func (st *Step) NeedsBody() bool { return st.needsBody }

// NeedsEvaluate reports whether the step has any check or extraction;
// when false, Evaluate always returns "" and need not be called.
func (st *Step) NeedsEvaluate() bool { return len(st.checks) > 0 || len(st.extracts) > 0 }

// ExpectsStatus reports whether the step's status check explicitly accepts
// code (for example `status: 404` or `status: 4xx`). The engine uses it to
// avoid counting an expected 4xx/5xx as an HTTP failure; it is false when
// the step has no status check.
func (st *Step) ExpectsStatus(code int) bool {
	for i := range st.checks {
		if sc, ok := st.checks[i].(*statusCheck); ok {
			return sc.accepts(code)
		}
	}
	return false
}
