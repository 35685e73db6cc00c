package coord

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	brinkv1 "github.com/brinkhq/brink/internal/gen/brink/v1"
)

// AgentJSON is an agent as GET /api/v1/agents lists it.
type AgentJSON struct {
	Name             string            `json:"name"`
	Labels           map[string]string `json:"labels"`
	Version          string            `json:"version"`
	SameVersion      bool              `json:"same_version"`
	Hostname         string            `json:"hostname"`
	Cores            int32             `json:"cores"`
	Link             string            `json:"link"` // connected | disconnected | lost
	State            string            `json:"state"`
	Run              string            `json:"run"`
	CPU              float64           `json:"cpu"`
	VUs              int64             `json:"vus"`
	RPS              int64             `json:"rps"`
	Failures         int64             `json:"failures"`
	Dropped          int64             `json:"dropped"`
	TargetRate       float64           `json:"target_rate"`
	Saturated        bool              `json:"saturated"`
	SaturationReason string            `json:"saturation_reason,omitempty"`
	Error            string            `json:"error,omitempty"`
	FirstSeenMs      int64             `json:"first_seen_ms"`
	LastSeenMs       int64             `json:"last_seen_ms"`
	SilentMs         int64             `json:"silent_ms"`
	// Seconds produced and held by the hub for the current run.
	Produced uint64 `json:"produced_seconds"`
	Acked    uint64 `json:"acked_seconds"`
}

// RunAgentsJSON is GET /api/v1/runs/<id>/agents.
type RunAgentsJSON struct {
	Run         string   `json:"run"`
	State       string   `json:"state"`
	Policy      string   `json:"on_agent_loss"`
	StartMs     int64    `json:"start_ms"`
	StartSkewMs *float64 `json:"start_skew_ms"`
	// The agents' clocks agree with the hub's to within this.
	ClockUncertaintyMs float64         `json:"clock_uncertainty_ms"`
	Aborted            bool            `json:"aborted"`
	AbortReason        string          `json:"abort_reason,omitempty"`
	Agents             []RunMemberJSON `json:"agents"`
	Events             []RunEventJSON  `json:"events"`
	Complete           *bool           `json:"complete"`
}

// RunMemberJSON is one agent of a run.
type RunMemberJSON struct {
	AgentJSON
	Index     int  `json:"index"`
	GivenAway bool `json:"load_moved"`
}

// RunEventJSON is one event of a run's timeline.
type RunEventJSON struct {
	TimeMs  int64  `json:"time_ms"`
	Kind    string `json:"kind"`
	Agent   string `json:"agent,omitempty"`
	Message string `json:"message"`
}

func stateName(s brinkv1.AgentState) string {
	return strings.TrimPrefix(strings.ToLower(s.String()), "agent_state_")
}

func agentJSON(info *brinkv1.AgentInfo, st *brinkv1.AgentStatus, hubVersion string) AgentJSON {
	st = statusOrEmpty(st)
	return AgentJSON{
		Name: info.Name, Labels: maps.Clone(info.Labels), Version: info.Version, SameVersion: info.Version == hubVersion,
		Hostname: info.Hostname, Cores: info.Cores, State: stateName(st.State), Run: st.RunId, CPU: st.Cpu, VUs: st.Vus,
		RPS: st.Requests, Failures: st.Failures, Dropped: st.Dropped, TargetRate: st.TargetRate, Saturated: st.Saturated,
		SaturationReason: st.SaturationReason, Error: st.Error, Produced: st.ProducedSequence, Acked: st.AckedSequence,
	}
}

// Agents lists every known agent.
func (c *Coordinator) Agents() []AgentJSON {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	out := []AgentJSON{}
	for _, name := range slices.Sorted(maps.Keys(c.agents)) {
		a := c.agents[name]
		j := agentJSON(a.info, a.status, c.opts.Version)
		switch {
		case a.lost:
			j.Link = "lost"
		case a.session == nil:
			j.Link = "disconnected"
		default:
			j.Link = "connected"
		}
		if j.Labels == nil {
			j.Labels = map[string]string{}
		}
		j.FirstSeenMs, j.LastSeenMs = a.firstSeen.UnixMilli(), a.lastHeard.UnixMilli()
		j.SilentMs = now.Sub(a.lastHeard).Milliseconds()
		out = append(out, j)
	}
	return out
}

// RunAgents describes a distributed run's agents and timeline; false when
// the run is not a distributed one known to this hub.
func (c *Coordinator) RunAgents(id string) (RunAgentsJSON, bool) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.runs[id]
	if r == nil {
		return RunAgentsJSON{}, false
	}
	out := RunAgentsJSON{Run: r.id, State: r.state, Policy: r.policy, StartMs: r.startNs / 1e6, Aborted: r.aborted,
		AbortReason: r.abortReason, Agents: []RunMemberJSON{}, Events: []RunEventJSON{}}
	if r.skewNs != 0 {
		ms := float64(r.skewNs) / 1e6
		out.StartSkewMs = &ms
		out.ClockUncertaintyMs = float64(r.clockUncertaintyNs) / 1e6
	}
	if r.result != nil {
		complete := r.result.Complete
		out.Complete = &complete
	}
	for _, row := range r.rows(c, now) {
		m := r.member(row.Name)
		info := &brinkv1.AgentInfo{Name: row.Name, Labels: row.Labels, Version: row.Version, Hostname: row.Hostname}
		if a := c.agents[row.Name]; a != nil && a.info.Instance == m.instance {
			info.Cores = a.info.Cores
		}
		j := RunMemberJSON{AgentJSON: agentJSON(info, row.Status, c.opts.Version), Index: m.index, GivenAway: m.givenAway}
		j.Link = row.Link
		j.SilentMs = row.SilentMs
		if j.Labels == nil {
			j.Labels = map[string]string{}
		}
		out.Agents = append(out.Agents, j)
	}
	for _, e := range r.events {
		out.Events = append(out.Events, RunEventJSON{TimeMs: e.TimeMs, Kind: e.Kind, Agent: e.Agent, Message: e.Message})
	}
	return out, true
}

func (c *Coordinator) handleAgents(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"agents": c.Agents(), "now_ms": time.Now().UnixMilli()})
}

func (c *Coordinator) handleRunAgents(w http.ResponseWriter, r *http.Request) {
	v, ok := c.RunAgents(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "no distributed run "+r.PathValue("id")+" on this hub")
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (c *Coordinator) handleStop(w http.ResponseWriter, r *http.Request) {
	abort := r.FormValue("abort") == "1" || r.FormValue("abort") == "true"
	if err := c.Stop(r.PathValue("id"), abort, "stopped from the hub's API"); err != nil {
		writeError(w, http.StatusNotFound, "not_found", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"stopping": true, "abort": abort})
}

// writeJSON answers with the hub's success envelope.
func writeJSON(w http.ResponseWriter, code int, data any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(struct {
		Status string `json:"status"`
		Data   any    `json:"data"`
	}{"success", data})
}

// writeError answers with the hub's error envelope.
func writeError(w http.ResponseWriter, code int, errType, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(struct {
		Status    string `json:"status"`
		ErrorType string `json:"errorType"`
		Error     string `json:"error"`
	}{"error", errType, msg})
}
