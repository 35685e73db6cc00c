// Package compare puts runs side by side: a table of the figures that tell
// whether a change helped (max sustained throughput, latency percentiles,
// error rate, and where the resource series exist, CPU per replica against
// its limit, throttling, host and load-balancer CPU), with the difference
// and percent change of every run against the first, and charts of all
// runs overlaid on time since each run's start.
//
// The model is brink's source story: one instance reached ~1,400 TPS with
// errors, two instances ~1,860 TPS without.
package compare

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"time"

	"github.com/brinkhq/brink/internal/analysis"
)

// Run is one run to compare.
type Run struct {
	// Label names the run in tables and legends.
	Label string
	// Source says where it came from: a file path or hub URL and run id.
	Source    string
	Recording *analysis.Recording
	Analysis  analysis.Result
}

// FromFile reads a run from a JSON file: a run summary (brink run --out
// json=PATH) or a recording with resource series (as the lab writes).
func FromFile(path string) (*Run, error) {
	rec, err := analysis.ReadRecording(path)
	if err != nil {
		return nil, err
	}
	label := rec.Summary.Name
	if label == "" {
		label = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	return newRun(label, path, rec), nil
}

// FromHub fetches a run and its resource series from a hub.
func FromHub(ctx context.Context, h *analysis.Hub, id, lbService string) (*Run, error) {
	rec, err := h.Recording(ctx, id, lbService)
	if err != nil {
		return nil, err
	}
	label := rec.Summary.Name
	if label == "" {
		label = id
	}
	return newRun(label, h.URL+"/runs/"+id, rec), nil
}

// FromRecording wraps a recording made in this process (the lab).
func FromRecording(label string, rec *analysis.Recording) *Run {
	return newRun(label, "", rec)
}

func newRun(label, source string, rec *analysis.Recording) *Run {
	return &Run{Label: label, Source: source, Recording: rec, Analysis: analysis.Analyze(rec.Input(), analysis.DefaultOptions())}
}

// Better says which direction of a metric is an improvement.
type Better string

// Directions.
const (
	Higher  Better = "higher"
	Lower   Better = "lower"
	Neither Better = ""
)

// Unit says how a metric's values are shown.
type Unit string

// Units.
const (
	UnitRate    Unit = "req/s"
	UnitMs      Unit = "ms"
	UnitRatio   Unit = "ratio" // 0..1, shown as a percentage; differences in percentage points
	UnitCount   Unit = "count"
	UnitCores   Unit = "cores"
	UnitOffered Unit = "offered"
)

// Metric is one row of the comparison. Values, Diffs and Pcts are per run
// (index 0 is the baseline, whose Diff and Pct are nil); nil means not
// available.
type Metric struct {
	Key    string     `json:"key"`
	Label  string     `json:"label"`
	Unit   Unit       `json:"unit"`
	Better Better     `json:"better,omitempty"`
	Values []*float64 `json:"values"`
	Diffs  []*float64 `json:"diffs"`
	Pcts   []*float64 `json:"pct_changes"`
}

// RunInfo describes a compared run.
type RunInfo struct {
	Label     string    `json:"label"`
	Source    string    `json:"source,omitempty"`
	ID        string    `json:"id,omitempty"`
	Name      string    `json:"name,omitempty"`
	Start     time.Time `json:"start"`
	DurationS float64   `json:"duration_s"`
	Knee      string    `json:"knee"`
	Limit     string    `json:"limit,omitempty"`
	// Analysis is the run's saturation analysis.
	Analysis analysis.Result `json:"analysis"`
}

// Comparison is the whole comparison: what --json writes.
type Comparison struct {
	Runs    []RunInfo `json:"runs"`
	Metrics []Metric  `json:"metrics"`
	// runs are kept for charts.
	runs []*Run
}

func ptr(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// Compare builds the comparison of runs against the first.
func Compare(runs []*Run) *Comparison {
	c := &Comparison{runs: runs}
	for _, r := range runs {
		s := r.Recording.Summary
		info := RunInfo{Label: r.Label, Source: r.Source, ID: s.Run, Name: s.Name, Start: s.Start, DurationS: s.DurationS,
			Knee: r.Analysis.Headline(), Analysis: r.Analysis}
		if r.Analysis.Limit != nil {
			info.Limit = r.Analysis.Limit.Text
		}
		c.Runs = append(c.Runs, info)
	}
	row := func(key, label string, unit Unit, better Better, f func(*Run) float64) {
		m := Metric{Key: key, Label: label, Unit: unit, Better: better}
		any := false
		for _, r := range runs {
			v := ptr(f(r))
			any = any || v != nil
			m.Values = append(m.Values, v)
		}
		if !any {
			return
		}
		for i, v := range m.Values {
			var d, p *float64
			if base := m.Values[0]; i > 0 && base != nil && v != nil {
				d = ptr(*v - *base)
				if *base != 0 {
					p = ptr((*v - *base) / math.Abs(*base) * 100)
				}
			}
			m.Diffs = append(m.Diffs, d)
			m.Pcts = append(m.Pcts, p)
		}
		c.Metrics = append(c.Metrics, m)
	}
	nan := math.NaN()
	row("max_sustained_rps", "max sustained throughput (good)", UnitRate, Higher, func(r *Run) float64 { return r.Analysis.MaxSustainedRPS })
	row("rps", "mean throughput", UnitRate, Higher, func(r *Run) float64 { return r.Recording.Summary.RPS })
	row("p50_ms", "p50 latency", UnitMs, Lower, func(r *Run) float64 { return latency(r, "p50") })
	row("p95_ms", "p95 latency", UnitMs, Lower, func(r *Run) float64 { return latency(r, "p95") })
	row("p99_ms", "p99 latency", UnitMs, Lower, func(r *Run) float64 { return latency(r, "p99") })
	row("error_rate", "error rate", UnitRatio, Lower, func(r *Run) float64 { return r.Recording.Summary.ErrorRate })
	row("requests", "requests", UnitCount, Neither, func(r *Run) float64 { return float64(r.Recording.Summary.Requests) })
	row("failures", "failed requests", UnitCount, Lower, func(r *Run) float64 { return float64(r.Recording.Summary.Failures) })
	row("dropped", "dropped iterations", UnitCount, Lower, func(r *Run) float64 {
		if r.Analysis.Model != "open" {
			return nan
		}
		return float64(r.Recording.Summary.Dropped)
	})
	row("knee_offered", "knee (offered load)", UnitOffered, Higher, func(r *Run) float64 {
		if k := r.Analysis.Knee; k != nil && !k.Throughout {
			return k.Offered
		}
		return nan
	})
	peak := func(f func(analysis.Snapshot) float64) func(*Run) float64 {
		return func(r *Run) float64 { return f(r.Analysis.Peak) }
	}
	row("replicas", "replicas", UnitCount, Neither, peak(func(s analysis.Snapshot) float64 {
		if s.Replicas == 0 {
			return nan
		}
		return float64(s.Replicas)
	}))
	row("cpu_per_replica", "CPU per replica", UnitCores, Neither, peak(func(s analysis.Snapshot) float64 { return s.TargetCPU }))
	row("cpu_limit", "CPU limit per replica", UnitCores, Neither, peak(func(s analysis.Snapshot) float64 { return s.TargetCPULimit }))
	row("cpu_of_limit", "CPU per replica, share of limit", UnitRatio, Neither, peak(func(s analysis.Snapshot) float64 {
		return s.TargetCPU / s.TargetCPULimit
	}))
	row("throttled", "CPU throttled (busiest replica)", UnitRatio, Lower, peak(func(s analysis.Snapshot) float64 { return s.TargetThrottled }))
	row("host_cpu", "host CPU", UnitCores, Neither, peak(func(s analysis.Snapshot) float64 { return s.HostCPU }))
	row("host_cpu_share", "host CPU, share of cores", UnitRatio, Neither, peak(func(s analysis.Snapshot) float64 { return s.HostCPU / s.HostCores }))
	row("lb_cpu", "load balancer CPU", UnitCores, Neither, peak(func(s analysis.Snapshot) float64 { return s.LBCPU }))
	row("lb_cpu_of_limit", "load balancer CPU, share of limit", UnitRatio, Neither, peak(func(s analysis.Snapshot) float64 { return s.LBCPU / s.LBCPULimit }))
	row("generator_cpu", "load generator CPU", UnitCores, Neither, peak(func(s analysis.Snapshot) float64 { return s.GeneratorCPU }))
	return c
}

// latency reads a run-wide percentile; NaN for a run without requests.
func latency(r *Run, which string) float64 {
	s := r.Recording.Summary
	if s.Requests == 0 {
		return math.NaN()
	}
	switch which {
	case "p50":
		return s.LatencyMs.P50
	case "p95":
		return s.LatencyMs.P95
	}
	return s.LatencyMs.P99
}

// Validate reports runs that cannot be compared.
func Validate(runs []*Run) error {
	if len(runs) < 2 {
		return fmt.Errorf("give at least two runs to compare")
	}
	return nil
}
