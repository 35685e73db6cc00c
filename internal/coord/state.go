package coord

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	brinkv1 "github.com/brinkhq/brink/internal/gen/brink/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// savedRun is a distributed run as kept on disk (<data>/agents/<id>.json),
// so that a restarted hub follows the runs in progress: their members,
// shares (for rebalancing), policy and timeline. Seconds are not here:
// the run registry keeps them.
type savedRun struct {
	ID            string            `json:"id"`
	Name          string            `json:"name"`
	Policy        string            `json:"policy"`
	State         string            `json:"state"`
	CreatedMs     int64             `json:"created_ms"`
	StartNs       int64             `json:"start_ns"`
	PlannedMs     int64             `json:"planned_ms"`
	Thresholds    []string          `json:"thresholds"`
	TargetService string            `json:"target_service"`
	Labels        map[string]string `json:"labels"`
	Members       []savedMember     `json:"members"`
	Events        []json.RawMessage `json:"events"`
	Aborted       bool              `json:"aborted"`
	AbortReason   string            `json:"abort_reason"`
	StopRequested bool              `json:"stop_requested"`
	SkewNs        int64             `json:"skew_ns"`
	ClockNs       int64             `json:"clock_uncertainty_ns"`
	Result        json.RawMessage   `json:"result,omitempty"`
}

type savedMember struct {
	Name       string            `json:"name"`
	Instance   string            `json:"instance"`
	Hostname   string            `json:"hostname"`
	Version    string            `json:"version"`
	Index      int               `json:"index"`
	Share      json.RawMessage   `json:"share"`
	Extra      []json.RawMessage `json:"extra"`
	ExtraGens  []uint32          `json:"extra_generations"`
	ShareGen   uint32            `json:"share_generation"`
	Lost       bool              `json:"lost"`
	LostAtMs   int64             `json:"lost_at_ms"`
	GivenAway  bool              `json:"given_away"`
	Status     json.RawMessage   `json:"status"`
	Saturated  bool              `json:"saturated"`
	Saturation string            `json:"saturation"`
}

func (c *Coordinator) runPath(id string) string { return filepath.Join(c.opts.DataDir, id+".json") }

// saveLocked writes the run's state; a failure is logged, not fatal: the
// run goes on, only a hub restart would lose track of it.
func (c *Coordinator) saveLocked(r *drun) {
	r.dirty = false
	if c.opts.DataDir == "" {
		return
	}
	s := savedRun{
		ID: r.id, Name: r.name, Policy: r.policy, State: r.state, CreatedMs: r.createdMs, StartNs: r.startNs,
		PlannedMs: r.plannedMs, Thresholds: r.thresholds, TargetService: r.targetService, Labels: r.labels,
		Aborted: r.aborted, AbortReason: r.abortReason, StopRequested: r.stopRequested, SkewNs: r.skewNs,
		ClockNs: r.clockUncertaintyNs,
	}
	for _, e := range r.events {
		s.Events = append(s.Events, mustProtoJSON(e))
	}
	if r.result != nil {
		s.Result = mustProtoJSON(r.result)
	}
	for _, m := range r.members {
		sm := savedMember{Name: m.name, Instance: m.instance, Hostname: m.hostname, Version: m.version, Index: m.index,
			Share: mustProtoJSON(m.share), ShareGen: m.shareGen, Lost: m.lost, LostAtMs: m.lostAtMs, GivenAway: m.givenAway,
			Status: mustProtoJSON(statusOrEmpty(m.status)), Saturated: m.saturated, Saturation: m.saturation}
		for _, e := range m.extra {
			sm.Extra = append(sm.Extra, mustProtoJSON(e.share))
			sm.ExtraGens = append(sm.ExtraGens, e.gen)
		}
		s.Members = append(s.Members, sm)
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err == nil {
		tmp := c.runPath(r.id) + ".tmp"
		if err = os.WriteFile(tmp, b, 0o644); err == nil {
			err = os.Rename(tmp, c.runPath(r.id))
		}
	}
	if err != nil {
		c.log.Error("saving a distributed run's state", "run", r.id, "err", err)
	}
}

func mustProtoJSON(m proto.Message) json.RawMessage {
	b, err := protojson.Marshal(m)
	if err != nil {
		// Marshalling a valid message cannot fail; keep the file valid.
		return json.RawMessage("{}")
	}
	return b
}

// load reads the runs saved by a previous hub process. Runs in progress
// are followed again: their agents get RestartGrace to dial in before they
// count as lost; a run that had not started yet is aborted.
func (c *Coordinator) load() error {
	entries, err := os.ReadDir(c.opts.DataDir)
	if err != nil {
		return fmt.Errorf("read the coordinator's directory: %w", err)
	}
	now := c.now()
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(c.opts.DataDir, e.Name()))
		if err != nil {
			return fmt.Errorf("read distributed run state: %w", err)
		}
		var s savedRun
		if err := json.Unmarshal(b, &s); err != nil {
			c.log.Warn("skipping damaged distributed run state", "file", e.Name(), "err", err)
			continue
		}
		r, err := c.restore(&s)
		if err != nil {
			c.log.Warn("skipping damaged distributed run state", "file", e.Name(), "err", err)
			continue
		}
		if r.settled() && now.UnixMilli()-r.createdMs > int64(24*time.Hour/time.Millisecond) {
			continue
		}
		c.runs[r.id] = r
		if r.settled() {
			continue
		}
		switch r.state {
		case StateStarting:
			r.abortLocked(c, "the hub restarted before the run started", now)
		case StateSettling:
			r.state = StateStopping
		}
		for _, m := range r.members {
			if _, known := c.agents[m.name]; known || m.lost || m.done() {
				continue
			}
			// A placeholder until the agent dials in again; if it does not
			// within RestartGrace, the loss check finds it silent.
			c.agents[m.name] = &agentState{
				info:      &brinkv1.AgentInfo{Name: m.name, Instance: m.instance, Hostname: m.hostname, Version: m.version},
				status:    m.status,
				firstSeen: now, lastHeard: now.Add(-time.Millisecond),
			}
		}
		c.log.Info("following a distributed run again after a restart", "run", r.id, "state", r.state, "agents", len(r.members))
	}
	return nil
}

func (c *Coordinator) restore(s *savedRun) (*drun, error) {
	r := &drun{
		id: s.ID, name: s.Name, policy: s.Policy, state: s.State, createdMs: s.CreatedMs, startNs: s.StartNs,
		plannedMs: s.PlannedMs, thresholds: s.Thresholds, targetService: s.TargetService, labels: s.Labels,
		aborted: s.Aborted, abortReason: s.AbortReason, stopRequested: s.StopRequested, skewNs: s.SkewNs,
		clockUncertaintyNs: s.ClockNs,
		live:               newLiveView(), watchers: map[*watcher]struct{}{},
	}
	for _, raw := range s.Events {
		e := &brinkv1.RunEvent{}
		if err := protojson.Unmarshal(raw, e); err != nil {
			return nil, err
		}
		r.events = append(r.events, e)
	}
	if len(s.Result) > 0 {
		r.result = &brinkv1.RunResult{}
		if err := protojson.Unmarshal(s.Result, r.result); err != nil {
			return nil, err
		}
	}
	for _, sm := range s.Members {
		m := &member{name: sm.Name, instance: sm.Instance, hostname: sm.Hostname, version: sm.Version, index: sm.Index,
			shareGen: sm.ShareGen, lost: sm.Lost, lostAtMs: sm.LostAtMs, givenAway: sm.GivenAway,
			saturated: sm.Saturated, saturation: sm.Saturation, seen: map[int64]struct{}{},
			share: &brinkv1.Share{}, status: &brinkv1.AgentStatus{}}
		if err := protojson.Unmarshal(sm.Share, m.share); err != nil {
			return nil, err
		}
		if err := protojson.Unmarshal(sm.Status, m.status); err != nil {
			return nil, err
		}
		if len(sm.ExtraGens) != len(sm.Extra) {
			return nil, fmt.Errorf("member %s: %d shares taken over but %d generations", sm.Name, len(sm.Extra), len(sm.ExtraGens))
		}
		for i, raw := range sm.Extra {
			sh := &brinkv1.Share{}
			if err := protojson.Unmarshal(raw, sh); err != nil {
				return nil, err
			}
			m.extra = append(m.extra, extraShare{gen: sm.ExtraGens[i], share: sh})
		}
		r.members = append(r.members, m)
	}
	return r, nil
}
