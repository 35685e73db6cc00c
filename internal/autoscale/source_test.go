package autoscale

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/brinkhq/brink/internal/hub/events"
	"github.com/brinkhq/brink/internal/store"
)

// TestBuiltinQueriesOnTSDB evaluates the built-in targets' PromQL with the
// real engine over a real TSDB, including the label quoting of odd service
// names and the absence of stale data.
func TestBuiltinQueriesOnTSDB(t *testing.T) {
	db, err := store.OpenTSDB(store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now().Truncate(time.Second)
	app := db.Appender(context.Background())
	add := func(at time.Time, v float64, ls ...string) {
		if _, err := app.Append(0, labels.FromStrings(ls...), at.UnixMilli(), v); err != nil {
			t.Fatal(err)
		}
	}
	const svc = `/shop/web"x`
	for i := 30; i >= 0; i-- {
		at := now.Add(-time.Duration(i) * time.Second)
		for _, c := range []struct {
			name  string
			cores float64
		}{{"a", 0.25}, {"b", 0.5}} {
			base := []string{"host", "h1", "name", c.name, "service", svc}
			add(at, c.cores*float64(30-i), append([]string{"__name__", "container_cpu_usage_seconds_total"}, base...)...)
			add(at, 50000, append([]string{"__name__", "container_spec_cpu_quota"}, base...)...)
			add(at, 100000, append([]string{"__name__", "container_spec_cpu_period"}, base...)...)
		}
		add(at, float64(300*(30-i)), "__name__", "brink_requests_total", "run", "r1", "name", "home", "service", svc)
		add(at, 0.2, "__name__", "brink_run_latency_seconds", "run", "r1", "quantile", "0.95", "service", svc)
	}
	// A container that stopped a minute ago must not count.
	add(now.Add(-60*time.Second), 1, "__name__", "container_cpu_usage_seconds_total", "host", "h1", "name", "old", "service", svc)
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	src := NewPromQLSource(nil, db)
	ctx := context.Background()
	usage, err := src.Query(ctx, cpuUsageQuery(svc, 15*time.Second), now)
	if err != nil || len(usage) != 2 {
		t.Fatalf("usage %v, %v", usage, err)
	}
	limits, err := src.Query(ctx, cpuLimitQuery(svc, 15*time.Second), now)
	if err != nil || len(limits) != 2 || limits[0].Value != 0.5 {
		t.Fatalf("limits %v, %v", limits, err)
	}
	st := &serviceState{policy: &ServicePolicy{Name: svc, Window: 15 * time.Second}}
	r := st.cpuReading(ctx, src, now, 15*time.Second, Target{Kind: CPU, Value: 0.5})
	if r.Missing != "" || math.Abs(r.Value-0.75) > 0.01 || r.Reporting != 2 {
		t.Fatalf("cpu reading %+v, want 0.75 of limit over 2 replicas", r)
	}
	rps, err := src.Query(ctx, rpsQuery(svc, 15*time.Second), now)
	if err != nil || len(rps) != 1 || math.Abs(rps[0].Value-300) > 1 {
		t.Fatalf("rps %v, %v", rps, err)
	}
	lat, err := src.Query(ctx, latencyQuery(svc, 15*time.Second), now)
	if err != nil || len(lat) != 1 || lat[0].Value != 0.2 {
		t.Fatalf("latency %v, %v", lat, err)
	}
	// Two minutes later everything is older than the window: missing, not a value.
	later := now.Add(2 * time.Minute)
	r = st.cpuReading(ctx, src, later, 15*time.Second, Target{Kind: CPU, Value: 0.5})
	if r.Missing == "" {
		t.Fatalf("stale data read as %+v", r)
	}
	if ss, _ := src.Query(ctx, latencyQuery(svc, 15*time.Second), later); len(ss) != 0 {
		t.Fatalf("stale latency read as %v", ss)
	}
	if _, err := src.Query(ctx, "sum(", now); err == nil {
		t.Fatal("bad PromQL accepted")
	}
}

func TestHTTPSource(t *testing.T) {
	tests := []struct {
		name, answer string
		status       int
		want         []float64
		wantErr      string
	}{
		{name: "vector", answer: `{"status":"success","data":{"resultType":"vector","result":[
			{"metric":{"service":"web"},"value":[1732470000,"12.5"]},{"metric":{},"value":[1732470000,"NaN"]}]}}`,
			want: []float64{12.5, math.NaN()}},
		{name: "scalar", answer: `{"status":"success","data":{"resultType":"scalar","result":[1732470000,"+Inf"]}}`,
			want: []float64{math.Inf(1)}},
		{name: "empty", answer: `{"status":"success","data":{"resultType":"vector","result":[]}}`, want: []float64{}},
		{name: "error envelope", status: 400, answer: `{"status":"error","errorType":"bad_data","error":"parse error at char 5: unclosed"}`,
			wantErr: "HTTP 400: parse error at char 5"},
		{name: "matrix", answer: `{"status":"success","data":{"resultType":"matrix","result":[]}}`, wantErr: "answer is a matrix"},
		{name: "not json", status: 502, answer: `<html>bad gateway</html>`, wantErr: "HTTP 502, answer is not the Prometheus API's JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var gotQuery, gotTime string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				gotQuery, gotTime = r.URL.Query().Get("query"), r.URL.Query().Get("time")
				if tt.status != 0 {
					w.WriteHeader(tt.status)
				}
				io.WriteString(w, tt.answer)
			}))
			defer srv.Close()
			at := time.UnixMilli(1732470000500)
			ss, err := NewHTTPSource(srv.URL+"/", nil).Query(context.Background(), `up{job="x"}`, at)
			if gotQuery != `up{job="x"}` || gotTime != "1732470000.500" {
				t.Errorf("sent query %q time %q", gotQuery, gotTime)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || len(ss) != len(tt.want) {
				t.Fatalf("samples %v, %v", ss, err)
			}
			for i, w := range tt.want {
				if !(ss[i].Value == w || math.IsNaN(w) && math.IsNaN(ss[i].Value)) {
					t.Errorf("sample %d = %v, want %v", i, ss[i].Value, w)
				}
			}
		})
	}
}

func TestCounterRing(t *testing.T) {
	var c counterRing
	c.max = 20 * time.Second
	tick := time.Second
	if _, why := c.rate(t0, 3*time.Second, tick); why == "" {
		t.Fatal("rate without samples")
	}
	for i := 0; i <= 10; i++ {
		c.add(t0.Add(time.Duration(i)*time.Second), int64(100*i), nil)
	}
	now := t0.Add(10 * time.Second)
	if r, why := c.rate(now, 3*time.Second, tick); why != "" || r != 100 {
		t.Fatalf("rate %v (%s), want 100", r, why)
	}
	c.add(now.Add(time.Second), 5, nil) // the load balancer restarted
	if _, why := c.rate(now.Add(time.Second), 3*time.Second, tick); !strings.Contains(why, "cover 0s") {
		t.Fatalf("after a counter reset: %q", why)
	}
	c.add(now.Add(2*time.Second), 0, io.ErrUnexpectedEOF)
	if _, why := c.rate(now.Add(9*time.Second), 3*time.Second, tick); !strings.Contains(why, "unavailable: unexpected EOF") {
		t.Fatalf("stale samples: %q", why)
	}
}

func TestHubEvents(t *testing.T) {
	log, err := events.Open(filepath.Join(t.TempDir(), "events.jsonl"), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	d := Decision{Current: 1, Desired: 2, Recommended: 2, Targets: []TargetResult{{Name: "cpu", Value: 0.94, Target: 0.7, Proposed: 2}}}
	sink := HubEvents(log, nil)
	sink.Record(Event{Time: t0, Kind: KindScaleOut, Service: "web", Message: "web: cpu 0.94 of limit over 15s > target 0.70 → 1→2",
		From: 1, To: 2, Decision: &d})
	got := log.List(events.Query{})
	if len(got) != 1 {
		t.Fatalf("events %+v", got)
	}
	e := got[0]
	if e.Kind != "scale_out" || e.Service != "web" || e.TimeMs != t0.UnixMilli() || e.Fields["from"] != "1" || e.Fields["to"] != "2" ||
		e.Fields["target.cpu"] != "value=0.94 target=0.7 proposed=2" || !strings.Contains(e.Fields["decision"], `"desired":2`) {
		t.Fatalf("stored event %+v", e)
	}
}

type capacityFunc func(ctx context.Context, run string) (float64, error)

func (f capacityFunc) Capacity(ctx context.Context, run string) (float64, error) { return f(ctx, run) }

// TestCapacityFromRun resolves `capacity: from-run RUN` through the
// CapacitySource seam and uses it as the RPS target.
func TestCapacityFromRun(t *testing.T) {
	p, err := ParsePolicy("cap.yaml", []byte(`
haproxy: {socket: /nonexistent.sock}
services:
  web:
    max: 5
    targets:
      - rps_per_replica: {capacity: from-run r-42, utilisation: 0.5}
    actuator: {docker: {image: x}}
    lb: {}
`))
	if err != nil {
		t.Fatal(err)
	}
	now := t0
	ring := &counterRing{max: time.Minute}
	for i := 0; i <= 15; i++ {
		ring.add(now.Add(time.Duration(i-15)*time.Second), int64(300*i), nil)
	}
	tests := []struct {
		name     string
		source   CapacitySource
		want     float64
		missing  string
		proposed int
	}{
		{"no run store", nil, 0, "needs the hub's run store", -1},
		{"run without a capacity", capacityFunc(func(context.Context, string) (float64, error) {
			return 0, errors.New(`run "r-42" is not a find-limit run`)
		}), 0, `capacity of run r-42: run "r-42" is not a find-limit run`, -1},
		{"capacity 200 × 0.5", capacityFunc(func(_ context.Context, run string) (float64, error) {
			if run != "r-42" {
				return 0, fmt.Errorf("asked for run %q", run)
			}
			return 200, nil
		}), 100, "", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := New(p, nil, nil, nil, nil, WithCapacity(tt.source))
			st := &serviceState{policy: p.Services[0], targets: append([]Target(nil), p.Services[0].Targets...), lbRequests: ring}
			a.resolveCapacity(context.Background(), st)
			rs := st.readings(context.Background(), nil, now, 15*time.Second, false, 1)
			if tt.missing != "" {
				if !strings.Contains(rs[0].Missing, tt.missing) {
					t.Fatalf("missing %q, want %q", rs[0].Missing, tt.missing)
				}
				return
			}
			if rs[0].Missing != "" || rs[0].Target.Value != tt.want || rs[0].Value != 300 {
				t.Fatalf("reading %+v, want target %v and 300 req/s", rs[0], tt.want)
			}
			d := Decide(st.policy, &History{}, Input{Now: now, Current: 1, Readings: rs})
			if d.Desired != tt.proposed || !strings.Contains(d.Reason, "200 req/s per replica measured by run r-42 × 0.50") {
				t.Fatalf("decision %d: %s", d.Desired, d.Reason)
			}
		})
	}
}
