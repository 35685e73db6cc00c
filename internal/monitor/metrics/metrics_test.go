package metrics

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"
)

func TestAppendValue(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{0, "0"},
		{106860544, "106860544"},
		{-1, "-1"},
		{0.5, "0.5"},
		{1.5e-9, "1.5e-09"},
		{1 << 53, "9.007199254740992e+15"},
		{9.223372036854772e18, "9.223372036854772e+18"},
		{math.NaN(), "NaN"},
		{math.Inf(1), "+Inf"},
		{math.Inf(-1), "-Inf"},
	}
	for _, tt := range tests {
		if got := string(AppendValue(nil, tt.in)); got != tt.want {
			t.Errorf("AppendValue(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestTextFormat(t *testing.T) {
	reg := NewRegistry()
	cpu := reg.Family("container_cpu_usage_seconds_total", "Cumulative cpu time\\consumed.\nSecond line.", Counter)
	unused := reg.Family("container_unused", "Never sampled.", Gauge)
	mem := reg.Family("container_memory_usage_bytes", "Memory.", Gauge)
	_ = unused
	owner, err := NewLabelSet(Label{"name", "web-1"}, Label{"image", ""}, Label{"id", "/docker/abc"}, Label{"service", `a"b\c` + "\nd"})
	if err != nil {
		t.Fatal(err)
	}
	b := NewBatch(reg)
	b.Reset(time.UnixMilli(1732470000123))
	b.Add(NewSeries(mem, owner), 1048576)
	b.Add(NewSeries(cpu, owner, Label{"cpu", "total"}), 1.25)
	b.Add(NewSeries(cpu, nil), 2)
	got := string(b.AppendText(nil, true))
	want := `# HELP container_cpu_usage_seconds_total Cumulative cpu time\\consumed.\nSecond line.
# TYPE container_cpu_usage_seconds_total counter
container_cpu_usage_seconds_total{id="/docker/abc",name="web-1",service="a\"b\\c\nd",cpu="total"} 1.25 1732470000123
container_cpu_usage_seconds_total 2 1732470000123
# HELP container_memory_usage_bytes Memory.
# TYPE container_memory_usage_bytes gauge
container_memory_usage_bytes{id="/docker/abc",name="web-1",service="a\"b\\c\nd"} 1048576 1732470000123
`
	if got != want {
		t.Errorf("text:\n%s\nwant:\n%s", got, want)
	}
	if b.Len() != 3 {
		t.Errorf("Len = %d", b.Len())
	}
	noTS := string(b.AppendText(nil, false))
	if strings.Contains(noTS, "1732470000123") {
		t.Error("timestamps written although not asked for")
	}

	// Reset keeps nothing from the previous tick.
	b.Reset(time.UnixMilli(5))
	if b.Len() != 0 || len(b.AppendText(nil, true)) != 0 {
		t.Error("Reset left samples behind")
	}
}

func TestRemoteWrite(t *testing.T) {
	reg := NewRegistry()
	f := reg.Family("node_network_receive_bytes_total", "Received.", Counter)
	owner, _ := NewLabelSet(Label{"host", "node-1"})
	s := NewSeries(f, owner, Label{"device", "eth0"})
	b := NewBatch(reg)
	b.Reset(time.UnixMilli(1000))
	b.Add(s, 42)
	ts := b.AppendTimeSeries(nil)
	want := []prompb.Label{{Name: "__name__", Value: "node_network_receive_bytes_total"}, {Name: "device", Value: "eth0"}, {Name: "host", Value: "node-1"}}
	if len(ts) != 1 || len(ts[0].Samples) != 1 || ts[0].Samples[0].Value != 42 || ts[0].Samples[0].Timestamp != 1000 {
		t.Fatalf("time series = %+v", ts)
	}
	for i, l := range ts[0].Labels {
		if l.Name != want[i].Name || l.Value != want[i].Value {
			t.Errorf("label %d = %v, want %v (sorted, __name__ first)", i, l, want[i])
		}
	}
	// The next tick reuses the slices: same length, new values.
	b.Reset(time.UnixMilli(2000))
	b.Add(s, 43)
	ts2 := b.AppendTimeSeries(ts[:0])
	if &ts2[0] != &ts[0] || ts2[0].Samples[0].Value != 43 || ts2[0].Samples[0].Timestamp != 2000 {
		t.Errorf("second tick = %+v", ts2)
	}
	allocs := testing.AllocsPerRun(100, func() { ts2 = b.AppendTimeSeries(ts2[:0]) })
	if allocs != 0 {
		t.Errorf("AppendTimeSeries allocates %.0f times per tick in steady state, want 0", allocs)
	}
}

func TestValidation(t *testing.T) {
	if _, err := NewLabelSet(Label{"a-b", "x"}); err == nil {
		t.Error("invalid label name accepted")
	}
	if _, err := NewLabelSet(Label{"a", "x"}, Label{"a", "y"}); err == nil {
		t.Error("duplicate label name accepted")
	}
	if _, err := NewLabelSet(Label{"__name__", "x"}); err == nil {
		t.Error("reserved label name accepted")
	}
	for _, n := range []string{"", "1abc", "a-b", "a b"} {
		if ValidMetricName(n) {
			t.Errorf("ValidMetricName(%q) = true", n)
		}
	}
	for in, want := range map[string]string{
		"com.docker.compose.service": "com_docker_compose_service",
		"MESOS_TASK_ID":              "MESOS_TASK_ID",
		"9lives":                     "_9lives",
		"aünï":                       "a__n__", // per byte: each UTF-8 byte outside the set
	} {
		if got := SanitizeLabelName(in); got != want || !ValidLabelName(got) {
			t.Errorf("SanitizeLabelName(%q) = %q, want %q", in, got, want)
		}
	}
	reg := NewRegistry()
	reg.Family("x_total", "", Counter)
	if reg.Family("x_total", "", Counter) != reg.Families()[0] {
		t.Error("registering a family twice should return the first")
	}
	mustPanic(t, func() { reg.Family("x_total", "", Gauge) })
	mustPanic(t, func() { reg.Family("bad-name", "", Gauge) })
	owner, _ := NewLabelSet(Label{"host", "h"})
	mustPanic(t, func() { NewSeries(reg.Families()[0], owner, Label{"host", "again"}) })
}

func mustPanic(t *testing.T, fn func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	fn()
}

func BenchmarkAppendText(b *testing.B) {
	reg := NewRegistry()
	var fams []*Family
	for i := range 30 {
		fams = append(fams, reg.Family("container_metric_"+string(rune('a'+i%26))+string(rune('a'+i/26))+"_total", "Help.", Counter))
	}
	batch := NewBatch(reg)
	batch.Reset(time.Now())
	for c := range 100 {
		owner, _ := NewLabelSet(Label{"container", "c"}, Label{"id", "/docker/" + strings.Repeat("a", 60) + string(rune('a'+c%26))},
			Label{"image", "img:latest"}, Label{"name", "c"}, Label{"service", "svc"}, Label{"host", "h"})
		for _, f := range fams {
			batch.Add(NewSeries(f, owner), 123456.789)
		}
	}
	buf := make([]byte, 0, 1<<20)
	b.ResetTimer()
	for range b.N {
		buf = batch.AppendText(buf[:0], true)
	}
	b.SetBytes(int64(len(buf)))
}
