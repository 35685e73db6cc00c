package results

import (
	"testing"
	"time"
)

func TestSecondsFromTwoSourcesMergeExactly(t *testing.T) {
	a, b, all := NewSecond(100), NewSecond(100), NewSecond(100)
	for i := int64(1); i <= 1000; i++ {
		src := a
		if i%3 == 0 {
			src = b
		}
		for _, s := range []*Second{src, all} {
			st := s.Stats("home")
			st.Requests++
			st.Latency.Record(i * 37)
			if i%10 == 0 {
				st.Failures[HTTP5xx]++
			}
		}
	}
	a.VUs, b.VUs, a.Dropped, b.Dropped = 3, 2, 1, 4
	a.Merge(b)
	if !a.ByName["home"].Latency.Equal(all.ByName["home"].Latency) {
		t.Fatal("merged latency differs from single histogram")
	}
	if a.VUs != 5 || a.Dropped != 5 || a.ByName["home"].FailureCount() != 100 || a.ByName["home"].Requests != 1000 {
		t.Fatalf("merged counters wrong: %+v", a)
	}
}

func TestAccumulatorSummary(t *testing.T) {
	start := time.Unix(1000, 0)
	acc := NewAccumulator(start)
	for sec := int64(0); sec < 4; sec++ {
		s := NewSecond(1000 + sec)
		s.VUs = int(sec + 1)
		for i := range 100 {
			st := s.Stats([]string{"a", "b"}[i%2])
			st.Requests++
			st.Latency.Record(int64(1000 * (sec + 1)))
			if sec == 3 && i < 10 {
				st.Failures[Timeout]++
			}
		}
		acc.Add(s)
	}
	sum := acc.Summary()
	if sum.Requests != 400 || sum.Failures != 10 || sum.RPS != 100 || sum.MaxVUs != 4 {
		t.Fatalf("summary: requests %d failures %d rps %v maxvus %d", sum.Requests, sum.Failures, sum.RPS, sum.MaxVUs)
	}
	if sum.FailuresByKind["timeout"] != 10 || sum.ErrorRate != 0.025 {
		t.Fatalf("failures by kind %v rate %v", sum.FailuresByKind, sum.ErrorRate)
	}
	if len(sum.Timeline) != 4 || sum.Timeline[3].T != 3 || sum.Timeline[3].P95Ms != 4 || sum.Timeline[0].RPS != 100 {
		t.Fatalf("timeline: %+v", sum.Timeline)
	}
	if sum.ByName["a"].Requests != 200 || sum.LatencyMs.Max != 4 || sum.LatencyMs.P50 != 2 {
		t.Fatalf("by name / latency: %+v %+v", sum.ByName["a"], sum.LatencyMs)
	}
}

func TestFailureKindRoundTrip(t *testing.T) {
	for k := FailureKind(0); k < NumFailureKinds; k++ {
		got, err := ParseFailureKind(k.String())
		if err != nil || got != k {
			t.Fatalf("%v: %v %v", k, got, err)
		}
	}
	if _, err := ParseFailureKind("nope"); err == nil {
		t.Fatal("unknown kind accepted")
	}
}
