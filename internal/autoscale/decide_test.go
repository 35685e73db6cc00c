package autoscale

import (
	"strings"
	"testing"
	"time"

	"github.com/brinkhq/brink/internal/autoscale/actuator"
)

var t0 = time.Date(2026, 11, 24, 19, 0, 0, 0, time.UTC)

// hpaService is a service under the HPA's documented defaults.
func hpaService(min, max int) *ServicePolicy {
	p := HPADefault(&Policy{Services: []*ServicePolicy{{Name: "web", Min: min, Max: max, Window: 15 * time.Second}}})
	return p.Services[0]
}

func cpuTarget(v float64) Target  { return Target{Kind: CPU, Value: v} }
func rpsTarget(v float64) Target  { return Target{Kind: RPS, Value: v} }
func promTarget(v float64) Target { return Target{Kind: PromQL, Value: v, Query: "queue_depth"} }

func reading(t Target, v float64) Reading {
	return Reading{Target: t, Value: v, Window: 15 * time.Second}
}

func missingReading(t Target) Reading {
	return Reading{Target: t, Missing: "query returned no data"}
}

type pastRec struct {
	ago time.Duration
	n   int
}

type pastScale struct {
	ago      time.Duration
	from, to int
}

func TestDecideAgainstHPA(t *testing.T) {
	tests := []struct {
		name     string
		svc      func() *ServicePolicy
		current  int
		readings []Reading
		recs     []pastRec
		scales   []pastScale
		fast     bool
		fresh    bool // a History that saw no decision yet
		want     int
		reason   string // substring of the reason
	}{
		// HPA docs, "Algorithm details": 200m against 100m doubles, 50m halves.
		{name: "ratio 2 doubles", svc: func() *ServicePolicy { return hpaService(1, 10) }, current: 3,
			readings: []Reading{reading(promTarget(100), 200)}, want: 6, reason: "→ 3→6"},
		{name: "ratio 0.5 halves", svc: func() *ServicePolicy {
			s := hpaService(1, 10)
			s.ScaleDown.Stabilization = 0
			return s
		}, current: 4, readings: []Reading{reading(promTarget(100), 50)}, want: 2},
		// Tolerance 0.1: 1.05 is within, 1.15 is not.
		{name: "within tolerance holds", svc: func() *ServicePolicy { return hpaService(1, 10) }, current: 4,
			readings: []Reading{reading(cpuTarget(0.5), 0.525)}, want: 4, reason: "≈ target"},
		{name: "outside tolerance scales", svc: func() *ServicePolicy { return hpaService(1, 10) }, current: 4,
			readings: []Reading{reading(cpuTarget(0.5), 0.575)}, want: 5},
		// The example reason.
		{name: "cpu over target", svc: func() *ServicePolicy { return hpaService(1, 10) }, current: 1,
			readings: []Reading{reading(cpuTarget(0.7), 0.94)}, want: 2,
			reason: "cpu 0.94 of limit over 15s > target 0.70 → 1→2"},
		// Several metrics: the largest proposal wins.
		{name: "max over targets", svc: func() *ServicePolicy { return hpaService(1, 10) }, current: 2,
			readings: []Reading{reading(cpuTarget(0.7), 0.8), reading(rpsTarget(100), 250)}, want: 5, reason: "rps/replica"},
		// Default scale-up limit: max(4 pods, 100%) per 15 s.
		{name: "scale-up limit from 1 is 5", svc: func() *ServicePolicy { return hpaService(1, 100) }, current: 1,
			readings: []Reading{reading(rpsTarget(10), 100)}, want: 5, reason: "scale-up limit"},
		{name: "scale-up limit from 5 is 10", svc: func() *ServicePolicy { return hpaService(1, 100) }, current: 5,
			readings: []Reading{reading(rpsTarget(10), 100)}, want: 10},
		{name: "scale-up limit counts recent scale events", svc: func() *ServicePolicy { return hpaService(1, 100) }, current: 5,
			scales:   []pastScale{{10 * time.Second, 1, 5}},
			readings: []Reading{reading(rpsTarget(10), 100)}, want: 5, reason: "held by scale-up limit"},
		{name: "scale-up limit period over", svc: func() *ServicePolicy { return hpaService(1, 100) }, current: 5,
			scales:   []pastScale{{16 * time.Second, 1, 5}},
			readings: []Reading{reading(rpsTarget(10), 100)}, want: 10},
		// Scale-down stabilisation: the highest recommendation of the last 300 s.
		{name: "scale-down window holds", svc: func() *ServicePolicy { return hpaService(1, 10) }, current: 5,
			recs:     []pastRec{{200 * time.Second, 5}, {100 * time.Second, 3}},
			readings: []Reading{reading(cpuTarget(0.5), 0.1)}, want: 5, reason: "scale-down stabilisation window 5m0s"},
		{name: "scale-down window partly over", svc: func() *ServicePolicy { return hpaService(1, 10) }, current: 5,
			recs:     []pastRec{{301 * time.Second, 5}, {100 * time.Second, 3}},
			readings: []Reading{reading(cpuTarget(0.5), 0.1)}, want: 3},
		// HPA docs' scale-down example: 4 pods or 10% per 60 s, select max change.
		{name: "scale-down select max change", svc: func() *ServicePolicy {
			s := hpaService(1, 100)
			s.ScaleDown = Behavior{Select: "max", Policies: []StepPolicy{{Pods: 4, Period: 60 * time.Second}, {Percent: 10, Period: 60 * time.Second}}}
			return s
		}, current: 80, readings: []Reading{reading(rpsTarget(100), 1)}, want: 72},
		{name: "scale-down select min change", svc: func() *ServicePolicy {
			s := hpaService(1, 100)
			s.ScaleDown = Behavior{Select: "min", Policies: []StepPolicy{{Pods: 4, Period: 60 * time.Second}, {Percent: 10, Period: 60 * time.Second}}}
			return s
		}, current: 80, readings: []Reading{reading(rpsTarget(100), 1)}, want: 76},
		{name: "scale-down at 40 or fewer: pods policy", svc: func() *ServicePolicy {
			s := hpaService(1, 100)
			s.ScaleDown = Behavior{Select: "max", Policies: []StepPolicy{{Pods: 4, Period: 60 * time.Second}, {Percent: 10, Period: 60 * time.Second}}}
			return s
		}, current: 30, readings: []Reading{reading(rpsTarget(100), 1)}, want: 26},
		{name: "scale-down disabled", svc: func() *ServicePolicy {
			s := hpaService(1, 10)
			s.ScaleDown = Behavior{Select: "disabled"}
			return s
		}, current: 5, readings: []Reading{reading(rpsTarget(100), 1)}, want: 5},
		{name: "100% per 15 s stops at min", svc: func() *ServicePolicy {
			s := hpaService(2, 10)
			s.ScaleDown.Stabilization = 0
			return s
		}, current: 4, readings: []Reading{reading(rpsTarget(100), 1)}, want: 2, reason: "held by min 2 replicas"},
		// Bounds.
		{name: "max bound", svc: func() *ServicePolicy { return hpaService(1, 3) }, current: 2,
			readings: []Reading{reading(rpsTarget(10), 100)}, want: 3, reason: "max 3 replicas"},
		{name: "above max comes back even without metrics", svc: func() *ServicePolicy { return hpaService(1, 3) }, current: 5,
			readings: []Reading{missingReading(cpuTarget(0.5))}, want: 3, reason: "above max"},
		{name: "below min comes up", svc: func() *ServicePolicy { return hpaService(2, 3) }, current: 1,
			readings: []Reading{reading(cpuTarget(0.5), 0.1)}, want: 2, reason: "below min"},
		// Missing metrics (HPA: scale up on what is there, never down).
		{name: "all missing holds", svc: func() *ServicePolicy { return hpaService(1, 10) }, current: 3,
			readings: []Reading{missingReading(cpuTarget(0.5))}, want: 3, reason: "no target has data"},
		{name: "one missing, other down holds", svc: func() *ServicePolicy {
			s := hpaService(1, 10)
			s.ScaleDown.Stabilization = 0
			return s
		}, current: 3, readings: []Reading{missingReading(cpuTarget(0.5)), reading(rpsTarget(100), 10)}, want: 3,
			reason: "never scaling down on missing data"},
		{name: "one missing, other up scales up", svc: func() *ServicePolicy { return hpaService(1, 10) }, current: 3,
			readings: []Reading{missingReading(cpuTarget(0.5)), reading(rpsTarget(100), 200)}, want: 6},
		// Replicas without data (HPA's missing pods): 0 on the way up, full
		// limit on the way down, never reversing the direction.
		{name: "starting replica dampens scale-up", svc: func() *ServicePolicy { return hpaService(1, 10) }, current: 3,
			readings: []Reading{{Target: cpuTarget(0.7), Value: 1.0, Reporting: 2}}, want: 3},
		{name: "starting replica, still overloaded", svc: func() *ServicePolicy { return hpaService(1, 10) }, current: 2,
			readings: []Reading{{Target: cpuTarget(0.5), Value: 1.0, Reporting: 1}}, want: 2},
		{name: "missing replica blocks scale-down", svc: func() *ServicePolicy {
			s := hpaService(1, 10)
			s.ScaleDown.Stabilization = 0
			return s
		}, current: 3, readings: []Reading{{Target: cpuTarget(0.7), Value: 0.35, Reporting: 2}}, want: 3},
		{name: "missing replica, clearly idle", svc: func() *ServicePolicy {
			s := hpaService(1, 10)
			s.ScaleDown.Stabilization = 0
			return s
		}, current: 4, readings: []Reading{{Target: cpuTarget(0.9), Value: 0.05, Reporting: 2}}, want: 3},
		{name: "all replicas report uses reporting count", svc: func() *ServicePolicy { return hpaService(1, 10) }, current: 2,
			readings: []Reading{{Target: cpuTarget(0.5), Value: 1.0, Reporting: 2}}, want: 4},
		// Fast path: skips the scale-up window, never scales down.
		{name: "fast path skips scale-up window", svc: func() *ServicePolicy {
			s := hpaService(1, 10)
			s.ScaleUp.Stabilization = 30 * time.Second
			return s
		}, current: 1, recs: []pastRec{{10 * time.Second, 1}}, fast: true,
			readings: []Reading{reading(rpsTarget(100), 300)}, want: 3, reason: "fast path"},
		{name: "without fast path the window holds", svc: func() *ServicePolicy {
			s := hpaService(1, 10)
			s.ScaleUp.Stabilization = 30 * time.Second
			return s
		}, current: 1, recs: []pastRec{{10 * time.Second, 1}},
			readings: []Reading{reading(rpsTarget(100), 300)}, want: 1, reason: "scale-up stabilisation window"},
		{name: "first decision after a start keeps the scale-down window", svc: func() *ServicePolicy { return hpaService(1, 10) },
			current: 5, fresh: true, readings: []Reading{reading(rpsTarget(100), 1)}, want: 5, reason: "scale-down stabilisation window"},
		{name: "fast path never scales down", svc: func() *ServicePolicy {
			s := hpaService(1, 10)
			s.ScaleDown.Stabilization = 0
			return s
		}, current: 4, fast: true, readings: []Reading{reading(rpsTarget(100), 10)}, want: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := tt.svc()
			h := History{seeded: true}
			for _, r := range tt.recs {
				h.recs = append(h.recs, timedInt{t0.Add(-r.ago), r.n})
			}
			for _, s := range tt.scales {
				h.Record(t0.Add(-s.ago), s.from, s.to)
			}
			if tt.fresh {
				h = History{}
			}
			d := Decide(svc, &h, Input{Now: t0, Current: tt.current, Readings: tt.readings, Fast: tt.fast})
			if d.Desired != tt.want {
				t.Fatalf("desired = %d, want %d (reason: %s)", d.Desired, tt.want, d.Reason)
			}
			if !strings.Contains(d.Reason, tt.reason) {
				t.Fatalf("reason %q does not contain %q", d.Reason, tt.reason)
			}
		})
	}
}

// TestDecideSequence runs a load step through successive decisions: up at
// once, no reversal while the load is constant, down only after the
// scale-down window.
func TestDecideSequence(t *testing.T) {
	svc := hpaService(1, 10)
	svc.ScaleDown.Stabilization = 60 * time.Second
	var h History
	current := 1
	rps := func(at time.Duration) float64 {
		switch {
		case at < 30*time.Second:
			return 50
		case at < 120*time.Second:
			return 300
		}
		return 50
	}
	type step struct {
		at      time.Duration
		desired int
	}
	var changes []step
	for at := time.Duration(0); at <= 300*time.Second; at += 15 * time.Second {
		perReplica := rps(at) / float64(current)
		d := Decide(svc, &h, Input{Now: t0.Add(at), Current: current, Readings: []Reading{reading(rpsTarget(100), perReplica)}})
		if d.Change() {
			h.Record(t0.Add(at), current, d.Desired)
			changes = append(changes, step{at, d.Desired})
			current = d.Desired
		}
	}
	// The last high recommendation (at 105 s) leaves the 60 s window at 165 s.
	want := []step{{30 * time.Second, 3}, {165 * time.Second, 1}}
	if len(changes) != len(want) {
		t.Fatalf("changes %v, want %v", changes, want)
	}
	for i := range want {
		if changes[i] != want[i] {
			t.Fatalf("changes %v, want %v", changes, want)
		}
	}
}

// TestDecideStabilizationFromMeasurements: with the window spanning
// measurements, replicas are back at what the load needs within one
// stabilisation window of the drop, not that plus the averaging window:
// the recommendations made while the 15 s average still held part of the
// step no longer stretch it.
func TestDecideStabilizationFromMeasurements(t *testing.T) {
	for _, tt := range []struct {
		from      bool
		wantFirst time.Duration // first scale-in, after the drop
		wantMin   time.Duration // back to 1
	}{
		// As the HPA: the recommendations at drop+5 s (3) and drop+10 s
		// (2), whose averages still hold some of the step, each count for
		// 60 s from when they were made.
		{false, 65 * time.Second, 70 * time.Second},
		// From measurements: each counts while its oldest sample is within
		// 60 s: until drop−10+60 and drop−5+60.
		{true, 50 * time.Second, 55 * time.Second},
	} {
		svc := hpaService(1, 10)
		svc.ScaleDown.Stabilization = 60 * time.Second
		svc.ScaleDown.FromMeasurements = tt.from
		var h History
		current := 1
		drop := 120 * time.Second
		// The 15 s average of a load of 300/s before the drop and 50/s after.
		avg := func(at time.Duration) float64 {
			hi := min(max(drop-(at-15*time.Second), 0), 15*time.Second)
			return (300*hi.Seconds() + 50*(15-hi.Seconds())) / 15
		}
		first, backToMin := time.Duration(-1), time.Duration(-1)
		for tick := time.Duration(0); tick <= 300*time.Second; tick += 5 * time.Second {
			// Timer jitter of a millisecond either way must not move a
			// decision by a whole interval.
			at := tick + time.Duration(1-2*(int(tick/(5*time.Second))%2))*time.Millisecond
			load := 50.0
			if tick >= 30*time.Second {
				load = avg(at)
			}
			d := Decide(svc, &h, Input{Now: t0.Add(at), Current: current, Readings: []Reading{reading(rpsTarget(100), load/float64(current))}})
			if !d.Change() {
				continue
			}
			if d.Desired < current && first < 0 {
				first = tick - drop
			}
			if d.Desired == 1 && current > 1 {
				backToMin = tick - drop
			}
			h.Record(t0.Add(at), current, d.Desired)
			current = d.Desired
		}
		if first != tt.wantFirst || backToMin != tt.wantMin {
			t.Errorf("from measurements %v: first scale-in %v and back to 1 %v after the drop, want %v and %v",
				tt.from, first, backToMin, tt.wantFirst, tt.wantMin)
		}
	}
}

// TestDecideSeedHoldsTheWholeWindow: the count the autoscaler starts with
// stands for measurements nobody took, so it holds for the whole
// scale-down window even when the window spans measurements and is shorter
// than the averaging window (which leaves no past recommendation in it).
func TestDecideSeedHoldsTheWholeWindow(t *testing.T) {
	svc := hpaService(1, 10)
	svc.ScaleDown.Stabilization = 3 * time.Second
	svc.ScaleDown.FromMeasurements = true // span max(3 s − 15 s, 0) = 0
	var h History
	low := []Reading{reading(rpsTarget(100), 10)}
	for _, tt := range []struct {
		at   time.Duration
		want int
	}{{0, 2}, {2 * time.Second, 2}, {4 * time.Second, 1}} {
		d := Decide(svc, &h, Input{Now: t0.Add(tt.at), Current: 2, Readings: low})
		if d.Desired != tt.want {
			t.Fatalf("at +%v: desired %d, want %d (%s)", tt.at, d.Desired, tt.want, d.Reason)
		}
	}
}

func TestVictims(t *testing.T) {
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	reps := []actuator.Replica{
		{Name: "web-1", Created: at(0)}, {Name: "web-2", Created: at(10)},
		{Name: "web-3", Created: at(20)}, {Name: "web-4", Created: at(30)},
	}
	tests := []struct {
		name string
		inLB map[string]bool
		n    int
		want string
	}{
		{"newest first", map[string]bool{"web-1": true, "web-2": true, "web-3": true, "web-4": true}, 2, "web-4 web-3"},
		{"not serving first", map[string]bool{"web-1": true, "web-3": true, "web-4": true}, 2, "web-2 web-4"},
		{"more than there are", map[string]bool{}, 9, "web-4 web-3 web-2 web-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var names []string
			for _, r := range victims(reps, tt.inLB, tt.n) {
				names = append(names, r.Name)
			}
			if got := strings.Join(names, " "); got != tt.want {
				t.Fatalf("victims %q, want %q", got, tt.want)
			}
		})
	}
}
