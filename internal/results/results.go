// Package results is the data model of load-test results, shared by the
// load engine, the hub, agents and reports.
//
// The unit of exchange is a Second: everything one engine measured during
// one wall-clock second, per request name, with HDR histograms. Seconds from
// several engines (agents) for the same instant merge exactly, and an
// Accumulator folds a stream of merged Seconds into a Summary. No raw
// samples are ever kept, so memory stays flat however long a run lasts.
//
// In the hub's time-series store, load results use these series (labels:
// run, name = request name, plus service/host where known):
//
//	brink_requests_total{run,name}                  counter: completed requests
//	brink_failures_total{run,name,kind}             counter: failed requests by FailureKind
//	brink_bytes_received_total{run,name}            counter
//	brink_bytes_sent_total{run,name}                counter
//	brink_latency_seconds{run,name,quantile}        gauge: that second's quantile (0.5 0.9 0.95 0.99 1)
//	brink_run_latency_seconds{run,quantile}         gauge: the same over all names
//	brink_vus{run}                                  gauge: active virtual users
//	brink_target_rate{run}                          gauge: scheduled iterations/s (open model)
//	brink_iterations_total{run}                     counter: completed iterations
//	brink_dropped_iterations_total{run}             counter: iterations the open model could not start
//
// Exact percentiles over any window come from the stored per-second
// histograms, not from these gauges.
package results

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/brinkhq/brink/internal/histogram"
)

// FailureKind classifies a failed request.
type FailureKind uint8

// Failure kinds. The string forms are stable: they appear in JSON, CSV and
// the store's `kind` label.
const (
	ConnectRefused FailureKind = iota // nothing listening / connection refused
	Timeout                           // request or connect timeout
	Reset                             // connection reset or closed mid-response
	TLS                               // TLS handshake or certificate failure
	HTTP4xx                           // response status 400-499 (when not expected by a check)
	HTTP5xx                           // response status 500-599
	CheckFailed                       // a check on status, header or body failed
	OtherError                        // anything else (DNS, malformed response, ...)
	NumFailureKinds
)

var failureKindNames = [NumFailureKinds]string{
	"connect_refused", "timeout", "reset", "tls", "http_4xx", "http_5xx", "check_failed", "other",
}

func (k FailureKind) String() string {
	if k < NumFailureKinds {
		return failureKindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// ParseFailureKind is the inverse of String.
func ParseFailureKind(s string) (FailureKind, error) {
	for i, n := range failureKindNames {
		if n == s {
			return FailureKind(i), nil
		}
	}
	return 0, fmt.Errorf("unknown failure kind %q (want one of %v)", s, failureKindNames)
}

// Stats are the results for one request name (or all names) over an interval.
type Stats struct {
	Requests int64                  // completed requests, successful or not
	Failures [NumFailureKinds]int64 // failed requests by kind; a request fails at most once
	BytesIn  int64                  // response bytes read (headers and body)
	BytesOut int64                  // request bytes written
	Latency  *histogram.Histogram   // µs, from the (scheduled) send time to the end of the body
	TTFB     *histogram.Histogram   // µs, from the send time to the first response byte
}

// NewStats returns empty Stats.
func NewStats() *Stats {
	return &Stats{Latency: histogram.New(), TTFB: histogram.New()}
}

// Merge adds o into s exactly.
func (s *Stats) Merge(o *Stats) {
	s.Requests += o.Requests
	for i := range s.Failures {
		s.Failures[i] += o.Failures[i]
	}
	s.BytesIn += o.BytesIn
	s.BytesOut += o.BytesOut
	s.Latency.Merge(o.Latency)
	s.TTFB.Merge(o.TTFB)
}

// Reset empties s for reuse.
func (s *Stats) Reset() {
	s.Requests, s.BytesIn, s.BytesOut = 0, 0, 0
	s.Failures = [NumFailureKinds]int64{}
	s.Latency.Reset()
	s.TTFB.Reset()
}

// Clone returns an independent copy.
func (s *Stats) Clone() *Stats {
	c := NewStats()
	c.Merge(s)
	return c
}

// FailureCount is the number of failed requests.
func (s *Stats) FailureCount() int64 {
	var n int64
	for _, f := range s.Failures {
		n += f
	}
	return n
}

// Successes is the number of requests that did not fail.
func (s *Stats) Successes() int64 { return s.Requests - s.FailureCount() }

// Second is what one engine (or the merge of several) measured during one
// wall-clock second.
type Second struct {
	T          int64             // unix seconds at the start of the second
	VUs        int               // virtual users active at the end of the second
	TargetRate float64           // scheduled iterations per second (open model), 0 for closed
	Iterations int64             // iterations completed
	Dropped    int64             // iterations the open model could not start (no free VU)
	ByName     map[string]*Stats // per request name
}

// NewSecond returns an empty Second for unix time t.
func NewSecond(t int64) *Second { return &Second{T: t, ByName: map[string]*Stats{}} }

// Stats returns the Stats for name, creating them.
func (s *Second) Stats(name string) *Stats {
	st := s.ByName[name]
	if st == nil {
		st = NewStats()
		s.ByName[name] = st
	}
	return st
}

// Total merges all names into one Stats.
func (s *Second) Total() *Stats {
	t := NewStats()
	for _, st := range s.ByName {
		t.Merge(st)
	}
	return t
}

// Merge adds another source's measurement of the same second. VUs and rates
// add up because each source runs its own share.
func (s *Second) Merge(o *Second) {
	s.VUs += o.VUs
	s.TargetRate += o.TargetRate
	s.Iterations += o.Iterations
	s.Dropped += o.Dropped
	for name, st := range o.ByName {
		s.Stats(name).Merge(st)
	}
}

// Names lists request names in sorted order.
func (s *Second) Names() []string { return slices.Sorted(maps.Keys(s.ByName)) }

// Quantiles reported everywhere (summary, timeline, store).
var Quantiles = []float64{0.5, 0.9, 0.95, 0.99, 1}

// Ms converts microseconds to milliseconds.
func Ms(us int64) float64 { return float64(us) / 1000 }

// Duration converts microseconds to a time.Duration.
func Duration(us int64) time.Duration { return time.Duration(us) * time.Microsecond }
