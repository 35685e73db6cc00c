package scenario

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/brinkhq/brink/internal/threshold"
)

// QuickOptions are the flags of `brink run --url`.
type QuickOptions struct {
	URL        string
	Method     string   // default GET, or POST when a body is given
	Headers    []string // "Name: value"
	Body       []byte
	VUs        int           // constant-vus size; with Rate, the VU pool's limit
	Rate       float64       // iterations per second: selects an arrival-rate executor
	Duration   time.Duration // default DefaultQuickDuration unless Iterations is given
	Iterations int64
	Ramp       string // "30s:50,1m:50,10s:0": ramping-vus, or ramping-arrival-rate with Rate
	Timeout    time.Duration
	Thresholds []string
}

// DefaultQuickDuration is the length of a quick run given neither a
// duration, iterations nor a ramp.
const DefaultQuickDuration = 10 * time.Second

// QuickScenarioName names the single scenario of a quick plan.
const QuickScenarioName = "default"

// Quick builds the one-step plan of `brink run --url`. Its errors name the
// flag at fault.
func Quick(o QuickOptions) (*Plan, error) {
	if err := checkURL(o.URL); err != nil {
		return nil, fmt.Errorf("--url: %w", err)
	}
	method := strings.ToUpper(strings.TrimSpace(o.Method))
	switch {
	case method == "" && len(o.Body) > 0:
		method = http.MethodPost
	case method == "":
		method = http.MethodGet
	case !validHeaderName(method):
		return nil, fmt.Errorf("--method: %q is not a valid HTTP method", o.Method)
	}
	timeout := DefaultTimeout
	if o.Timeout < 0 {
		return nil, fmt.Errorf("--timeout: must not be negative")
	}
	if o.Timeout > 0 {
		timeout = o.Timeout
	}
	header := http.Header{}
	for _, h := range o.Headers {
		name, value, ok := strings.Cut(h, ":")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || !validHeaderName(name) {
			return nil, fmt.Errorf(`--header %q: expected "Name: value"`, h)
		}
		if strings.ContainsAny(value, "\r\n") {
			return nil, fmt.Errorf("--header %q: values cannot contain line breaks", h)
		}
		header.Add(name, value)
	}
	for _, t := range o.Thresholds {
		if _, err := threshold.Parse(t); err != nil {
			return nil, fmt.Errorf("--threshold %q: %w", t, err)
		}
	}
	exec, err := quickExecutor(o)
	if err != nil {
		return nil, err
	}

	st := &Step{
		Name: method + " " + o.URL, Method: method, Timeout: timeout,
		url: &template{raw: o.URL, lit: o.URL}, fixed: o.Body,
	}
	names := make([]string, 0, len(header))
	for k := range header {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		// Repeated --header flags with one name are joined, as HTTP allows.
		v := strings.Join(header[k], ", ")
		st.headers = append(st.headers, headerTemplate{name: k, value: &template{raw: v, lit: v}})
	}
	st.prepare()
	p := &Plan{
		Thresholds: slices.Clone(o.Thresholds),
		Options:    Options{Timeout: timeout},
	}
	s := &Scenario{
		Name: QuickScenarioName, Executor: exec, plan: p, varSlots: map[string]int{},
		Flows:      []*Flow{{Name: QuickScenarioName, Weight: 1, Steps: []*Step{st}}},
		cumWeights: []float64{1},
	}
	p.Scenarios = []*Scenario{s}
	return p, nil
}

func quickExecutor(o QuickOptions) (ExecutorConfig, error) {
	e := ExecutorConfig{GracefulStop: DefaultGracefulStop, TimeUnit: DefaultTimeUnit, Iterations: o.Iterations}
	switch {
	case o.VUs < 0:
		return e, fmt.Errorf("--vus: must not be negative")
	case o.Rate < 0 || math.IsNaN(o.Rate) || math.IsInf(o.Rate, 0):
		return e, fmt.Errorf("--rate: must be a positive number")
	case o.Duration < 0:
		return e, fmt.Errorf("--duration: must not be negative")
	case o.Iterations < 0:
		return e, fmt.Errorf("--iterations: must not be negative")
	}
	if o.Ramp != "" {
		if o.Duration > 0 {
			return e, fmt.Errorf("--duration and --ramp conflict: the ramp's stages set the length of the run")
		}
		stages, err := ParseRamp(o.Ramp)
		if err != nil {
			return e, fmt.Errorf("--ramp: %w", err)
		}
		e.Stages = stages
		if o.Rate > 0 {
			e.Kind, e.StartRate = RampingArrivalRate, o.Rate
			e.MaxVUs = o.VUs
			defaultPool(&e)
			return e, nil
		}
		for _, s := range stages {
			if s.Target != math.Trunc(s.Target) {
				return e, fmt.Errorf("--ramp: %v VUs is not a whole number (add --rate to ramp an arrival rate instead)", s.Target)
			}
		}
		e.Kind, e.StartVUs = RampingVUs, o.VUs
		return e, nil
	}
	e.Duration = o.Duration
	if o.Rate > 0 {
		e.Kind, e.Rate = ConstantArrivalRate, o.Rate
		if e.Duration == 0 {
			if o.Iterations > 0 {
				// Just long enough for the iterations at the rate.
				e.Duration = time.Duration(math.Ceil(float64(o.Iterations)/o.Rate)) * time.Second
			} else {
				e.Duration = DefaultQuickDuration
			}
		}
		e.MaxVUs = o.VUs
		defaultPool(&e)
		return e, nil
	}
	e.Kind, e.VUs = ConstantVUs, max(1, o.VUs)
	if e.Duration == 0 && o.Iterations == 0 {
		e.Duration = DefaultQuickDuration
	}
	return e, nil
}

// ParseRamp reads "30s:50,1m:50,10s:0": comma-separated stages of
// duration:target.
func ParseRamp(s string) ([]Stage, error) {
	var out []Stage
	var total time.Duration
	for i, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		d, t, ok := strings.Cut(part, ":")
		if !ok {
			return nil, fmt.Errorf("stage %d %q: expected DURATION:TARGET, e.g. 30s:50", i+1, part)
		}
		dur, err := parseDuration(strings.TrimSpace(d))
		if err != nil {
			return nil, fmt.Errorf("stage %d %q: %w", i+1, part, err)
		}
		if dur > maxDuration {
			return nil, fmt.Errorf("stage %d %q: longer than the limit of %s", i+1, part, maxDuration)
		}
		target, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
		if err != nil || target < 0 || math.IsNaN(target) || math.IsInf(target, 0) {
			return nil, fmt.Errorf("stage %d %q: the target %q is not a non-negative number", i+1, part, t)
		}
		total += dur
		out = append(out, Stage{Target: target, Duration: dur})
	}
	if total == 0 {
		return nil, fmt.Errorf("the stages add up to no time: give at least one a duration")
	}
	return out, nil
}
