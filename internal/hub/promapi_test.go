package hub

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/prompb"
)

// writeRequestsFixture writes http_requests_total for three containers of
// two services over 61 seconds: container i of a service serves (i+1)*10
// requests per second, so every rate and sum is known exactly.
func writeRequestsFixture(t *testing.T, url string, base time.Time) {
	t.Helper()
	type ct struct {
		name, service string
		perSecond     float64
	}
	cts := []ct{{"web-1", "web", 10}, {"web-2", "web", 20}, {"db-1", "db", 30}}
	var ts []prompb.TimeSeries
	for _, c := range cts {
		var samples []prompb.Sample
		for s := range 61 {
			samples = append(samples, prompb.Sample{Timestamp: base.Add(time.Duration(s) * time.Second).UnixMilli(), Value: c.perSecond * float64(s)})
		}
		ts = append(ts, series("http_requests_total", []string{"name", c.name, "service", c.service, "host", "node-1"}, samples...))
		ts = append(ts, series("container_memory_working_set_bytes", []string{"name", c.name, "service", c.service, "host", "node-1"},
			prompb.Sample{Timestamp: base.Add(60 * time.Second).UnixMilli(), Value: c.perSecond * 1e6}))
	}
	if code, body := remoteWrite(t, url, "", encodeWrite(t, ts)); code != http.StatusNoContent {
		t.Fatalf("remote write: %d %s", code, body)
	}
}

func TestPrometheusAPIWithOfficialClient(t *testing.T) {
	th := startHub(t, Options{})
	base := time.Now().Add(-10 * time.Minute).Truncate(time.Second)
	writeRequestsFixture(t, th.url, base)
	client, err := api.NewClient(api.Config{Address: th.url})
	if err != nil {
		t.Fatal(err)
	}
	prom := promv1.NewAPI(client)
	ctx := context.Background()
	at := base.Add(60 * time.Second)

	t.Run("rate and sum by", func(t *testing.T) {
		v, _, _, err := prom.Query(ctx, `sum by (service) (rate(http_requests_total[30s]))`, at)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]float64{}
		for _, s := range v.(model.Vector) {
			got[string(s.Metric["service"])] = float64(s.Value)
		}
		if len(got) != 2 || !approxEqual(got["web"], 30) || !approxEqual(got["db"], 30) {
			t.Fatalf("rates by service %v, want web 30 db 30", got)
		}
	})
	t.Run("instant arithmetic and topk", func(t *testing.T) {
		v, _, _, err := prom.Query(ctx, `topk(1, container_memory_working_set_bytes) / 1e6`, at)
		if err != nil {
			t.Fatal(err)
		}
		vec := v.(model.Vector)
		if len(vec) != 1 || vec[0].Metric["name"] != "db-1" || float64(vec[0].Value) != 30 {
			t.Fatalf("topk: %v", vec)
		}
	})
	t.Run("scalar", func(t *testing.T) {
		v, _, _, err := prom.Query(ctx, `scalar(count(http_requests_total))`, at)
		if err != nil {
			t.Fatal(err)
		}
		if s := v.(*model.Scalar); float64(s.Value) != 3 {
			t.Fatalf("count %v", s)
		}
	})
	t.Run("range", func(t *testing.T) {
		v, _, _, err := prom.QueryRange(ctx, `increase(http_requests_total{name="web-2"}[10s])`,
			promv1.Range{Start: base.Add(20 * time.Second), End: base.Add(40 * time.Second), Step: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		m := v.(model.Matrix)
		if len(m) != 1 || len(m[0].Values) != 5 {
			t.Fatalf("matrix %v", m)
		}
		for _, p := range m[0].Values {
			if !approxEqual(float64(p.Value), 200) {
				t.Fatalf("increase over 10s at %v = %v, want 200", p.Timestamp, p.Value)
			}
		}
	})
	t.Run("series", func(t *testing.T) {
		sets, _, _, err := prom.Series(ctx, []string{`http_requests_total{service="web"}`}, base, at)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, s := range sets {
			names = append(names, string(s["name"]))
		}
		slices.Sort(names)
		if !slices.Equal(names, []string{"web-1", "web-2"}) {
			t.Fatalf("series %v", sets)
		}
	})
	t.Run("label names and values", func(t *testing.T) {
		names, _, _, err := prom.LabelNames(ctx, nil, time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal([]string{"__name__", "host", "name", "service"}, labelStrings(names)) {
			t.Fatalf("label names %v", names)
		}
		vals, _, _, err := prom.LabelValues(ctx, "service", []string{"http_requests_total"}, base, at)
		if err != nil {
			t.Fatal(err)
		}
		if len(vals) != 2 || vals[0] != "db" || vals[1] != "web" {
			t.Fatalf("service values %v", vals)
		}
	})
	t.Run("errors as Prometheus answers them", func(t *testing.T) {
		_, _, _, err := prom.Query(ctx, `sum(`, at)
		var apiErr *promv1.Error
		if !asAPIError(err, &apiErr) || apiErr.Type != promv1.ErrBadData {
			t.Fatalf("parse error: %v", err)
		}
		_, _, _, err = prom.QueryRange(ctx, `up`, promv1.Range{Start: at, End: at.Add(-time.Second), Step: time.Second})
		if !asAPIError(err, &apiErr) || apiErr.Type != promv1.ErrBadData {
			t.Fatalf("end before start: %v", err)
		}
	})
	t.Run("empty result is an empty list", func(t *testing.T) {
		resp, err := http.Get(th.url + "/api/v1/query?query=nothing_here")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(b), `"result":[]`) {
			t.Fatalf("body %s", b)
		}
	})
}

func labelStrings(ns model.LabelNames) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = string(n)
	}
	return out
}

func asAPIError(err error, target **promv1.Error) bool {
	e, ok := err.(*promv1.Error)
	if ok {
		*target = e
	}
	return ok
}

func approxEqual(a, b float64) bool {
	d := a - b
	return d < 1e-9 && d > -1e-9
}
