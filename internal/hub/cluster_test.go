package hub

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	brinkv1 "github.com/brinkhq/brink/internal/gen/brink/v1"
	"github.com/brinkhq/brink/internal/hub/events"
	"github.com/brinkhq/brink/internal/hub/wire"
	"github.com/brinkhq/brink/internal/results"
	"github.com/prometheus/prometheus/prompb"
)

// monitorFixture writes 20 seconds of what two monitors would send: host
// node-1 with node_* series and containers web-1, web-2 (service web), host
// node-2 with container db-1 only. Every rate is constant, so each value
// the cluster endpoints compute is known exactly.
func monitorFixture(t *testing.T, url string, base time.Time) {
	t.Helper()
	type ctr struct {
		host, id, name, service string
		cores, quota, throttled float64 // cores used; quota µs per 100ms; throttled periods per second (of 10)
		ws, limit               float64
	}
	cts := []ctr{
		{"node-1", "aaa", "web-1", "web", 0.5, 50000, 8, 100e6, 256 << 20},
		{"node-1", "bbb", "web-2", "web", 0.25, 50000, 0, 50e6, 256 << 20},
		{"node-2", "ccc", "db-1", "db", 1.5, -1, 0, 1e9, 9223372036854771712},
	}
	at := func(s int) int64 { return base.Add(time.Duration(s) * time.Second).UnixMilli() }
	var ts []prompb.TimeSeries
	for _, c := range cts {
		kv := []string{"host", c.host, "id", c.id, "name", c.name, "service", c.service, "image", "img:" + c.service, "container", c.name}
		var cpu, periods, throttled, ws, quota, period, limit []prompb.Sample
		for s := range 20 {
			cpu = append(cpu, prompb.Sample{Timestamp: at(s), Value: c.cores * float64(s)})
			periods = append(periods, prompb.Sample{Timestamp: at(s), Value: 10 * float64(s)})
			throttled = append(throttled, prompb.Sample{Timestamp: at(s), Value: c.throttled * float64(s)})
			ws = append(ws, prompb.Sample{Timestamp: at(s), Value: c.ws})
			quota = append(quota, prompb.Sample{Timestamp: at(s), Value: c.quota})
			period = append(period, prompb.Sample{Timestamp: at(s), Value: 100000})
			limit = append(limit, prompb.Sample{Timestamp: at(s), Value: c.limit})
		}
		ts = append(ts,
			series("container_cpu_usage_seconds_total", kv, cpu...),
			series("container_cpu_cfs_periods_total", kv, periods...),
			series("container_cpu_cfs_throttled_periods_total", kv, throttled...),
			series("container_memory_working_set_bytes", kv, ws...),
			series("container_spec_cpu_quota", kv, quota...),
			series("container_spec_cpu_period", kv, period...),
			series("container_spec_memory_limit_bytes", kv, limit...),
		)
	}
	var idle0, idle1, user0, user1, total, avail, rx, lo []prompb.Sample
	for s := range 20 {
		f := float64(s)
		idle0 = append(idle0, prompb.Sample{Timestamp: at(s), Value: 0.25 * f})
		idle1 = append(idle1, prompb.Sample{Timestamp: at(s), Value: 0.5 * f})
		user0 = append(user0, prompb.Sample{Timestamp: at(s), Value: 0.75 * f})
		user1 = append(user1, prompb.Sample{Timestamp: at(s), Value: 0.5 * f})
		total = append(total, prompb.Sample{Timestamp: at(s), Value: 8e9})
		avail = append(avail, prompb.Sample{Timestamp: at(s), Value: 6e9})
		rx = append(rx, prompb.Sample{Timestamp: at(s), Value: 1000 * f})
		lo = append(lo, prompb.Sample{Timestamp: at(s), Value: 1e6 * f})
	}
	ts = append(ts,
		series("node_cpu_seconds_total", []string{"host", "node-1", "cpu", "0", "mode", "idle"}, idle0...),
		series("node_cpu_seconds_total", []string{"host", "node-1", "cpu", "1", "mode", "idle"}, idle1...),
		series("node_cpu_seconds_total", []string{"host", "node-1", "cpu", "0", "mode", "user"}, user0...),
		series("node_cpu_seconds_total", []string{"host", "node-1", "cpu", "1", "mode", "user"}, user1...),
		series("node_memory_MemTotal_bytes", []string{"host", "node-1"}, total...),
		series("node_memory_MemAvailable_bytes", []string{"host", "node-1"}, avail...),
		series("node_network_receive_bytes_total", []string{"host", "node-1", "device", "eth0"}, rx...),
		series("node_network_receive_bytes_total", []string{"host", "node-1", "device", "lo"}, lo...),
	)
	if code, body := remoteWrite(t, url, "", encodeWrite(t, ts)); code != http.StatusNoContent {
		t.Fatalf("remote write: %d %s", code, body)
	}
}

func ptr(v float64) *float64 { return &v }

func eqPtr(a, b *float64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return approxEqual(*a, *b)
}

func TestClusterView(t *testing.T) {
	th := startHub(t, Options{})
	base := time.Now().Add(-5 * time.Minute).Truncate(time.Second)
	monitorFixture(t, th.url, base)
	at := unixArg(base.Add(19 * time.Second))

	var hosts struct {
		Hosts []Host `json:"hosts"`
	}
	getJSON(t, th.url+"/api/v1/hosts?time="+at, &hosts)
	if len(hosts.Hosts) != 2 {
		t.Fatalf("hosts %+v", hosts)
	}
	n1, n2 := hosts.Hosts[0], hosts.Hosts[1]
	if n1.Host != "node-1" || !eqPtr(n1.CPUs, ptr(2)) || !eqPtr(n1.CPUUsedCores, ptr(1.25)) || !eqPtr(n1.CPUUtilization, ptr(0.625)) ||
		!eqPtr(n1.MemoryUsed, ptr(2e9)) || !eqPtr(n1.NetworkReceiveRate, ptr(1000)) || n1.Containers != 2 {
		t.Fatalf("node-1 %+v", jsonString(n1))
	}
	if n2.Host != "node-2" || n2.CPUs != nil || n2.Containers != 1 || n2.LastSeenMs != base.Add(19*time.Second).UnixMilli() {
		t.Fatalf("node-2 (containers only) %s", jsonString(n2))
	}

	var byHost struct {
		Groups []ContainerGroup `json:"groups"`
	}
	getJSON(t, th.url+"/api/v1/containers?time="+at, &byHost)
	if len(byHost.Groups) != 2 || byHost.Groups[0].Key != "node-1" || len(byHost.Groups[0].Containers) != 2 {
		t.Fatalf("by host %s", jsonString(byHost))
	}
	web1 := byHost.Groups[0].Containers[0]
	if web1.Name != "web-1" || !eqPtr(web1.CPUCores, ptr(0.5)) || !eqPtr(web1.CPULimitCores, ptr(0.5)) ||
		!eqPtr(web1.CPUThrottledRatio, ptr(0.8)) || !eqPtr(web1.MemoryWorkingSet, ptr(100e6)) ||
		!eqPtr(web1.MemoryLimit, ptr(256<<20)) || web1.Image != "img:web" || web1.NetworkReceiveRate != nil {
		t.Fatalf("web-1 %s", jsonString(web1))
	}
	db1 := byHost.Groups[1].Containers[0]
	if db1.CPULimitCores != nil || db1.MemoryLimit != nil || !eqPtr(db1.CPUCores, ptr(1.5)) {
		t.Fatalf("db-1 without limits %s", jsonString(db1))
	}
	var bySvc struct {
		Groups []ContainerGroup `json:"groups"`
	}
	getJSON(t, th.url+"/api/v1/containers?group=service&service=web&time="+at, &bySvc)
	if len(bySvc.Groups) != 1 || bySvc.Groups[0].Key != "web" || len(bySvc.Groups[0].Containers) != 2 {
		t.Fatalf("by service %s", jsonString(bySvc))
	}

	// A run targeting web, written through the run service.
	if _, err := th.runs.StartRun(&brinkv1.StartRunRequest{RunId: "r-web", Source: "laptop", TargetService: "web"}); err != nil {
		t.Fatal(err)
	}
	for s := int64(0); s < 20; s++ {
		sec := results.NewSecond(base.Unix() + s - 1)
		sec.Stats("home").Requests = 100 * (s + 1)
		sec.Stats("home").Latency.Record(1000)
		if _, err := th.runs.PushSeconds(context.Background(), &brinkv1.PushSecondsRequest{RunId: "r-web", Source: "laptop",
			Seconds: []*brinkv1.Second{wire.SecondToProto(sec, uint64(s+1))}}); err != nil {
			t.Fatal(err)
		}
	}
	var svcs struct {
		Services []Service `json:"services"`
	}
	getJSON(t, th.url+"/api/v1/services?time="+at, &svcs)
	if len(svcs.Services) != 2 {
		t.Fatalf("services %s", jsonString(svcs))
	}
	db, web := svcs.Services[0], svcs.Services[1]
	if web.Service != "web" || web.Replicas != 2 || !eqPtr(web.CPUCores, ptr(0.75)) || !eqPtr(web.CPULimitCores, ptr(1)) ||
		!eqPtr(web.MemoryWorkingSet, ptr(150e6)) || !eqPtr(web.RPS, ptr(2000)) || len(web.Runs) != 1 || web.Runs[0] != "r-web" {
		t.Fatalf("web %s", jsonString(web))
	}
	if db.Service != "db" || db.Replicas != 1 || db.RPS != nil || len(db.Hosts) != 1 || db.Hosts[0] != "node-2" {
		t.Fatalf("db %s", jsonString(db))
	}

	// The live view (no time) answers for about now; the fixture is five
	// minutes old, so nothing is present.
	var live struct {
		TimeMs int64            `json:"time_ms"`
		Groups []ContainerGroup `json:"groups"`
	}
	before := time.Now()
	getJSON(t, th.url+"/api/v1/containers", &live)
	getJSON(t, th.url+"/api/v1/services", &svcs)
	if live.TimeMs < before.Add(-2*time.Second).UnixMilli() || len(live.Groups) != 0 || len(svcs.Services) != 0 {
		t.Fatalf("live view %s, services %s", jsonString(live), jsonString(svcs))
	}

	// Scrubbing back: 5 minutes later nothing is present any more.
	var later struct {
		Hosts []Host `json:"hosts"`
	}
	getJSON(t, th.url+"/api/v1/hosts?time="+unixArg(base.Add(10*time.Minute)), &later)
	if len(later.Hosts) != 0 {
		t.Fatalf("hosts long after the last sample: %+v", later.Hosts)
	}
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestExport(t *testing.T) {
	th := startHub(t, Options{})
	base := time.Now().Add(-5 * time.Minute).Truncate(time.Second)
	monitorFixture(t, th.url, base)
	get := func(q url.Values) (string, http.Header) {
		t.Helper()
		resp, err := http.Get(th.url + "/api/v1/export?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("export %v: %d %s", q, resp.StatusCode, b)
		}
		return string(b), resp.Header
	}
	// Raw samples of a selector, as stored.
	body, hdr := get(url.Values{"query": {`container_memory_working_set_bytes{service="web"}`},
		"start": {unixArg(base)}, "end": {unixArg(base.Add(4 * time.Second))}})
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 6 || len(rows[0]) != 3 || !strings.Contains(rows[0][1], `name="web-1"`) ||
		rows[1][0] != fmt.Sprintf("%d.000", base.Unix()) || rows[1][1] != "100000000" || rows[5][2] != "50000000" {
		t.Fatalf("raw CSV:\n%s", body)
	}
	if !strings.Contains(hdr.Get("Content-Disposition"), "attachment") {
		t.Fatalf("headers %v", hdr)
	}
	// A range query as JSON.
	body, _ = get(url.Values{"query": {`sum(irate(container_cpu_usage_seconds_total[5s]))`}, "format": {"json"},
		"start": {unixArg(base.Add(5 * time.Second))}, "end": {unixArg(base.Add(10 * time.Second))}, "step": {"1s"}})
	var out struct {
		StepMs int64 `json:"step_ms"`
		Series []struct {
			Values [][2]any `json:"values"`
		} `json:"series"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatal(err)
	}
	if out.StepMs != 1000 || len(out.Series) != 1 || len(out.Series[0].Values) != 6 || out.Series[0].Values[0][1] != "2.25" {
		t.Fatalf("range JSON %s", body)
	}
	resp, err := http.Get(th.url + "/api/v1/export?query=" + url.QueryEscape("rate(x[1m])"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("raw export of an expression: %d", resp.StatusCode)
	}
}

func TestStreamTicksAndEvents(t *testing.T) {
	th := startHub(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", th.url+"/api/v1/stream", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	next := func() (string, string) {
		var event, data string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				data = strings.TrimPrefix(line, "data: ")
			case line == "" && event != "":
				return event, data
			}
		}
		t.Fatalf("stream ended: %v", sc.Err())
		return "", ""
	}
	ev, data := next()
	var tk tick
	if ev != "tick" || json.Unmarshal([]byte(data), &tk) != nil || tk.NowMs == 0 {
		t.Fatalf("first message %s %s", ev, data)
	}
	if _, err := th.Events().Append(events.Event{Kind: "scale_out", Service: "web", Message: "2 -> 3 replicas"}); err != nil {
		t.Fatal(err)
	}
	for {
		ev, data = next()
		if ev == "event" {
			break
		}
	}
	var e events.Event
	if json.Unmarshal([]byte(data), &e) != nil || e.Kind != "scale_out" || e.Service != "web" {
		t.Fatalf("event %s", data)
	}
	var list struct {
		Events []events.Event `json:"events"`
	}
	getJSON(t, th.url+"/api/v1/events?kind=scale_out", &list)
	if len(list.Events) != 1 || list.Events[0].ID != e.ID {
		t.Fatalf("events %+v", list)
	}
}
