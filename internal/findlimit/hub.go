package findlimit

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/brinkhq/brink/internal/analysis"
	"github.com/brinkhq/brink/internal/hubclient"
	"github.com/brinkhq/brink/internal/results"
)

// Run labels a search carries in the hub. The autoscaler's
// `capacity: from-run RUN` reads LabelCapacityPerReplica.
const (
	LabelKind               = "kind"
	KindFindLimit           = "find-limit"
	LabelCapacityPerReplica = "capacity_per_replica_rps"
	LabelMaxRate            = "max_sustainable_rate"
	LabelReplicas           = "replicas"
	LabelLimitedBy          = "limited_by"
)

// CapacityFromLabels reads the capacity per replica (req/s) from the
// labels of a find-limit run in the hub.
func CapacityFromLabels(labels map[string]string) (float64, error) {
	if labels[LabelKind] != KindFindLimit {
		return 0, fmt.Errorf("not a find-limit run (label %s=%q): run brink find-limit --hub URL to measure a capacity", LabelKind, labels[LabelKind])
	}
	v, err := strconv.ParseFloat(labels[LabelCapacityPerReplica], 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("the run found no sustainable rate (label %s=%q)", LabelCapacityPerReplica, labels[LabelCapacityPerReplica])
	}
	return v, nil
}

// Report records a finished search in the hub as one run: every second of
// every step, under labels that carry the result. It is sent after the
// search, when the result is known, with the seconds' real times.
func Report(ctx context.Context, c *hubclient.Client, res *Result, service, scenarioText string) (string, error) {
	if len(res.Steps) == 0 {
		return "", fmt.Errorf("no step ran: nothing to report")
	}
	start := time.UnixMilli(res.Steps[0].StartMs)
	end := time.UnixMilli(res.Steps[len(res.Steps)-1].EndMs)
	run := c.StartRun(ctx, hubclient.RunInfo{
		Name: "find-limit " + res.Target, TargetService: service, Scenario: scenarioText, Start: start,
		Labels: map[string]string{
			LabelKind:               KindFindLimit,
			LabelCapacityPerReplica: strconv.FormatFloat(res.CapacityPerReplica, 'f', -1, 64),
			LabelMaxRate:            strconv.FormatFloat(res.MaxRate, 'f', -1, 64),
			LabelReplicas:           strconv.Itoa(res.Replicas),
			LabelLimitedBy:          res.LimitedBy,
		},
	})
	defer run.Close()
	acc := results.NewAccumulator(start)
	for _, st := range res.Steps {
		for _, s := range st.Seconds {
			run.Push(s)
			acc.Add(s)
		}
	}
	acc.SetEnd(end)
	sum := acc.Summary()
	sum.Run, sum.Name = run.ID(), "find-limit "+res.Target
	if err := run.Finish(ctx, hubclient.Finish{End: end, Summary: &sum, ThresholdsOK: res.MaxRate > 0}); err != nil {
		return run.ID(), fmt.Errorf("reporting the search to the hub: %w", err)
	}
	return run.ID(), nil
}

// Attribute names the limiting resource at the first step that broke the
// SLOs, from the resource series a hub holds for that step's seconds.
func Attribute(ctx context.Context, q analysis.Querier, res *Result, service, lbService string) error {
	var broke *Step
	for i := range res.Steps {
		s := &res.Steps[i]
		if !s.OK && !s.GeneratorLimited && s.Rate == res.BrokeAt {
			broke = s
		}
	}
	if broke == nil || broke.Summary == nil || len(broke.Summary.Timeline) == 0 {
		return nil
	}
	tl := broke.Summary.Timeline
	rs, err := analysis.Resources(ctx, q, service, lbService, tl[0].Unix, tl[len(tl)-1].Unix)
	if err != nil {
		return err
	}
	in := analysis.FromSummary(broke.Summary, rs)
	in.GeneratorJitterP99Ms = broke.JitterP99Ms
	res.Limit, res.Findings = analysis.LimitIn(in, tl[0].Unix, tl[len(tl)-1].Unix, analysis.DefaultOptions())
	return nil
}
