package lab

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/brinkhq/brink/internal/scenario"
)

// Phase is one step of the lab's story: how many replicas serve, what load
// they get, and what runs beside the load. The lab runs its phases in
// order, each as a named run in the hub; adding a phase is adding an entry
// to the list DefaultPhases returns.
type Phase struct {
	Name  string // the run's name in the hub and the row in the comparison
	Title string
	// Story says what the phase shows, for the report.
	Story string
	// Replicas serve when the load starts.
	Replicas int
	// InQuick includes the phase in `brink lab --quick`.
	InQuick bool
	// Calibrates marks the phase whose measured CPU per request sizes the
	// later phases' load.
	Calibrates bool
	// Duration is the phase's length (full, quick).
	Duration, QuickDuration time.Duration
	// Load is the offered load, from one replica's capacity.
	Load func(capacity float64, d time.Duration) LoadShape
	// Quiet is how long the replicas idle before the load starts, so that
	// what runs alongside does not act on the previous phase's load still
	// inside its averaging windows.
	Quiet time.Duration
	// Alongside, when set, starts something that runs during the load (the
	// autoscaler); the lab stops it when the load ends.
	Alongside func(ctx context.Context, s *Stack, p PhaseEnv) (Companion, error)
}

// PhaseEnv is what a phase's companion may use.
type PhaseEnv struct {
	// Capacity is one replica's measured capacity (good req/s).
	Capacity float64
	// Log receives the companion's messages, one line each.
	Log func(format string, args ...any)
}

// Companion runs beside a phase's load.
type Companion interface {
	// Stop ends it and returns what it did, for the report.
	Stop(ctx context.Context) ([]ScalingEvent, error)
}

// ScalingEvent is something a companion did to the replicas: a decision,
// a replica joining or leaving the load balancer, a fault.
type ScalingEvent struct {
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"`
	Message string    `json:"message"`
	From    int       `json:"from,omitempty"`
	To      int       `json:"to,omitempty"`
}

// LoadShape is an offered load: an arrival rate (iterations per second)
// ramped linearly through stages from StartRate.
type LoadShape struct {
	StartRate float64
	Stages    []scenario.Stage
}

// Peak is the highest rate of the shape.
func (l LoadShape) Peak() float64 {
	p := l.StartRate
	for _, s := range l.Stages {
		p = math.Max(p, s.Target)
	}
	return p
}

// Duration is the shape's length.
func (l LoadShape) Duration() time.Duration {
	var d time.Duration
	for _, s := range l.Stages {
		d += s.Duration
	}
	return d
}

// Load levels, as fractions of one replica's capacity. The overload ramp
// ends at 1.6 times it: well past what one replica serves, and within what
// two serve (0.8 of each), which is the seed's story — one instance broke
// at about 1,400 TPS, two served 1,860 without errors.
const (
	normalLoad    = 0.35
	rampStartLoad = 0.3
	overloadPeak  = 1.6
)

// steady is a constant rate for d.
func steady(rate float64, d time.Duration) LoadShape {
	return LoadShape{StartRate: rate, Stages: []scenario.Stage{{Target: rate, Duration: d}}}
}

// overloadRamp ramps from a comfortable rate to overloadPeak × capacity
// over two thirds of d and holds the peak for the last third, so that the
// breaking point is crossed and the broken state lasts long enough to see.
func overloadRamp(capacity float64, d time.Duration) LoadShape {
	ramp := d * 2 / 3
	return LoadShape{
		StartRate: math.Round(rampStartLoad * capacity),
		Stages: []scenario.Stage{
			{Target: math.Round(overloadPeak * capacity), Duration: ramp},
			{Target: math.Round(overloadPeak * capacity), Duration: d - ramp},
		},
	}
}

// DefaultPhases are the seed's experiment, in order.
func DefaultPhases() []Phase {
	return []Phase{
		{
			Name: "normal", Title: "Normal load", Replicas: 1, InQuick: true, Calibrates: true,
			Story: "One replica at a comfortable load: the container uses a part of its 0.5 CPU, the host is calm. " +
				"The CPU it spends per request sizes the next phases.",
			Duration: 30 * time.Second, QuickDuration: 8 * time.Second,
			Load: func(c float64, d time.Duration) LoadShape { return steady(math.Round(normalLoad*c), d) },
		},
		{
			Name: "overload", Title: "Overload, one replica", Replicas: 1, InQuick: true,
			Story: "The arrival rate ramps past what one replica can serve. The container pins at its CPU limit and is throttled; " +
				"throughput stops rising and errors begin.",
			Duration: 90 * time.Second, QuickDuration: 22 * time.Second,
			Load: overloadRamp,
		},
		{
			Name: "two-replicas", Title: "Same overload, two replicas", Replicas: 2, InQuick: true,
			Story:    "The same ramp through the load balancer to two replicas: each stays below its limit, throughput keeps rising, errors stay away.",
			Duration: 90 * time.Second, QuickDuration: 22 * time.Second,
			Load: overloadRamp,
		},
		autoscalePhase(),
	}
}

// selectPhases picks the phases to run: the named ones, or every phase of
// the mode.
func selectPhases(all []Phase, names []string, quick bool) []Phase {
	var out []Phase
	for _, p := range all {
		switch {
		case len(names) > 0:
			for _, n := range names {
				if n == p.Name {
					out = append(out, p)
				}
			}
		case !quick || p.InQuick:
			out = append(out, p)
		}
	}
	return out
}

// scenarioYAML writes a phase's load as a scenario file that `brink run`
// accepts, so that the report carries exactly what was sent and a user
// can replay it.
func scenarioYAML(phase string, url string, shape LoadShape, timeout time.Duration) string {
	maxVUs := int(math.Ceil(shape.Peak() * (timeout + time.Second).Seconds()))
	var b strings.Builder
	fmt.Fprintf(&b, "# brink lab, phase %q: replay with `brink run FILE` while the lab's stack runs (brink lab --keep).\n", phase)
	b.WriteString("scenarios:\n")
	fmt.Fprintf(&b, "  %s:\n", phase)
	b.WriteString("    executor: ramping-arrival-rate\n")
	fmt.Fprintf(&b, "    start_rate: %s\n", rateText(shape.StartRate))
	b.WriteString("    stages:\n")
	for _, s := range shape.Stages {
		fmt.Fprintf(&b, "      - {target: %s, duration: %s}\n", rateText(s.Target), durationText(s.Duration))
	}
	fmt.Fprintf(&b, "    max_vus: %d\n", max(maxVUs, 100))
	b.WriteString("    graceful_stop: 5s\n")
	b.WriteString("    steps:\n")
	b.WriteString("      - name: home\n")
	fmt.Fprintf(&b, "        url: %s\n", url)
	b.WriteString("        # The seed's web app answered 200 while it was dead: only the body tells.\n")
	b.WriteString("        check: {status: 200, body_contains: " + helloCheck + "}\n")
	b.WriteString("options:\n")
	fmt.Fprintf(&b, "  timeout: %s\n", durationText(timeout))
	return b.String()
}

// durationText writes whole seconds as "90s" rather than "1m30s".
func durationText(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return d.String()
}

func rateText(r float64) string { return fmt.Sprintf("%d", int64(math.Round(r))) }
