package autoscale

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
)

// Sample is one element of an instant query's answer.
type Sample struct {
	Labels map[string]string
	Value  float64
}

// MetricSource answers PromQL instant queries. The hub passes its own
// engine and store (NewPromQLSource); a remote Prometheus-compatible API
// works through NewHTTPSource.
type MetricSource interface {
	Query(ctx context.Context, query string, at time.Time) ([]Sample, error)
}

// PromQLSource evaluates queries with a Prometheus PromQL engine over a
// storage.Queryable (the hub's store, or a TSDB).
type PromQLSource struct {
	Engine    *promql.Engine
	Queryable storage.Queryable
}

// NewPromQLSource returns a source over q. engine nil means an engine
// with Prometheus' defaults (2 min timeout, 50 M samples).
func NewPromQLSource(engine *promql.Engine, q storage.Queryable) *PromQLSource {
	if engine == nil {
		engine = promql.NewEngine(promql.EngineOpts{MaxSamples: 50_000_000, Timeout: 2 * time.Minute,
			LookbackDelta: 5 * time.Minute, EnableAtModifier: true, EnableNegativeOffset: true})
	}
	return &PromQLSource{Engine: engine, Queryable: q}
}

// Query evaluates query at the instant at.
func (s *PromQLSource) Query(ctx context.Context, query string, at time.Time) ([]Sample, error) {
	q, err := s.Engine.NewInstantQuery(ctx, s.Queryable, nil, query, at)
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", query, err)
	}
	defer q.Close()
	res := q.Exec(ctx)
	if res.Err != nil {
		return nil, fmt.Errorf("query %q: %w", query, res.Err)
	}
	switch v := res.Value.(type) {
	case promql.Vector:
		out := make([]Sample, 0, len(v))
		for _, smp := range v {
			if smp.H != nil {
				continue
			}
			out = append(out, Sample{Labels: smp.Metric.Map(), Value: smp.F})
		}
		return out, nil
	case promql.Scalar:
		return []Sample{{Labels: map[string]string{}, Value: v.V}}, nil
	}
	return nil, fmt.Errorf("query %q: answer is a %s, want an instant vector or a scalar", query, res.Value.Type())
}

// HTTPSource queries a Prometheus-compatible HTTP API: the hub's, or
// Prometheus, VictoriaMetrics, Thanos, Mimir.
type HTTPSource struct {
	base string
	hc   *http.Client
}

// NewHTTPSource queries base (e.g. http://127.0.0.1:9339). hc nil means
// a client with a 10 s timeout.
func NewHTTPSource(base string, hc *http.Client) *HTTPSource {
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	return &HTTPSource{base: strings.TrimRight(base, "/"), hc: hc}
}

// Query runs GET /api/v1/query.
func (s *HTTPSource) Query(ctx context.Context, query string, at time.Time) ([]Sample, error) {
	u := s.base + "/api/v1/query?" + url.Values{
		"query": {query},
		"time":  {strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', 3, 64)},
	}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", s.base, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("query %s: read answer: %w", s.base, err)
	}
	var env struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("query %s: HTTP %d, answer is not the Prometheus API's JSON: %w", s.base, resp.StatusCode, err)
	}
	if env.Status != "success" {
		return nil, fmt.Errorf("query %q at %s: HTTP %d: %s", query, s.base, resp.StatusCode, env.Error)
	}
	parse := func(v []any) (float64, error) {
		if len(v) != 2 {
			return 0, fmt.Errorf("value %v is not [time, \"number\"]", v)
		}
		str, _ := v[1].(string)
		switch str {
		case "NaN":
			return math.NaN(), nil
		case "+Inf":
			return math.Inf(1), nil
		case "-Inf":
			return math.Inf(-1), nil
		}
		return strconv.ParseFloat(str, 64)
	}
	switch env.Data.ResultType {
	case "vector":
		var vec []struct {
			Metric map[string]string `json:"metric"`
			Value  []any             `json:"value"`
		}
		if err := json.Unmarshal(env.Data.Result, &vec); err != nil {
			return nil, fmt.Errorf("query %s: decode vector: %w", s.base, err)
		}
		out := make([]Sample, 0, len(vec))
		for _, e := range vec {
			if e.Value == nil {
				continue // native histogram
			}
			f, err := parse(e.Value)
			if err != nil {
				return nil, fmt.Errorf("query %s: %w", s.base, err)
			}
			out = append(out, Sample{Labels: e.Metric, Value: f})
		}
		return out, nil
	case "scalar":
		var v []any
		if err := json.Unmarshal(env.Data.Result, &v); err != nil {
			return nil, fmt.Errorf("query %s: decode scalar: %w", s.base, err)
		}
		f, err := parse(v)
		if err != nil {
			return nil, fmt.Errorf("query %s: %w", s.base, err)
		}
		return []Sample{{Labels: map[string]string{}, Value: f}}, nil
	}
	return nil, fmt.Errorf("query %q: answer is a %s, want an instant vector or a scalar", query, env.Data.ResultType)
}

// CapacitySource gives the capacity a find-limit run measured: the highest
// sustainable requests per second of one replica. The hub implements it
// from its run store.
type CapacitySource interface {
	Capacity(ctx context.Context, run string) (perReplicaRPS float64, err error)
}

// Event is something the autoscaler did or saw: a decision with its
// inputs and reason, a replica joining or leaving the load balancer, a
// fault and its recovery.
type Event struct {
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"`
	Service string    `json:"service"`
	Message string    `json:"message"`
	From    int       `json:"from,omitempty"`
	To      int       `json:"to,omitempty"`
	DryRun  bool      `json:"dry_run,omitempty"`
	// Decision is set for decision events: every target's value, target and
	// proposal, and what held the recommendation back.
	Decision *Decision `json:"decision,omitempty"`
}

// Event kinds.
const (
	KindScaleOut         = "scale_out"         // replicas were added
	KindScaleIn          = "scale_in"          // replicas were removed
	KindScaleRecommended = "scale_recommended" // dry run: what would have been done
	KindScaleHeld        = "scale_held"        // the targets asked for a change that a rule held back
	KindScaleFailed      = "scale_failed"      // the actuator or the load balancer refused
	KindReplicaServing   = "replica_serving"   // a replica passed its health check and joined the load balancer
	KindReplicaRemoved   = "replica_removed"   // a replica was drained and left the load balancer
	KindReplicaUnhealthy = "replica_unhealthy" // a replica did not become healthy within start_timeout
	KindFault            = "autoscale_fault"   // metrics missing, actuator or load balancer unreachable
	KindRecovered        = "autoscale_recovered"
	KindPolicyLoaded     = "autoscale_policy_loaded"
	KindPolicyInvalid    = "autoscale_policy_invalid"
)

// Fields flattens the event for event stores keyed by strings.
func (e Event) Fields() map[string]string {
	f := map[string]string{}
	if e.From != 0 || e.To != 0 {
		f["from"], f["to"] = strconv.Itoa(e.From), strconv.Itoa(e.To)
	}
	if e.DryRun {
		f["dry_run"] = "true"
	}
	if d := e.Decision; d != nil {
		f["recommended"] = strconv.Itoa(d.Recommended)
		if d.Limited != "" {
			f["limited"] = d.Limited
		}
		if d.Fast {
			f["fast_path"] = "true"
		}
		for _, t := range d.Targets {
			if t.Missing != "" {
				f["target."+t.Name] = "missing: " + t.Missing
			} else {
				f["target."+t.Name] = fmt.Sprintf("value=%g target=%g proposed=%d", t.Value, t.Target, t.Proposed)
			}
		}
	}
	return f
}

// EventSink receives events; the hub adapts its event log to it.
type EventSink interface {
	Record(Event)
}

// EventFunc adapts a function to EventSink.
type EventFunc func(Event)

// Record calls f.
func (f EventFunc) Record(e Event) { f(e) }
