// Package analysis finds where a service breaks and why, from a run's
// per-second load timeline and the resource series recorded beside it.
//
// The knee is the load at which throughput stops rising with the offered
// load, latency turns up, or errors begin — whichever comes first. At that
// moment the limiting resource is named from the resource series: a target
// container's CPU at its limit and throttled, its memory near its limit,
// the host's CPU, the load balancer's CPU, or the load generator itself.
// Generator saturation is reported as such and never blamed on the target.
//
// Everything here is a pure function over time series (Analyze), so it runs
// the same on a live hub (ForRun with a Querier) and on recorded runs in
// testdata.
package analysis

import (
	"time"

	"github.com/brinkhq/brink/internal/results"
)

// Resource series names. Each Series in an Input carries one of these
// names and an Entity (a container name, a host name, or "" for the
// generator), with one point per second.
const (
	TargetCPU          = "target_cpu_cores"             // CPU used by a target container, cores
	TargetCPULimit     = "target_cpu_limit_cores"       // its CPU limit (quota/period), cores
	TargetThrottled    = "target_cpu_throttled_ratio"   // throttled CFS periods / periods, 0..1
	TargetMemory       = "target_memory_bytes"          // working set, bytes
	TargetMemoryLimit  = "target_memory_limit_bytes"    // memory limit, bytes (absent: none)
	LBCPU              = "lb_cpu_cores"                 // CPU used by a load-balancer container
	LBCPULimit         = "lb_cpu_limit_cores"           // its CPU limit
	LBThrottled        = "lb_cpu_throttled_ratio"       // its throttled ratio
	HostCPU            = "host_cpu_used_cores"          // host CPU busy (all modes but idle and iowait), cores
	HostCores          = "host_cpu_cores"               // the host's logical CPUs
	GeneratorCPU       = "generator_cpu_cores"          // CPU used by the load generator process
	GeneratorCapacity  = "generator_cpu_capacity_cores" // cores the generator may use (GOMAXPROCS, affinity, cgroup quota)
	GeneratorJitterP99 = "generator_jitter_p99_ms"      // how late scheduled sends started, p99 of that second
)

// Point is one sample of a resource series. T is the unix second that the
// value describes, with the same meaning as results.TimelinePoint.Unix: the
// second [T, T+1).
type Point struct {
	T int64   `json:"t"`
	V float64 `json:"v"`
}

// Series is one resource measured over time.
type Series struct {
	Name   string  `json:"name"`
	Entity string  `json:"entity,omitempty"`
	Points []Point `json:"points"`
}

// Input is what the analysis looks at.
type Input struct {
	// Timeline is the run's per-second load (results.Summary.Timeline).
	Timeline []results.TimelinePoint
	// RequestsPerIteration converts an open model's scheduled iterations
	// into expected requests; 0 means 1 (one request per iteration).
	RequestsPerIteration float64
	// Resources are the resource series by name (the constants above).
	Resources []Series
	// GeneratorJitterP99Ms is the run-wide p99 of how late open-model
	// iterations started after their scheduled time, when known (0: unknown).
	GeneratorJitterP99Ms float64
}

// FromSummary builds an Input from a run's summary and resource series.
func FromSummary(s *results.Summary, resources []Series) Input {
	in := Input{Timeline: s.Timeline, Resources: resources}
	if s.Iterations > 0 && s.Requests > 0 {
		in.RequestsPerIteration = float64(s.Requests) / float64(s.Iterations)
	}
	return in
}

// Options tune the detection. DefaultOptions holds the values used
// everywhere unless a test or a user asks otherwise.
type Options struct {
	// Smooth is the moving-median window (seconds) applied before any
	// detection, so single noisy seconds neither trigger nor hide a knee.
	Smooth int
	// Sustain is how many consecutive seconds a signal must hold.
	Sustain int
	// ShortfallRatio: throughput has stopped rising when the achieved good
	// throughput falls below this fraction of what the offered load would
	// give at the run's low-load efficiency.
	ShortfallRatio float64
	// LatencyFactor and LatencyFloor: latency has turned up when the
	// smoothed p95 exceeds both LatencyFactor × the low-load p95 and the
	// low-load p95 + LatencyFloor.
	LatencyFactor float64
	LatencyFloor  time.Duration
	// ErrorOnset: errors have begun when the error rate exceeds the
	// low-load error rate by this much (a fraction).
	ErrorOnset float64
	// Saturation is the used/limit fraction from which a CPU, memory or
	// generator resource counts as at its limit.
	Saturation float64
	// Throttled is the throttled-periods ratio from which a CPU limit
	// counts as hit even if the average use looks lower.
	Throttled float64
	// JitterLimit is the send-time lateness (p99) from which the generator
	// counts as unable to keep its schedule.
	JitterLimit time.Duration
}

// DefaultOptions are the detection settings brink uses.
func DefaultOptions() Options {
	return Options{
		Smooth:         5,
		Sustain:        3,
		ShortfallRatio: 0.85,
		LatencyFactor:  2,
		LatencyFloor:   2 * time.Millisecond,
		ErrorOnset:     0.01,
		Saturation:     0.9,
		Throttled:      0.25,
		JitterLimit:    10 * time.Millisecond,
	}
}

// withDefaults fills every unset (zero) option from DefaultOptions.
func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.Smooth <= 0 {
		o.Smooth = d.Smooth
	}
	if o.Sustain <= 0 {
		o.Sustain = d.Sustain
	}
	if o.ShortfallRatio <= 0 {
		o.ShortfallRatio = d.ShortfallRatio
	}
	if o.LatencyFactor <= 0 {
		o.LatencyFactor = d.LatencyFactor
	}
	if o.LatencyFloor <= 0 {
		o.LatencyFloor = d.LatencyFloor
	}
	if o.ErrorOnset <= 0 {
		o.ErrorOnset = d.ErrorOnset
	}
	if o.Saturation <= 0 {
		o.Saturation = d.Saturation
	}
	if o.Throttled <= 0 {
		o.Throttled = d.Throttled
	}
	if o.JitterLimit <= 0 {
		o.JitterLimit = d.JitterLimit
	}
	return o
}

// SignalKind names what marked the knee.
type SignalKind string

// Signal kinds.
const (
	SignalThroughput SignalKind = "throughput" // throughput stopped rising with the offered load
	SignalLatency    SignalKind = "latency"    // p95 latency turned up
	SignalErrors     SignalKind = "errors"     // errors began
)

// Signal is one sign of saturation.
type Signal struct {
	Kind SignalKind `json:"kind"`
	Unix int64      `json:"unix"` // the second it began
	T    int64      `json:"t"`    // seconds since the run started
	// Offered is the offered load then (iterations/s or VUs).
	Offered float64 `json:"offered"`
	// Value is the smoothed figure then: good req/s, p95 ms or error rate.
	Value float64 `json:"value"`
	// Baseline is the same figure at low load (for throughput: the
	// expected good req/s at this offered load).
	Baseline float64 `json:"baseline"`
	Text     string  `json:"text"`
}

// Knee is where the service stopped keeping up.
type Knee struct {
	Unix int64 `json:"unix"`
	T    int64 `json:"t"`
	// Offered is the offered load at the knee, in OfferedUnit.
	Offered     float64 `json:"offered"`
	OfferedUnit string  `json:"offered_unit"` // "iterations/s" (open model) or "VUs" (closed model)
	// Throughput is the good (successful) requests per second there.
	Throughput float64    `json:"throughput_rps"`
	Cause      SignalKind `json:"cause"`
	// Signals lists every sign found, earliest first; Cause is the first.
	Signals []Signal `json:"signals"`
	// Throughout is set when the load did not vary and the service was
	// saturated for the whole run: the knee lies at or below this load.
	Throughout bool `json:"saturated_throughout,omitempty"`
}

// Resource names a kind of resource in findings.
type Resource string

// Resources a finding can be about.
const (
	ResTargetCPU       Resource = "target_cpu"
	ResTargetMemory    Resource = "target_memory"
	ResHostCPU         Resource = "host_cpu"
	ResLBCPU           Resource = "lb_cpu"
	ResGeneratorCPU    Resource = "generator_cpu"
	ResGeneratorVUs    Resource = "generator_vus"
	ResGeneratorJitter Resource = "generator_jitter"
	ResUnknown         Resource = "unknown"
)

// IsGenerator reports whether r is the load generator rather than the
// system under test.
func (r Resource) IsGenerator() bool {
	return r == ResGeneratorCPU || r == ResGeneratorVUs || r == ResGeneratorJitter
}

// Finding is one resource's state in the window examined.
type Finding struct {
	Resource Resource `json:"resource"`
	Entity   string   `json:"entity,omitempty"`
	Used     float64  `json:"used"`            // cores, bytes, dropped iterations/s or ms
	Limit    float64  `json:"limit,omitempty"` // same unit; 0 when none
	// Utilization is Used/Limit (0 when there is no limit).
	Utilization float64 `json:"utilization"`
	// ThrottledRatio is the CFS throttled-periods ratio (CPU findings).
	ThrottledRatio float64 `json:"throttled_ratio,omitempty"`
	Saturated      bool    `json:"saturated"`
	Text           string  `json:"text"`
}

// Limit is the verdict: what limited the service at the knee.
type Limit struct {
	Resource Resource `json:"resource"`
	Entity   string   `json:"entity,omitempty"`
	// Generator is true when the load generator, not the system under
	// test, was the bottleneck: the knee then says nothing about the target.
	Generator bool   `json:"generator"`
	Text      string `json:"text"`
}

// Snapshot is the resource picture over one window of a run, for
// comparison tables: per-replica CPU against its limit, throttling, host
// and load-balancer CPU. Absent figures are NaN in Go and null in JSON.
type Snapshot struct {
	FromUnix, ToUnix int64
	Replicas         int
	// TargetCPU is the mean CPU per replica (cores), TargetCPUMax the
	// busiest replica's.
	TargetCPU, TargetCPUMax, TargetCPULimit float64
	TargetThrottled                         float64 // the busiest replica's throttled ratio
	TargetMemory, TargetMemoryLimit         float64 // the largest replica's working set and its limit
	HostCPU, HostCores                      float64 // the busiest host
	LBCPU, LBCPULimit, LBThrottled          float64
	GeneratorCPU, GeneratorCapacity         float64
}

// Result is the analysis of one run.
type Result struct {
	// Model is "open" (arrival rate) or "closed" (virtual users).
	Model string `json:"model"`
	// MaxSustainedRPS is the highest good throughput held for Smooth
	// seconds (a moving mean), and when that window began.
	MaxSustainedRPS  float64 `json:"max_sustained_rps"`
	MaxSustainedUnix int64   `json:"max_sustained_unix"`
	// MaxSustainedWindowS is that window's length in seconds.
	MaxSustainedWindowS int `json:"max_sustained_window_s"`
	// LoadVaried is false for constant-load runs: no knee can be placed
	// then, only "saturated throughout" or not.
	LoadVaried bool  `json:"load_varied"`
	Knee       *Knee `json:"knee"`
	// Limit is the limiting resource at the knee (nil without a knee).
	Limit *Limit `json:"limit"`
	// Findings are every resource examined at the knee, the most loaded
	// first.
	Findings []Finding `json:"findings"`
	// Peak is the resource picture around MaxSustained.
	Peak  Snapshot `json:"peak"`
	Notes []string `json:"notes"`
}
