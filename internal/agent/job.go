package agent

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/brinkhq/brink/internal/coord/share"
	brinkv1 "github.com/brinkhq/brink/internal/gen/brink/v1"
	"github.com/brinkhq/brink/internal/hubclient"
	"github.com/brinkhq/brink/internal/load"
	"github.com/brinkhq/brink/internal/results"
	"github.com/brinkhq/brink/internal/scenario"
)

// job is the agent's part of one run: prepared on Assign, started at the
// hub's instant, possibly grown by shares taken over from lost agents,
// and kept until every one of its seconds is held by the hub.
type job struct {
	a      *Agent
	runID  string
	as     *brinkv1.Assign
	ctx    context.Context
	cancel context.CancelFunc
	report *hubclient.Run
	merge  *merger
	stopCh chan struct{}

	mu        sync.Mutex
	state     brinkv1.AgentState
	err       string
	dir       string
	plan      *scenario.Plan // the whole plan, for shares taken over later
	main      *load.Engine   // nil when this agent's share is empty
	engines   []*load.Engine // started
	extra     []*brinkv1.Share
	startHub  time.Time // the common start, hub clock
	startSet  bool
	launched  bool
	stopped   bool
	aborted   bool
	firstNs   int64
	shareGen  uint32
	last      results.Second
	lastReq   int64
	lastFail  int64
	dropped   int64
	produced  uint64
	saturated bool
	reason    string
	closeOnce sync.Once
}

func newJob(a *Agent, as *brinkv1.Assign) *job {
	ctx, cancel := context.WithCancel(context.Background())
	j := &job{a: a, runID: as.RunId, as: as, ctx: ctx, cancel: cancel,
		stopCh: make(chan struct{}), state: brinkv1.AgentState_AGENT_STATE_PREPARING}
	j.merge = newMerger(j.emitted, j.generationEnded)
	client := hubclient.New(a.opts.HubURL, a.opts.Token, hubclient.WithSource(a.opts.Name), hubclient.WithHTTPClient(a.results))
	j.report = client.StartRun(ctx, hubclient.RunInfo{
		ID: as.RunId, Name: as.RunName, Scenario: as.Scenario, TargetService: as.TargetService, Labels: as.Labels,
	})
	return j
}

// prepare writes the run's files, parses the plan, applies the share and
// builds the engine (resolving the targets), then reports ready.
func (j *job) prepare() {
	err := j.build()
	j.mu.Lock()
	switch {
	case err != nil:
		j.state, j.err = brinkv1.AgentState_AGENT_STATE_FAILED, err.Error()
		j.a.log.Error("cannot run the assigned share", "run", j.runID, "err", err)
	case j.stopped:
		j.state = brinkv1.AgentState_AGENT_STATE_DONE
	default:
		j.state = brinkv1.AgentState_AGENT_STATE_READY
		if j.startSet && !j.launched {
			j.launched = true
			go j.run()
		}
	}
	j.mu.Unlock()
	j.a.poke()
}

func (j *job) build() error {
	// A FROM scratch image has no /tmp until the agent makes it.
	if err := os.MkdirAll(j.a.opts.WorkDir, 0o755); err != nil {
		return fmt.Errorf("create the work directory: %w", err)
	}
	dir, err := os.MkdirTemp(j.a.opts.WorkDir, "brink-run-")
	if err != nil {
		return fmt.Errorf("create the run's directory: %w", err)
	}
	j.mu.Lock()
	j.dir = dir
	j.mu.Unlock()
	var plan *scenario.Plan
	if q := j.as.Quick; q != nil {
		// The executor comes from the share; Quick needs one to build.
		plan, err = scenario.Quick(scenario.QuickOptions{URL: q.Url, Method: q.Method, Headers: q.Headers, Body: q.Body,
			VUs: 1, Duration: time.Second})
	} else {
		b := &Bundle{Filename: j.as.ScenarioFilename, Text: []byte(j.as.Scenario), Files: j.as.Files, Env: j.as.Env}
		plan, err = b.Materialize(dir)
	}
	if err != nil {
		return fmt.Errorf("plan from the hub: %w", err)
	}
	share.ApplyOptions(plan, j.as.Options)
	sub, err := share.Apply(plan, j.as.Share)
	if err != nil {
		return err
	}
	var eng *load.Engine
	if len(sub.Scenarios) > 0 {
		if eng, err = load.New(j.ctx, sub); err != nil {
			return fmt.Errorf("prepare the load: %w", err)
		}
	}
	j.mu.Lock()
	j.plan, j.main = plan, eng
	j.mu.Unlock()
	return nil
}

// startAt sets the common start (hub clock). A start that arrives before
// the job is prepared is kept and honoured once it is.
func (j *job) startAt(t time.Time) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.startSet || j.stopped {
		return
	}
	j.startHub, j.startSet = t, true
	if j.state == brinkv1.AgentState_AGENT_STATE_READY && !j.launched {
		j.launched = true
		go j.run()
	}
}

// run waits for the start instant and starts the engines.
func (j *job) run() {
	// One offset for both the wait and the report: a heartbeat that
	// refines the estimate meanwhile must not shift the measurement.
	offset := time.Duration(j.a.clock.offset())
	local := j.startHub.Add(-offset)
	if !sleepUntil(j.ctx, j.stopCh, local) {
		j.mu.Lock()
		j.state = brinkv1.AgentState_AGENT_STATE_DONE
		j.mu.Unlock()
		j.a.poke()
		return
	}
	first := time.Now()
	j.mu.Lock()
	j.firstNs = first.Add(offset).UnixNano()
	j.state = brinkv1.AgentState_AGENT_STATE_RUNNING
	from := first.Unix() - 1
	j.merge.hold() // until every engine of the start is registered
	if j.main != nil {
		j.startEngineLocked(j.main, from)
	}
	for _, s := range j.extra {
		j.startShareLocked(s, from)
	}
	j.extra = nil
	j.mu.Unlock()
	j.merge.release()
	j.a.poke()
	j.a.log.Info("run started", "run", j.runID, "late_by", first.Sub(local).Round(time.Microsecond))
}

// startEngineLocked runs eng and feeds its seconds to the merger.
func (j *job) startEngineLocked(eng *load.Engine, from int64) {
	id := j.merge.add(from)
	j.engines = append(j.engines, eng)
	go func() {
		fed := make(chan struct{})
		go func() {
			defer close(fed)
			for s := range eng.Seconds() {
				j.merge.second(id, s)
			}
		}()
		info := eng.Run(j.ctx)
		<-fed
		for _, n := range info.Notes {
			j.a.log.Info("request failures", "run", j.runID, "note", n)
		}
		j.merge.done(id)
	}()
}

// startShareLocked builds and starts an engine for a share taken over
// from a lost agent.
func (j *job) startShareLocked(s *brinkv1.Share, from int64) {
	sub, err := share.Apply(j.plan, s)
	if err == nil && len(sub.Scenarios) == 0 {
		return
	}
	var eng *load.Engine
	if err == nil {
		eng, err = load.New(j.ctx, sub)
	}
	if err != nil {
		j.a.log.Error("cannot take over a lost agent's share", "run", j.runID, "err", err)
		j.err = "taking over a share: " + err.Error()
		return
	}
	j.startEngineLocked(eng, from)
}

// addShare takes over load from a lost agent: at once when running, at
// the start when the run has not started yet.
func (j *job) addShare(as *brinkv1.AddShare) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if as.Generation <= j.shareGen || j.stopped {
		return
	}
	j.shareGen = as.Generation
	j.a.log.Info("taking over a lost agent's share", "run", j.runID, "from", as.FromAgent, "offset", time.Duration(as.Share.GetOffsetMs())*time.Millisecond)
	switch j.state {
	case brinkv1.AgentState_AGENT_STATE_PREPARING, brinkv1.AgentState_AGENT_STATE_READY:
		j.extra = append(j.extra, as.Share)
	case brinkv1.AgentState_AGENT_STATE_RUNNING:
		j.startShareLocked(as.Share, time.Now().Unix()-1)
	}
}

// stop ends load generation: gracefully, or at once with abort.
func (j *job) stop(abort bool) {
	j.mu.Lock()
	if !j.stopped {
		j.stopped = true
		close(j.stopCh)
	}
	j.aborted = j.aborted || abort
	engines := append([]*load.Engine(nil), j.engines...)
	notStarted := !j.launched
	if notStarted && j.state != brinkv1.AgentState_AGENT_STATE_PREPARING && j.state != brinkv1.AgentState_AGENT_STATE_FAILED {
		j.state = brinkv1.AgentState_AGENT_STATE_DONE
	}
	j.mu.Unlock()
	for _, e := range engines {
		if abort {
			e.Abort()
		} else {
			e.Stop()
		}
	}
	j.a.poke()
}

// emitted is called by the merger, in order, for each complete second.
func (j *job) emitted(s *results.Second) {
	j.report.Push(s)
	total := s.Total()
	j.mu.Lock()
	j.produced++
	j.last = results.Second{T: s.T, VUs: s.VUs, TargetRate: s.TargetRate, Iterations: s.Iterations, Dropped: s.Dropped}
	j.lastReq, j.lastFail = total.Requests, total.FailureCount()
	j.dropped += s.Dropped
	j.mu.Unlock()
	if s.Dropped > 0 {
		j.markSaturated(fmt.Sprintf("%d iterations dropped at %s: every VU of the pool was busy (raise max_vus, or add agents)",
			s.Dropped, time.Unix(s.T, 0).UTC().Format("15:04:05")))
	}
}

func (j *job) markSaturated(reason string) {
	j.mu.Lock()
	first := !j.saturated && j.state == brinkv1.AgentState_AGENT_STATE_RUNNING
	if first {
		j.saturated, j.reason = true, reason
	}
	j.mu.Unlock()
	if first {
		j.a.log.Warn("this agent is saturated: its results understate what the target can take", "run", j.runID, "reason", reason)
		j.a.poke()
	}
}

// generationEnded is called by the merger when every engine finished.
func (j *job) generationEnded() {
	j.mu.Lock()
	j.state = brinkv1.AgentState_AGENT_STATE_FLUSHING
	j.mu.Unlock()
	j.a.poke()
	go j.flush()
}

// flush waits until the hub holds every second this job produced.
func (j *job) flush() {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		j.mu.Lock()
		produced := j.produced
		j.mu.Unlock()
		st := j.report.Status()
		if st.Pending == 0 && st.Delivered >= produced {
			j.mu.Lock()
			j.state = brinkv1.AgentState_AGENT_STATE_DONE
			j.mu.Unlock()
			j.a.log.Info("every second delivered", "run", j.runID, "seconds", produced)
			j.a.poke()
			return
		}
		select {
		case <-j.ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (j *job) status() *brinkv1.AgentStatus {
	delivery := j.report.Status()
	j.mu.Lock()
	defer j.mu.Unlock()
	st := &brinkv1.AgentStatus{
		RunId: j.runID, State: j.state, FirstIterationUnixNs: j.firstNs,
		Vus: int64(j.last.VUs), Requests: j.lastReq, Failures: j.lastFail, Dropped: j.last.Dropped,
		TargetRate: j.last.TargetRate, DroppedTotal: j.dropped,
		ProducedSequence: j.produced, AckedSequence: min(delivery.Delivered, j.produced),
		Error: j.err, Saturated: j.saturated, SaturationReason: j.reason, ShareGeneration: j.shareGen,
	}
	if st.Error == "" && delivery.LastError != nil && j.state == brinkv1.AgentState_AGENT_STATE_FLUSHING {
		st.Error = "delivering seconds: " + delivery.LastError.Error()
	}
	return st
}

// close aborts whatever still runs and forgets the job's files.
func (j *job) close() {
	j.closeOnce.Do(func() {
		j.stop(true)
		j.cancel()
		j.report.Close()
		j.mu.Lock()
		dir := j.dir
		j.mu.Unlock()
		if dir != "" {
			_ = os.RemoveAll(dir)
		}
	})
}

// sleepUntil waits for local instant t, sleeping most of the way and
// yielding for the last 200 µs (a timer alone may wake a millisecond
// late; spinning longer would starve other goroutines). It reports false
// when ctx or stop ended the wait.
func sleepUntil(ctx context.Context, stop <-chan struct{}, t time.Time) bool {
	for {
		d := time.Until(t)
		if d <= 0 {
			return true
		}
		if d > 400*time.Microsecond {
			timer := time.NewTimer(d - 200*time.Microsecond)
			select {
			case <-ctx.Done():
				timer.Stop()
				return false
			case <-stop:
				timer.Stop()
				return false
			case <-timer.C:
			}
			continue
		}
		select {
		case <-ctx.Done():
			return false
		case <-stop:
			return false
		default:
		}
		runtime.Gosched()
	}
}
