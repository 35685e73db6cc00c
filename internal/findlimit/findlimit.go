// Package findlimit finds the highest arrival rate a service sustains
// within its SLOs: constant-arrival-rate steps, doubling from a start rate
// until a step breaks an SLO, then bisecting between the last rate that held
// and the first that broke, each step bounded in time.
//
// A step whose generator could not keep up (its CPU at the limit, or its
// VU pool out while responses stayed fast) ends the search with that
// finding: the generator's limit is never reported as the target's.
package findlimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/brinkhq/brink/internal/analysis"
	"github.com/brinkhq/brink/internal/results"
	"github.com/brinkhq/brink/internal/threshold"
)

// Config is a search.
type Config struct {
	// Start is the first rate tried (iterations/s); Max bounds the search.
	Start, Max float64
	// Precision ends the bisection when the gap between the highest rate
	// that held and the lowest that broke is at most this fraction of the
	// latter.
	Precision float64
	// StepDuration is how long each rate is offered; Warmup is excluded
	// from the SLO check at its start (connections open, caches warm);
	// Pause lets the target drain between steps.
	StepDuration, Warmup, Pause time.Duration
	// MaxSteps bounds the number of steps (and so the search's time).
	MaxSteps int
	// SLOs are the criteria every step must meet (p95<300ms,
	// error_rate<1%, ...).
	SLOs []threshold.Threshold
	// GeneratorSaturation is the fraction of its usable CPU from which the
	// generator counts as saturated.
	GeneratorSaturation float64
	// MinRate is the lowest rate tried when even Start breaks the SLOs.
	MinRate float64
	// Retries is how many times a doubling step that broke is run again
	// before the break is believed: one noisy step early in the search
	// would otherwise halve the answer. Negative: none.
	Retries int
	// Wait pauses between steps; nil waits on a timer (tests record the
	// pauses instead of sleeping).
	Wait func(ctx context.Context, d time.Duration) error
}

func waitTimer(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Defaults for a Config.
const (
	DefaultStart     = 10
	DefaultMax       = 1_000_000
	DefaultPrecision = 0.05
	DefaultStep      = 15 * time.Second
	DefaultWarmup    = 3 * time.Second
	DefaultPause     = 2 * time.Second
	DefaultMaxSteps  = 20
	DefaultRetries   = 1
)

func (c Config) withDefaults() Config {
	if c.Start <= 0 {
		c.Start = DefaultStart
	}
	if c.Max <= 0 {
		c.Max = DefaultMax
	}
	if c.Precision <= 0 {
		c.Precision = DefaultPrecision
	}
	if c.StepDuration <= 0 {
		c.StepDuration = DefaultStep
	}
	if c.Warmup < 0 || c.Warmup >= c.StepDuration {
		c.Warmup = 0
	}
	if c.Pause < 0 {
		c.Pause = 0
	}
	if c.MaxSteps <= 0 {
		c.MaxSteps = DefaultMaxSteps
	}
	if c.GeneratorSaturation <= 0 {
		c.GeneratorSaturation = 0.9
	}
	if c.MinRate <= 0 {
		c.MinRate = math.Min(1, c.Start)
	}
	if c.Retries == 0 {
		c.Retries = DefaultRetries
	}
	if c.Wait == nil {
		c.Wait = waitTimer
	}
	return c
}

// Validate reports a configuration that cannot search.
func (c Config) Validate() error {
	switch {
	case len(c.SLOs) == 0:
		return errors.New("no SLO: give at least one, e.g. --slo 'p95<300ms' --slo 'error_rate<1%'")
	case c.Max > 0 && c.Start > c.Max:
		return fmt.Errorf("the start rate %g is above the maximum %g", c.Start, c.Max)
	case c.Precision >= 1:
		return fmt.Errorf("precision %g: must be below 1 (0.05 = within 5%%)", c.Precision)
	}
	return nil
}

// StepRun is what a Runner measured during one step.
type StepRun struct {
	Start, End time.Time
	Seconds    []*results.Second
	// JitterP99Ms is how late scheduled iterations started (p99).
	JitterP99Ms float64
	// Generator holds the generator's CPU series (analysis.GeneratorSampler).
	Generator []analysis.Series
	// RequestsPerIteration of the plan (1 for a single request).
	RequestsPerIteration float64
}

// Runner offers one constant arrival rate for a while.
type Runner interface {
	RunStep(ctx context.Context, rate float64, d time.Duration, onSecond func(*results.Second)) (*StepRun, error)
}

// Observer follows a search as it runs (progress output).
type Observer interface {
	StepStarted(n int, rate float64, d time.Duration)
	Second(sec *results.Second)
	StepDone(s Step)
}

// Step is the outcome of one rate.
type Step struct {
	N       int     `json:"n"`
	Phase   string  `json:"phase"` // "coarse", "retry" or "bisect"
	Rate    float64 `json:"rate"`  // iterations/s offered
	StartMs int64   `json:"start_ms"`
	EndMs   int64   `json:"end_ms"`
	// Measured after the warm-up:
	Requests   int64   `json:"requests"`
	Failures   int64   `json:"failures"`
	Dropped    int64   `json:"dropped"`
	RPS        float64 `json:"rps"`      // completed requests/s
	GoodRPS    float64 `json:"good_rps"` // successful requests/s
	Iterations float64 `json:"iterations_per_s"`
	ErrorRate  float64 `json:"error_rate"`
	P50Ms      float64 `json:"p50_ms"`
	P95Ms      float64 `json:"p95_ms"`
	P99Ms      float64 `json:"p99_ms"`
	// Generator health.
	GeneratorCPU      float64 `json:"generator_cpu_cores"`
	GeneratorCapacity float64 `json:"generator_cpu_capacity_cores"`
	JitterP99Ms       float64 `json:"jitter_p99_ms"`

	SLOs []results.ThresholdResult `json:"slos"`
	OK   bool                      `json:"ok"` // every SLO held
	// GeneratorLimited: the generator could not offer this rate properly,
	// so the step says nothing about the target.
	GeneratorLimited bool   `json:"generator_limited"`
	Note             string `json:"note,omitempty"`
	// Summary is the step's results after the warm-up, and Seconds every
	// second the step produced (not in JSON: the figures above are).
	Summary *results.Summary  `json:"-"`
	Seconds []*results.Second `json:"-"`
}

// Result is the outcome of a search: what `--out json=PATH` writes.
type Result struct {
	Target string   `json:"target"`
	SLOs   []string `json:"slos"`
	// MaxRate is the highest rate (iterations/s) that met every SLO, and
	// MaxRPS the requests/s achieved there; 0 when none did.
	MaxRate float64 `json:"max_sustainable_rate"`
	MaxRPS  float64 `json:"max_sustainable_rps"`
	// BrokeAt is the lowest rate that broke an SLO (0: none did).
	BrokeAt float64 `json:"broke_at_rate"`
	// Replicas serving the target during the search (1 unless known), and
	// the capacity per replica.
	Replicas             int     `json:"replicas"`
	PerReplicaRate       float64 `json:"capacity_per_replica_rate"`
	CapacityPerReplica   float64 `json:"capacity_per_replica_rps"`
	RequestsPerIteration float64 `json:"requests_per_iteration"`
	// LimitedBy says what ended the search: "slo" (the answer is within
	// Precision), "generator" (the generator saturated first: the target
	// sustains at least MaxRate), "max_rate" (Max held), "steps" (MaxSteps
	// ran out before Precision was reached), "aborted".
	LimitedBy string  `json:"limited_by"`
	Precision float64 `json:"precision"`
	Steps     []Step  `json:"steps"`
	// Limit is the limiting resource at the first broken step, when the
	// resource series were available (a hub).
	Limit    *analysis.Limit    `json:"limit,omitempty"`
	Findings []analysis.Finding `json:"findings,omitempty"`
	Message  string             `json:"message"`
}

// Search runs the stepped search. ctx ends it early (LimitedBy "aborted",
// with what was found so far).
func Search(ctx context.Context, cfg Config, r Runner, obs Observer) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	res := &Result{Replicas: 1, Precision: cfg.Precision, Steps: []Step{}}
	for _, t := range cfg.SLOs {
		res.SLOs = append(res.SLOs, t.Expr)
	}
	var lo, hi float64 // highest rate that held, lowest that broke (0: none yet)
	try := func(rate float64, phase string) (Step, error) {
		if len(res.Steps) > 0 {
			if pause := drainPause(cfg, res.Steps[len(res.Steps)-1]); pause > 0 {
				if err := cfg.Wait(ctx, pause); err != nil {
					return Step{}, err
				}
			}
		}
		n := len(res.Steps) + 1
		if obs != nil {
			obs.StepStarted(n, rate, cfg.StepDuration)
		}
		var onSecond func(*results.Second)
		if obs != nil {
			onSecond = obs.Second
		}
		run, err := r.RunStep(ctx, rate, cfg.StepDuration, onSecond)
		if err != nil {
			return Step{}, err
		}
		if ctx.Err() != nil {
			return Step{}, ctx.Err()
		}
		st := judge(cfg, n, phase, rate, run)
		if run.RequestsPerIteration > 0 {
			res.RequestsPerIteration = run.RequestsPerIteration
		}
		res.Steps = append(res.Steps, st)
		if obs != nil {
			obs.StepDone(st)
		}
		return st, nil
	}
	finish := func(by string) (*Result, error) {
		res.LimitedBy = by
		res.MaxRate, res.BrokeAt = lo, hi
		for _, s := range res.Steps {
			if s.Rate == lo && s.OK {
				res.MaxRPS = s.RPS
			}
		}
		res.setPerReplica()
		res.Message = res.message()
		return res, nil
	}
	step := func(rate float64, phase string) (done bool, by string, err error) {
		st, err := try(rate, phase)
		if err != nil {
			if ctx.Err() != nil {
				return true, "aborted", nil
			}
			return true, "", err
		}
		switch {
		case st.GeneratorLimited && st.OK && st.Iterations >= 0.95*rate:
			// The SLOs held at the rate really offered: it counts, but the
			// generator cannot go higher.
			lo = math.Max(lo, rate)
			return true, "generator", nil
		case st.GeneratorLimited:
			return true, "generator", nil
		case st.OK:
			lo = math.Max(lo, rate)
		default:
			if hi == 0 || rate < hi {
				hi = rate
			}
		}
		return false, "", nil
	}

	// Coarse: double until a step breaks (and breaks again when retried).
	rate := cfg.Start
	retries := max(cfg.Retries, 0)
	for hi == 0 {
		if len(res.Steps) >= cfg.MaxSteps {
			return finish("steps")
		}
		if done, by, err := step(rate, "coarse"); err != nil {
			return nil, err
		} else if done {
			return finish(by)
		}
		if hi > 0 && retries > 0 && len(res.Steps) < cfg.MaxSteps {
			retries--
			hi = 0
			if done, by, err := step(rate, "retry"); err != nil {
				return nil, err
			} else if done {
				return finish(by)
			}
			if hi == 0 {
				// It held this time: the break was noise; keep doubling.
				if rate >= cfg.Max {
					return finish("max_rate")
				}
				rate = math.Min(rate*2, cfg.Max)
				continue
			}
		}
		if hi > 0 {
			break
		}
		if rate >= cfg.Max {
			return finish("max_rate")
		}
		rate = math.Min(rate*2, cfg.Max)
	}
	// Bisect between the highest rate that held and the lowest that broke.
	for hi-lo > cfg.Precision*hi {
		if lo == 0 && hi <= cfg.MinRate {
			return finish("slo")
		}
		if len(res.Steps) >= cfg.MaxSteps {
			return finish("steps")
		}
		mid := roundRate((lo + hi) / 2)
		if lo == 0 {
			// Even the start broke: halve until something holds.
			mid = math.Max(roundRate(hi/2), cfg.MinRate)
		}
		if mid <= lo || mid >= hi {
			break
		}
		if done, by, err := step(mid, "bisect"); err != nil {
			return nil, err
		} else if done {
			return finish(by)
		}
	}
	return finish("slo")
}

// maxDrain bounds the pause after an overloaded step.
const maxDrain = 30 * time.Second

// drainPause is how long to wait before the next step. After a step that
// broke, the target may still be working through a queue of requests the
// generator gave up on; the slowest response of that step is about how
// long its queue was, so the pause lasts at least that long.
func drainPause(cfg Config, prev Step) time.Duration {
	pause := cfg.Pause
	if !prev.OK && prev.Summary != nil {
		slowest := time.Duration(prev.Summary.LatencyMs.Max * float64(time.Millisecond))
		pause = max(pause, min(slowest, maxDrain))
	}
	return pause
}

// roundRate keeps rates readable: three significant digits.
func roundRate(r float64) float64 {
	if r <= 0 {
		return r
	}
	mag := math.Pow(10, math.Floor(math.Log10(r))-2)
	return math.Round(r/mag) * mag
}

// SetReplicas records how many replicas served the target.
func (r *Result) SetReplicas(n int) {
	if n < 1 {
		n = 1
	}
	r.Replicas = n
	r.setPerReplica()
	r.Message = r.message()
}

func (r *Result) setPerReplica() {
	n := float64(max(r.Replicas, 1))
	r.PerReplicaRate, r.CapacityPerReplica = r.MaxRate/n, r.MaxRPS/n
}

func (r *Result) message() string {
	rate := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) + "/s" }
	switch r.LimitedBy {
	case "generator":
		return fmt.Sprintf("the load generator saturated before the target broke an SLO: the target sustains at least %s; run find-limit from a bigger machine or from several agents to go higher", rate(r.MaxRate))
	case "max_rate":
		return fmt.Sprintf("every step held up to the maximum rate %s: raise --max-rate to search higher", rate(r.MaxRate))
	case "steps":
		return fmt.Sprintf("the step budget ran out: the limit lies between %s and %s", rate(r.MaxRate), rate(r.BrokeAt))
	case "aborted":
		return "interrupted: the figures are what the finished steps showed"
	}
	if r.MaxRate == 0 {
		return fmt.Sprintf("even %s broke the SLOs", rate(r.BrokeAt))
	}
	return fmt.Sprintf("the highest sustainable rate is %s (the SLOs broke at %s)", rate(r.MaxRate), rate(r.BrokeAt))
}

// judge measures a step after its warm-up and checks the SLOs and the
// generator's health.
func judge(cfg Config, n int, phase string, rate float64, run *StepRun) Step {
	st := Step{N: n, Phase: phase, Rate: rate, StartMs: run.Start.UnixMilli(), EndMs: run.End.UnixMilli(), Seconds: run.Seconds}
	from := run.Start.Add(cfg.Warmup)
	scheduleEnd := run.Start.Add(cfg.StepDuration)
	acc := results.NewAccumulator(from.Truncate(time.Second))
	var inSchedule, inScheduleSeconds, iterations int64
	for _, s := range run.Seconds {
		if s.T < from.Unix() {
			continue
		}
		acc.Add(s)
		if s.T < scheduleEnd.Unix() {
			inSchedule += s.Total().Requests
			iterations += s.Iterations
			inScheduleSeconds++
		}
	}
	acc.SetEnd(scheduleEnd)
	sum := acc.Summary()
	st.Summary = &sum
	st.Requests, st.Failures, st.Dropped = sum.Requests, sum.Failures, sum.Dropped
	st.ErrorRate = sum.ErrorRate
	st.P50Ms, st.P95Ms, st.P99Ms = sum.LatencyMs.P50, sum.LatencyMs.P95, sum.LatencyMs.P99
	if inScheduleSeconds > 0 {
		st.RPS = float64(inSchedule) / float64(inScheduleSeconds)
		st.Iterations = float64(iterations) / float64(inScheduleSeconds)
		st.GoodRPS = st.RPS * (1 - st.ErrorRate)
	}
	st.JitterP99Ms = run.JitterP99Ms
	st.SLOs = threshold.Evaluate(cfg.SLOs, &sum)
	st.OK = threshold.AllOK(st.SLOs)

	// The generator's CPU over the measured seconds.
	var cpu, capacity []float64
	for _, s := range run.Generator {
		for _, p := range s.Points {
			if p.T < from.Unix() || p.T >= scheduleEnd.Unix() {
				continue
			}
			switch s.Name {
			case analysis.GeneratorCPU:
				cpu = append(cpu, p.V)
			case analysis.GeneratorCapacity:
				capacity = append(capacity, p.V)
			}
		}
	}
	st.GeneratorCPU, st.GeneratorCapacity = mean(cpu), mean(capacity)
	switch {
	case st.GeneratorCapacity > 0 && st.GeneratorCPU >= cfg.GeneratorSaturation*st.GeneratorCapacity:
		st.GeneratorLimited = true
		st.Note = fmt.Sprintf("the generator used %.2f of the %.2f cores it may use", st.GeneratorCPU, st.GeneratorCapacity)
	case st.Dropped > 0 && latencySLOsHeld(cfg.SLOs, st.SLOs):
		st.GeneratorLimited = true
		st.Note = fmt.Sprintf("%d iterations were dropped (no free VU) while responses stayed fast: the VU pool is too small for this rate", st.Dropped)
	case !st.OK && lateSends(cfg.SLOs, st.SLOs, st.JitterP99Ms):
		st.GeneratorLimited = true
		st.Note = fmt.Sprintf("broke %s, but the generator started iterations up to %.1f ms late (p99), at least half the latency limit: the latency measured its own lateness",
			brokenList(st.SLOs), st.JitterP99Ms)
	case !st.OK:
		st.Note = "broke " + brokenList(st.SLOs)
	}
	return st
}

// lateSends reports whether every broken SLO is a latency limit that the
// generator's own send lateness (latency counts from the scheduled send
// time) already used half of.
func lateSends(ts []threshold.Threshold, rs []results.ThresholdResult, jitterMs float64) bool {
	if jitterMs <= 0 {
		return false
	}
	broken := 0
	for i, t := range ts {
		if rs[i].OK {
			continue
		}
		broken++
		if t.Kind != threshold.Latency || jitterMs < t.Limit/2 {
			return false
		}
	}
	return broken > 0
}

func latencySLOsHeld(ts []threshold.Threshold, rs []results.ThresholdResult) bool {
	for i, t := range ts {
		if t.Kind == threshold.Latency && !rs[i].OK {
			return false
		}
	}
	return true
}

func brokenList(rs []results.ThresholdResult) string {
	var out string
	for _, r := range rs {
		if !r.OK {
			if out != "" {
				out += ", "
			}
			out += r.Expr
		}
	}
	return out
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}
