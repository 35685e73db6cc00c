package load

import (
	"fmt"

	"github.com/brinkhq/brink/internal/scenario"
)

// newRampingArrivalRate is the open model with a rate that follows stages:
// from StartRate, linearly to each stage's target (per TimeUnit) over its
// duration.
func newRampingArrivalRate(cfg scenario.ExecutorConfig) (Executor, error) {
	if len(cfg.Stages) == 0 {
		return nil, fmt.Errorf("ramping-arrival-rate needs at least one stage")
	}
	sch, err := newArrivalSchedule(cfg.StartRate, cfg.Stages, cfg.TimeUnit)
	if err != nil {
		return nil, fmt.Errorf("ramping-arrival-rate: %w", err)
	}
	return newArrivalRate(scenario.RampingArrivalRate, cfg, sch)
}
