package coord

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	brinkv1 "github.com/brinkhq/brink/internal/gen/brink/v1"
	"github.com/brinkhq/brink/internal/histogram"
	"github.com/brinkhq/brink/internal/hub/runs"
	"github.com/brinkhq/brink/internal/hub/wire"
	"github.com/brinkhq/brink/internal/results"
)

// TestSummaryMergeIsExact pushes three agents' seconds, with very
// different latency distributions, through the real run registry, resends
// some (as after a link drop), and checks that the summary the hub builds
// has exactly the percentiles of one histogram that recorded every sample.
func TestSummaryMergeIsExact(t *testing.T) {
	reg, err := runs.Open(runs.Options{Dir: filepath.Join(t.TempDir(), "runs")})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	c, err := New(Options{Runs: reg})
	if err != nil {
		t.Fatal(err)
	}
	const id = "r-exact"
	agents := []struct {
		name           string
		median, spread float64 // lognormal-ish latency in µs
	}{{"fast", 800, 0.3}, {"slow", 40_000, 0.8}, {"wide", 5_000, 1.5}}
	start := time.Unix(1_800_000_000, 0)
	for _, a := range agents {
		if _, err := reg.StartRun(&brinkv1.StartRunRequest{RunId: id, Source: a.name, StartUnixMs: start.UnixMilli()}); err != nil {
			t.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	all := histogram.New()
	var requests int64
	for i, a := range agents {
		var batch []*brinkv1.Second
		for sec := range int64(20) {
			s := results.NewSecond(start.Unix() + sec)
			st := s.Stats("page")
			n := 50 + rng.Int64N(200)
			for range n {
				us := int64(a.median * (1 + a.spread*rng.NormFloat64()*rng.NormFloat64()))
				us = max(us, 1)
				st.Requests++
				st.Latency.Record(us)
				all.Record(us)
			}
			requests += n
			batch = append(batch, wire.SecondToProto(s, uint64(sec+1)))
		}
		push := func(seconds []*brinkv1.Second) {
			if _, err := reg.PushSeconds(context.Background(), &brinkv1.PushSecondsRequest{RunId: id, Source: a.name, Seconds: seconds}); err != nil {
				t.Fatal(err)
			}
		}
		push(batch[:12])
		push(batch[8:]) // a resend overlapping what the hub holds
		if i == 0 {
			push(batch) // and everything once more
		}
	}
	sum, held, err := c.summarize(id, start)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Requests != requests {
		t.Errorf("summary has %d requests, %d were recorded", sum.Requests, requests)
	}
	for _, a := range agents {
		if held[a.name] != 20 {
			t.Errorf("%s: %d seconds held, want 20", a.name, held[a.name])
		}
	}
	want := results.LatencyOf(all)
	if sum.LatencyMs != want {
		t.Errorf("merged latency %+v\nwant (one histogram of every sample) %+v", sum.LatencyMs, want)
	}
	t.Logf("p50 %.3fms p99 %.3fms p99.9 %.3fms max %.3fms over %d requests from 3 agents: equal to one histogram of every sample",
		sum.LatencyMs.P50, sum.LatencyMs.P99, sum.LatencyMs.P999, sum.LatencyMs.Max, sum.Requests)
}
