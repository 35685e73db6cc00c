package coord

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/brinkhq/brink/internal/coord/share"
	brinkv1 "github.com/brinkhq/brink/internal/gen/brink/v1"
	"github.com/brinkhq/brink/internal/hub/wire"
	"github.com/brinkhq/brink/internal/results"
	"github.com/brinkhq/brink/internal/threshold"
	"google.golang.org/protobuf/proto"
)

// runService is brink.v1.DistributedRunService on the hub.
type runService struct{ c *Coordinator }

// maxWaitForAgents bounds how long a start may wait for agents.
const maxWaitForAgents = 10 * time.Minute

func newRunID(now time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return "r-" + now.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
}

func (s *runService) StartDistributedRun(ctx context.Context, req *connect.Request[brinkv1.StartDistributedRunRequest]) (*connect.Response[brinkv1.StartDistributedRunResponse], error) {
	resp, err := s.c.StartRun(ctx, req.Msg)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(resp), nil
}

// StartRun starts a distributed run: it picks agents, splits the load,
// registers the run with the registry and ships each agent its share.
// The common start follows once every agent is ready.
func (c *Coordinator) StartRun(ctx context.Context, req *brinkv1.StartDistributedRunRequest) (*brinkv1.StartDistributedRunResponse, error) {
	invalid := func(format string, args ...any) error {
		return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf(format, args...))
	}
	if (req.Scenario == "" && req.Quick == nil) || len(req.GetTotal().GetExecutors()) == 0 {
		return nil, invalid("the run has no scenario or no load")
	}
	policy := req.OnAgentLoss
	if policy == "" {
		policy = PolicyContinue
	}
	if policy != PolicyContinue && policy != PolicyRebalance && policy != PolicyAbort {
		return nil, invalid("--on-agent-loss %q: use continue, rebalance or abort", policy)
	}
	if req.Agents < 0 || req.Agents > 10_000 {
		return nil, invalid("--agents %d: use 1 to 10000 (or 0 with a selector for every matching agent)", req.Agents)
	}
	for _, t := range req.Thresholds {
		if _, err := threshold.Parse(t); err != nil {
			return nil, invalid("threshold %q: %v", t, err)
		}
	}
	now := c.now()
	id := req.RunId
	if id == "" {
		id = newRunID(now)
	}

	picked, err := c.pickAgents(ctx, req, id)
	if err != nil {
		return nil, err
	}
	release := func() {
		c.mu.Lock()
		for _, a := range picked {
			if a.reservedFor == id {
				a.reservedFor = ""
			}
		}
		c.mu.Unlock()
	}
	shares := share.Split(req.Total, len(picked))
	labels := maps.Clone(req.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels["agents"] = strconv.Itoa(len(picked))
	labels["on_agent_loss"] = policy
	if req.Source != "" {
		labels["started_by"] = req.Source
	}
	for _, a := range picked {
		if _, err := c.opts.Runs.StartRun(&brinkv1.StartRunRequest{
			RunId: id, Source: a.info.Name, Name: req.RunName, Scenario: req.Scenario,
			TargetService: req.TargetService, Labels: labels,
			// Seconds are whole wall-clock seconds: the first one starts
			// at or after this.
			StartUnixMs: now.Truncate(time.Second).UnixMilli(),
		}); err != nil {
			release()
			return nil, connect.NewError(connect.CodeInternal, fmt.Errorf("register the run: %w", err))
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	r := &drun{
		id: id, name: req.RunName, policy: policy, state: StateStarting, createdMs: now.UnixMilli(),
		plannedMs: req.PlannedMs, thresholds: slices.Clone(req.Thresholds), targetService: req.TargetService,
		labels: labels, readyDeadline: now.Add(c.timing.ReadyTimeout), live: newLiveView(),
		watchers: map[*watcher]struct{}{}, dirty: true,
	}
	if r.name == "" {
		r.name = id
	}
	resp := &brinkv1.StartDistributedRunResponse{RunId: id, Shares: shares}
	for i, a := range picked {
		m := &member{name: a.info.Name, instance: a.info.Instance, hostname: a.info.Hostname, version: a.info.Version,
			index: i, share: shares[i], seen: map[int64]struct{}{},
			status: &brinkv1.AgentStatus{RunId: id, State: brinkv1.AgentState_AGENT_STATE_PREPARING}}
		r.members = append(r.members, m)
	}
	c.runs[id] = r
	for i, m := range r.members {
		a := c.agents[m.name]
		a.reservedFor = ""
		a.status = proto.Clone(m.status).(*brinkv1.AgentStatus)
		sent := a.send(&brinkv1.Command{Command: &brinkv1.Command_Assign{Assign: &brinkv1.Assign{
			RunId: id, RunName: r.name, ScenarioFilename: req.ScenarioFilename, Scenario: req.Scenario,
			Files: req.Files, Env: req.Env, Share: shares[i], AgentIndex: int32(i), AgentCount: int32(len(picked)),
			TargetService: req.TargetService, Labels: labels, Options: req.Options, Quick: req.Quick,
		}}})
		if !sent {
			r.lostLocked(c, m, now, "its link broke before it got its share")
		}
		if m.version != c.opts.Version {
			r.note(c, KindVersionSkew, m.name, m.hostname, fmt.Sprintf(
				"agent %s runs brink %s, the hub %s (same agent protocol): results are comparable, but run one version everywhere",
				m.name, m.version, c.opts.Version), now)
		}
	}
	c.log.Info("distributed run starting", "run", id, "agents", len(picked), "policy", policy)
	resp.Agents = r.rows(c, now)
	c.saveLocked(r)
	return resp, nil
}

// pickAgents reserves the run's agents: connected, idle, matching the
// selector, by name; it waits up to the request's wait for enough of them.
func (c *Coordinator) pickAgents(ctx context.Context, req *brinkv1.StartDistributedRunRequest, id string) ([]*agentState, error) {
	wait := min(time.Duration(req.WaitForAgentsMs)*time.Millisecond, maxWaitForAgents)
	deadline := c.now().Add(wait)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		c.mu.Lock()
		var idle []*agentState
		for _, name := range slices.Sorted(maps.Keys(c.agents)) {
			a := c.agents[name]
			if c.availableLocked(a) && a.matches(req.Selector) {
				idle = append(idle, a)
			}
		}
		want := int(req.Agents)
		if (want > 0 && len(idle) >= want) || (want == 0 && len(idle) > 0) {
			if want > 0 {
				idle = idle[:want]
			}
			for _, a := range idle {
				a.reservedFor = id
			}
			c.mu.Unlock()
			return idle, nil
		}
		summary := c.agentSummaryLocked()
		c.mu.Unlock()
		if !c.now().Before(deadline) {
			need := "at least one agent"
			if want > 0 {
				need = fmt.Sprintf("%d agents", want)
			}
			sel := ""
			if len(req.Selector) > 0 {
				sel = " matching " + formatSelector(req.Selector)
			}
			return nil, connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf(
				"the run needs %s%s, connected and idle; %d are (%s): start agents with 'brink agent --hub URL --token-file F', or ask for fewer with --agents",
				need, sel, len(idle), summary))
		}
		select {
		case <-ctx.Done():
			return nil, connect.NewError(connect.CodeCanceled, ctx.Err())
		case <-t.C:
		}
	}
}

// availableLocked reports whether an agent can take a new run.
func (c *Coordinator) availableLocked(a *agentState) bool {
	if !a.idle() || a.reservedFor != "" {
		return false
	}
	return !c.inActiveRunLocked(a.info.Name)
}

func (c *Coordinator) agentSummaryLocked() string {
	if len(c.agents) == 0 {
		return "no agent is connected"
	}
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(c.agents)) {
		a := c.agents[name]
		state := strings.TrimPrefix(strings.ToLower(a.status.GetState().String()), "agent_state_")
		switch {
		case a.lost:
			state = "lost"
		case a.session == nil:
			state = "disconnected"
		case c.inActiveRunLocked(name):
			state = "busy"
		}
		parts = append(parts, fmt.Sprintf("%s: %s %s", name, state, formatSelector(a.info.Labels)))
	}
	return "agents " + strings.Join(parts, "; ")
}

func formatSelector(m map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ",")
}

func (s *runService) WatchRun(ctx context.Context, req *connect.Request[brinkv1.WatchRunRequest], stream *connect.ServerStream[brinkv1.RunUpdate]) error {
	c := s.c
	c.mu.Lock()
	r := c.runs[req.Msg.RunId]
	if r == nil {
		c.mu.Unlock()
		return connect.NewError(connect.CodeNotFound, fmt.Errorf("no distributed run %q on this hub", req.Msg.RunId))
	}
	w := &watcher{ch: make(chan *brinkv1.RunUpdate, 512)}
	snap := r.snapshotLocked(c, req.Msg.AfterUnixSecond, c.now())
	if r.result == nil {
		r.watchers[w] = struct{}{}
	}
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(r.watchers, w)
		c.mu.Unlock()
	}()
	if err := stream.Send(snap); err != nil || snap.Result != nil {
		return err
	}
	ping := time.NewTicker(time.Second)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case u, ok := <-w.ch:
			if !ok {
				return connect.NewError(connect.CodeResourceExhausted, errors.New("the watch fell behind: watch again with after_unix_second"))
			}
			if err := stream.Send(u); err != nil {
				return err
			}
			if u.Result != nil {
				return nil
			}
		case <-ping.C:
			// Keeps proxies from closing a quiet stream.
			if err := stream.Send(&brinkv1.RunUpdate{State: r.currentState(c)}); err != nil {
				return err
			}
		}
	}
}

func (r *drun) currentState(c *Coordinator) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return r.state
}

func (s *runService) StopRun(_ context.Context, req *connect.Request[brinkv1.StopRunRequest]) (*connect.Response[brinkv1.StopRunResponse], error) {
	reason := req.Msg.Reason
	if reason == "" {
		reason = "stopped by the user"
	}
	if err := s.c.Stop(req.Msg.RunId, req.Msg.Abort, reason); err != nil {
		return nil, connect.NewError(connect.CodeNotFound, err)
	}
	return connect.NewResponse(&brinkv1.StopRunResponse{}), nil
}

// Stop stops a distributed run on every agent.
func (c *Coordinator) Stop(id string, abort bool, reason string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.runs[id]
	if r == nil {
		return fmt.Errorf("no distributed run %q on this hub", id)
	}
	r.stopLocked(c, abort, reason, c.now())
	return nil
}

// settle builds the run's exact summary from every second the registry
// holds, judges the thresholds, finishes each agent's source in the
// registry and gives watchers the result.
func (c *Coordinator) settle(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c.mu.Lock()
	r := c.runs[id]
	start := time.UnixMilli(r.createdMs)
	if r.startNs != 0 {
		start = time.Unix(0, r.startNs)
	}
	type src struct {
		name     string
		produced uint64
	}
	var sources []src
	var lost, saturated []string
	section := results.AgentsSummary{Policy: r.policy, StartSkewMs: float64(r.skewNs) / 1e6, ClockUncertaintyMs: float64(r.clockUncertaintyNs) / 1e6}
	for _, m := range r.members {
		sources = append(sources, src{m.name, m.status.GetProducedSequence()})
		section.Agents = append(section.Agents, results.AgentSummary{Name: m.name, Hostname: m.hostname, Version: m.version,
			Outcome: m.link(), LoadMoved: m.givenAway, Produced: m.status.GetProducedSequence(),
			Saturated: m.saturated, SaturationReason: m.saturation})
		if m.lost {
			lost = append(lost, m.name)
		}
		if m.saturated {
			saturated = append(saturated, m.name)
		}
	}
	aborted, reason, name, skew, uncertainty := r.aborted, r.abortReason, r.name, r.skewNs, r.clockUncertaintyNs
	thresholdExprs := slices.Clone(r.thresholds)
	c.mu.Unlock()

	summary, held, err := c.summarize(id, start)
	if err != nil {
		c.log.Error("building the summary of a distributed run", "run", id, "err", err)
		summary = results.NewAccumulator(start).Summary()
	}
	summary.Run, summary.Name, summary.Aborted = id, name, aborted
	var ts []threshold.Threshold
	for _, e := range thresholdExprs {
		if t, err := threshold.Parse(e); err == nil {
			ts = append(ts, t)
		}
	}
	summary.Thresholds = threshold.Evaluate(ts, &summary)
	summary.ThresholdOK = threshold.AllOK(summary.Thresholds)
	section.Complete = true
	for i := range section.Agents {
		a := &section.Agents[i]
		a.Held = held[a.Name]
		section.Complete = section.Complete && a.Held >= a.Produced
	}
	summary.Agents = &section
	summaryJSON, err := json.Marshal(&summary)
	if err != nil {
		c.log.Error("encoding the summary of a distributed run", "run", id, "err", err)
	}
	complete := true
	for _, s := range sources {
		resp, err := c.opts.Runs.FinishRun(ctx, &brinkv1.FinishRunRequest{
			RunId: id, Source: s.name, EndUnixMs: summary.End.UnixMilli(), Aborted: aborted,
			Thresholds: wire.ThresholdsToProto(summary.Thresholds), ThresholdsOk: summary.ThresholdOK,
			SummaryJson: summaryJSON, LastSequence: s.produced,
		})
		if err != nil {
			c.log.Error("finishing an agent's part of a run", "run", id, "agent", s.name, "err", err)
			complete = false
			continue
		}
		complete = complete && resp.Complete
	}
	result := &brinkv1.RunResult{
		SummaryJson: summaryJSON, Thresholds: wire.ThresholdsToProto(summary.Thresholds), ThresholdsOk: summary.ThresholdOK,
		Aborted: aborted, AbortReason: reason, StartSkewNs: skew, SaturatedAgents: saturated, LostAgents: lost, Complete: complete,
		ClockUncertaintyNs: uncertainty,
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	r.result = result
	r.state = StateFinished
	if aborted {
		r.state = StateAborted
	}
	r.dirty = true
	for _, m := range r.members {
		c.send(m.name, &brinkv1.Command{Command: &brinkv1.Command_Release{Release: &brinkv1.Release{RunId: id}}})
	}
	r.broadcast(&brinkv1.RunUpdate{State: r.state, Result: result, StartUnixNs: r.startNs, StartSkewNs: r.skewNs, Agents: r.rows(c, c.now())})
	for w := range r.watchers {
		delete(r.watchers, w)
	}
	c.saveLocked(r)
	c.log.Info("distributed run settled", "run", id, "state", r.state, "requests", summary.Requests,
		"thresholds_ok", summary.ThresholdOK, "complete", complete, "start_skew", time.Duration(skew))
}

// summarize merges every stored second of the run across agents and folds
// them, in order, into a summary; it also counts the seconds held per
// agent.
func (c *Coordinator) summarize(id string, start time.Time) (results.Summary, map[string]uint64, error) {
	merged := map[int64]*results.Second{}
	seen := map[string]map[int64]struct{}{}
	err := c.opts.Runs.Seconds(id, func(source string, p *brinkv1.Second) error {
		if seen[source] == nil {
			seen[source] = map[int64]struct{}{}
		}
		if _, dup := seen[source][p.UnixSecond]; dup {
			return nil
		}
		seen[source][p.UnixSecond] = struct{}{}
		s, err := wire.SecondFromProto(p)
		if err != nil {
			return fmt.Errorf("stored second %d of %s: %w", p.UnixSecond, source, err)
		}
		if m := merged[s.T]; m != nil {
			m.Merge(s)
		} else {
			merged[s.T] = s
		}
		return nil
	})
	if err != nil {
		return results.Summary{}, nil, err
	}
	acc := results.NewAccumulator(start)
	for _, t := range slices.Sorted(maps.Keys(merged)) {
		acc.Add(merged[t])
	}
	held := map[string]uint64{}
	for source, secs := range seen {
		held[source] = uint64(len(secs))
	}
	return acc.Summary(), held, nil
}
