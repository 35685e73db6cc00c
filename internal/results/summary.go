package results

import (
	"time"
)

// Latency is a latency distribution in milliseconds, as JSON reports show it.
type Latency struct {
	Min  float64 `json:"min"`
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Max  float64 `json:"max"`
}

// LatencyOf summarizes a histogram.
func LatencyOf(h interface {
	Count() int64
	Min() int64
	Max() int64
	Mean() float64
	Quantile(float64) int64
}) Latency {
	if h.Count() == 0 {
		return Latency{}
	}
	return Latency{
		Min: Ms(h.Min()), Mean: h.Mean() / 1000,
		P50: Ms(h.Quantile(0.5)), P90: Ms(h.Quantile(0.9)), P95: Ms(h.Quantile(0.95)),
		P99: Ms(h.Quantile(0.99)), P999: Ms(h.Quantile(0.999)), Max: Ms(h.Max()),
	}
}

// NameSummary is the summary of one request name (or of all of them).
type NameSummary struct {
	Requests       int64            `json:"requests"`
	Successes      int64            `json:"successes"`
	Failures       int64            `json:"failures"`
	FailuresByKind map[string]int64 `json:"failures_by_kind"`
	ErrorRate      float64          `json:"error_rate"`
	RPS            float64          `json:"rps"`
	BytesIn        int64            `json:"bytes_in"`
	BytesOut       int64            `json:"bytes_out"`
	LatencyMs      Latency          `json:"latency_ms"`
	TTFBMs         Latency          `json:"ttfb_ms"`
}

// TimelinePoint is one second of the run.
type TimelinePoint struct {
	T          int64   `json:"t"`    // seconds since the run started
	Unix       int64   `json:"unix"` // wall-clock unix seconds
	VUs        int     `json:"vus"`
	TargetRate float64 `json:"target_rate"`
	Requests   int64   `json:"requests"`
	RPS        float64 `json:"rps"`
	Failures   int64   `json:"failures"`
	Dropped    int64   `json:"dropped"`
	P50Ms      float64 `json:"p50_ms"`
	P90Ms      float64 `json:"p90_ms"`
	P95Ms      float64 `json:"p95_ms"`
	P99Ms      float64 `json:"p99_ms"`
	MaxMs      float64 `json:"max_ms"`
	BytesIn    int64   `json:"bytes_in"`
}

// ThresholdResult is the outcome of one threshold.
type ThresholdResult struct {
	Expr   string  `json:"expr"`
	Metric string  `json:"metric"`
	Actual float64 `json:"actual"`
	Limit  float64 `json:"limit"`
	OK     bool    `json:"ok"`
}

// Summary is the whole run: the JSON written by `--out json=PATH` and kept by
// the hub for each run.
type Summary struct {
	Run         string    `json:"run,omitempty"`
	Name        string    `json:"name,omitempty"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
	DurationS   float64   `json:"duration_s"`
	Aborted     bool      `json:"aborted"`
	NameSummary           // overall figures inline: requests, failures, rps, latency_ms, ...
	Iterations  int64     `json:"iterations"`
	Dropped     int64     `json:"dropped"`
	MaxVUs      int       `json:"max_vus"`
	// ScheduleJitterMs is how late the open model started iterations
	// against their schedule (nil for the closed model). A large value means
	// the generator, not the target, was the bottleneck.
	ScheduleJitterMs *Latency `json:"schedule_jitter_ms,omitempty"`
	// TargetService is the service under test, as the monitor names it.
	TargetService string                 `json:"target_service,omitempty"`
	ByName        map[string]NameSummary `json:"by_name"`
	Timeline      []TimelinePoint        `json:"timeline"`
	Thresholds    []ThresholdResult      `json:"thresholds"`
	ThresholdOK   bool                   `json:"thresholds_ok"`
	// Agents is how the agents of a distributed run did (nil for a local
	// run).
	Agents *AgentsSummary `json:"agents,omitempty"`
}

// AgentsSummary is how the agents of a run across agents did: the hub
// writes it into the run's summary (GET /api/v1/runs/<id>), and `brink run
// --agents` into its --out json.
type AgentsSummary struct {
	Policy string `json:"on_agent_loss"`
	// StartSkewMs is the time between the first and the last agent's first
	// iteration (0 when it was not measured), on clocks synchronized to
	// within ClockUncertaintyMs.
	StartSkewMs        float64 `json:"start_skew_ms"`
	ClockUncertaintyMs float64 `json:"clock_uncertainty_ms"`
	// Complete is false when the hub misses seconds an agent produced.
	Complete bool           `json:"complete"`
	Agents   []AgentSummary `json:"agents"`
}

// AgentSummary is one agent's part in a run across agents.
type AgentSummary struct {
	Name     string `json:"name"`
	Hostname string `json:"hostname"`
	Version  string `json:"version"`
	// done, failed or lost
	Outcome   string `json:"outcome"`
	LoadMoved bool   `json:"load_moved"`
	// Seconds the agent produced, and those the hub holds.
	Produced         uint64 `json:"produced_seconds"`
	Held             uint64 `json:"held_seconds"`
	Saturated        bool   `json:"saturated"`
	SaturationReason string `json:"saturation_reason,omitempty"`
}

// Accumulator folds a stream of complete (already merged) Seconds into a
// Summary. Memory is one histogram pair per request name plus one small
// timeline point per second.
type Accumulator struct {
	start, end        time.Time
	byName            map[string]*Stats
	overall           *Stats
	iterations, drops int64
	maxVUs            int
	timeline          []TimelinePoint
}

// NewAccumulator starts a summary for a run that began at start.
func NewAccumulator(start time.Time) *Accumulator {
	return &Accumulator{start: start, end: start, byName: map[string]*Stats{}, overall: NewStats()}
}

// Add folds one second in. Seconds must arrive in order, each once.
func (a *Accumulator) Add(s *Second) {
	total := NewStats()
	for name, st := range s.ByName {
		acc := a.byName[name]
		if acc == nil {
			acc = NewStats()
			a.byName[name] = acc
		}
		acc.Merge(st)
		total.Merge(st)
	}
	a.overall.Merge(total)
	a.iterations += s.Iterations
	a.drops += s.Dropped
	a.maxVUs = max(a.maxVUs, s.VUs)
	if end := time.Unix(s.T+1, 0); end.After(a.end) {
		a.end = end
	}
	a.timeline = append(a.timeline, TimelinePoint{
		T: s.T - a.start.Unix(), Unix: s.T, VUs: s.VUs, TargetRate: s.TargetRate,
		Requests: total.Requests, RPS: float64(total.Requests), Failures: total.FailureCount(),
		Dropped: s.Dropped,
		P50Ms:   Ms(total.Latency.Quantile(0.5)), P90Ms: Ms(total.Latency.Quantile(0.9)),
		P95Ms: Ms(total.Latency.Quantile(0.95)), P99Ms: Ms(total.Latency.Quantile(0.99)),
		MaxMs: Ms(total.Latency.Max()), BytesIn: total.BytesIn,
	})
}

// SetEnd records when the run really ended (it may end mid-second).
func (a *Accumulator) SetEnd(end time.Time) { a.end = end }

// Overall returns the merged results of every name so far (not a copy).
func (a *Accumulator) Overall() *Stats { return a.overall }

// Summary computes the summary of everything added so far.
func (a *Accumulator) Summary() Summary {
	dur := a.end.Sub(a.start).Seconds()
	s := Summary{
		Start: a.start, End: a.end, DurationS: dur,
		NameSummary: nameSummary(a.overall, dur),
		Iterations:  a.iterations, Dropped: a.drops, MaxVUs: a.maxVUs,
		ByName:   map[string]NameSummary{},
		Timeline: append([]TimelinePoint(nil), a.timeline...),
	}
	for name, st := range a.byName {
		s.ByName[name] = nameSummary(st, dur)
	}
	return s
}

func nameSummary(st *Stats, durS float64) NameSummary {
	n := NameSummary{
		Requests: st.Requests, Successes: st.Successes(), Failures: st.FailureCount(),
		FailuresByKind: map[string]int64{},
		BytesIn:        st.BytesIn, BytesOut: st.BytesOut,
		LatencyMs: LatencyOf(st.Latency), TTFBMs: LatencyOf(st.TTFB),
	}
	for k, c := range st.Failures {
		if c > 0 {
			n.FailuresByKind[FailureKind(k).String()] = c
		}
	}
	if st.Requests > 0 {
		n.ErrorRate = float64(n.Failures) / float64(st.Requests)
	}
	if durS > 0 {
		n.RPS = float64(st.Requests) / durS
	}
	return n
}
