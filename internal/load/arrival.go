package load

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"
	"time"

	"github.com/brinkhq/brink/internal/scenario"
)

// arrivalSchedule is a piecewise-linear arrival rate. Iteration i (from 0)
// is due at the time t where the expected number of arrivals ∫₀ᵗ rate
// reaches i, so the schedule is exact however the rate changes: no
// rounding per tick, no drift.
type arrivalSchedule struct {
	segments []arrivalSegment
	// cursor for Due's monotonic use
	seg int
}

type arrivalSegment struct {
	start      time.Duration
	length     time.Duration
	from, to   float64 // rate in iterations per nanosecond at start and end
	countStart float64 // arrivals before the segment
}

func (s arrivalSegment) countEnd() float64 {
	return snapCount(s.countStart + (s.from+s.to)/2*float64(s.length))
}

// snapCount rounds an expected arrival count that floating point left a
// hair off a whole number (10,000/s × 5 s = 50000.000000001), so that the
// schedule holds exactly the iterations it should.
func snapCount(x float64) float64 {
	if r := math.Round(x); math.Abs(x-r) < 1e-6 {
		return r
	}
	return x
}

// newArrivalSchedule builds a schedule that starts at startRate and moves
// linearly to each stage's target over its duration; rates are per unit.
func newArrivalSchedule(startRate float64, stages []scenario.Stage, unit time.Duration) (*arrivalSchedule, error) {
	if unit <= 0 {
		unit = scenario.DefaultTimeUnit
	}
	perNs := func(r float64) float64 { return r / float64(unit) }
	sch := &arrivalSchedule{}
	from, at, count := perNs(startRate), time.Duration(0), 0.0
	if startRate < 0 || math.IsNaN(startRate) || math.IsInf(startRate, 0) {
		return nil, fmt.Errorf("the start rate %v is not a non-negative number", startRate)
	}
	for i, st := range stages {
		if st.Target < 0 || math.IsNaN(st.Target) || math.IsInf(st.Target, 0) || st.Duration < 0 {
			return nil, fmt.Errorf("stage %d: target %v and duration %v must not be negative", i+1, st.Target, st.Duration)
		}
		to := perNs(st.Target)
		seg := arrivalSegment{start: at, length: st.Duration, from: from, to: to, countStart: count}
		if st.Duration > 0 {
			sch.segments = append(sch.segments, seg)
			count = seg.countEnd()
		}
		at += st.Duration
		from = to
	}
	if len(sch.segments) == 0 {
		return nil, fmt.Errorf("the stages add up to no time")
	}
	return sch, nil
}

// Length is the schedule's total duration.
func (s *arrivalSchedule) Length() time.Duration {
	last := s.segments[len(s.segments)-1]
	return last.start + last.length
}

// Due returns when iteration i is due, as an offset from the start, and
// false once i falls beyond the end. Calls must use non-decreasing i.
func (s *arrivalSchedule) Due(i int64) (time.Duration, bool) {
	n := float64(i)
	for s.seg < len(s.segments) && n >= s.segments[s.seg].countEnd() {
		s.seg++
	}
	if s.seg == len(s.segments) {
		return 0, false
	}
	seg := s.segments[s.seg]
	k := n - seg.countStart // arrivals into this segment
	if k <= 0 {
		return seg.start, true
	}
	// Solve from·τ + (to−from)/(2·length)·τ² = k for τ in the stable form
	// τ = 2k / (from + sqrt(from² + 4ak)), which also covers a ramp down.
	a := (seg.to - seg.from) / (2 * float64(seg.length))
	disc := seg.from*seg.from + 4*a*k
	if disc < 0 {
		disc = 0
	}
	den := seg.from + math.Sqrt(disc)
	if den <= 0 {
		return seg.start + seg.length, true
	}
	tau := 2 * k / den
	return seg.start + min(time.Duration(tau), seg.length), true
}

// RateAt is the scheduled rate per second at offset t.
func (s *arrivalSchedule) RateAt(t time.Duration) float64 {
	for _, seg := range s.segments {
		if t < seg.start+seg.length {
			f := seg.from + (seg.to-seg.from)*float64(t-seg.start)/float64(seg.length)
			return f * float64(time.Second)
		}
	}
	return 0
}

// arrivalRate is the open model shared by both arrival-rate executors.
type arrivalRate struct {
	schedule   *arrivalSchedule
	startTime  time.Duration
	iterations int64
	preVUs     int
	maxVUs     int
}

func newArrivalRate(kind string, cfg scenario.ExecutorConfig, sch *arrivalSchedule) (*arrivalRate, error) {
	pre, limit := cfg.PreAllocatedVUs, cfg.MaxVUs
	if limit <= 0 {
		limit = pre
	}
	if pre < 0 || limit < 1 || pre > limit {
		return nil, fmt.Errorf("%s needs 0 ≤ pre-allocated VUs (%d) ≤ max VUs (%d) and max VUs ≥ 1", kind, cfg.PreAllocatedVUs, cfg.MaxVUs)
	}
	return &arrivalRate{schedule: sch, startTime: cfg.StartTime, iterations: cfg.Iterations, preVUs: pre, maxVUs: limit}, nil
}

// maxSleep bounds one wait of the scheduler so that it notices a stop soon.
const maxSleep = 50 * time.Millisecond

func (x *arrivalRate) Run(ctx context.Context, env Env) {
	end, release := watchEnding(ctx, env)
	defer release()
	if !end.waitFor(x.startTime) {
		return
	}
	p := newVUPool(ctx, env, end.ch, x.maxVUs)
	defer p.close()
	if !p.preallocate(x.preVUs, end) {
		return
	}

	sleeper, err := newSleeper()
	if err != nil {
		// timerfd is unavailable: fall back to Go timers (1 ms granularity).
		sleeper = newTimerSleeper()
	}
	defer sleeper.Close()

	start := time.Now()
	env.Meter.SetTargetRate(x.schedule.RateAt(0))
	defer env.Meter.SetTargetRate(0)
	for i := int64(0); ; i++ {
		if x.iterations > 0 && i >= x.iterations {
			// The iterations started run to completion (deferred close).
			return
		}
		off, ok := x.schedule.Due(i)
		if !ok {
			break
		}
		due := start.Add(off)
		for {
			if end.ended() {
				return
			}
			now := time.Now()
			if !now.Before(due) {
				break
			}
			env.Meter.SetTargetRate(x.schedule.RateAt(now.Sub(start)))
			sleeper.Sleep(min(due.Sub(now), maxSleep))
		}
		p.dispatch(due)
	}
	// Idle until the schedule's end (a final stage at rate 0 still lasts as
	// planned), then stop: in-flight requests get the graceful stop.
	for {
		now := time.Now()
		if end.ended() || !now.Before(start.Add(x.schedule.Length())) {
			break
		}
		env.Meter.SetTargetRate(x.schedule.RateAt(now.Sub(start)))
		sleeper.Sleep(min(start.Add(x.schedule.Length()).Sub(now), maxSleep))
	}
	end.end()
}

// vuPool is the open model's set of VUs: idle ones wait for an iteration;
// when none is idle a new one is started up to the limit, beyond which an
// iteration is dropped and counted.
type vuPool struct {
	ctx   context.Context
	env   Env
	stop  <-chan struct{}
	limit int

	mu     sync.Mutex
	idle   []*poolVU // LIFO: the most recently used VU has the warmest connection
	all    []*poolVU
	closed bool
	wg     sync.WaitGroup
}

type poolVU struct {
	id   int
	work chan time.Time
}

func newVUPool(ctx context.Context, env Env, stop <-chan struct{}, limit int) *vuPool {
	return &vuPool{ctx: ctx, env: env, stop: stop, limit: limit}
}

// preallocate starts n VUs and connects them; false means the executor
// ended meanwhile.
func (p *vuPool) preallocate(n int, end *ending) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.all) < n {
		if end.ended() {
			return false
		}
		vu := p.env.NewVU(len(p.all))
		if c, ok := vu.(Connector); ok {
			c.Connect(p.ctx)
		}
		p.idle = append(p.idle, p.startLocked(vu))
	}
	return true
}

// startLocked starts a VU goroutine. A VU started while the schedule runs
// (vu nil) is built inside its goroutine, so the scheduler never waits.
func (p *vuPool) startLocked(vu VU) *poolVU {
	v := &poolVU{id: len(p.all), work: make(chan time.Time, 1)}
	p.all = append(p.all, v)
	p.wg.Add(1)
	p.env.Meter.AddVUs(1)
	go func() {
		defer p.wg.Done()
		defer p.env.Meter.AddVUs(-1)
		if vu == nil {
			vu = p.env.NewVU(v.id)
		}
		for due := range v.work {
			vu.Iterate(p.ctx, due, p.stop)
			p.env.Meter.IterationDone()
			p.release(v)
		}
	}()
	return v
}

func (p *vuPool) release(v *poolVU) {
	p.mu.Lock()
	if !p.closed {
		p.idle = append(p.idle, v)
	}
	p.mu.Unlock()
}

// dispatch starts the iteration due at due on a free VU, or drops it.
func (p *vuPool) dispatch(due time.Time) {
	v := p.take()
	if v == nil {
		// VUs handed work a moment ago may have finished without having
		// been scheduled to say so (a burst of overdue iterations after the
		// scheduler was descheduled): let them run once before dropping.
		runtime.Gosched()
		v = p.take()
	}
	if v == nil {
		p.env.Meter.Dropped(1)
		return
	}
	v.work <- due
}

// take returns an idle VU, a new one while under the limit, or nil.
func (p *vuPool) take() *poolVU {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case len(p.idle) > 0:
		v := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		return v
	case len(p.all) < p.limit:
		return p.startLocked(nil)
	}
	return nil
}

// close lets every VU finish its iteration and waits for them.
func (p *vuPool) close() {
	p.mu.Lock()
	p.closed = true
	for _, v := range p.all {
		close(v.work)
	}
	p.mu.Unlock()
	p.wg.Wait()
}
