package load

import (
	"fmt"

	"github.com/brinkhq/brink/internal/scenario"
)

// newConstantArrivalRate is the open model at a fixed rate: Rate iterations
// per TimeUnit for Duration, started on schedule whether or not earlier
// ones have finished.
func newConstantArrivalRate(cfg scenario.ExecutorConfig) (Executor, error) {
	if cfg.Rate <= 0 {
		return nil, fmt.Errorf("constant-arrival-rate needs a rate above 0, got %v", cfg.Rate)
	}
	if cfg.Duration <= 0 {
		return nil, fmt.Errorf("constant-arrival-rate needs a duration")
	}
	sch, err := newArrivalSchedule(cfg.Rate, []scenario.Stage{{Target: cfg.Rate, Duration: cfg.Duration}}, cfg.TimeUnit)
	if err != nil {
		return nil, fmt.Errorf("constant-arrival-rate: %w", err)
	}
	return newArrivalRate(scenario.ConstantArrivalRate, cfg, sch)
}
