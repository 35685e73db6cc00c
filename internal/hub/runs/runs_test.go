package runs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"sync"
	"testing"
	"time"

	brinkv1 "github.com/brinkhq/brink/internal/gen/brink/v1"
	"github.com/brinkhq/brink/internal/histogram"
	"github.com/brinkhq/brink/internal/hub/events"
	"github.com/brinkhq/brink/internal/hub/wire"
	"github.com/brinkhq/brink/internal/results"
	"github.com/brinkhq/brink/internal/store"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
)

const t0 = 1_800_000_000 // unix seconds of the first second in these tests

// clock is a settable time source shared by the registry and the test.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

type fixture struct {
	dir    string
	db     *store.TSDB
	reg    *Registry
	events *events.Log
	clock  *clock
	onEnd  func(id string)
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{dir: t.TempDir(), clock: &clock{now: time.Unix(t0, 0)}}
	f.open(t)
	t.Cleanup(func() { f.close() })
	return f
}

func (f *fixture) open(t *testing.T) {
	t.Helper()
	var err error
	if f.db, err = store.OpenTSDB(store.Options{Dir: filepath.Join(f.dir, "tsdb")}); err != nil {
		t.Fatal(err)
	}
	if f.events, err = events.Open(filepath.Join(f.dir, "events.jsonl"), 0, f.clock.Now); err != nil {
		t.Fatal(err)
	}
	f.reg, err = Open(Options{Dir: filepath.Join(f.dir, "runs"), Store: f.db, Events: f.events, Now: f.clock.Now,
		Timing: Timing{FinalizeGrace: 3 * time.Second, LostAfter: time.Minute}, OnEnd: f.onEnd})
	if err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) close() {
	if f.reg != nil {
		f.reg.Close()
		f.events.Close()
		f.db.Close()
		f.reg = nil
	}
}

// second makes a deterministic second: n requests of name with latencies
// derived from seed, every tenth a timeout.
func second(t int64, name string, n, seed int64) *results.Second {
	s := results.NewSecond(t)
	s.VUs = int(n / 10)
	s.Iterations = n
	st := s.Stats(name)
	for i := range n {
		st.Requests++
		st.BytesIn += 200
		st.Latency.Record(100 + (i*seed)%5000)
		if i%10 == 0 {
			st.Failures[results.Timeout]++
		}
	}
	return s
}

func push(t *testing.T, reg *Registry, id, source string, seq uint64, secs ...*results.Second) *brinkv1.PushSecondsResponse {
	t.Helper()
	req := &brinkv1.PushSecondsRequest{RunId: id, Source: source}
	for i, s := range secs {
		req.Seconds = append(req.Seconds, wire.SecondToProto(s, seq+uint64(i)))
	}
	resp, err := reg.PushSeconds(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// lastValue reads the newest sample of the one series matching ms.
func lastValue(t *testing.T, q storage.Queryable, ms ...*labels.Matcher) (int64, float64) {
	t.Helper()
	qr, err := q.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	defer qr.Close()
	set := qr.Select(context.Background(), false, nil, ms...)
	var ts int64
	var v float64
	n := 0
	for set.Next() {
		n++
		it := set.At().Iterator(nil)
		for it.Next() != 0 {
			ts, v = it.At()
		}
	}
	if n != 1 {
		t.Fatalf("%d series match %v, want 1", n, ms)
	}
	return ts, v
}

func eq(name, value string) *labels.Matcher {
	return labels.MustNewMatcher(labels.MatchEqual, name, value)
}

func TestSingleSourceRunIsStoredAndExact(t *testing.T) {
	f := newFixture(t)
	resp, err := f.reg.StartRun(&brinkv1.StartRunRequest{RunId: "r1", Source: "laptop", Name: "checkout", TargetService: "web",
		Scenario: "steps: [GET /]", Labels: map[string]string{"team": "shop"}, StartUnixMs: t0 * 1000})
	if err != nil || resp.RunId != "r1" {
		t.Fatal(resp, err)
	}
	want := histogram.New()
	var wantRequests, wantTimeouts int64
	for i := range int64(10) {
		s := second(t0+i, "home", 100+i, 7+i)
		want.Merge(s.ByName["home"].Latency)
		wantRequests += s.ByName["home"].Requests
		wantTimeouts += s.ByName["home"].Failures[results.Timeout]
		f.clock.Set(time.Unix(t0+i+1, 0))
		if got := push(t, f.reg, "r1", "laptop", uint64(i+1), s).AckedSequence; got != uint64(i+1) {
			t.Fatalf("acked %d after second %d", got, i+1)
		}
	}
	// One source: each second is written as soon as it arrives.
	ts, v := lastValue(t, f.db, eq("__name__", "brink_requests_total"), eq("run", "r1"), eq("name", "home"), eq("service", "web"))
	if ts != (t0+10)*1000 || int64(v) != wantRequests {
		t.Fatalf("brink_requests_total = %v @%d, want %d @%d", v, ts, wantRequests, (t0+10)*1000)
	}
	_, v = lastValue(t, f.db, eq("__name__", "brink_failures_total"), eq("run", "r1"), eq("kind", "timeout"))
	if int64(v) != wantTimeouts {
		t.Fatalf("timeouts %v, want %d", v, wantTimeouts)
	}
	_, v = lastValue(t, f.db, eq("__name__", "brink_latency_seconds"), eq("run", "r1"), eq("quantile", "0.99"))
	last := second(t0+9, "home", 109, 16).ByName["home"].Latency
	if v != float64(last.Quantile(0.99))/1e6 {
		t.Fatalf("last second's p99 gauge %v, want %v", v, float64(last.Quantile(0.99))/1e6)
	}

	if _, err := f.reg.FinishRun(context.Background(), &brinkv1.FinishRunRequest{RunId: "r1", Source: "laptop",
		EndUnixMs: (t0 + 10) * 1000, ThresholdsOk: true, LastSequence: 10, SummaryJson: []byte(`{"requests":1045}`),
		Thresholds: []*brinkv1.ThresholdResult{{Expr: "p95 < 300ms", Ok: true}}}); err != nil {
		t.Fatal(err)
	}
	v1, err := f.reg.Get("r1")
	if err != nil {
		t.Fatal(err)
	}
	if v1.Status != StatusFinished || v1.Totals.Requests != wantRequests || v1.Totals.Failures != wantTimeouts ||
		v1.ThresholdsOK == nil || !*v1.ThresholdsOK || v1.EndedMs == nil || string(v1.Summary) != `{"requests":1045}` ||
		v1.Totals.LatencyMs.P99 != results.Ms(want.Quantile(0.99)) || v1.Totals.RPS != float64(wantRequests)/10 {
		t.Fatalf("run view: %+v", v1)
	}
	lat, err := f.reg.Latency(LatencyQuery{ID: "r1", FromMs: (t0 + 2) * 1000, ToMs: (t0 + 5) * 1000, Name: "home", Quantile: []float64{0.5, 0.99}})
	if err != nil {
		t.Fatal(err)
	}
	window := histogram.New()
	for i := int64(2); i < 5; i++ {
		window.Merge(second(t0+i, "home", 100+i, 7+i).ByName["home"].Latency)
	}
	if lat.Seconds != 3 || lat.Count != window.Count() || lat.Quantiles[1].Us != window.Quantile(0.99) || lat.MaxUs != window.Max() {
		t.Fatalf("window latency %+v, want count %d p99 %d", lat, window.Count(), window.Quantile(0.99))
	}
	evs := f.events.List(events.Query{Run: "r1"})
	if len(evs) != 2 || evs[0].Kind != events.KindRunFinished || evs[1].Kind != events.KindRunStarted ||
		evs[0].Fields["requests"] != fmt.Sprint(wantRequests) {
		t.Fatalf("events %+v", evs)
	}

	// The run, its figures and its exact histograms survive a restart.
	f.close()
	f.open(t)
	again, err := f.reg.Get("r1")
	if err != nil {
		t.Fatal(err)
	}
	if again.Totals.Requests != wantRequests || again.Status != StatusFinished || again.Scenario != "steps: [GET /]" ||
		again.Sources[0].Seconds != 10 || *again.Sources[0].LastSecondMs != (t0+10)*1000 || again.Totals.LatencyMs.P99 != v1.Totals.LatencyMs.P99 {
		t.Fatalf("after restart: %+v", again)
	}
	lat2, err := f.reg.Latency(LatencyQuery{ID: "r1"})
	if err != nil || lat2.Count != want.Count() || lat2.Quantiles[3].Us != want.Quantile(0.99) {
		t.Fatalf("whole-run latency after restart %+v %v", lat2, err)
	}
	// A resend that arrives after the run ended is recognised as such.
	push(t, f.reg, "r1", "laptop", 1, second(t0, "home", 100, 7))
	if again, _ := f.reg.Get("r1"); again.Totals.Requests != wantRequests {
		t.Fatalf("a late resend was counted again: %d requests", again.Totals.Requests)
	}
	list, _ := f.reg.List(ListQuery{Q: "SHOP"})
	if len(list) != 1 || list[0].Scenario != "" {
		t.Fatalf("search by label value: %+v", list)
	}
}

func TestResendIsCountedOnce(t *testing.T) {
	f := newFixture(t)
	if _, err := f.reg.StartRun(&brinkv1.StartRunRequest{RunId: "r2", Source: "a"}); err != nil {
		t.Fatal(err)
	}
	s1, s2, s3 := second(t0, "x", 50, 3), second(t0+1, "x", 60, 5), second(t0+2, "x", 70, 9)
	push(t, f.reg, "r2", "a", 1, s1, s2)
	// The answer was lost: the client sends both again, plus the next.
	if got := push(t, f.reg, "r2", "a", 1, s1, s2, s3).AckedSequence; got != 3 {
		t.Fatalf("acked %d", got)
	}
	// A restarted reporter learns what the hub holds.
	resp, err := f.reg.StartRun(&brinkv1.StartRunRequest{RunId: "r2", Source: "a"})
	if err != nil || resp.AckedSequence != 3 {
		t.Fatalf("restart: %+v %v", resp, err)
	}
	f.clock.Set(time.Unix(t0+10, 0))
	f.reg.Tick(context.Background())
	_, v := lastValue(t, f.db, eq("__name__", "brink_requests_total"), eq("run", "r2"))
	if v != 180 {
		t.Fatalf("requests %v, want 180", v)
	}
	lat, _ := f.reg.Latency(LatencyQuery{ID: "r2"})
	if lat.Count != 180 {
		t.Fatalf("latency count %d, want 180", lat.Count)
	}
}

func TestTwoSourcesMergeExactly(t *testing.T) {
	f := newFixture(t)
	for _, src := range []string{"agent-1", "agent-2"} {
		if _, err := f.reg.StartRun(&brinkv1.StartRunRequest{RunId: "r3", Source: src, TargetService: "web"}); err != nil {
			t.Fatal(err)
		}
	}
	all := histogram.New()
	a, b := second(t0, "home", 300, 11), second(t0, "home", 200, 13)
	all.Merge(a.ByName["home"].Latency)
	all.Merge(b.ByName["home"].Latency)
	f.clock.Set(time.Unix(t0+1, 0))
	push(t, f.reg, "r3", "agent-1", 1, a)
	// agent-2 has not reported yet: nothing is written for that second.
	qr, _ := f.db.Querier(math.MinInt64, math.MaxInt64)
	if set := qr.Select(context.Background(), false, nil, eq("run", "r3")); set.Next() {
		t.Fatal("second written before every source reported it")
	}
	qr.Close()
	push(t, f.reg, "r3", "agent-2", 1, b)
	_, v := lastValue(t, f.db, eq("__name__", "brink_requests_total"), eq("run", "r3"))
	if v != 500 {
		t.Fatalf("merged requests %v, want 500", v)
	}
	_, v = lastValue(t, f.db, eq("__name__", "brink_run_latency_seconds"), eq("run", "r3"), eq("quantile", "0.95"))
	if v != float64(all.Quantile(0.95))/1e6 {
		t.Fatalf("merged p95 %v, want %v", v, float64(all.Quantile(0.95))/1e6)
	}
	_, v = lastValue(t, f.db, eq("__name__", "brink_vus"), eq("run", "r3"))
	if v != 50 {
		t.Fatalf("vus %v, want 30+20", v)
	}
	// agent-2 goes quiet: after the grace the second is written without it.
	push(t, f.reg, "r3", "agent-1", 2, second(t0+1, "home", 10, 3))
	f.clock.Set(time.Unix(t0+2, 0).Add(2 * time.Second))
	f.reg.Tick(context.Background())
	if ts, _ := lastValue(t, f.db, eq("__name__", "brink_requests_total"), eq("run", "r3")); ts != (t0+1)*1000 {
		t.Fatalf("second t0+1 written before its grace passed (ts %d)", ts)
	}
	f.clock.Set(time.Unix(t0+2, 0).Add(4 * time.Second))
	f.reg.Tick(context.Background())
	ts, v := lastValue(t, f.db, eq("__name__", "brink_requests_total"), eq("run", "r3"))
	if ts != (t0+2)*1000 || v != 510 {
		t.Fatalf("after grace: %v @%d", v, ts)
	}
	// Late data from agent-2 still counts in totals, counters and percentiles.
	late := second(t0+1, "home", 40, 17)
	push(t, f.reg, "r3", "agent-2", 2, late)
	for _, src := range []string{"agent-1", "agent-2"} {
		if _, err := f.reg.FinishRun(context.Background(), &brinkv1.FinishRunRequest{RunId: "r3", Source: src, ThresholdsOk: src == "agent-1"}); err != nil {
			t.Fatal(err)
		}
	}
	run, _ := f.reg.Get("r3")
	if run.Totals.Requests != 550 || run.Status != StatusFinished || run.ThresholdsOK == nil || *run.ThresholdsOK {
		t.Fatalf("run %+v", run)
	}
	lat, _ := f.reg.Latency(LatencyQuery{ID: "r3", FromMs: t0 * 1000, ToMs: (t0 + 1) * 1000})
	if lat.Count != all.Count() || lat.Quantiles[2].Us != all.Quantile(0.95) {
		t.Fatalf("merged window %+v", lat)
	}
}

func TestRestartMidRunContinuesCounters(t *testing.T) {
	f := newFixture(t)
	if _, err := f.reg.StartRun(&brinkv1.StartRunRequest{RunId: "r4", Source: "a"}); err != nil {
		t.Fatal(err)
	}
	for i := range int64(5) {
		f.clock.Set(time.Unix(t0+i+1, 0))
		push(t, f.reg, "r4", "a", uint64(i+1), second(t0+i, "x", 10, 1))
	}
	f.close()
	f.clock.Set(time.Unix(t0+30, 0))
	f.open(t)
	run, _ := f.reg.Get("r4")
	if run.Status != StatusRunning || run.Totals.Requests != 50 {
		t.Fatalf("after restart %+v", run)
	}
	// The reporter resends its unacknowledged tail and goes on.
	push(t, f.reg, "r4", "a", 4, second(t0+3, "x", 10, 1), second(t0+4, "x", 10, 1), second(t0+5, "x", 10, 1))
	ts, v := lastValue(t, f.db, eq("__name__", "brink_requests_total"), eq("run", "r4"))
	if ts != (t0+6)*1000 || v != 60 {
		t.Fatalf("counter after restart %v @%d, want 60", v, ts)
	}
	// Nobody reports any more: the run is lost after the timeout.
	f.clock.Set(time.Unix(t0+200, 0))
	f.reg.Tick(context.Background())
	run, _ = f.reg.Get("r4")
	if run.Status != StatusLost || run.EndedMs == nil || *run.EndedMs != (t0+6)*1000 {
		t.Fatalf("lost run %+v", run)
	}
	if evs := f.events.List(events.Query{Kind: events.KindRunLost}); len(evs) != 1 {
		t.Fatalf("events %+v", evs)
	}
}

func TestInvalidRequests(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tests := []struct {
		name string
		call func() error
	}{
		{"path in run id", func() error {
			_, err := f.reg.StartRun(&brinkv1.StartRunRequest{RunId: "../etc", Source: "a"})
			return err
		}},
		{"no source", func() error { _, err := f.reg.StartRun(&brinkv1.StartRunRequest{RunId: "ok"}); return err }},
		{"unknown run", func() error {
			_, err := f.reg.PushSeconds(ctx, &brinkv1.PushSecondsRequest{RunId: "nope", Source: "a"})
			return err
		}},
		{"no sequence", func() error {
			if _, err := f.reg.StartRun(&brinkv1.StartRunRequest{RunId: "seq", Source: "a"}); err != nil {
				return nil
			}
			_, err := f.reg.PushSeconds(ctx, &brinkv1.PushSecondsRequest{RunId: "seq", Source: "a",
				Seconds: []*brinkv1.Second{wire.SecondToProto(second(t0, "x", 1, 1), 0)}})
			return err
		}},
		{"summary not JSON", func() error {
			_, err := f.reg.FinishRun(ctx, &brinkv1.FinishRunRequest{RunId: "seq", Source: "a", SummaryJson: []byte("{")})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	if _, err := f.reg.StartRun(&brinkv1.StartRunRequest{Source: "a", Name: "auto id"}); err != nil {
		t.Fatalf("hub-chosen id: %v", err)
	}
	b, _ := json.Marshal(f.reg.Counts())
	if string(b) != `{"aborted":0,"finished":0,"lost":0,"running":2}` {
		t.Fatalf("counts %s", b)
	}
}

// TestAnalysisKeptWithTheRun: OnEnd is called once per end (finished or
// lost), the analysis set afterwards is in the detail view and survives a
// reopen, and a run that starts again loses it.
func TestAnalysisKeptWithTheRun(t *testing.T) {
	f := newFixture(t)
	var ended []string
	var mu sync.Mutex
	f.close()
	f.onEnd = func(id string) { mu.Lock(); ended = append(ended, id); mu.Unlock() }
	f.open(t)
	ctx := context.Background()
	for _, id := range []string{"r-fin", "r-lost"} {
		if _, err := f.reg.StartRun(&brinkv1.StartRunRequest{RunId: id, Source: "laptop", StartUnixMs: t0 * 1000}); err != nil {
			t.Fatal(err)
		}
		push(t, f.reg, id, "laptop", 1, second(t0, "home", 10, 1))
	}
	if _, err := f.reg.FinishRun(ctx, &brinkv1.FinishRunRequest{RunId: "r-fin", Source: "laptop", LastSequence: 1}); err != nil {
		t.Fatal(err)
	}
	f.clock.Set(time.Unix(t0+120, 0))
	f.reg.Tick(ctx) // r-lost: silent for longer than LostAfter
	mu.Lock()
	got := fmt.Sprint(ended)
	mu.Unlock()
	if got != "[r-fin r-lost]" {
		t.Fatalf("OnEnd calls %s, want [r-fin r-lost]", got)
	}

	if err := f.reg.SetAnalysis("r-fin", json.RawMessage(`{"headline":"knee at 310 iterations/s"}`)); err != nil {
		t.Fatal(err)
	}
	if err := f.reg.SetAnalysis("r-fin", json.RawMessage(`{"cut`)); err == nil {
		t.Error("an analysis that is not JSON was kept")
	}
	if err := f.reg.SetAnalysis("nope", json.RawMessage(`{}`)); err == nil {
		t.Error("an analysis of an unknown run was kept")
	}
	f.close()
	f.open(t)
	v, err := f.reg.Get("r-fin")
	if err != nil {
		t.Fatal(err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, v.Analysis); err != nil || compact.String() != `{"headline":"knee at 310 iterations/s"}` {
		t.Fatalf("after a reopen the run's analysis is %s (%v)", v.Analysis, err)
	}
	if list, _ := f.reg.List(ListQuery{}); len(list) != 2 || list[0].Analysis != nil || list[1].Analysis != nil {
		t.Errorf("the run list carries analyses: %+v", list)
	}
	// The source starts again: the run goes on, and what was concluded no longer holds.
	if _, err := f.reg.StartRun(&brinkv1.StartRunRequest{RunId: "r-fin", Source: "laptop"}); err != nil {
		t.Fatal(err)
	}
	if a, err := f.reg.Analysis("r-fin"); err != nil || a != nil {
		t.Errorf("a run that started again keeps its analysis %s (%v)", a, err)
	}
}
