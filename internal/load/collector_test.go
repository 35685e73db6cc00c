package load

import (
	"sync"
	"testing"
	"time"

	"github.com/brinkhq/brink/internal/results"
)

// Concurrent recording from many VUs lands exactly once in the snapshots,
// whatever second it falls in.
func TestCollectorSnapshotsAreExact(t *testing.T) {
	c := NewCollector([]string{"a", "b"}, 1)
	const vus, perVU = 64, 500
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var secs []*results.Second
	snapDone := make(chan struct{})
	go func() {
		defer close(snapDone)
		for t := int64(0); ; t++ {
			select {
			case <-stop:
				secs = append(secs, c.Snapshot(t))
				return
			case <-time.After(time.Millisecond):
				secs = append(secs, c.Snapshot(t))
			}
		}
	}()
	for v := 0; v < vus; v++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perVU; i++ {
				s := Sample{Name: i % 2, Latency: time.Duration(i+1) * time.Microsecond, TTFB: time.Microsecond, BytesIn: 10, BytesOut: 3}
				if i%10 == 0 {
					s.Failed, s.Kind = true, results.Timeout
				}
				c.Record(v, &s)
				c.RecordJitter(v, 5*time.Microsecond)
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-snapDone
	total := results.NewStats()
	byName := map[string]int64{}
	for _, s := range secs {
		for name, st := range s.ByName {
			byName[name] += st.Requests
			total.Merge(st)
		}
	}
	if total.Requests != vus*perVU || byName["a"] != vus*perVU/2 || total.Latency.Count() != vus*perVU {
		t.Fatalf("snapshots hold %d requests (%v), latency count %d; want %d", total.Requests, byName, total.Latency.Count(), vus*perVU)
	}
	if total.Failures[results.Timeout] != vus*perVU/10 || total.BytesIn != 10*vus*perVU || total.Latency.Max() != perVU {
		t.Fatalf("failures %d, bytes in %d, max %d", total.Failures[results.Timeout], total.BytesIn, total.Latency.Max())
	}
	if c.Jitter().Count() != vus*perVU {
		t.Fatalf("jitter count %d", c.Jitter().Count())
	}
}

// The per-second lateness is the p99 of each second's own samples;
// seconds without open-model iterations have no entry.
func TestCollectorJitterBySecond(t *testing.T) {
	c := NewCollector([]string{"a"}, 1)
	record := func(n int, d time.Duration) {
		for i := range n {
			c.RecordJitter(i, d)
		}
	}
	record(100, 2*time.Millisecond)
	c.Snapshot(10)
	c.Snapshot(11)
	record(90, time.Millisecond)
	record(10, 40*time.Millisecond)
	c.Snapshot(12)
	got := c.JitterBySecond()
	want := []JitterSecond{{10, 2 * time.Millisecond}, {12, 40 * time.Millisecond}}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		// The histogram keeps 3 significant digits.
		if d := got[i].P99 - want[i].P99; got[i].T != want[i].T || d < -want[i].P99/1000 || d > want[i].P99/1000 {
			t.Errorf("second %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	if c.Jitter().Count() != 200 {
		t.Errorf("run-wide jitter has %d samples, want 200", c.Jitter().Count())
	}
}

func TestCollectorMeters(t *testing.T) {
	c := NewCollector([]string{"a"}, 2)
	c.AddVUs(5)
	c.AddVUs(-2)
	c.IterationDone()
	c.IterationDone()
	c.Dropped(3)
	c.SetTargetRate(0, 100)
	c.SetTargetRate(1, 50.5)
	s := c.Snapshot(42)
	if s.T != 42 || s.VUs != 3 || s.Iterations != 2 || s.Dropped != 3 || s.TargetRate != 150.5 {
		t.Fatalf("second %+v", s)
	}
	if s = c.Snapshot(43); s.Iterations != 0 || s.Dropped != 0 || s.VUs != 3 {
		t.Fatalf("counters not reset or VUs lost: %+v", s)
	}
}
