// Package agent is `brink agent`: a load generator that dials out to a
// hub, takes its share of a test, runs it with the load engine and
// reports its seconds.
//
// The agent needs no inbound port. It holds one link to the hub: a
// server stream (AgentService.Connect) on which the hub sends commands
// and a ping every second, and a unary Heartbeat every half second that
// carries the agent's state, load, CPU use and first-iteration time.
// Either side that hears nothing for a few seconds knows the link is
// gone: the hub marks the agent lost, the agent dials again with backoff.
//
// A run outlives the link. Load generation never waits for the hub: each
// wall-clock second, merged across the agent's engines, gets a sequence
// number and is queued for RunService.PushSeconds (internal/hubclient),
// which resends whatever the hub has not acknowledged after a link drop
// or a hub restart; the hub counts every (agent, second) once.
package agent

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	brinkv1 "github.com/brinkhq/brink/internal/gen/brink/v1"
	"github.com/brinkhq/brink/internal/gen/brink/v1/brinkv1connect"
)

// Protocol is the agent protocol version. The hub refuses agents that
// speak another one; brink versions that differ but speak the same
// protocol work together, with a warning.
const Protocol = 1

// VersionHeader carries the hub's brink version on Connect's answer.
const VersionHeader = "Brink-Version"

// Timing is how the agent paces its link. The hub's loss detection
// (internal/coord) assumes the defaults.
type Timing struct {
	// Heartbeat is how often the agent reports (default 500ms).
	Heartbeat time.Duration
	// LinkTimeout: no word from the hub for this long means the link is
	// gone; the agent dials again (default 3s).
	LinkTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait between dials (default
	// 100ms and 2s, with jitter).
	MinBackoff, MaxBackoff time.Duration
}

// DefaultTiming is used for zero fields.
var DefaultTiming = Timing{Heartbeat: 500 * time.Millisecond, LinkTimeout: 3 * time.Second,
	MinBackoff: 100 * time.Millisecond, MaxBackoff: 2 * time.Second}

// Options configure an Agent.
type Options struct {
	HubURL string
	Token  string
	// Name identifies the agent (default: the host name); it must be
	// unique among the hub's agents.
	Name    string
	Labels  map[string]string
	Version string
	Logger  *slog.Logger
	// Transport carries every request to the hub (default: a dialer with
	// TCP keep-alive). Tests wrap it to count bytes on the wire.
	Transport http.RoundTripper
	// WorkDir holds the files of the run in progress (default: the
	// system's temporary directory).
	WorkDir string
	// CPU measures the process's CPU use since the previous call as a
	// fraction of the cores it may use (default: getrusage).
	CPU    func() float64
	Timing Timing
	// Protocol overrides the protocol version announced (tests of
	// version skew); zero means Protocol.
	Protocol uint32
}

// ErrRefused marks refusals that dialling again cannot fix: a wrong
// token, or a hub that speaks another agent protocol.
var ErrRefused = errors.New("the hub refused this agent")

// Agent is one running `brink agent`.
type Agent struct {
	opts     Options
	log      *slog.Logger
	info     *brinkv1.AgentInfo
	stream   brinkv1connect.AgentServiceClient
	unary    brinkv1connect.AgentServiceClient
	results  *http.Client
	clock    clockEstimator
	cpu      func() float64
	beatNow  chan struct{}
	linkMu   sync.Mutex
	hubVer   string
	mu       sync.Mutex
	job      *job
	lastCPU  float64
	hotBeats int
}

// New prepares an agent; it does nothing until Run.
func New(opts Options) (*Agent, error) {
	if opts.HubURL == "" {
		return nil, errors.New("no hub: give --hub URL")
	}
	if !strings.HasPrefix(opts.HubURL, "http://") && !strings.HasPrefix(opts.HubURL, "https://") {
		return nil, fmt.Errorf("--hub %q: use an http:// or https:// URL", opts.HubURL)
	}
	opts.HubURL = strings.TrimRight(opts.HubURL, "/")
	if opts.Name == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			return nil, errors.New("no agent name and no host name: give --name")
		}
		opts.Name = h
	}
	if len(opts.Name) > 128 || strings.ContainsAny(opts.Name, "\x00\n\r\t ") {
		return nil, fmt.Errorf("--name %q: use up to 128 characters without spaces", opts.Name)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	if opts.Protocol == 0 {
		opts.Protocol = Protocol
	}
	if opts.WorkDir == "" {
		opts.WorkDir = os.TempDir()
	}
	t := &opts.Timing
	if t.Heartbeat <= 0 {
		t.Heartbeat = DefaultTiming.Heartbeat
	}
	if t.LinkTimeout <= 0 {
		t.LinkTimeout = DefaultTiming.LinkTimeout
	}
	if t.MinBackoff <= 0 {
		t.MinBackoff = DefaultTiming.MinBackoff
	}
	if t.MaxBackoff <= 0 {
		t.MaxBackoff = DefaultTiming.MaxBackoff
	}
	if opts.Transport == nil {
		d := &net.Dialer{Timeout: 3 * time.Second, KeepAlive: 15 * time.Second}
		opts.Transport = &http.Transport{
			Proxy: http.ProxyFromEnvironment, DialContext: d.DialContext,
			MaxIdleConnsPerHost: 4, IdleConnTimeout: 90 * time.Second, ResponseHeaderTimeout: 15 * time.Second,
		}
	}
	host, _ := os.Hostname()
	var inst [6]byte
	_, _ = crand.Read(inst[:])
	a := &Agent{
		opts: opts, log: opts.Logger.With("agent", opts.Name),
		info: &brinkv1.AgentInfo{
			Name: opts.Name, Labels: maps.Clone(opts.Labels), Version: opts.Version, Protocol: opts.Protocol,
			Instance: hex.EncodeToString(inst[:]), Hostname: host, Cores: int32(runtime.GOMAXPROCS(0)),
		},
		cpu:     opts.CPU,
		beatNow: make(chan struct{}, 1),
	}
	if a.cpu == nil {
		a.cpu = newCPUMeter().sample
	}
	auth := connect.WithInterceptors(bearer(opts.Token))
	a.stream = brinkv1connect.NewAgentServiceClient(&http.Client{Transport: opts.Transport}, opts.HubURL, auth)
	// A heartbeat may take up to the link timeout on a starved machine;
	// the watchdog decides when the link is gone.
	a.unary = brinkv1connect.NewAgentServiceClient(&http.Client{Transport: opts.Transport, Timeout: opts.Timing.LinkTimeout},
		opts.HubURL, auth)
	a.results = &http.Client{Transport: opts.Transport, Timeout: 10 * time.Second}
	return a, nil
}

// bearer adds the token to every call, streaming ones included.
func bearer(token string) connect.Interceptor { return tokenInterceptor(token) }

type tokenInterceptor string

func (t tokenInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if t != "" {
			req.Header().Set("Authorization", "Bearer "+string(t))
		}
		return next(ctx, req)
	}
}

func (t tokenInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		if t != "" {
			conn.RequestHeader().Set("Authorization", "Bearer "+string(t))
		}
		return conn
	}
}

func (t tokenInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// Name is the agent's name (its source name in runs).
func (a *Agent) Name() string { return a.opts.Name }

// Run keeps the agent linked to the hub until ctx ends. It returns nil
// then, or an error wrapping ErrRefused when the hub refuses the agent
// for good. A run in progress when ctx ends is aborted.
func (a *Agent) Run(ctx context.Context) error {
	defer a.abandon()
	backoff := a.opts.Timing.MinBackoff
	for ctx.Err() == nil {
		started := time.Now()
		err := a.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, ErrRefused) {
			return err
		}
		// A link that lasted resets the backoff: this is a new outage.
		if time.Since(started) > 2*a.opts.Timing.LinkTimeout {
			backoff = a.opts.Timing.MinBackoff
		}
		a.log.Warn("link to the hub lost; dialling again", "hub", a.opts.HubURL, "err", err, "in", backoff.Round(time.Millisecond))
		wait := time.Duration(float64(backoff) * (0.8 + 0.4*rand.Float64()))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(backoff*2, a.opts.Timing.MaxBackoff)
	}
	return nil
}

// abandon aborts the run in progress when the agent stops.
func (a *Agent) abandon() {
	a.mu.Lock()
	j := a.job
	a.job = nil
	a.mu.Unlock()
	if j != nil {
		j.close()
	}
}

// session is one link: Connect's stream, heartbeats and a watchdog. It
// returns why the link ended.
func (a *Agent) session(parent context.Context) error {
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	st, err := a.stream.Connect(ctx, connect.NewRequest(&brinkv1.ConnectRequest{Agent: a.info, Status: a.status()}))
	if err != nil {
		return a.classify(err)
	}
	defer st.Close()

	var heardMu sync.Mutex
	heard := time.Now()
	touch := func() {
		heardMu.Lock()
		heard = time.Now()
		heardMu.Unlock()
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		a.heartbeats(ctx, cancel, touch)
	}()
	go func() {
		defer wg.Done()
		t := time.NewTicker(a.opts.Timing.LinkTimeout / 12)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				heardMu.Lock()
				silent := time.Since(heard)
				heardMu.Unlock()
				if silent > a.opts.Timing.LinkTimeout {
					cancel(fmt.Errorf("no word from the hub for %s", silent.Round(time.Millisecond)))
					return
				}
			}
		}
	}()
	defer wg.Wait()
	defer cancel(nil)

	first := true
	for st.Receive() {
		touch()
		if first {
			first = false
			a.linkUp(st.ResponseHeader().Get(VersionHeader))
		}
		a.handle(st.Msg())
	}
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	if err := st.Err(); err != nil {
		return a.classify(err)
	}
	return errors.New("the hub closed the link")
}

func (a *Agent) linkUp(hubVersion string) {
	a.linkMu.Lock()
	a.hubVer = hubVersion
	a.linkMu.Unlock()
	if hubVersion != "" && hubVersion != a.opts.Version {
		a.log.Warn("the hub runs another brink version; both speak the same agent protocol, but run the same version everywhere to be sure",
			"hub_version", hubVersion, "agent_version", a.opts.Version)
	}
	a.log.Info("linked to the hub", "hub", a.opts.HubURL, "hub_version", hubVersion)
}

// classify turns the hub's refusals into ErrRefused and keeps other
// errors (network, hub restarting) retryable.
func (a *Agent) classify(err error) error {
	switch connect.CodeOf(err) {
	case connect.CodeUnauthenticated:
		return fmt.Errorf("%w: %s refused the token: give the hub's token with --token-file (or BRINK_TOKEN)", ErrRefused, a.opts.HubURL)
	case connect.CodeFailedPrecondition:
		var ce *connect.Error
		if errors.As(err, &ce) {
			return fmt.Errorf("%w: %s", ErrRefused, ce.Message())
		}
		return fmt.Errorf("%w: %v", ErrRefused, err)
	}
	return err
}

// heartbeats reports the agent's status every Timing.Heartbeat, and at
// once when the state changes.
func (a *Agent) heartbeats(ctx context.Context, cancel context.CancelCauseFunc, touch func()) {
	t := time.NewTicker(a.opts.Timing.Heartbeat)
	defer t.Stop()
	lastCPU := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-a.beatNow:
		}
		if time.Since(lastCPU) >= a.opts.Timing.Heartbeat*9/10 {
			a.sampleCPU()
			lastCPU = time.Now()
		}
		sent := time.Now()
		resp, err := a.unary.Heartbeat(ctx, connect.NewRequest(&brinkv1.HeartbeatRequest{
			Name: a.info.Name, Instance: a.info.Instance, Status: a.status(), SentUnixNs: sent.UnixNano(),
		}))
		if err != nil {
			if ctx.Err() == nil {
				if cerr := a.classify(err); errors.Is(cerr, ErrRefused) {
					cancel(cerr)
					return
				}
				a.log.Debug("heartbeat failed", "err", err)
			}
			continue
		}
		touch()
		a.clock.add(sent, time.Now(), resp.Msg.HubUnixNs)
		if !resp.Msg.Known {
			cancel(errors.New("the hub does not know this agent (it restarted or declared it lost): registering again"))
			return
		}
	}
}

// poke sends a heartbeat now, so that the hub sees a state change at
// once (the start barrier waits for every agent to be ready).
func (a *Agent) poke() {
	select {
	case a.beatNow <- struct{}{}:
	default:
	}
}

// sampleCPU measures CPU use and keeps the count of consecutive hot
// samples for saturation.
func (a *Agent) sampleCPU() {
	c := a.cpu()
	a.mu.Lock()
	a.lastCPU = c
	if c >= saturatedCPU {
		a.hotBeats++
	} else {
		a.hotBeats = 0
	}
	hot := a.hotBeats
	j := a.job
	a.mu.Unlock()
	if j != nil && time.Duration(hot)*a.opts.Timing.Heartbeat >= saturatedFor {
		j.markSaturated(fmt.Sprintf("CPU at %.0f%% of %d cores for %s", c*100, a.info.Cores, saturatedFor))
	}
}

// Saturation thresholds: CPU use at or above saturatedCPU for
// saturatedFor means the generator, not the target, limits the load.
const (
	saturatedCPU = 0.9
	saturatedFor = 3 * time.Second
)

func (a *Agent) status() *brinkv1.AgentStatus {
	a.mu.Lock()
	j, cpu := a.job, a.lastCPU
	a.mu.Unlock()
	var st *brinkv1.AgentStatus
	if j == nil {
		st = &brinkv1.AgentStatus{State: brinkv1.AgentState_AGENT_STATE_IDLE}
	} else {
		st = j.status()
	}
	st.Cpu = cpu
	st.ClockOffsetNs, st.ClockUncertaintyNs = a.clock.offset(), a.clock.uncertainty()
	return st
}

// handle runs one command from the hub.
func (a *Agent) handle(c *brinkv1.Command) {
	a.clock.hint(c.HubUnixNs)
	switch cmd := c.Command.(type) {
	case *brinkv1.Command_Ping:
	case *brinkv1.Command_Assign:
		a.assign(cmd.Assign)
	case *brinkv1.Command_Start:
		if j := a.jobFor(cmd.Start.RunId); j != nil {
			j.startAt(time.Unix(0, cmd.Start.StartUnixNs))
		}
	case *brinkv1.Command_AddShare:
		if j := a.jobFor(cmd.AddShare.RunId); j != nil {
			j.addShare(cmd.AddShare)
		}
	case *brinkv1.Command_Stop:
		if j := a.jobFor(cmd.Stop.RunId); j != nil {
			a.log.Info("stopping the run", "run", cmd.Stop.RunId, "abort", cmd.Stop.Abort, "reason", cmd.Stop.Reason)
			j.stop(cmd.Stop.Abort)
		}
	case *brinkv1.Command_Release:
		a.mu.Lock()
		j := a.job
		if j != nil && j.runID == cmd.Release.RunId {
			a.job = nil
		}
		a.mu.Unlock()
		if j != nil && j.runID == cmd.Release.RunId {
			j.close()
			a.log.Info("run settled by the hub", "run", j.runID)
			a.poke()
		}
	}
}

func (a *Agent) jobFor(run string) *job {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.job != nil && a.job.runID == run {
		return a.job
	}
	return nil
}

// assign takes a share of a run. The same run assigned again (the hub
// restarted, or resent after a reconnect) keeps the job in progress.
func (a *Agent) assign(as *brinkv1.Assign) {
	a.mu.Lock()
	old := a.job
	if old != nil && old.runID == as.RunId {
		a.mu.Unlock()
		return
	}
	j := newJob(a, as)
	a.job = j
	a.hotBeats = 0
	a.mu.Unlock()
	if old != nil {
		a.log.Warn("a new run replaces one the hub never settled", "old", old.runID, "new", as.RunId)
		old.close()
	}
	a.log.Info("run assigned", "run", as.RunId, "name", as.RunName, "agent", fmt.Sprintf("%d of %d", as.AgentIndex+1, as.AgentCount))
	go j.prepare()
}

// Drain stops the run in progress gracefully (in-flight requests get the
// scenario's graceful stop) and waits until the hub holds every second of
// it, or ctx ends. An agent with no run returns at once. Run keeps the
// link up meanwhile; cancel Run's context afterwards.
func (a *Agent) Drain(ctx context.Context) error {
	a.mu.Lock()
	j := a.job
	a.mu.Unlock()
	if j == nil {
		return nil
	}
	j.stop(false)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		switch j.status().State {
		case brinkv1.AgentState_AGENT_STATE_DONE, brinkv1.AgentState_AGENT_STATE_FAILED:
			return nil
		}
		select {
		case <-ctx.Done():
			st := j.status()
			return fmt.Errorf("run %s: %d of %d seconds delivered to the hub: %w", j.runID, st.AckedSequence, st.ProducedSequence, ctx.Err())
		case <-t.C:
		}
	}
}
