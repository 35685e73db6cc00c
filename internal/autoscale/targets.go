package autoscale

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/model"
)

// promDuration renders d as PromQL writes durations ("15s", "1m30s").
func promDuration(d time.Duration) string {
	if d < time.Second {
		d = time.Second
	}
	return model.Duration(d.Round(time.Second)).String()
}

// quoteLabel makes s a PromQL string literal.
func quoteLabel(s string) string { return strconv.Quote(s) }

// Queries of the built-in targets, for one service over one window. They
// are windowed, so data older than the window is simply absent: stale data
// reads as missing, never as a value.
func cpuUsageQuery(service string, w time.Duration) string {
	return fmt.Sprintf(`sum by (host, name) (rate(container_cpu_usage_seconds_total{service=%s}[%s]))`, quoteLabel(service), promDuration(w))
}

func cpuLimitQuery(service string, w time.Duration) string {
	sel := "{service=" + quoteLabel(service) + "}"
	return fmt.Sprintf(`max by (host, name) (max_over_time(container_spec_cpu_quota%s[%s]) / max_over_time(container_spec_cpu_period%s[%s]))`,
		sel, promDuration(w), sel, promDuration(w))
}

func rpsQuery(service string, w time.Duration) string {
	return fmt.Sprintf(`sum(rate(brink_requests_total{service=%s}[%s]))`, quoteLabel(service), promDuration(w))
}

func latencyQuery(service string, w time.Duration) string {
	return fmt.Sprintf(`max(max_over_time(brink_run_latency_seconds{service=%s,quantile="0.95"}[%s]))`, quoteLabel(service), promDuration(w))
}

// counterRing keeps recent samples of a counter (the load balancer's
// request count) to compute its rate over a window.
type counterRing struct {
	mu      sync.Mutex
	samples []counterSample
	lastErr error
	max     time.Duration
}

type counterSample struct {
	t time.Time
	v int64
}

func (c *counterRing) add(t time.Time, v int64, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lastErr = err
	if err != nil {
		return
	}
	if n := len(c.samples); n > 0 && v < c.samples[n-1].v {
		c.samples = c.samples[:0] // counter reset: the load balancer restarted
	}
	c.samples = append(c.samples, counterSample{t, v})
	i := 0
	for i < len(c.samples)-2 && t.Sub(c.samples[i].t) > c.max {
		i++
	}
	c.samples = c.samples[i:]
}

// rate is the per-second increase over the last window, from the oldest
// sample inside it to the newest. The newest sample must be recent (two
// ticks) and the span at least half the window.
func (c *counterRing) rate(now time.Time, window, tick time.Duration) (float64, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.samples)
	if n == 0 || now.Sub(c.samples[n-1].t) > 2*tick+time.Second {
		if c.lastErr != nil {
			return 0, "load balancer statistics unavailable: " + c.lastErr.Error()
		}
		return 0, "no recent load balancer statistics"
	}
	last := c.samples[n-1]
	first := last
	for i := n - 1; i >= 0; i-- {
		if last.t.Sub(c.samples[i].t) > window+tick/2 {
			break
		}
		first = c.samples[i]
	}
	span := last.t.Sub(first.t)
	if span < window/2 || span <= 0 {
		return 0, fmt.Sprintf("load balancer statistics cover %s so far, need %s", span.Round(100*time.Millisecond), window/2)
	}
	return float64(last.v-first.v) / span.Seconds(), ""
}

// readings measures every target of s over window.
func (st *serviceState) readings(ctx context.Context, src MetricSource, now time.Time, window time.Duration, fast bool, current int) []Reading {
	out := make([]Reading, 0, len(st.targets))
	for _, t := range st.targets {
		r := Reading{Target: t, Window: window}
		switch t.Kind {
		case CPU:
			r = st.cpuReading(ctx, src, now, window, t)
		case RPS:
			r = st.rpsReading(ctx, src, now, window, t, current)
		case Latency:
			if src == nil {
				r.Missing = "no metric source"
				break
			}
			ss, err := src.Query(ctx, latencyQuery(st.policy.Name, window), now)
			switch {
			case err != nil:
				r.Missing = "query failed: " + err.Error()
			case len(ss) == 0 || math.IsNaN(ss[0].Value):
				r.Missing = fmt.Sprintf("no brink_run_latency_seconds for service=%q over %s (no load test reporting?)", st.policy.Name, window)
			default:
				r.Value = ss[0].Value
			}
		case PromQL:
			r.Window = 0
			q := t.Query
			if fast && t.FastQuery != "" {
				q = t.FastQuery
			}
			if src == nil {
				r.Missing = "no metric source"
				break
			}
			ss, err := src.Query(ctx, q, now)
			switch {
			case err != nil:
				r.Missing = "query failed: " + err.Error()
			case len(ss) == 0:
				r.Missing = "query returned no data"
			default:
				v := math.Inf(-1)
				for _, s := range ss {
					if !math.IsNaN(s.Value) {
						v = math.Max(v, s.Value)
					}
				}
				if math.IsInf(v, -1) {
					r.Missing = "query returned only NaN"
					break
				}
				if len(ss) > 1 {
					r.Note = fmt.Sprintf("max of %d series", len(ss))
				}
				if t.PerReplica {
					if current <= 0 {
						r.Missing = "no replicas to divide by"
						break
					}
					v /= float64(current)
				}
				r.Value = v
			}
		}
		out = append(out, r)
	}
	return out
}

func (st *serviceState) cpuReading(ctx context.Context, src MetricSource, now time.Time, window time.Duration, t Target) Reading {
	r := Reading{Target: t, Window: window}
	if src == nil {
		r.Missing = "no metric source"
		return r
	}
	usage, err := src.Query(ctx, cpuUsageQuery(st.policy.Name, window), now)
	if err != nil {
		r.Missing = "query failed: " + err.Error()
		return r
	}
	if len(usage) == 0 {
		r.Missing = fmt.Sprintf("no container_cpu_usage_seconds_total for service=%q over %s (is brink monitor writing to the hub?)", st.policy.Name, window)
		return r
	}
	limits, err := src.Query(ctx, cpuLimitQuery(st.policy.Name, window), now)
	if err != nil {
		r.Missing = "query failed: " + err.Error()
		return r
	}
	limitOf := map[string]float64{}
	for _, l := range limits {
		limitOf[l.Labels["host"]+"\x00"+l.Labels["name"]] = l.Value
	}
	var used, limit float64
	var without []string
	for _, u := range usage {
		key := u.Labels["host"] + "\x00" + u.Labels["name"]
		l, ok := limitOf[key]
		if !ok || l <= 0 || math.IsNaN(l) || math.IsInf(l, 0) {
			without = append(without, u.Labels["name"])
			continue
		}
		used += u.Value
		limit += l
		r.Reporting++
	}
	if r.Reporting == 0 {
		r.Missing = fmt.Sprintf("containers %s of service %q have no CPU limit; a cpu target is a fraction of the limit (docker --cpus)",
			strings.Join(without, ", "), st.policy.Name)
		return r
	}
	r.Value = used / limit
	return r
}

func (st *serviceState) rpsReading(ctx context.Context, src MetricSource, now time.Time, window time.Duration, t Target, current int) Reading {
	r := Reading{Target: t, Window: window}
	if t.FromRun != "" {
		if st.capacityErr != "" {
			r.Missing = st.capacityErr
			return r
		}
		r.Note = st.capacityNote
	}
	var total float64
	if st.lbRequests != nil {
		var why string
		total, why = st.lbRequests.rate(now, window, st.tick())
		if why != "" {
			r.Missing = why
			return r
		}
	} else {
		if src == nil {
			r.Missing = "no metric source"
			return r
		}
		ss, err := src.Query(ctx, rpsQuery(st.policy.Name, window), now)
		if err != nil {
			r.Missing = "query failed: " + err.Error()
			return r
		}
		if len(ss) == 0 {
			r.Missing = fmt.Sprintf("no brink_requests_total for service=%q over %s", st.policy.Name, window)
			return r
		}
		total = ss[0].Value
	}
	if current <= 0 {
		r.Missing = "no replicas to divide the request rate by"
		return r
	}
	r.Value = total / float64(current)
	return r
}
