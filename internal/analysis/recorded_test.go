package analysis

import (
	"math"
	"path/filepath"
	"strings"
	"testing"
)

// lowLoadCPUPerRequest is the target's CPU seconds per good request over
// the run's first seconds with load: measured from the resource series
// alone, independently of the knee detection, it gives the capacity a CPU
// limit allows (limit / CPU per request).
func lowLoadCPUPerRequest(t *testing.T, rec *Recording, seconds int) float64 {
	t.Helper()
	cpu := map[int64]float64{}
	for _, s := range rec.Resources {
		if s.Name == TargetCPU {
			for _, p := range s.Points {
				cpu[p.T] += p.V
			}
		}
	}
	var used, good float64
	n := 0
	for _, p := range rec.Summary.Timeline {
		if p.TargetRate <= 0 || p.T == 0 {
			continue // the first second is partial
		}
		if c, ok := cpu[p.Unix]; ok && n < seconds {
			used += c
			good += float64(p.Requests - p.Failures)
			n++
		}
	}
	if good == 0 {
		t.Fatal("no good requests at low load")
	}
	return used / good
}

func readRecorded(t *testing.T, name string) *Recording {
	t.Helper()
	rec, err := ReadRecording(filepath.Join("testdata", "recorded", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// TestRecordedTargetCPULimit: brink-target with 1 ms of CPU per request in
// a 0.5-CPU container, ramped from 50 to 1,000 requests/s. The knee must
// sit where the CPU limit allows (limit / CPU per request, measured at low
// load), and the limit must be the target's CPU.
func TestRecordedTargetCPULimit(t *testing.T) {
	rec := readRecorded(t, "target-cpu-limit")
	res := Analyze(rec.Input(), DefaultOptions())
	t.Log(res.Headline())
	if res.Knee == nil || res.Limit == nil {
		t.Fatalf("no knee: %+v", res)
	}
	capacity := 0.5 / lowLoadCPUPerRequest(t, rec, 10)
	if math.Abs(res.Knee.Offered-capacity) > 0.2*capacity {
		t.Errorf("knee at %.0f/s, want the CPU limit's capacity %.0f/s ± 20%%", res.Knee.Offered, capacity)
	}
	if res.Limit.Resource != ResTargetCPU || res.Limit.Entity != "web-1" || res.Limit.Generator {
		t.Errorf("limit = %+v, want the target's CPU (web-1)", res.Limit)
	}
	if res.MaxSustainedRPS < 0.8*capacity || res.MaxSustainedRPS > 1.5*capacity {
		t.Errorf("max sustained %.0f req/s, capacity %.0f", res.MaxSustainedRPS, capacity)
	}
}

// TestRecordedGeneratorSaturated: a cheap target with the whole machine and
// a generator held to 0.2 CPU. The generator saturates; the analysis must
// say so and must not name the target.
func TestRecordedGeneratorSaturated(t *testing.T) {
	rec := readRecorded(t, "generator-saturated")
	res := Analyze(rec.Input(), DefaultOptions())
	t.Log(res.Headline())
	if res.Knee == nil || res.Limit == nil {
		t.Fatalf("no knee: %+v", res)
	}
	if !res.Limit.Generator || res.Limit.Resource != ResGeneratorCPU {
		t.Errorf("limit = %+v, want the generator's CPU", res.Limit)
	}
	if strings.Contains(res.Limit.Text, "web-1") {
		t.Errorf("generator saturation blamed on the target: %q", res.Limit.Text)
	}
	for _, f := range res.Findings {
		if f.Resource == ResTargetCPU && f.Saturated {
			t.Errorf("the unlimited target is reported at a limit: %+v", f)
		}
	}
}

// TestRecordedSeedErrorPages: the seed's single-threaded app on half a
// core, whose overload answers are 200 with an error page; a body check
// turns them into failures. Errors must be among the signals, near the
// single worker's capacity, and the generator must not be blamed.
func TestRecordedSeedErrorPages(t *testing.T) {
	rec := readRecorded(t, "seed-error-pages")
	res := Analyze(rec.Input(), DefaultOptions())
	t.Log(res.Headline())
	if res.Knee == nil || res.Limit == nil {
		t.Fatalf("no knee: %+v", res)
	}
	var errorsAt float64
	for _, s := range res.Knee.Signals {
		if s.Kind == SignalErrors {
			errorsAt = s.Offered
		}
	}
	if errorsAt == 0 {
		t.Fatalf("no error signal: %+v", res.Knee.Signals)
	}
	if errorsAt < res.Knee.Offered {
		t.Errorf("errors at %.0f before the knee at %.0f", errorsAt, res.Knee.Offered)
	}
	// One worker with 2 ms of CPU per request: at most 500/s even without
	// the CPU limit; the knee must be below that and not at the very start.
	if res.Knee.Offered >= 500 || res.Knee.Offered < 60 {
		t.Errorf("knee at %.0f/s, want between 60 and 500", res.Knee.Offered)
	}
	if res.Limit.Generator {
		t.Errorf("limit = %+v: the generator used a few percent of its CPU", res.Limit)
	}
}

func TestSaturationChartMarksTheKnee(t *testing.T) {
	rec := readRecorded(t, "target-cpu-limit")
	res := Analyze(rec.Input(), DefaultOptions())
	svg := string(SaturationChart("sat", rec.Input(), res).SVG())
	for _, want := range []string{"knee at 400 iterations/s", "good req/s", "p95 latency", "max sustained 397 req/s"} {
		if !strings.Contains(svg, want) {
			t.Errorf("chart lacks %q", want)
		}
	}
}
