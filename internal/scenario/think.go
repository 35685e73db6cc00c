package scenario

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// ThinkKind is the distribution of a think time.
type ThinkKind uint8

// Think time distributions.
const (
	ThinkNone        ThinkKind = iota
	ThinkConstant              // always Duration
	ThinkUniform               // uniformly in [Min, Max]
	ThinkExponential           // exponential with mean Mean, capped at ExponentialCap × Mean
)

// ExponentialCap bounds exponential think times so that one unlucky draw
// cannot park a VU for the rest of a run.
const ExponentialCap = 10

// Think is a pause: after a step, or after each iteration of a scenario.
type Think struct {
	Kind     ThinkKind
	Duration time.Duration // ThinkConstant
	Min, Max time.Duration // ThinkUniform
	Mean     time.Duration // ThinkExponential
}

// Sample draws one pause.
func (t Think) Sample(r *rand.Rand) time.Duration {
	switch t.Kind {
	case ThinkConstant:
		return t.Duration
	case ThinkUniform:
		if t.Max <= t.Min {
			return t.Min
		}
		return t.Min + time.Duration(r.Int64N(int64(t.Max-t.Min)+1))
	case ThinkExponential:
		d := time.Duration(r.ExpFloat64() * float64(t.Mean))
		return min(d, ExponentialCap*t.Mean)
	default:
		return 0
	}
}

// IsZero reports whether there is no pause at all.
func (t Think) IsZero() bool { return t.Kind == ThinkNone }

func (t Think) String() string {
	switch t.Kind {
	case ThinkConstant:
		return t.Duration.String()
	case ThinkUniform:
		return fmt.Sprintf("uniform(%s, %s)", t.Min, t.Max)
	case ThinkExponential:
		return fmt.Sprintf("exponential(%s)", t.Mean)
	default:
		return "none"
	}
}

// parseThink reads "500ms", "constant(500ms)", "uniform(1s, 3s)" or
// "exponential(2s)".
func parseThink(s string) (Think, error) {
	s = strings.TrimSpace(s)
	name, args, isCall := strings.Cut(s, "(")
	if !isCall {
		d, err := parseDuration(s)
		if err != nil {
			return Think{}, fmt.Errorf("expected a duration (500ms), uniform(MIN, MAX) or exponential(MEAN), got %q", s)
		}
		return constantThink(d), nil
	}
	if !strings.HasSuffix(args, ")") {
		return Think{}, fmt.Errorf("missing ')' in %q", s)
	}
	parts := strings.Split(strings.TrimSuffix(args, ")"), ",")
	durs := make([]time.Duration, len(parts))
	for i, p := range parts {
		d, err := parseDuration(strings.TrimSpace(p))
		if err != nil {
			return Think{}, fmt.Errorf("argument %d of %s: %w", i+1, strings.TrimSpace(name), err)
		}
		durs[i] = d
	}
	switch strings.TrimSpace(name) {
	case "constant":
		if len(durs) != 1 {
			return Think{}, fmt.Errorf("constant takes one duration, e.g. constant(500ms)")
		}
		return constantThink(durs[0]), nil
	case "uniform":
		if len(durs) != 2 {
			return Think{}, fmt.Errorf("uniform takes two durations, e.g. uniform(1s, 3s)")
		}
		if durs[1] < durs[0] {
			return Think{}, fmt.Errorf("uniform(%s, %s): the maximum is below the minimum", durs[0], durs[1])
		}
		return Think{Kind: ThinkUniform, Min: durs[0], Max: durs[1]}, nil
	case "exponential":
		if len(durs) != 1 {
			return Think{}, fmt.Errorf("exponential takes one duration (the mean), e.g. exponential(2s)")
		}
		if durs[0] == 0 {
			return Think{}, nil
		}
		return Think{Kind: ThinkExponential, Mean: durs[0]}, nil
	default:
		return Think{}, fmt.Errorf("unknown distribution %q%s; use constant, uniform or exponential",
			strings.TrimSpace(name), didYouMean(strings.TrimSpace(name), []string{"constant", "uniform", "exponential"}))
	}
}

func constantThink(d time.Duration) Think {
	if d == 0 {
		return Think{}
	}
	return Think{Kind: ThinkConstant, Duration: d}
}

// parseDuration is time.ParseDuration without negative values and with a
// bare 0 allowed.
func parseDuration(s string) (time.Duration, error) {
	if s == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("expected a duration like 500ms, 2s or 1m30s, got %q", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("duration %q is negative", s)
	}
	return d, nil
}
