package analysis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"

	"github.com/brinkhq/brink/internal/results"
)

// RangeSeries is one series of a range query's answer. Point.T is the
// evaluation time in unix seconds.
type RangeSeries struct {
	Labels map[string]string
	Points []Point
}

// Querier runs PromQL range queries: against a hub over HTTP (Hub), or
// inside the hub against its own engine and store (EngineQuerier).
type Querier interface {
	QueryRange(ctx context.Context, query string, start, end time.Time, step time.Duration) ([]RangeSeries, error)
}

// EngineQuerier runs range queries on a PromQL engine over a store: what
// the hub uses to analyze its own runs without a round trip over HTTP.
type EngineQuerier struct {
	Engine    *promql.Engine
	Queryable storage.Queryable
}

// QueryRange implements Querier.
func (e EngineQuerier) QueryRange(ctx context.Context, query string, start, end time.Time, step time.Duration) ([]RangeSeries, error) {
	q, err := e.Engine.NewRangeQuery(ctx, e.Queryable, nil, query, start, end, step)
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", query, err)
	}
	defer q.Close()
	r := q.Exec(ctx)
	if r.Err != nil {
		return nil, fmt.Errorf("query %q: %w", query, r.Err)
	}
	m, err := r.Matrix()
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", query, err)
	}
	out := make([]RangeSeries, 0, len(m))
	for _, s := range m {
		rs := RangeSeries{Labels: s.Metric.Map()}
		for _, p := range s.Floats {
			rs.Points = append(rs.Points, Point{T: p.T / 1000, V: p.F})
		}
		out = append(out, rs)
	}
	return out, nil
}

// Hub reads runs and series from a brink hub's HTTP API.
type Hub struct {
	URL  string
	HTTP *http.Client
}

// NewHub is a client for the hub at base URL (http://127.0.0.1:9339).
func NewHub(base string) *Hub {
	return &Hub{URL: strings.TrimRight(base, "/"), HTTP: &http.Client{Timeout: 60 * time.Second}}
}

// apiEnvelope is the answer of every /api/v1 endpoint.
type apiEnvelope struct {
	Status    string          `json:"status"`
	Data      json.RawMessage `json:"data"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
}

// ErrRunNotFound is returned when the hub does not know a run id.
var ErrRunNotFound = errors.New("run not found")

func (h *Hub) get(ctx context.Context, path string, params url.Values, into any) error {
	u := h.URL + path
	if len(params) > 0 {
		u += "?" + params.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("hub %s: %w", h.URL, err)
	}
	resp, err := h.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("hub %s: %w (is `brink hub` running there?)", h.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return fmt.Errorf("hub %s%s: reading the answer: %w", h.URL, path, err)
	}
	var env apiEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		return fmt.Errorf("hub %s%s: HTTP %d, not a brink hub answer: %.200s", h.URL, path, resp.StatusCode, body)
	}
	if env.Status != "success" {
		if env.ErrorType == "not_found" {
			return fmt.Errorf("hub %s%s: %w: %s", h.URL, path, ErrRunNotFound, env.Error)
		}
		return fmt.Errorf("hub %s%s: %s: %s", h.URL, path, env.ErrorType, env.Error)
	}
	if err := json.Unmarshal(env.Data, into); err != nil {
		return fmt.Errorf("hub %s%s: unexpected answer: %w", h.URL, path, err)
	}
	return nil
}

func unixParam(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)
}

// QueryRange implements Querier over /api/v1/query_range.
func (h *Hub) QueryRange(ctx context.Context, query string, start, end time.Time, step time.Duration) ([]RangeSeries, error) {
	var data struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Values [][2]any          `json:"values"`
		} `json:"result"`
	}
	params := url.Values{
		"query": {query}, "start": {unixParam(start)}, "end": {unixParam(end)},
		"step": {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)},
	}
	if err := h.get(ctx, "/api/v1/query_range", params, &data); err != nil {
		return nil, err
	}
	out := make([]RangeSeries, 0, len(data.Result))
	for _, r := range data.Result {
		rs := RangeSeries{Labels: r.Metric}
		for _, v := range r.Values {
			ts, ok1 := v[0].(float64)
			s, ok2 := v[1].(string)
			if !ok1 || !ok2 {
				return nil, fmt.Errorf("hub %s: query_range: malformed sample %v", h.URL, v)
			}
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return nil, fmt.Errorf("hub %s: query_range: sample value %q: %w", h.URL, s, err)
			}
			rs.Points = append(rs.Points, Point{T: int64(math.Round(ts)), V: f})
		}
		out = append(out, rs)
	}
	return out, nil
}

// HubRun is the part of the hub's run object the analysis uses.
type HubRun struct {
	ID            string            `json:"id"`
	Name          string            `json:"name"`
	TargetService string            `json:"target_service"`
	Labels        map[string]string `json:"labels"`
	Status        string            `json:"status"`
	StartedMs     int64             `json:"started_ms"`
	EndedMs       *int64            `json:"ended_ms"`
	LastSecondMs  *int64            `json:"last_second_ms"`
	Summary       json.RawMessage   `json:"summary"`
}

// Run fetches one run's record.
func (h *Hub) Run(ctx context.Context, id string) (*HubRun, error) {
	var r HubRun
	if err := h.get(ctx, "/api/v1/runs/"+url.PathEscape(id), nil, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// DefaultLBService is the service name the load balancer's containers
// carry (the lab names HAProxy so).
const DefaultLBService = "lb"

// Recording fetches a run and the resource series of its target service
// and load balancer over the run's time range. When the reporter never
// sent a final summary (it died), the timeline is rebuilt from the stored
// brink_* series.
func (h *Hub) Recording(ctx context.Context, id, lbService string) (*Recording, error) {
	run, err := h.Run(ctx, id)
	if err != nil {
		return nil, err
	}
	var s *results.Summary
	if len(run.Summary) > 0 && string(run.Summary) != "null" {
		s = &results.Summary{}
		if err := json.Unmarshal(run.Summary, s); err != nil {
			return nil, fmt.Errorf("hub %s: run %s: summary: %w", h.URL, id, err)
		}
	} else {
		end := time.UnixMilli(run.StartedMs).Add(time.Hour)
		switch {
		case run.EndedMs != nil:
			end = time.UnixMilli(*run.EndedMs)
		case run.LastSecondMs != nil:
			end = time.UnixMilli(*run.LastSecondMs).Add(time.Second)
		}
		s, err = TimelineFromSeries(ctx, h, id, time.UnixMilli(run.StartedMs), end)
		if err != nil {
			return nil, err
		}
	}
	if s.Run == "" {
		s.Run = run.ID
	}
	if s.Name == "" {
		s.Name = run.Name
	}
	if lbService == "" {
		lbService = DefaultLBService
	}
	rec := &Recording{Summary: s, TargetService: run.TargetService, LBService: lbService}
	if len(s.Timeline) > 0 {
		from, to := s.Timeline[0].Unix, s.Timeline[len(s.Timeline)-1].Unix
		rec.Resources, err = Resources(ctx, h, run.TargetService, lbService, from, to)
		if err != nil {
			return nil, err
		}
	}
	return rec, nil
}

// promString quotes s as a PromQL string literal.
func promString(s string) string { return strconv.Quote(s) }

// resourceQuery is one resource series and the PromQL that computes it
// per second; entity is the label naming the container or host.
type resourceQuery struct {
	name, entity, query string
}

func resourceQueries(target, lb string) []resourceQuery {
	var qs []resourceQuery
	add := func(cpu, limit, throttled, memory, memLimit, service string) {
		sel := "{service=" + promString(service) + "}"
		qs = append(qs,
			resourceQuery{cpu, "name", "sum by (name) (irate(container_cpu_usage_seconds_total" + sel + "[5s]))"},
			resourceQuery{limit, "name", "max by (name) (container_spec_cpu_quota" + sel + " / container_spec_cpu_period" + sel + ")"},
			resourceQuery{throttled, "name", "sum by (name) (irate(container_cpu_cfs_throttled_periods_total" + sel + "[5s])) / sum by (name) (irate(container_cpu_cfs_periods_total" + sel + "[5s]) > 0)"},
		)
		if memory != "" {
			qs = append(qs,
				resourceQuery{memory, "name", "max by (name) (container_memory_working_set_bytes" + sel + ")"},
				resourceQuery{memLimit, "name", "max by (name) (container_spec_memory_limit_bytes" + sel + " > 0)"},
			)
		}
	}
	if target != "" {
		add(TargetCPU, TargetCPULimit, TargetThrottled, TargetMemory, TargetMemoryLimit, target)
	}
	if lb != "" {
		add(LBCPU, LBCPULimit, LBThrottled, "", "", lb)
	}
	busy := `sum by (host) (irate(node_cpu_seconds_total{mode!~"idle|iowait"}[5s]))`
	count := `count by (host) (node_cpu_seconds_total{mode="idle"})`
	if target != "" {
		// Only the hosts that run the target or the load balancer.
		services := regexpQuote(target)
		if lb != "" {
			services += "|" + regexpQuote(lb)
		}
		on := " and on (host) group by (host) (container_cpu_usage_seconds_total{service=~" + promString(services) + "})"
		busy += on
		count += on
	}
	qs = append(qs, resourceQuery{HostCPU, "host", busy}, resourceQuery{HostCores, "host", count})
	return qs
}

func regexpQuote(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`\.+*?()|[]{}^$`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Resources fetches the resource series of a target service and a load
// balancer service (either may be empty) for the seconds [from, to] (unix,
// both included), one point per second. The store's sample at time t
// describes the second before it, so second T is read at T+1.
func Resources(ctx context.Context, q Querier, target, lb string, from, to int64) ([]Series, error) {
	start, end := time.Unix(from+1, 0), time.Unix(to+1, 0)
	var out []Series
	for _, rq := range resourceQueries(target, lb) {
		rs, err := q.QueryRange(ctx, rq.query, start, end, time.Second)
		if err != nil {
			return nil, fmt.Errorf("resource series %s: %w", rq.name, err)
		}
		for _, r := range rs {
			s := Series{Name: rq.name, Entity: r.Labels[rq.entity]}
			for _, p := range r.Points {
				s.Points = append(s.Points, Point{T: p.T - 1, V: p.V})
			}
			out = append(out, s)
		}
	}
	slices.SortStableFunc(out, func(a, b Series) int {
		return strings.Compare(a.Name+"\x00"+a.Entity, b.Name+"\x00"+b.Entity)
	})
	return out, nil
}

// TimelineFromSeries rebuilds a run's per-second timeline from the brink_*
// series the hub stored for it, for runs without a final summary. Latency
// figures are the per-second quantile gauges; totals come from the
// timeline.
func TimelineFromSeries(ctx context.Context, q Querier, runID string, start, end time.Time) (*results.Summary, error) {
	sel := "{run=" + promString(runID) + "}"
	// Counters are read raw and differenced here: a run's counters start
	// at zero, so even its first second has a value (irate would need a
	// sample before it).
	counters := map[string]string{
		"requests": "sum(brink_requests_total" + sel + ")",
		"failures": "sum(brink_failures_total" + sel + ")",
		"dropped":  "sum(brink_dropped_iterations_total" + sel + ")",
		"bytes":    "sum(brink_bytes_received_total" + sel + ")",
	}
	queries := map[string]string{
		"vus":  "sum(brink_vus" + sel + ")",
		"rate": "sum(brink_target_rate" + sel + ")",
	}
	for k, q := range counters {
		queries[k] = q
	}
	for _, qn := range []string{"0.5", "0.9", "0.95", "0.99", "1"} {
		queries["q"+qn] = "max(brink_run_latency_seconds{run=" + promString(runID) + ",quantile=" + promString(qn) + "}) * 1000"
	}
	from := start.Truncate(time.Second).Add(time.Second)
	to := end.Truncate(time.Second).Add(time.Second)
	values := map[string]map[int64]float64{}
	for key, qs := range queries {
		rs, err := q.QueryRange(ctx, qs, from, to, time.Second)
		if err != nil {
			return nil, fmt.Errorf("run %s: %s: %w", runID, key, err)
		}
		values[key] = map[int64]float64{}
		for _, r := range rs {
			for _, p := range r.Points {
				values[key][p.T-1] = p.V
			}
		}
	}
	for key := range counters {
		cum := values[key]
		per := map[int64]float64{}
		prev := 0.0
		for sec := from.Unix() - 1; sec < to.Unix(); sec++ {
			if v, ok := cum[sec]; ok {
				per[sec] = v - prev
				prev = v
			}
		}
		values[key] = per
	}
	if len(values["requests"]) == 0 && len(values["vus"]) == 0 {
		return nil, fmt.Errorf("run %s: the hub holds no brink_* series for it between %s and %s", runID,
			start.Format(time.RFC3339), end.Format(time.RFC3339))
	}
	s := &results.Summary{Run: runID, Start: start, End: end, DurationS: end.Sub(start).Seconds()}
	// Seconds that began before the run ended: a gauge's last value would
	// otherwise run on past the end.
	last := end.Unix()
	if end.After(time.Unix(last, 0)) {
		last++
	}
	for sec := from.Unix() - 1; sec < last; sec++ {
		_, hasReq := values["requests"][sec]
		_, hasVUs := values["vus"][sec]
		if !hasReq && !hasVUs {
			continue
		}
		v := func(k string) float64 { return values[k][sec] }
		p := results.TimelinePoint{
			T: sec - start.Unix(), Unix: sec, VUs: int(math.Round(v("vus"))), TargetRate: v("rate"),
			Requests: int64(math.Round(v("requests"))), Failures: int64(math.Round(v("failures"))),
			Dropped: int64(math.Round(v("dropped"))), BytesIn: int64(math.Round(v("bytes"))),
			P50Ms: v("q0.5"), P90Ms: v("q0.9"), P95Ms: v("q0.95"), P99Ms: v("q0.99"), MaxMs: v("q1"),
		}
		p.RPS = float64(p.Requests)
		s.Timeline = append(s.Timeline, p)
		s.Requests += p.Requests
		s.Failures += p.Failures
		s.Dropped += p.Dropped
		s.MaxVUs = max(s.MaxVUs, p.VUs)
	}
	s.Successes = s.Requests - s.Failures
	if s.Requests > 0 {
		s.ErrorRate = float64(s.Failures) / float64(s.Requests)
	}
	if s.DurationS > 0 {
		s.RPS = float64(s.Requests) / s.DurationS
	}
	return s, nil
}

// RunOptions say where a run's resources are and what the generator
// measured about itself.
type RunOptions struct {
	TargetService string
	LBService     string // "" = DefaultLBService
	// Generator holds the generator's own series (GeneratorSampler).
	Generator            []Series
	GeneratorJitterP99Ms float64
	Options              Options // zero = DefaultOptions
}

// ForRun analyzes a finished (or running) run against the resource series
// a hub holds: the one call `brink run --hub` makes after a run, and the
// hub makes for its run page (with an EngineQuerier).
func ForRun(ctx context.Context, q Querier, s *results.Summary, o RunOptions) (*Recording, Result, error) {
	lb := o.LBService
	if lb == "" {
		lb = DefaultLBService
	}
	rec := &Recording{Summary: s, TargetService: o.TargetService, LBService: lb, GeneratorJitterP99Ms: o.GeneratorJitterP99Ms}
	if len(s.Timeline) > 0 {
		from, to := s.Timeline[0].Unix, s.Timeline[len(s.Timeline)-1].Unix
		rs, err := Resources(ctx, q, o.TargetService, lb, from, to)
		if err != nil {
			return rec, Result{}, err
		}
		rec.Resources = append(rs, o.Generator...)
	}
	return rec, Analyze(rec.Input(), o.Options), nil
}

// Replicas is how many containers of service the hub sees at t (zero: now):
// the replica count behind a capacity-per-replica figure.
func (h *Hub) Replicas(ctx context.Context, service string, t time.Time) (int, error) {
	var data struct {
		Services []struct {
			Service  string `json:"service"`
			Replicas int    `json:"replicas"`
		} `json:"services"`
	}
	params := url.Values{}
	if !t.IsZero() {
		params.Set("time", unixParam(t))
	}
	if err := h.get(ctx, "/api/v1/services", params, &data); err != nil {
		return 0, err
	}
	var known []string
	for _, s := range data.Services {
		if s.Service == service {
			return s.Replicas, nil
		}
		known = append(known, s.Service)
	}
	return 0, fmt.Errorf("hub %s: no service %q is running (services seen: %s); check --service and that brink monitor runs on its hosts",
		h.URL, service, strings.Join(known, ", "))
}
