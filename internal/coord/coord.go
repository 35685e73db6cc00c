// Package coord is the hub's side of distributed load: the registry of
// agents that dialled in, and the runs spread across them.
//
// A distributed run goes: pick agents (a count, a label selector, or
// both), split the plan's load exactly (internal/coord/share), ship the
// scenario with its files, wait until every agent has prepared its
// engine, set a common start a moment ahead on the hub's clock, and
// follow the run. Agents push their seconds through the hub's RunService
// (the run registry stores them, once per agent and second); the
// coordinator sees each push, merges the seconds of all agents into a
// live view for watchers, and once every agent is done builds the run's
// exact summary from the registry and judges the thresholds.
//
// An agent the hub has not heard from for LostAfter (2.5 s; agents report
// every 500 ms) is lost: the run's timeline gets an event and the run's
// policy applies — continue with the others, rebalance the lost agent's
// remaining load onto them, or abort. A lost agent that comes back
// rejoins: its buffered seconds are stored and merged like any others.
package coord

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/brinkhq/brink/internal/agent"
	"github.com/brinkhq/brink/internal/gen/brink/v1/brinkv1connect"
	"github.com/brinkhq/brink/internal/hub/events"
	"github.com/brinkhq/brink/internal/hub/runs"
)

// Event kinds the coordinator writes to the hub's event list.
const (
	KindAgentLost      = "agent_lost"
	KindAgentRejoined  = "agent_rejoined"
	KindAgentSaturated = "agent_saturated"
	KindAgentFailed    = "agent_failed"
	KindAgentsStarted  = "agents_started"
	KindStartSkew      = "start_skew"
	KindShareMoved     = "share_rebalanced"
	KindVersionSkew    = "version_skew"
	KindRunStopping    = "run_stopping"
)

// Loss policies (--on-agent-loss).
const (
	PolicyContinue  = "continue"
	PolicyRebalance = "rebalance"
	PolicyAbort     = "abort"
)

// Timing holds the coordinator's clocks. Zero fields take DefaultTiming.
type Timing struct {
	// LostAfter: an agent silent this long is lost.
	LostAfter time.Duration
	// Tick is how often loss, start barriers and the live view are checked.
	Tick time.Duration
	// StartLead is how far ahead of "every agent is ready" the common
	// start is set, so that the Start command reaches every agent first.
	StartLead time.Duration
	// ReadyTimeout bounds the wait for agents to prepare their share.
	ReadyTimeout time.Duration
	// MergeGrace is how long after a second ended the live view waits for
	// agents that have not reported it.
	MergeGrace time.Duration
	// LostWait is how long a run whose other agents are done waits for
	// lost agents to come back with their seconds before it is settled.
	LostWait time.Duration
	// RestartGrace is the time agents get to dial in again after the hub
	// started, before the runs they belong to count them lost.
	RestartGrace time.Duration
	// Ping is how often the hub writes on each agent's stream.
	Ping time.Duration
}

// DefaultTiming is used for zero fields.
var DefaultTiming = Timing{
	LostAfter: 2500 * time.Millisecond, Tick: 100 * time.Millisecond, StartLead: 500 * time.Millisecond,
	ReadyTimeout: 60 * time.Second, MergeGrace: 3 * time.Second, LostWait: 10 * time.Second,
	RestartGrace: 6 * time.Second, Ping: time.Second,
}

// Options configure a Coordinator.
type Options struct {
	Runs   *runs.Registry
	Events *events.Log
	// DataDir keeps distributed runs' state across hub restarts.
	DataDir string
	Version string
	Logger  *slog.Logger
	Now     func() time.Time
	// Authorize checks a request's token (nil: no token needed).
	Authorize func(*http.Request) bool
	Timing    Timing
}

// Coordinator is the hub's registry of agents and distributed runs.
type Coordinator struct {
	opts   Options
	log    *slog.Logger
	now    func() time.Time
	timing Timing
	start  time.Time

	mu     sync.Mutex
	agents map[string]*agentState
	runs   map[string]*drun
	nextID uint64

	refusedMu sync.Mutex
	refused   map[string]time.Time // remote address -> last logged refusal
}

// New loads the state of distributed runs under opts.DataDir.
func New(opts Options) (*Coordinator, error) {
	if opts.Runs == nil {
		return nil, errors.New("coordinator: no run registry")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	t := opts.Timing
	fill := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	fill(&t.LostAfter, DefaultTiming.LostAfter)
	fill(&t.Tick, DefaultTiming.Tick)
	fill(&t.StartLead, DefaultTiming.StartLead)
	fill(&t.ReadyTimeout, DefaultTiming.ReadyTimeout)
	fill(&t.MergeGrace, DefaultTiming.MergeGrace)
	fill(&t.LostWait, DefaultTiming.LostWait)
	fill(&t.RestartGrace, DefaultTiming.RestartGrace)
	fill(&t.Ping, DefaultTiming.Ping)
	c := &Coordinator{
		opts: opts, log: opts.Logger.With("component", "coordinator"), now: opts.Now, timing: t,
		agents: map[string]*agentState{}, runs: map[string]*drun{}, refused: map[string]time.Time{},
	}
	c.start = c.now()
	if opts.DataDir != "" {
		if err := os.MkdirAll(opts.DataDir, 0o755); err != nil {
			return nil, fmt.Errorf("create the coordinator's directory: %w", err)
		}
		if err := c.load(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Mount adds the coordinator's endpoints to mux: the agent link and the
// distributed-run RPCs (token required when the hub has tokens), and the
// JSON endpoints the UI reads.
func (c *Coordinator) Mount(mux *http.ServeMux) {
	opts := []connect.HandlerOption{connect.WithReadMaxBytes(512 << 20), connect.WithCompressMinBytes(1024)}
	path, h := brinkv1connect.NewAgentServiceHandler(&agentService{c: c}, opts...)
	mux.Handle(path, c.requireToken(h))
	path, h = brinkv1connect.NewDistributedRunServiceHandler(&runService{c: c}, opts...)
	mux.Handle(path, c.requireToken(h))
	mux.HandleFunc("GET /api/v1/agents", c.handleAgents)
	mux.HandleFunc("GET /api/v1/runs/{id}/agents", c.handleRunAgents)
	mux.Handle("POST /api/v1/runs/{id}/stop", c.requireToken(http.HandlerFunc(c.handleStop)))
}

// requireToken refuses requests without a valid token with 401, and logs
// the refusal (once a minute per address, so a misconfigured agent
// dialling again and again does not flood the log).
func (c *Coordinator) requireToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(agent.VersionHeader, c.opts.Version)
		if c.opts.Authorize != nil && !c.opts.Authorize(r) {
			c.logRefusal(r)
			w.Header().Set("WWW-Authenticate", `Bearer realm="brink hub"`)
			http.Error(w, "a valid token is required: send 'Authorization: Bearer <token>' with the token from the hub's --token-file",
				http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (c *Coordinator) logRefusal(r *http.Request) {
	now := c.now()
	c.refusedMu.Lock()
	last, seen := c.refused[r.RemoteAddr]
	if !seen || now.Sub(last) > time.Minute {
		c.refused[r.RemoteAddr] = now
		if len(c.refused) > 10_000 {
			clear(c.refused)
		}
	}
	c.refusedMu.Unlock()
	if !seen || now.Sub(last) > time.Minute {
		c.log.Warn("refused a request with a missing or wrong token", "path", r.URL.Path, "remote", r.RemoteAddr,
			"user_agent", r.UserAgent())
	}
}

// Run checks agents and runs every Timing.Tick until ctx ends.
func (c *Coordinator) Run(ctx context.Context) {
	t := time.NewTicker(c.timing.Tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			c.Close()
			return
		case <-t.C:
			c.tick()
		}
	}
}

// Close ends every agent's stream and saves the runs' state.
func (c *Coordinator) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range c.agents {
		a.endSession()
	}
	for _, r := range c.runs {
		if r.dirty {
			c.saveLocked(r)
		}
	}
}

// event appends to the hub's event list (nil in some tests).
func (c *Coordinator) event(e events.Event) {
	if c.opts.Events == nil {
		return
	}
	if e.TimeMs == 0 {
		e.TimeMs = c.now().UnixMilli()
	}
	if _, err := c.opts.Events.Append(e); err != nil {
		c.log.Warn("recording an event", "kind", e.Kind, "err", err)
	}
}
