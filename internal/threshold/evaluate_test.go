package threshold

import (
	"testing"
	"time"

	"github.com/brinkhq/brink/internal/results"
)

// summaryOf builds a real Summary through results.Accumulator: two seconds
// of "login" (fast, with two timeouts) and "search" (slow), plus dropped
// iterations.
func summaryOf(t *testing.T) *results.Summary {
	t.Helper()
	start := time.Unix(1_700_000_000, 0)
	acc := results.NewAccumulator(start)
	for i := int64(0); i < 2; i++ {
		sec := results.NewSecond(start.Unix() + i)
		sec.VUs = 10
		sec.Iterations = 100
		sec.Dropped = 3
		login := sec.Stats("login")
		for v := int64(1); v <= 100; v++ {
			login.Latency.Record(v * 1000) // 1..100 ms
			login.TTFB.Record(v * 500)
		}
		login.Requests = 100
		login.Failures[results.Timeout] = 1
		search := sec.Stats("search")
		for v := int64(1); v <= 50; v++ {
			search.Latency.Record(v * 20_000) // 20..1000 ms
			search.TTFB.Record(v * 1000)
		}
		search.Requests = 50
		acc.Add(sec)
	}
	s := acc.Summary()
	return &s
}

func TestEvaluate(t *testing.T) {
	s := summaryOf(t)
	tests := []struct {
		expr   string
		actual float64
		ok     bool
	}{
		// Overall: 300 requests in 2 s, 2 failures, latencies merged.
		{"rps>100", 150, true},
		{"rps>=151", 150, false},
		{"requests==300", 300, true},
		{"failures<2", 2, false},
		{"failures<=2", 2, true},
		{"failures{kind=timeout}==2", 2, true},
		{"failures{kind=reset}==0", 0, true},
		{"error_rate<1%", 2.0 / 300, true},
		{"error_rate<0.5%", 2.0 / 300, false},
		{"dropped==0", 6, false},
		{"dropped<=6", 6, true},
		{"iterations>=200", 200, true},
		{"max<=1s", 1000, true},
		{"max<1s", 1000, false},
		{"min>=1ms", 1, true},
		// Scoped to one name.
		{"p50{name=login}<51ms", 50, true},
		{"p95{name=login}<95ms", 95, false},
		{"p99{name=login}<=100ms", 99, true},
		{"p99.9{name=login}>99ms", 100, true},
		{"mean{name=login}==50.5ms", 50.5, true},
		{"ttfb_p50{name=login}<26ms", 25, true},
		{"p50{name=search}>=500ms", 500, true},
		{"rps{name=search}==50", 50, true},
		{"requests{name=search}>99", 100, true},
		{"error_rate{name=search}==0", 0, true},
		{"error_rate{name=login}==1%", 0.01, true},
		{"failures{name=search}==0", 0, true},
		// A name that never ran fails rather than passing silently.
		{"p95{name=logout}<1s", 0, false},
		{"failures{name=logout}==0", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			th, err := Parse(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			got := Evaluate([]Threshold{th}, s)
			if len(got) != 1 {
				t.Fatalf("Evaluate returned %d results", len(got))
			}
			r := got[0]
			want := results.ThresholdResult{Expr: tt.expr, Metric: th.Metric, Actual: tt.actual, Limit: th.Limit, OK: tt.ok}
			if !approx(r.Actual, want.Actual) || r.OK != want.OK || r.Expr != want.Expr || r.Metric != want.Metric || r.Limit != want.Limit {
				t.Errorf("Evaluate(%q) = %+v, want %+v", tt.expr, r, want)
			}
		})
	}
}

// approx allows for the histogram's 0.1% precision.
func approx(a, b float64) bool {
	d := a - b
	if d < 0 {
		d = -d
	}
	return d <= 0.001*max(a, b, 1e-9)
}

func TestEvaluateWithoutRequests(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	acc := results.NewAccumulator(start)
	acc.Add(results.NewSecond(start.Unix()))
	s := acc.Summary()
	tests := []struct {
		expr string
		ok   bool
	}{
		{"p95<1s", false},        // no latency to judge
		{"error_rate<1%", false}, // no rate without requests
		{"rps>0", false},         // a real zero
		{"rps==0", true},
		{"failures==0", true},
		{"dropped==0", true},
	}
	for _, tt := range tests {
		th, err := Parse(tt.expr)
		if err != nil {
			t.Fatal(err)
		}
		if got := Evaluate([]Threshold{th}, &s)[0].OK; got != tt.ok {
			t.Errorf("%s with no requests: ok = %v, want %v", tt.expr, got, tt.ok)
		}
	}
}

func TestAllOK(t *testing.T) {
	tests := []struct {
		rs   []results.ThresholdResult
		want bool
	}{
		{nil, true},
		{[]results.ThresholdResult{{OK: true}, {OK: true}}, true},
		{[]results.ThresholdResult{{OK: true}, {OK: false}}, false},
	}
	for _, tt := range tests {
		if got := AllOK(tt.rs); got != tt.want {
			t.Errorf("AllOK(%v) = %v, want %v", tt.rs, got, tt.want)
		}
	}
}
