package coord

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/brinkhq/brink/internal/coord/share"
	brinkv1 "github.com/brinkhq/brink/internal/gen/brink/v1"
	"github.com/brinkhq/brink/internal/hub/events"
	"google.golang.org/protobuf/proto"
)

// Run states.
const (
	StateStarting = "starting" // agents prepare; no load yet
	StateRunning  = "running"
	StateStopping = "stopping" // stop or abort sent; agents finish and deliver
	StateSettling = "settling" // every agent done; the summary is being built
	StateFinished = "finished"
	StateAborted  = "aborted"
)

// Member links, as run views show them.
const (
	LinkConnected = "connected"
	LinkLost      = "lost"
	LinkDone      = "done"
	LinkFailed    = "failed"
)

// drun is one distributed run. Guarded by Coordinator.mu.
type drun struct {
	id, name      string
	policy        string
	state         string
	createdMs     int64
	startNs       int64
	plannedMs     int64
	thresholds    []string
	targetService string
	labels        map[string]string
	members       []*member
	events        []*brinkv1.RunEvent
	aborted       bool
	abortReason   string
	stopRequested bool // by the user or by the abort policy
	skewNs        int64
	// clockUncertaintyNs: the agents' clocks agree with the hub's to
	// within this, so the start skew is measured to within it too.
	clockUncertaintyNs int64
	result             *brinkv1.RunResult

	readyDeadline time.Time
	othersDoneAt  time.Time // when every member not lost was done
	live          *liveView
	watchers      map[*watcher]struct{}
	dirty         bool
	rowsSentAt    time.Time
}

// member is one agent's part in a run.
type member struct {
	name, instance, hostname, version string
	index                             int
	share                             *brinkv1.Share
	extra                             []extraShare // taken over from lost agents
	shareGen                          uint32
	lost                              bool
	lostAtMs                          int64
	givenAway                         bool // its remaining load went to others
	status                            *brinkv1.AgentStatus
	saturated                         bool
	saturation                        string

	seen       map[int64]struct{} // seconds observed (live view)
	lastSecond int64
}

func (r *drun) member(name string) *member {
	for _, m := range r.members {
		if m.name == name {
			return m
		}
	}
	return nil
}

func (r *drun) settled() bool { return r.state == StateFinished || r.state == StateAborted }

func (m *member) state() brinkv1.AgentState { return m.status.GetState() }

// done reports whether the member has nothing more to deliver.
func (m *member) done() bool {
	s := m.state()
	return s == brinkv1.AgentState_AGENT_STATE_DONE || s == brinkv1.AgentState_AGENT_STATE_FAILED
}

func (m *member) link() string {
	switch {
	case m.lost:
		return LinkLost
	case m.state() == brinkv1.AgentState_AGENT_STATE_FAILED:
		return LinkFailed
	case m.state() == brinkv1.AgentState_AGENT_STATE_DONE:
		return LinkDone
	}
	return LinkConnected
}

// extraShare is load a member took over, with the generation it was sent as.
type extraShare struct {
	gen   uint32
	share *brinkv1.Share
}

// note records an event on the run's timeline and in the hub's event list.
func (r *drun) note(c *Coordinator, kind, agentName, host, msg string, now time.Time) {
	e := &brinkv1.RunEvent{TimeMs: now.UnixMilli(), Kind: kind, Agent: agentName, Message: msg}
	r.events = append(r.events, e)
	r.dirty = true
	fields := map[string]string{}
	if agentName != "" {
		fields["agent"] = agentName
	}
	c.event(events.Event{TimeMs: e.TimeMs, Kind: kind, Run: r.id, Service: r.targetService, Host: host, Message: msg, Fields: fields})
	r.broadcast(&brinkv1.RunUpdate{State: r.state, Events: []*brinkv1.RunEvent{e}})
}

func (c *Coordinator) send(name string, cmd *brinkv1.Command) bool {
	a := c.agents[name]
	return a != nil && !a.lost && a.send(cmd)
}

// statusLocked takes a member's heartbeat.
func (r *drun) statusLocked(c *Coordinator, m *member, st *brinkv1.AgentStatus, now time.Time) {
	prev := m.state()
	m.status = st
	if st.Saturated && !m.saturated {
		m.saturated, m.saturation = true, st.SaturationReason
		r.note(c, KindAgentSaturated, m.name, m.hostname, fmt.Sprintf(
			"agent %s is saturated: %s; its share of the load was not fully generated, which says nothing about the target",
			m.name, st.SaturationReason), now)
	}
	if st.State == brinkv1.AgentState_AGENT_STATE_FAILED && prev != brinkv1.AgentState_AGENT_STATE_FAILED {
		r.note(c, KindAgentFailed, m.name, m.hostname, fmt.Sprintf("agent %s cannot run its share: %s", m.name, st.Error), now)
	}
	if prev != st.State {
		r.dirty = true // a restarted hub should know how far each agent got
	}
}

// lostLocked applies the run's policy to a member that went silent.
func (r *drun) lostLocked(c *Coordinator, m *member, now time.Time, why string) {
	if m.lost || r.settled() || m.done() {
		return
	}
	m.lost, m.lostAtMs = true, now.UnixMilli()
	r.dirty = true
	r.note(c, KindAgentLost, m.name, m.hostname, fmt.Sprintf("agent %s lost: %s (policy: %s)", m.name, why, r.policy), now)
	if r.state != StateStarting && r.state != StateRunning {
		return
	}
	switch r.policy {
	case PolicyAbort:
		r.abortLocked(c, fmt.Sprintf("agent %s was lost and --on-agent-loss is abort", m.name), now)
	case PolicyRebalance:
		r.rebalanceLocked(c, m, now)
	}
}

// rebalanceLocked moves a lost member's remaining load onto the members
// still running, split exactly like the original plan.
func (r *drun) rebalanceLocked(c *Coordinator, lost *member, now time.Time) {
	if lost.givenAway || lost.state() == brinkv1.AgentState_AGENT_STATE_FLUSHING {
		return // moved already, or its load had ended
	}
	var takers []*member
	for _, m := range r.members {
		s := m.state()
		if !m.lost && (s == brinkv1.AgentState_AGENT_STATE_RUNNING || s == brinkv1.AgentState_AGENT_STATE_READY ||
			s == brinkv1.AgentState_AGENT_STATE_PREPARING) {
			takers = append(takers, m)
		}
	}
	if len(takers) == 0 {
		r.note(c, KindShareMoved, lost.name, lost.hostname, fmt.Sprintf("no agent is left to take over agent %s's load", lost.name), now)
		return
	}
	var offsetMs int64
	if r.startNs != 0 {
		offsetMs = max(0, now.UnixMilli()-r.startNs/1e6)
	}
	var skipped []string
	shares := []*brinkv1.Share{lost.share}
	for _, e := range lost.extra {
		shares = append(shares, e.share)
	}
	for _, s := range shares {
		remaining := &brinkv1.Share{OffsetMs: offsetMs}
		for _, x := range s.GetExecutors() {
			if share.HasIterationBudget(x) && offsetMs > 0 {
				skipped = append(skipped, fmt.Sprintf("scenario %d", x.Scenario+1))
				continue
			}
			remaining.Executors = append(remaining.Executors, x)
		}
		if len(remaining.Executors) == 0 {
			continue
		}
		for i, part := range share.Split(remaining, len(takers)) {
			if len(part.Executors) == 0 {
				continue
			}
			t := takers[i]
			t.shareGen++
			t.extra = append(t.extra, extraShare{gen: t.shareGen, share: part})
			c.send(t.name, &brinkv1.Command{Command: &brinkv1.Command_AddShare{AddShare: &brinkv1.AddShare{
				RunId: r.id, Share: part, FromAgent: lost.name, Generation: t.shareGen,
			}}})
		}
	}
	lost.givenAway = true
	names := make([]string, len(takers))
	for i, t := range takers {
		names[i] = t.name
	}
	msg := fmt.Sprintf("agent %s's remaining load (from %s into the run) moved to %s", lost.name,
		(time.Duration(offsetMs) * time.Millisecond).String(), strings.Join(names, ", "))
	if len(skipped) > 0 {
		msg += fmt.Sprintf("; iteration budgets (%s) were not moved: how much of them ran is unknown", strings.Join(skipped, ", "))
	}
	r.note(c, KindShareMoved, lost.name, lost.hostname, msg, now)
}

// rejoinLocked takes a member back after its link returned.
func (r *drun) rejoinLocked(c *Coordinator, m *member, a *agentState, wasLost bool, now time.Time) {
	m.status = a.status
	if wasLost && m.lost {
		m.lost = false
		r.dirty = true
		msg := fmt.Sprintf("agent %s rejoined (%d seconds produced, %d held by the hub)", m.name,
			a.status.GetProducedSequence(), a.status.GetAckedSequence())
		r.note(c, KindAgentRejoined, m.name, m.hostname, msg, now)
	}
	switch {
	case r.state == StateStarting && r.startNs == 0:
		// It may have missed its Assign when the hub restarted.
		if a.status.GetState() == brinkv1.AgentState_AGENT_STATE_IDLE {
			r.abortLocked(c, fmt.Sprintf("agent %s lost its assignment before the start", m.name), now)
		}
	case r.stopRequested || m.givenAway || r.aborted:
		reason := "the run is stopping"
		if m.givenAway {
			reason = "its load was moved to other agents while it was lost"
		}
		c.send(m.name, &brinkv1.Command{Command: &brinkv1.Command_Stop{Stop: &brinkv1.Stop{RunId: r.id, Abort: r.aborted, Reason: reason}}})
	case r.startNs != 0:
		// Resend the start and the shares taken over, in case the agent
		// missed them; it ignores what it already has.
		c.send(m.name, &brinkv1.Command{Command: &brinkv1.Command_Start{Start: &brinkv1.Start{RunId: r.id, StartUnixNs: r.startNs}}})
		for _, e := range m.extra {
			if e.gen > a.status.GetShareGeneration() {
				c.send(m.name, &brinkv1.Command{Command: &brinkv1.Command_AddShare{AddShare: &brinkv1.AddShare{
					RunId: r.id, Share: e.share, Generation: e.gen}}})
			}
		}
	}
}

// abortLocked stops every member at once; the run ends aborted.
func (r *drun) abortLocked(c *Coordinator, reason string, now time.Time) {
	if r.aborted || r.settled() {
		return
	}
	r.aborted, r.abortReason = true, reason
	r.state, r.stopRequested = StateStopping, true
	r.dirty = true
	r.note(c, KindRunStopping, "", "", "run aborted: "+reason, now)
	for _, m := range r.members {
		c.send(m.name, &brinkv1.Command{Command: &brinkv1.Command_Stop{Stop: &brinkv1.Stop{RunId: r.id, Abort: true, Reason: reason}}})
	}
}

// stopLocked asks every member to stop (gracefully unless abort).
func (r *drun) stopLocked(c *Coordinator, abort bool, reason string, now time.Time) {
	if r.settled() {
		return
	}
	if abort || r.state == StateStarting {
		r.abortLocked(c, reason, now)
		return
	}
	if r.state == StateStopping {
		return
	}
	r.state, r.stopRequested = StateStopping, true
	r.dirty = true
	r.note(c, KindRunStopping, "", "", "run stopping: "+reason, now)
	for _, m := range r.members {
		c.send(m.name, &brinkv1.Command{Command: &brinkv1.Command_Stop{Stop: &brinkv1.Stop{RunId: r.id, Reason: reason}}})
	}
}

// tickLocked advances the run: the start barrier, the start skew, the
// live view and, once every member is done, settling.
func (r *drun) tickLocked(c *Coordinator, now time.Time) {
	switch r.state {
	case StateStarting:
		r.startBarrierLocked(c, now)
	case StateRunning, StateStopping:
		r.skewLocked(c, now)
		if r.readyToSettle(c, now) {
			r.state = StateSettling
			r.dirty = true
			go c.settle(r.id)
		}
	}
	r.live.emitLocked(c, r, now)
	if r.dirty && !r.settled() {
		c.saveLocked(r)
	}
}

func (r *drun) startBarrierLocked(c *Coordinator, now time.Time) {
	var waiting, live []string
	for _, m := range r.members {
		if m.lost {
			continue
		}
		switch m.state() {
		case brinkv1.AgentState_AGENT_STATE_FAILED:
			r.abortLocked(c, fmt.Sprintf("agent %s cannot run its share: %s", m.name, m.status.GetError()), now)
			return
		case brinkv1.AgentState_AGENT_STATE_READY:
			live = append(live, m.name)
		default:
			waiting = append(waiting, m.name)
			live = append(live, m.name)
		}
	}
	switch {
	case len(live) == 0:
		r.abortLocked(c, "every agent was lost before the start", now)
	case len(waiting) > 0 && now.After(r.readyDeadline):
		r.abortLocked(c, fmt.Sprintf("agents %s did not prepare their share within %s", strings.Join(waiting, ", "), c.timing.ReadyTimeout), now)
	case len(waiting) == 0:
		// The Start command must reach every agent before the instant:
		// more agents, more streams to write to.
		start := now.Add(c.timing.StartLead + time.Duration(len(live))*10*time.Millisecond)
		r.startNs = start.UnixNano()
		r.state = StateRunning
		r.dirty = true
		for _, name := range live {
			c.send(name, &brinkv1.Command{Command: &brinkv1.Command_Start{Start: &brinkv1.Start{RunId: r.id, StartUnixNs: r.startNs}}})
		}
		r.note(c, KindAgentsStarted, "", "", fmt.Sprintf("%d agents start together at %s", len(live),
			start.UTC().Format("15:04:05.000")), now)
	}
}

// skewLocked measures the start skew once every started member reported
// its first iteration.
func (r *drun) skewLocked(c *Coordinator, now time.Time) {
	if r.skewNs != 0 || r.startNs == 0 {
		return
	}
	var first, last, uncertainty int64
	n := 0
	for _, m := range r.members {
		uncertainty = max(uncertainty, m.status.GetClockUncertaintyNs())
		f := m.status.GetFirstIterationUnixNs()
		if f == 0 {
			if !m.lost && !m.done() {
				return
			}
			continue
		}
		if n == 0 || f < first {
			first = f
		}
		if n == 0 || f > last {
			last = f
		}
		n++
	}
	if n == 0 {
		return
	}
	// A skew of exactly 0 would read as "not measured".
	r.skewNs = max(last-first, 1)
	r.clockUncertaintyNs = uncertainty
	r.dirty = true
	r.note(c, KindStartSkew, "", "", fmt.Sprintf(
		"start skew across %d agents: %s (first iterations %s to %s after the common instant; agents' clocks synchronized to within %s)",
		n, time.Duration(r.skewNs).Round(time.Microsecond), time.Duration(first-r.startNs).Round(time.Microsecond),
		time.Duration(last-r.startNs).Round(time.Microsecond), time.Duration(uncertainty).Round(time.Microsecond)), now)
}

func (r *drun) allDoneOrLost() bool {
	for _, m := range r.members {
		if !m.lost && !m.done() {
			return false
		}
	}
	return true
}

// readyToSettle: every member is done, or done but for lost members that
// have had LostWait to come back.
func (r *drun) readyToSettle(c *Coordinator, now time.Time) bool {
	if !r.allDoneOrLost() {
		r.othersDoneAt = time.Time{}
		return false
	}
	anyLost := slices.ContainsFunc(r.members, func(m *member) bool { return m.lost })
	if !anyLost || r.aborted {
		return true
	}
	if r.othersDoneAt.IsZero() {
		r.othersDoneAt = now
	}
	// A lost agent may be cut off yet alive and generating: it has until
	// the planned end of the run (unless the run was stopped) plus
	// LostWait to come back with its seconds.
	from := r.othersDoneAt
	if planned := time.Unix(0, r.startNs).Add(time.Duration(r.plannedMs) * time.Millisecond); r.startNs != 0 && !r.stopRequested && planned.After(from) {
		from = planned
	}
	return now.Sub(from) >= c.timing.LostWait
}

// rows are the members as run views show them.
func (r *drun) rows(c *Coordinator, now time.Time) []*brinkv1.AgentRow {
	out := make([]*brinkv1.AgentRow, 0, len(r.members))
	for _, m := range r.members {
		row := &brinkv1.AgentRow{Name: m.name, Version: m.version, Link: m.link(), Hostname: m.hostname,
			Status: proto.Clone(statusOrEmpty(m.status)).(*brinkv1.AgentStatus)}
		if a := c.agents[m.name]; a != nil && a.info.Instance == m.instance {
			row.Labels = maps.Clone(a.info.Labels)
			row.SilentMs = now.Sub(a.lastHeard).Milliseconds()
		}
		if m.saturated {
			row.Status.Saturated, row.Status.SaturationReason = true, m.saturation
		}
		out = append(out, row)
	}
	return out
}

func statusOrEmpty(s *brinkv1.AgentStatus) *brinkv1.AgentStatus {
	if s == nil {
		return &brinkv1.AgentStatus{}
	}
	return s
}

// tick runs every Timing.Tick: loss detection, then every run.
func (c *Coordinator) tick() {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.checkLossLocked(now)
	for _, id := range slices.Sorted(maps.Keys(c.runs)) {
		r := c.runs[id]
		if r.settled() {
			// Keep settled runs a while for late watchers, then forget them.
			if now.UnixMilli()-r.createdMs > int64(24*time.Hour/time.Millisecond) && len(r.watchers) == 0 {
				delete(c.runs, id)
			}
			continue
		}
		r.tickLocked(c, now)
	}
}
