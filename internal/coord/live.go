package coord

import (
	"maps"
	"slices"
	"time"

	brinkv1 "github.com/brinkhq/brink/internal/gen/brink/v1"
	"github.com/brinkhq/brink/internal/hub/wire"
	"github.com/brinkhq/brink/internal/results"
)

// maxHistory bounds the merged seconds kept for watchers that join late
// or resume after a broken watch (an hour).
const maxHistory = 3600

// liveView merges the members' seconds as the hub receives them into one
// second per wall-clock second, for watchers. Second T is shown once every
// member still generating has reported T or a later one, or MergeGrace
// after T ended. A member's second that arrives after T was shown (after a
// link drop) is not in the live view; the run's summary, built from the
// registry when the run settles, has it.
type liveView struct {
	pending map[int64]*results.Second
	through int64
	history []*brinkv1.Second
	late    int64 // member seconds that arrived after their second was shown
}

func newLiveView() *liveView { return &liveView{pending: map[int64]*results.Second{}} }

// observe takes one member's second. Duplicates (resends) are skipped.
func (v *liveView) observe(m *member, s *results.Second) {
	if _, dup := m.seen[s.T]; dup {
		return
	}
	m.seen[s.T] = struct{}{}
	m.lastSecond = max(m.lastSecond, s.T)
	if s.T <= v.through {
		v.late++
		return
	}
	if p := v.pending[s.T]; p != nil {
		p.Merge(s)
	} else {
		v.pending[s.T] = s
	}
}

// emitLocked shows every complete second to the run's watchers.
func (v *liveView) emitLocked(c *Coordinator, r *drun, now time.Time) {
	grace := c.timing.MergeGrace
	var out []*brinkv1.Second
	for _, t := range slices.Sorted(maps.Keys(v.pending)) {
		if now.Before(time.Unix(t+1, 0).Add(grace)) && r.waitingFor(t) {
			break
		}
		p := wire.SecondToProto(v.pending[t], 0)
		delete(v.pending, t)
		v.through = t
		out = append(out, p)
	}
	if len(out) > 0 {
		v.history = append(v.history, out...)
		if over := len(v.history) - maxHistory; over > 0 {
			v.history = slices.Delete(v.history, 0, over)
		}
	}
	rowsDue := now.Sub(r.rowsSentAt) >= time.Second
	if len(out) == 0 && !rowsDue {
		return
	}
	if len(r.watchers) > 0 {
		u := &brinkv1.RunUpdate{State: r.state, Seconds: out, StartUnixNs: r.startNs, StartSkewNs: r.skewNs}
		if rowsDue {
			u.Agents = r.rows(c, now)
		}
		r.broadcast(u)
	}
	if rowsDue {
		r.rowsSentAt = now
	}
}

// waitingFor reports whether a member still generating has not reported
// second t yet.
func (r *drun) waitingFor(t int64) bool {
	for _, m := range r.members {
		if m.lost || m.lastSecond >= t {
			continue
		}
		switch m.state() {
		case brinkv1.AgentState_AGENT_STATE_READY, brinkv1.AgentState_AGENT_STATE_RUNNING, brinkv1.AgentState_AGENT_STATE_FLUSHING:
			return true
		}
	}
	return false
}

// ObserveSeconds is called by the hub after it stored a batch of seconds
// pushed through RunService; seconds of distributed runs join their live
// view.
func (c *Coordinator) ObserveSeconds(req *brinkv1.PushSecondsRequest) {
	c.mu.Lock()
	r := c.runs[req.GetRunId()]
	if r == nil || r.settled() {
		c.mu.Unlock()
		return
	}
	m := r.member(req.GetSource())
	if m == nil {
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	// Decoding is the costly part: do it outside the lock.
	decoded := make([]*results.Second, 0, len(req.Seconds))
	for _, p := range req.Seconds {
		s, err := wire.SecondFromProto(p)
		if err != nil {
			continue // the registry validated the batch; unreachable
		}
		decoded = append(decoded, s)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range decoded {
		r.live.observe(m, s)
	}
}

// watcher is one WatchRun stream.
type watcher struct {
	ch chan *brinkv1.RunUpdate
}

// broadcast sends u to every watcher; a watcher too slow to keep up is
// dropped (it resumes with after_unix_second).
func (r *drun) broadcast(u *brinkv1.RunUpdate) {
	for w := range r.watchers {
		select {
		case w.ch <- u:
		default:
			close(w.ch)
			delete(r.watchers, w)
		}
	}
}

// snapshotLocked is what a new watcher gets first.
func (r *drun) snapshotLocked(c *Coordinator, after int64, now time.Time) *brinkv1.RunUpdate {
	u := &brinkv1.RunUpdate{State: r.state, StartUnixNs: r.startNs, StartSkewNs: r.skewNs, Agents: r.rows(c, now),
		Events: slices.Clone(r.events), Result: r.result}
	for _, s := range r.live.history {
		if s.UnixSecond > after {
			u.Seconds = append(u.Seconds, s)
		}
	}
	return u
}
