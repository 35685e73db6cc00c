package agent

import (
	"maps"
	"slices"
	"sync"

	"github.com/brinkhq/brink/internal/results"
)

// merger joins the seconds of a job's engines (its own share and shares
// taken over later) into one second per wall-clock second: second T is
// complete once every running engine has delivered T or a later one. The
// hub deduplicates by (agent, second), so an agent must send each second
// exactly once.
type merger struct {
	emitMu sync.Mutex // orders emissions; never held with the job's lock

	mu       sync.Mutex
	pending  map[int64]*results.Second
	last     map[int]int64 // running engines: the last second each delivered
	nextID   int
	through  int64 // every second up to this one was emitted
	held     bool
	finished bool

	emit func(*results.Second)
	end  func()
}

func newMerger(emit func(*results.Second), end func()) *merger {
	return &merger{pending: map[int64]*results.Second{}, last: map[int]int64{}, emit: emit, end: end}
}

// hold keeps seconds back while several engines are being registered.
func (m *merger) hold() {
	m.mu.Lock()
	m.held = true
	m.mu.Unlock()
}

// release lets seconds through again; with no engine at all the job's
// load generation is over.
func (m *merger) release() {
	m.mu.Lock()
	m.held = false
	m.mu.Unlock()
	m.flush()
}

// add registers an engine whose seconds start after unix second from.
func (m *merger) add(from int64) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	id := m.nextID
	m.nextID++
	m.last[id] = max(from, m.through)
	return id
}

func (m *merger) second(id int, s *results.Second) {
	m.mu.Lock()
	t := s.T
	if t <= m.through {
		// Never resend a second: a late one joins the next.
		t = m.through + 1
		s.T = t
	}
	if p := m.pending[t]; p != nil {
		p.Merge(s)
	} else {
		m.pending[t] = s
	}
	if s.T > m.last[id] {
		m.last[id] = s.T
	}
	m.mu.Unlock()
	m.flush()
}

// done unregisters an engine that finished.
func (m *merger) done(id int) {
	m.mu.Lock()
	delete(m.last, id)
	m.mu.Unlock()
	m.flush()
}

// flush emits every complete second in order, and reports the end once no
// engine runs.
func (m *merger) flush() {
	m.emitMu.Lock()
	defer m.emitMu.Unlock()
	m.mu.Lock()
	if m.held || m.finished {
		m.mu.Unlock()
		return
	}
	watermark := int64(-1)
	for _, t := range m.last {
		if watermark < 0 || t < watermark {
			watermark = t
		}
	}
	var out []*results.Second
	for _, t := range slices.Sorted(maps.Keys(m.pending)) {
		if watermark >= 0 && t > watermark {
			break
		}
		out = append(out, m.pending[t])
		delete(m.pending, t)
		m.through = t
	}
	ended := len(m.last) == 0
	if ended {
		m.finished = true
	}
	m.mu.Unlock()
	for _, s := range out {
		m.emit(s)
	}
	if ended {
		m.end()
	}
}
