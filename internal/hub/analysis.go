package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/brinkhq/brink/internal/analysis"
	"github.com/brinkhq/brink/internal/coord"
	"github.com/brinkhq/brink/internal/hub/events"
	"github.com/brinkhq/brink/internal/hub/runs"
	"github.com/brinkhq/brink/internal/results"
)

// RunAnalysis is a run's saturation analysis as the hub keeps it with the
// run and serves it: where the run's knee is and what limited the service
// there (analysis.Result, inline), plus how it was computed.
type RunAnalysis struct {
	Run        string `json:"run"`
	ComputedMs int64  `json:"computed_ms"`
	// Final is true when the run had ended, and the monitors' samples of
	// its last seconds had had time to arrive, when this was computed: its
	// figures will not change.
	Final bool `json:"final"`
	// Kept is true for the analysis kept with the run (the final one, of
	// the run's own target service).
	Kept          bool   `json:"kept"`
	TargetService string `json:"target_service"`
	// ServiceChosen is set when the analysis looked at a service the
	// request chose (?service=), not the run's own target service.
	ServiceChosen bool   `json:"service_chosen,omitempty"`
	LBService     string `json:"lb_service"`
	// TimelineFrom is where the per-second load came from: "summary" (the
	// reporter's final summary) or "series" (rebuilt from the stored
	// brink_* series, for a run whose reporter never sent one).
	TimelineFrom string `json:"timeline_from"`
	Seconds      int    `json:"seconds"`
	// ResourceSeries counts the resource series found for the run's
	// target service, load balancer and their hosts.
	ResourceSeries int `json:"resource_series"`
	// Text is the knee and its cause in one line (analysis Headline).
	Text string `json:"headline"`
	analysis.Result
}

// Timeline sources.
const (
	timelineFromSummary = "summary"
	timelineFromSeries  = "series"
)

// maxPendingAnalyses bounds the analyses waiting for their delay; runs
// ending beyond it are analyzed when someone asks for them.
const maxPendingAnalyses = 1024

// analyzer computes runs' saturation analyses: each run once, a delay
// after it ended, and any run on demand. Computations are serialized:
// each is a handful of range queries, and a 2-core hub must keep
// ingesting meanwhile.
type analyzer struct {
	h *Hub

	compute sync.Mutex // held while an analysis is computed and kept

	mu    sync.Mutex
	ended map[string]time.Time // run id -> when it ended (hub's wall clock)
	wake  chan struct{}
}

func newAnalyzer(h *Hub) *analyzer {
	return &analyzer{h: h, ended: map[string]time.Time{}, wake: make(chan struct{}, 1)}
}

// schedule queues run id for analysis once the configured delay has
// passed. It never blocks: the run registry calls it with a run locked.
func (a *analyzer) schedule(id string) {
	a.mu.Lock()
	if _, queued := a.ended[id]; queued || len(a.ended) < maxPendingAnalyses {
		a.ended[id] = time.Now()
	} else {
		a.h.log.Warn("too many runs waiting for their analysis; this one is analyzed when asked for", "run", id)
	}
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// next pops the runs whose time has come and says when the next one is due
// (zero: none queued).
func (a *analyzer) next(now time.Time) (ready []string, wait time.Duration) {
	delay := a.h.config().Runs.AnalysisDelay.D()
	a.mu.Lock()
	defer a.mu.Unlock()
	for id, ended := range a.ended {
		at := ended.Add(delay)
		if !at.After(now) {
			ready = append(ready, id)
			delete(a.ended, id)
			continue
		}
		if d := at.Sub(now); wait == 0 || d < wait {
			wait = d
		}
	}
	return ready, wait
}

// pending tells whether run id waits in the queue for its delay.
func (a *analyzer) pending(id string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.ended[id]
	return ok
}

// catchUpWindow: at start, runs that ended this recently without a kept
// analysis (the hub stopped during their delay) are queued again.
const catchUpWindow = time.Hour

// queueUnanalyzed queues the runs that ended within catchUpWindow of now
// and have no kept analysis. Older ones are analyzed when asked for.
func (a *analyzer) queueUnanalyzed(now time.Time) {
	list, _ := a.h.runs.List(runs.ListQuery{Limit: maxPendingAnalyses})
	for _, v := range list {
		if v.Status == runs.StatusRunning || v.EndedMs == nil || now.Sub(time.UnixMilli(*v.EndedMs)) > catchUpWindow {
			continue
		}
		if kept, err := a.h.runs.Analysis(v.ID); err == nil && kept == nil {
			a.schedule(v.ID)
		}
	}
}

// run analyzes queued runs as they come due, until ctx ends.
func (a *analyzer) run(ctx context.Context) {
	a.queueUnanalyzed(a.h.now())
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		ready, wait := a.next(time.Now())
		for _, id := range ready {
			if ctx.Err() != nil {
				return
			}
			a.analyzeEnded(ctx, id)
		}
		if wait == 0 {
			wait = time.Hour
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-a.wake:
		case <-timer.C:
		}
	}
}

// analyzeEnded computes and keeps the analysis of a run that ended.
func (a *analyzer) analyzeEnded(ctx context.Context, id string) {
	qctx, cancel := context.WithTimeout(ctx, a.h.config().Query.Timeout.D())
	defer cancel()
	ra, err := a.analyze(qctx, id, true, "")
	switch {
	case errors.Is(err, errRunGoesOn):
		// It started again; it is analyzed when it ends again.
	case err != nil && ctx.Err() != nil:
		// The hub is stopping; the next start queues the run again.
		a.h.log.Info("saturation analysis interrupted by shutdown", "run", id)
	case err != nil:
		a.h.metrics.analyses.WithLabelValues("error").Inc()
		a.h.log.Error("saturation analysis of a run failed; it is computed again when asked for", "run", id, "err", err)
	case ra != nil:
		a.h.log.Info("saturation analysis", "run", id, "result", ra.Text)
	}
}

// errRunGoesOn: a run queued for analysis at its end is running again.
var errRunGoesOn = errors.New("the run is running again")

// analyze computes run id's analysis, of service (the run's own target
// service when ""). A final analysis of the run's own target service is
// kept with the run and its knee appended to the events; any other is only
// returned. An analysis is provisional while the run runs, or while it
// waits in the queue for its delay after it ended; the queue's own turn
// (queued) is final, and skips a run that started again (errRunGoesOn).
func (a *analyzer) analyze(ctx context.Context, id string, queued bool, service string) (*RunAnalysis, error) {
	a.compute.Lock()
	defer a.compute.Unlock()
	h := a.h
	v, err := h.runs.Get(id)
	if err != nil {
		return nil, err
	}
	ended := v.Status != runs.StatusRunning
	if queued && !ended {
		return nil, errRunGoesOn
	}
	chosen := service != "" && service != v.TargetService
	if chosen {
		v.TargetService = service
	}
	ra, err := computeAnalysis(ctx, analysis.EngineQuerier{Engine: h.engine.Load(), Queryable: h.db}, h.events, v,
		h.config().Runs.LBService, h.now())
	if err != nil {
		return nil, err
	}
	ra.ServiceChosen = chosen
	ra.Final = ended && (queued || !a.pending(id))
	if !ra.Final || chosen {
		return ra, nil
	}
	ra.Kept = true
	b, err := json.Marshal(ra)
	if err != nil {
		return nil, fmt.Errorf("run %s: encode the analysis: %w", id, err)
	}
	if err := h.runs.SetAnalysis(id, b); err != nil {
		return nil, err
	}
	outcome := "no_knee"
	if ra.Knee != nil {
		outcome = "knee"
		h.noteKnee(v, ra)
	}
	h.metrics.analyses.WithLabelValues(outcome).Inc()
	return ra, nil
}

// computeAnalysis runs the saturation analysis of run v against the store
// (through q) at now.
func computeAnalysis(ctx context.Context, q analysis.Querier, evs *events.Log, v runs.View, lbService string, now time.Time) (*RunAnalysis, error) {
	if lbService == "" {
		lbService = analysis.DefaultLBService
	}
	ra := &RunAnalysis{Run: v.ID, ComputedMs: now.UnixMilli(), TargetService: v.TargetService, LBService: lbService}
	s, agents, err := summaryOf(v)
	if err != nil {
		return nil, err
	}
	ra.TimelineFrom = timelineFromSummary
	if s == nil || len(s.Timeline) == 0 {
		ra.TimelineFrom = timelineFromSeries
		s, err = timelineOf(ctx, q, v, now)
		if err != nil {
			return nil, err
		}
	}
	if v.TargetService == "" && s.TargetService != "" {
		// Named in the summary only (a reporter that learnt it late).
		v.TargetService = s.TargetService
		ra.TargetService = s.TargetService
	}
	var jitterP99 float64
	if s.ScheduleJitterMs != nil {
		jitterP99 = s.ScheduleJitterMs.P99
	}
	rec, res, err := analysis.ForRun(ctx, q, s, analysis.RunOptions{TargetService: v.TargetService, LBService: lbService, GeneratorJitterP99Ms: jitterP99})
	if err != nil {
		return nil, fmt.Errorf("run %s: resource series: %w", v.ID, err)
	}
	blameSaturatedAgents(&res, agents, evs.List(events.Query{Run: v.ID, Kind: coord.KindAgentSaturated, Limit: 1000}))
	if v.TargetService == "" {
		res.Notes = append(res.Notes, "the run named no target service, so no container was examined: "+
			"ask for the analysis with ?service=NAME (the run page's service selector), or report runs with their target service")
		if res.Limit != nil && res.Limit.Resource == analysis.ResUnknown {
			// Nothing was examined that could have been the limit: say so
			// rather than point elsewhere.
			res.Limit.Text = "unknown: the run named no target service, so none of its containers was examined"
		}
	}
	ra.Seconds = len(s.Timeline)
	ra.ResourceSeries = len(rec.Resources)
	ra.Result = res
	ra.Text = res.Headline()
	return ra, nil
}

// summaryOf decodes the final summary a run's reporter sent, and the
// agents' section a distributed run's summary carries (nil, nil: none).
func summaryOf(v runs.View) (*results.Summary, *results.AgentsSummary, error) {
	if len(v.Summary) == 0 || string(v.Summary) == "null" {
		return nil, nil, nil
	}
	var s results.Summary
	if err := json.Unmarshal(v.Summary, &s); err != nil {
		return nil, nil, fmt.Errorf("run %s: its stored summary is not a run summary: %w", v.ID, err)
	}
	return &s, s.Agents, nil
}

// timelineOf rebuilds the per-second load of a run without a final
// summary from the brink_* series the hub stored for it.
func timelineOf(ctx context.Context, q analysis.Querier, v runs.View, now time.Time) (*results.Summary, error) {
	start := time.UnixMilli(v.StartedMs)
	if v.LastSecondMs == nil {
		// Not one second was reported: nothing to analyze, which the
		// analysis says in its notes.
		return &results.Summary{Run: v.ID, Name: v.Name, Start: start, End: start}, nil
	}
	end := now
	switch {
	case v.EndedMs != nil:
		end = time.UnixMilli(*v.EndedMs)
	case v.LastSecondMs != nil:
		end = time.UnixMilli(*v.LastSecondMs)
	}
	s, err := analysis.TimelineFromSeries(ctx, q, v.ID, start, end)
	if err != nil {
		return nil, err
	}
	s.Name = v.Name
	return s, nil
}

// agentCPUReason is how an agent's saturation reason begins when its CPU,
// not its VU pool, was the limit (internal/agent).
const agentCPUReason = "CPU at"

// blameSaturatedAgents applies the analysis' first rule to distributed
// runs: a load generator whose CPU was at its limit makes the knee the
// generator's, whatever the target did. The hub holds no per-second CPU
// series of the agents, only their own judgement (the summary's agents
// section, and the agent_saturated event saying when); an agent that was
// CPU-saturated by the end of the window examined at the knee is named.
// VU-pool saturation needs no help: the analysis reads dropped iterations
// from the timeline and tells a slow target from a small pool.
func blameSaturatedAgents(res *analysis.Result, agents *results.AgentsSummary, saturatedEvents []events.Event) {
	if res.Knee == nil || agents == nil {
		return
	}
	// When each agent became saturated (the coordinator's event names it).
	since := map[string]int64{}
	for _, e := range saturatedEvents {
		name := e.Fields["agent"]
		if t, ok := since[name]; name != "" && (!ok || e.TimeMs < t) {
			since[name] = e.TimeMs
		}
	}
	windowEnd := (res.Knee.Unix + 7) * 1000
	var blamed []analysis.Finding
	for _, a := range agents.Agents {
		if !a.Saturated || !strings.HasPrefix(a.SaturationReason, agentCPUReason) {
			continue
		}
		if t, ok := since[a.Name]; ok && t > windowEnd {
			continue // saturated only after the knee: the knee is the target's
		}
		blamed = append(blamed, analysis.Finding{
			Resource: analysis.ResGeneratorCPU, Entity: a.Name, Saturated: true,
			Text: fmt.Sprintf("agent %s (%s): %s", a.Name, a.Hostname, a.SaturationReason),
		})
	}
	if len(blamed) == 0 || (res.Limit != nil && res.Limit.Resource == analysis.ResGeneratorCPU) {
		return
	}
	res.Findings = append(blamed, res.Findings...)
	texts := make([]string, len(blamed))
	for i, f := range blamed {
		texts[i] = f.Text
	}
	res.Limit = &analysis.Limit{Resource: analysis.ResGeneratorCPU, Entity: blamed[0].Entity, Generator: true,
		Text: "the load generator, not the target: " + strings.Join(texts, "; ")}
}

// noteKnee appends the knee event of a final analysis, unless the same
// knee is already the run's latest. The event sits where the store puts
// the knee's second (its end), so the marker meets that second's points
// on every chart.
func (h *Hub) noteKnee(v runs.View, ra *RunAnalysis) {
	k := ra.Knee
	at := (k.Unix + 1) * 1000
	if last := h.events.List(events.Query{Run: v.ID, Kind: events.KindKnee, Limit: 1}); len(last) == 1 &&
		last[0].TimeMs == at && last[0].Message == ra.Text {
		return
	}
	fields := map[string]string{
		"knee_unix":      strconv.FormatInt(k.Unix, 10),
		"offered":        strconv.FormatFloat(k.Offered, 'f', -1, 64),
		"offered_unit":   k.OfferedUnit,
		"throughput_rps": strconv.FormatFloat(k.Throughput, 'f', 2, 64),
		"cause":          string(k.Cause),
	}
	if ra.Limit != nil {
		fields["limit"] = string(ra.Limit.Resource)
		fields["generator"] = strconv.FormatBool(ra.Limit.Generator)
		if ra.Limit.Entity != "" {
			fields["entity"] = ra.Limit.Entity
		}
	}
	if _, err := h.events.Append(events.Event{Kind: events.KindKnee, Run: v.ID, Service: v.TargetService, TimeMs: at,
		Message: ra.Text, Fields: fields}); err != nil {
		h.log.Error("appending the knee event", "run", v.ID, "err", err)
	}
}

// handleRunAnalysis serves GET /api/v1/runs/{id}/analysis?refresh=&service=:
// the kept analysis, else one computed now (and kept if it is final).
// service= looks at another service than the run's target service (for
// runs that named none); such an analysis is computed each time, never kept.
func (h *Hub) handleRunAnalysis(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	refresh, err := boolParam(r, "refresh")
	if err != nil {
		respondError(w, err)
		return
	}
	v, err := h.runs.Get(id)
	if err != nil {
		respondError(w, runsError(err))
		return
	}
	service := r.FormValue("service")
	if service == v.TargetService {
		service = ""
	}
	if !refresh && service == "" {
		kept, err := h.runs.Analysis(id)
		if err != nil {
			respondError(w, runsError(err))
			return
		}
		if kept != nil {
			writeJSON(w, kept)
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.config().Query.Timeout.D())
	defer cancel()
	ra, err := h.analyzer.analyze(ctx, id, false, service)
	if err != nil {
		if errors.Is(err, runs.ErrNotFound) {
			respondError(w, runsError(err))
			return
		}
		h.log.Warn("saturation analysis failed", "run", id, "err", err)
		respondError(w, queryError(err))
		return
	}
	writeJSON(w, ra)
}

func boolParam(r *http.Request, name string) (bool, error) {
	switch v := r.FormValue(name); v {
	case "", "0", "false":
		return false, nil
	case "1", "true":
		return true, nil
	default:
		return false, badData(fmt.Errorf("%s must be 1 or 0, got %q", name, v))
	}
}
