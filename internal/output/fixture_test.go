package output

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/brinkhq/brink/internal/results"
	"github.com/brinkhq/brink/internal/threshold"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run go test -update to create it): %v", err)
	}
	if string(got) != string(want) {
		t.Errorf("output differs from %s (run go test -update if the change is intended)\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}

var fixtureStart = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fixtureSecond is one deterministic second: "login" answers in 2..4 ms
// and fails with 5xx now and then, "search" in 10..50 ms, and a long
// quick-mode name in 1 ms.
func fixtureSecond(i int) *results.Second {
	sec := results.NewSecond(fixtureStart.Unix() + int64(i))
	sec.VUs = 10 * (i + 1)
	sec.Iterations = int64(100 * (i + 1))
	login := sec.Stats("login")
	for v := int64(0); v < int64(100*(i+1)); v++ {
		login.Latency.Record(2000 + v%2000)
		login.TTFB.Record(1000 + v%1000)
	}
	login.Requests = int64(100 * (i + 1))
	login.Failures[results.HTTP5xx] = int64(i)
	login.Failures[results.Timeout] = int64(i / 2)
	login.BytesIn, login.BytesOut = login.Requests*1200, login.Requests*180
	search := sec.Stats("search")
	for v := int64(0); v < 50; v++ {
		search.Latency.Record(10_000 + v*800)
		search.TTFB.Record(8000 + v*100)
	}
	search.Requests = 50
	search.BytesIn, search.BytesOut = 50*32_000, 50*200
	long := sec.Stats("GET http://127.0.0.1:8080/api/v1/catalogue/items?page=1")
	long.Latency.Record(1000)
	long.TTFB.Record(900)
	long.Requests = 1
	long.Failures[results.CheckFailed] = 1
	return sec
}

// fixtureSummary is a three-second run with thresholds evaluated.
func fixtureSummary(t *testing.T) *results.Summary {
	t.Helper()
	acc := results.NewAccumulator(fixtureStart)
	for i := 0; i < 3; i++ {
		sec := fixtureSecond(i)
		if i == 2 {
			sec.Dropped = 4
			sec.TargetRate = 400
		}
		acc.Add(sec)
	}
	s := acc.Summary()
	s.Name = "checkout"
	s.Run = "r-20260301-120000"
	ts, err := threshold.ParseAll([]string{"p95<20ms", "error_rate<1%", "rps>200", "p99{name=search}<50ms", "p95{name=logout}<1s", "dropped==0"})
	if err != nil {
		t.Fatal(err)
	}
	s.Thresholds = threshold.Evaluate(ts, &s)
	s.ThresholdOK = threshold.AllOK(s.Thresholds)
	return &s
}
