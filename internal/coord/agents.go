package coord

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"connectrpc.com/connect"
	"github.com/brinkhq/brink/internal/agent"
	brinkv1 "github.com/brinkhq/brink/internal/gen/brink/v1"
	"github.com/brinkhq/brink/internal/hub/events"
	"google.golang.org/protobuf/proto"
)

// agentState is one agent as the hub knows it. Guarded by Coordinator.mu.
type agentState struct {
	info      *brinkv1.AgentInfo
	status    *brinkv1.AgentStatus
	firstSeen time.Time
	lastHeard time.Time
	lost      bool
	lostAt    time.Time
	// session is the current stream's command queue; nil between links.
	session   chan *brinkv1.Command
	sessionID uint64
	// reservedFor holds the agent for a run being set up.
	reservedFor string
}

// send queues a command on the agent's stream; false when there is no
// stream or it is hopelessly behind (the agent then gets a fresh link).
func (a *agentState) send(cmd *brinkv1.Command) bool {
	if a.session == nil {
		return false
	}
	select {
	case a.session <- cmd:
		return true
	default:
		a.endSession()
		return false
	}
}

func (a *agentState) endSession() {
	if a.session != nil {
		close(a.session)
		a.session = nil
	}
}

// idle reports whether the agent can take a run.
func (a *agentState) idle() bool {
	return !a.lost && a.session != nil && a.status.GetState() == brinkv1.AgentState_AGENT_STATE_IDLE
}

func (a *agentState) matches(selector map[string]string) bool {
	for k, v := range selector {
		if a.info.Labels[k] != v {
			return false
		}
	}
	return true
}

// agentService is brink.v1.AgentService on the hub.
type agentService struct{ c *Coordinator }

func (s *agentService) Connect(ctx context.Context, req *connect.Request[brinkv1.ConnectRequest], stream *connect.ServerStream[brinkv1.Command]) error {
	c := s.c
	info := req.Msg.GetAgent()
	if info == nil || info.Name == "" || info.Instance == "" {
		return connect.NewError(connect.CodeInvalidArgument, errors.New("agent name and instance are required"))
	}
	if len(info.Name) > 128 || len(info.Labels) > 64 {
		return connect.NewError(connect.CodeInvalidArgument, errors.New("agent name (128 bytes) or labels (64) too large"))
	}
	if info.Protocol != agent.Protocol {
		c.log.Warn("refused an agent that speaks another agent protocol", "agent", info.Name, "agent_version", info.Version,
			"agent_protocol", info.Protocol, "hub_version", c.opts.Version, "hub_protocol", agent.Protocol, "remote", req.Peer().Addr)
		return connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf(
			"version skew: agent %q runs brink %s (agent protocol %d) but the hub runs brink %s (agent protocol %d): run the same brink version on the hub and its agents",
			info.Name, info.Version, info.Protocol, c.opts.Version, agent.Protocol))
	}
	queue, id, err := c.register(info, req.Msg.GetStatus(), req.Peer().Addr)
	if err != nil {
		return err
	}
	defer c.unregister(info.Name, id)

	stream.ResponseHeader().Set(agent.VersionHeader, c.opts.Version)
	ping := time.NewTicker(c.timing.Ping)
	defer ping.Stop()
	if err := stream.Send(c.command(&brinkv1.Command{Command: &brinkv1.Command_Ping{Ping: &brinkv1.Ping{}}})); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case cmd, ok := <-queue:
			if !ok {
				return nil // replaced by a newer link, or the agent was declared lost
			}
			if err := stream.Send(c.command(cmd)); err != nil {
				return err
			}
		case <-ping.C:
			if err := stream.Send(c.command(&brinkv1.Command{Command: &brinkv1.Command_Ping{Ping: &brinkv1.Ping{}}})); err != nil {
				return err
			}
		}
	}
}

func (c *Coordinator) command(cmd *brinkv1.Command) *brinkv1.Command {
	cmd.HubUnixNs = c.now().UnixNano()
	return cmd
}

// register records a new link from an agent, replacing an older link of
// the same process, and refuses a second process under a name in use.
func (c *Coordinator) register(info *brinkv1.AgentInfo, status *brinkv1.AgentStatus, remote string) (chan *brinkv1.Command, uint64, error) {
	now := c.now()
	if status == nil {
		status = &brinkv1.AgentStatus{State: brinkv1.AgentState_AGENT_STATE_IDLE}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	a := c.agents[info.Name]
	if a != nil && a.info.Instance != info.Instance && !a.lost && now.Sub(a.lastHeard) < c.timing.LostAfter {
		return nil, 0, connect.NewError(connect.CodeAlreadyExists, fmt.Errorf(
			"an agent named %q is already connected from %s: give each agent its own --name", info.Name, a.info.Hostname))
	}
	rejoined := a != nil && a.lost && a.info.Instance == info.Instance
	if a == nil || a.info.Instance != info.Instance {
		if a != nil {
			// Another process took the name: the old one is gone for good.
			a.endSession()
			c.agentGoneLocked(a, now, "it was replaced by a new agent process with the same name")
		}
		a = &agentState{firstSeen: now}
		c.agents[info.Name] = a
	}
	a.endSession()
	c.nextID++
	a.sessionID = c.nextID
	a.session = make(chan *brinkv1.Command, 256)
	a.info = proto.Clone(info).(*brinkv1.AgentInfo)
	a.status = proto.Clone(status).(*brinkv1.AgentStatus)
	a.lastHeard = now
	a.lost = false
	c.log.Info("agent linked", "agent", info.Name, "version", info.Version, "host", info.Hostname, "remote", remote,
		"labels", info.Labels, "state", status.State.String(), "run", status.RunId)
	if info.Version != c.opts.Version {
		c.log.Warn("agent runs another brink version (same agent protocol)", "agent", info.Name,
			"agent_version", info.Version, "hub_version", c.opts.Version)
	}
	c.reattachLocked(a, rejoined, now)
	return a.session, a.sessionID, nil
}

// unregister ends a link; the agent stays known until it is lost.
func (c *Coordinator) unregister(name string, id uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if a := c.agents[name]; a != nil && a.sessionID == id {
		a.endSession()
	}
}

// reattachLocked connects a (re)linked agent with the run it reports, or
// tells it to drop a run the hub no longer follows.
func (c *Coordinator) reattachLocked(a *agentState, rejoined bool, now time.Time) {
	runID := a.status.GetRunId()
	if runID == "" {
		return
	}
	r := c.runs[runID]
	var m *member
	if r != nil {
		m = r.member(a.info.Name)
	}
	if m == nil || m.instance != a.info.Instance || r.settled() {
		// A run this hub does not follow (its state was lost) or one that
		// is settled: the agent may forget it once its seconds are held.
		a.send(&brinkv1.Command{Command: &brinkv1.Command_Stop{Stop: &brinkv1.Stop{RunId: runID, Reason: "the hub does not follow this run"}}})
		if a.status.State == brinkv1.AgentState_AGENT_STATE_DONE || a.status.State == brinkv1.AgentState_AGENT_STATE_FAILED {
			a.send(&brinkv1.Command{Command: &brinkv1.Command_Release{Release: &brinkv1.Release{RunId: runID}}})
		}
		return
	}
	r.rejoinLocked(c, m, a, rejoined || m.lost, now)
}

// heartbeat takes an agent's report.
func (c *Coordinator) heartbeat(req *brinkv1.HeartbeatRequest) bool {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	a := c.agents[req.Name]
	if a == nil || a.info.Instance != req.Instance || a.lost || a.session == nil {
		return false
	}
	a.lastHeard = now
	st := req.Status
	if st == nil {
		return true
	}
	a.status = st
	if st.RunId == "" {
		return true
	}
	r := c.runs[st.RunId]
	var m *member
	if r != nil {
		m = r.member(req.Name)
	}
	sameMember := m != nil && m.instance == req.Instance
	if sameMember && r.settled() {
		// The run's record keeps the agent's final counts: the acks of its
		// last seconds reach the hub after the run settled.
		m.status = st
	}
	switch {
	case sameMember && !r.settled():
		r.statusLocked(c, m, st, now)
	case st.State == brinkv1.AgentState_AGENT_STATE_DONE || st.State == brinkv1.AgentState_AGENT_STATE_FAILED:
		// A run settled (or forgotten) while the agent could not hear the
		// release: free it now that it holds nothing undelivered.
		a.send(&brinkv1.Command{Command: &brinkv1.Command_Release{Release: &brinkv1.Release{RunId: st.RunId}}})
	}
	return true
}

func (s *agentService) Heartbeat(_ context.Context, req *connect.Request[brinkv1.HeartbeatRequest]) (*connect.Response[brinkv1.HeartbeatResponse], error) {
	known := s.c.heartbeat(req.Msg)
	return connect.NewResponse(&brinkv1.HeartbeatResponse{HubUnixNs: s.c.now().UnixNano(), Known: known}), nil
}

// checkLossLocked marks agents lost that have been silent too long.
func (c *Coordinator) checkLossLocked(now time.Time) {
	for _, name := range slices.Sorted(maps.Keys(c.agents)) {
		a := c.agents[name]
		if a.lost {
			// Forget agents that have been gone for a long time and belong
			// to no run in progress.
			if now.Sub(a.lostAt) > 10*time.Minute && !c.inActiveRunLocked(name) {
				delete(c.agents, name)
			}
			continue
		}
		silentFor := now.Sub(a.lastHeard)
		// After a hub restart, agents get time to dial in again.
		if now.Sub(c.start) < c.timing.RestartGrace && a.lastHeard.Before(c.start) {
			continue
		}
		if silentFor > c.timing.LostAfter {
			c.agentGoneLocked(a, now, fmt.Sprintf("no heartbeat for %s", silentFor.Round(100*time.Millisecond)))
		}
	}
}

// agentGoneLocked marks an agent lost and tells its run.
func (c *Coordinator) agentGoneLocked(a *agentState, now time.Time, why string) {
	if a.lost {
		return
	}
	a.lost, a.lostAt = true, now
	a.endSession()
	c.log.Warn("agent lost", "agent", a.info.Name, "why", why, "run", a.status.GetRunId())
	runID := a.status.GetRunId()
	r := c.runs[runID]
	var m *member
	if r != nil {
		m = r.member(a.info.Name)
	}
	if m == nil || m.instance != a.info.Instance || r.settled() {
		c.event(events.Event{Kind: KindAgentLost, Host: a.info.Hostname, Run: runID,
			Message: fmt.Sprintf("agent %s lost: %s", a.info.Name, why), Fields: map[string]string{"agent": a.info.Name}})
		return
	}
	r.lostLocked(c, m, now, why)
}

func (c *Coordinator) inActiveRunLocked(name string) bool {
	for _, r := range c.runs {
		if !r.settled() && r.member(name) != nil {
			return true
		}
	}
	return false
}
