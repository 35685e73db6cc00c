package load

import (
	"context"
	"time"

	"github.com/brinkhq/brink/internal/load/httpclient"
	"github.com/brinkhq/brink/internal/results"
	"github.com/brinkhq/brink/internal/scenario"
)

// engineVU is a virtual user: scenario state (variables, feeds, random
// source), its own connections, and reused buffers so that an iteration of
// static steps allocates nothing.
type engineVU struct {
	sc      *scenarioRun
	shard   int
	state   *scenario.VU
	session httpclient.Session
	started bool

	res    httpclient.Result
	resp   scenario.Response
	sample Sample
	dyn    httpclient.Request
	timer  *time.Timer
}

// Connect opens connections to the endpoints of the scenario's first
// steps. Failures are left for the first request to meet and report.
func (v *engineVU) Connect(ctx context.Context) {
	for _, steps := range v.sc.flows {
		if len(steps) == 0 || steps[0].static == nil || ctx.Err() != nil {
			continue
		}
		_ = v.session.Connect(steps[0].static.Endpoint)
	}
}

// Iterate runs one flow: each step is built, sent, judged and recorded;
// think times follow steps (and, in the closed model, the iteration).
func (v *engineVU) Iterate(ctx context.Context, due time.Time, stop <-chan struct{}) {
	e := v.sc.engine
	if !due.IsZero() {
		e.collector.RecordJitter(v.shard, time.Since(due))
	}
	steps := v.sc.flows[v.state.NextFlow()]
	for i, sp := range steps {
		if i > 0 && (isClosed(stop) || ctx.Err() != nil) {
			return
		}
		first := due
		if i > 0 {
			first = time.Time{}
		}
		if !v.step(sp, first) {
			return
		}
		if !sp.step.Think.IsZero() && !v.think(ctx, stop, sp.step.Think) {
			return
		}
	}
	if due.IsZero() && !v.sc.scenario.Think.IsZero() {
		v.think(ctx, stop, v.sc.scenario.Think)
	}
}

// step sends one step's request and records it; false ends the iteration
// (the request could not be built or the connection failed).
func (v *engineVU) step(sp *stepPlan, due time.Time) bool {
	e := v.sc.engine
	req := sp.static
	if req == nil {
		r, err := sp.step.Build(v.state)
		if err != nil {
			e.note(sp.label, "build", err.Error())
			return false
		}
		if err := v.dyn.Reset(r.Method, r.URL, mergeHeaders(sp.headers, r.Header), r.Body); err != nil {
			e.note(sp.label, "build", err.Error())
			return false
		}
		v.dyn.Timeout = sp.step.Timeout
		req = &v.dyn
	}
	if !v.started {
		v.started = true
		atomicMax(&e.lastFirstReq, int64(time.Since(e.start)))
	}
	res := &v.res
	v.session.Do(req, sp.capture, res)

	s := &v.sample
	start := res.Start
	if !due.IsZero() {
		// The open model counts from when the request should have gone out.
		start = due
	}
	*s = Sample{Name: sp.name, Latency: res.End.Sub(start), BytesIn: res.BytesIn, BytesOut: res.BytesOut}
	if !res.FirstByte.IsZero() {
		s.TTFB = res.FirstByte.Sub(res.Start)
	}
	ok := true
	switch {
	case res.Err != nil:
		ok = false
		if !res.Sent {
			// A request the end of the run kept from going out is not a
			// request; one that could not connect is a failed request.
			if !httpclient.IsInterrupted(res.Err) {
				s.Failed, s.Kind = true, httpclient.Classify(res.Err)
				e.note(sp.label, s.Kind.String(), res.Err.Error())
				e.collector.Record(v.shard, s)
			}
			return false
		}
		s.Failed = true
		if httpclient.IsInterrupted(res.Err) {
			// Cut off by the end of the graceful stop or an abort: it did
			// not complete in the time it was given.
			s.Kind = results.Timeout
		} else {
			s.Kind = httpclient.Classify(res.Err)
		}
		e.note(sp.label, s.Kind.String(), res.Err.Error())
	default:
		if res.Status >= 400 && !sp.step.ExpectsStatus(res.Status) {
			s.Failed, s.Kind = true, results.HTTP4xx
			if res.Status >= 500 {
				s.Kind = results.HTTP5xx
			}
		}
		if sp.evaluate {
			v.resp = scenario.Response{Status: res.Status, Header: res.Header, Body: res.Body}
			if msg := sp.step.Evaluate(v.state, &v.resp); msg != "" {
				if !s.Failed {
					s.Failed, s.Kind = true, results.CheckFailed
				}
				e.note(sp.label, results.CheckFailed.String(), msg)
			}
		}
	}
	e.collector.Record(v.shard, s)
	return ok
}

// think pauses for a sampled think time; false means the VU must stop.
func (v *engineVU) think(ctx context.Context, stop <-chan struct{}, t scenario.Think) bool {
	d := t.Sample(v.state.Rand())
	if d <= 0 {
		return true
	}
	if v.timer == nil {
		v.timer = time.NewTimer(d)
	} else {
		v.timer.Reset(d)
	}
	select {
	case <-v.timer.C:
		return true
	case <-stop:
	case <-ctx.Done():
	}
	v.timer.Stop()
	return false
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
