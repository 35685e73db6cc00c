package analysis_test

import (
	"bytes"
	"context"
	"math"
	"net"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"
	"github.com/prometheus/prometheus/promql"

	"github.com/brinkhq/brink/internal/analysis"
	"github.com/brinkhq/brink/internal/hub"
	"github.com/brinkhq/brink/internal/hubclient"
	"github.com/brinkhq/brink/internal/remotewrite"
	"github.com/brinkhq/brink/internal/results"
)

// startHub runs a real hub on a loopback port with its data in a temp dir.
func startHub(t *testing.T) (*hub.Hub, string) {
	t.Helper()
	h, err := hub.New(hub.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			t.Error("the hub did not stop")
		}
	})
	return h, "http://" + ln.Addr().String()
}

// remoteWrite sends series to the hub as a monitor does.
func remoteWrite(t *testing.T, url string, ts []prompb.TimeSeries) {
	t.Helper()
	body, _, err := remotewrite.Encode(&prompb.WriteRequest{Timeseries: ts}, nil)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, url+"/api/v1/write", bytes.NewReader(body))
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("remote write: HTTP %d", resp.StatusCode)
	}
}

func promSeries(name string, kv []string, samples []prompb.Sample) prompb.TimeSeries {
	ls := []prompb.Label{{Name: "__name__", Value: name}}
	for i := 0; i < len(kv); i += 2 {
		ls = append(ls, prompb.Label{Name: kv[i], Value: kv[i+1]})
	}
	sort.Slice(ls, func(i, j int) bool { return ls[i].Name < ls[j].Name })
	return prompb.TimeSeries{Labels: ls, Samples: samples}
}

// TestHubAdapter reports a run to a real hub, writes a container's and a
// host's series the way brink monitor does, and reads both back as the
// analysis sees them, over HTTP and through the hub's own PromQL engine.
func TestHubAdapter(t *testing.T) {
	h, url := startHub(t)
	ctx := context.Background()
	const seconds = 20
	start := time.Now().Truncate(time.Second).Add(-(seconds + 10) * time.Second)

	// The run: requests rise by 10 each second, one failure in ten.
	c := hubclient.New(url, "")
	run := c.StartRun(ctx, hubclient.RunInfo{Name: "adapter", TargetService: "web", Start: start})
	defer run.Close()
	acc := results.NewAccumulator(start)
	for i := range seconds {
		s := results.NewSecond(start.Unix() + int64(i))
		s.TargetRate = float64(100 + 10*i)
		s.VUs = 10
		st := s.Stats("home")
		st.Requests = int64(100 + 10*i)
		st.Failures[results.HTTP5xx] = st.Requests / 10
		for range st.Requests {
			st.Latency.Record(int64(2000 + 100*i))
		}
		s.Iterations = st.Requests
		run.Push(s)
		acc.Add(s)
	}
	acc.SetEnd(start.Add(seconds * time.Second))
	sum := acc.Summary()
	if err := run.Finish(ctx, hubclient.Finish{End: start.Add(seconds * time.Second), Summary: &sum, ThresholdsOK: true}); err != nil {
		t.Fatal(err)
	}

	// The monitor's samples at t describe the second before t.
	var cpu, periods, throttled, quota, period, ws, lim, lbCPU []prompb.Sample
	var idle, user []prompb.Sample
	for i := 0; i <= seconds+1; i++ {
		ms := start.Add(time.Duration(i) * time.Second).UnixMilli()
		cpu = append(cpu, prompb.Sample{Timestamp: ms, Value: 0.45 * float64(i)})
		lbCPU = append(lbCPU, prompb.Sample{Timestamp: ms, Value: 0.1 * float64(i)})
		periods = append(periods, prompb.Sample{Timestamp: ms, Value: 10 * float64(i)})
		throttled = append(throttled, prompb.Sample{Timestamp: ms, Value: 6 * float64(i)})
		quota = append(quota, prompb.Sample{Timestamp: ms, Value: 50000})
		period = append(period, prompb.Sample{Timestamp: ms, Value: 100000})
		ws = append(ws, prompb.Sample{Timestamp: ms, Value: 100e6})
		lim = append(lim, prompb.Sample{Timestamp: ms, Value: 256e6})
		idle = append(idle, prompb.Sample{Timestamp: ms, Value: 0.5 * float64(i)})
		user = append(user, prompb.Sample{Timestamp: ms, Value: 1.5 * float64(i)})
	}
	web := []string{"service", "web", "name", "web-1", "container", "web-1", "host", "node-1"}
	lb := []string{"service", "lb", "name", "lb-1", "container", "lb-1", "host", "node-1"}
	remoteWrite(t, url, []prompb.TimeSeries{
		promSeries("container_cpu_usage_seconds_total", web, cpu),
		promSeries("container_cpu_cfs_periods_total", web, periods),
		promSeries("container_cpu_cfs_throttled_periods_total", web, throttled),
		promSeries("container_spec_cpu_quota", web, quota),
		promSeries("container_spec_cpu_period", web, period),
		promSeries("container_memory_working_set_bytes", web, ws),
		promSeries("container_spec_memory_limit_bytes", web, lim),
		promSeries("container_cpu_usage_seconds_total", lb, lbCPU),
		promSeries("node_cpu_seconds_total", []string{"host", "node-1", "cpu", "0", "mode", "idle"}, idle),
		promSeries("node_cpu_seconds_total", []string{"host", "node-1", "cpu", "0", "mode", "user"}, user),
		promSeries("node_cpu_seconds_total", []string{"host", "node-1", "cpu", "1", "mode", "idle"}, idle),
		promSeries("node_cpu_seconds_total", []string{"host", "node-1", "cpu", "1", "mode", "user"}, user),
	})

	hc := analysis.NewHub(url)
	rec, err := hc.Recording(ctx, run.ID(), "")
	if err != nil {
		t.Fatal(err)
	}
	if rec.TargetService != "web" || len(rec.Summary.Timeline) != seconds || rec.Summary.Requests != sum.Requests {
		t.Fatalf("recording: service %q, %d seconds, %d requests", rec.TargetService, len(rec.Summary.Timeline), rec.Summary.Requests)
	}
	want := map[string]float64{
		analysis.TargetCPU + "/web-1": 0.45, analysis.TargetCPULimit + "/web-1": 0.5, analysis.TargetThrottled + "/web-1": 0.6,
		analysis.TargetMemory + "/web-1": 100e6, analysis.TargetMemoryLimit + "/web-1": 256e6,
		analysis.LBCPU + "/lb-1": 0.1, analysis.HostCPU + "/node-1": 3, analysis.HostCores + "/node-1": 2,
	}
	checkSeries := func(label string, series []analysis.Series) {
		t.Helper()
		got := map[string]analysis.Series{}
		for _, s := range series {
			got[s.Name+"/"+s.Entity] = s
		}
		for key, v := range want {
			s, ok := got[key]
			if !ok {
				t.Errorf("%s: no %s series (have %d series)", label, key, len(series))
				continue
			}
			// Every second of the run, and each describing that second.
			if len(s.Points) < seconds-1 || s.Points[0].T < start.Unix() {
				t.Errorf("%s: %s has %d points from %d (run starts %d)", label, key, len(s.Points), s.Points[0].T, start.Unix())
			}
			for _, p := range s.Points {
				if math.Abs(p.V-v) > 1e-6*math.Max(1, v) {
					t.Errorf("%s: %s at %d = %g, want %g", label, key, p.T, p.V, v)
					break
				}
			}
		}
	}
	checkSeries("HTTP", rec.Resources)

	// The same through the hub's store and a PromQL engine in process.
	eq := analysis.EngineQuerier{Engine: promql.NewEngine(promql.EngineOpts{MaxSamples: 1e7, Timeout: time.Minute}), Queryable: h.Store()}
	direct, err := analysis.Resources(ctx, eq, "web", "lb", start.Unix(), start.Unix()+seconds-1)
	if err != nil {
		t.Fatal(err)
	}
	checkSeries("engine", direct)

	// The analysis over the hub sees the same resources.
	_, res, err := analysis.ForRun(ctx, hc, rec.Summary, analysis.RunOptions{TargetService: "web"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Peak.Replicas != 1 || math.Abs(res.Peak.TargetCPU-0.45) > 1e-6 || math.Abs(res.Peak.LBCPU-0.1) > 1e-6 {
		t.Errorf("peak snapshot: %+v", res.Peak)
	}

	// A run whose reporter never sent a summary: the timeline is rebuilt
	// from the stored brink_* series.
	tl, err := analysis.TimelineFromSeries(ctx, hc, run.ID(), start, start.Add(seconds*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(tl.Timeline) != seconds {
		t.Fatalf("rebuilt timeline has %d seconds, want %d", len(tl.Timeline), seconds)
	}
	for i, p := range tl.Timeline {
		w := sum.Timeline[i]
		if p.Unix != w.Unix || p.Requests != w.Requests || p.Failures != w.Failures || p.TargetRate != w.TargetRate {
			t.Errorf("second %d: rebuilt %+v, reported %+v", i, p, w)
			break
		}
		if math.Abs(p.P95Ms-w.P95Ms) > 0.01*w.P95Ms {
			t.Errorf("second %d: p95 %g, reported %g", i, p.P95Ms, w.P95Ms)
		}
	}

	if _, err := hc.Run(ctx, "r-none"); err == nil || !contains(err.Error(), "not found") {
		t.Errorf("unknown run: %v", err)
	}
	if n, err := hc.Replicas(ctx, "web", start.Add(10*time.Second)); err != nil || n != 1 {
		t.Errorf("replicas of web: %d, %v", n, err)
	}
	if _, err := analysis.NewHub("http://127.0.0.1:1").Run(ctx, "x"); err == nil || !contains(err.Error(), "brink hub") {
		t.Errorf("no hub: %v", err)
	}
}

func contains(s, sub string) bool { return bytes.Contains([]byte(s), []byte(sub)) }
