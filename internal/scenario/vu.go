package scenario

import (
	"math/rand/v2"
	"sort"
)

// VU is one virtual user's state: its variables (extracted values), its
// data-feed rows and cursors, and its own random source. A VU is used by
// one goroutine at a time.
type VU struct {
	ID       int
	scenario *Scenario
	rand     *rand.Rand
	vars     []string
	varSet   []bool
	feeds    []feedState // indexed like plan.feeds
}

// NewVU makes the state of virtual user id (0-based within the scenario).
func (s *Scenario) NewVU(id int) *VU {
	vu := &VU{
		ID:       id,
		scenario: s,
		rand:     rand.New(rand.NewPCG(rand.Uint64(), uint64(id))),
		vars:     make([]string, len(s.varNames)),
		varSet:   make([]bool, len(s.varNames)),
	}
	if s.usesAnyFeed {
		vu.feeds = make([]feedState, len(s.plan.feeds))
		for i, f := range s.plan.feeds {
			// Per-VU sequential feeds start each VU at its own row, so
			// that concurrent VUs use different rows (different users).
			vu.feeds[i] = feedState{row: -1, next: id % len(f.rows)}
		}
	}
	return vu
}

// Rand is the VU's random source, for think times and anything else the
// engine draws per VU.
func (vu *VU) Rand() *rand.Rand { return vu.rand }

// NextFlow starts an iteration: it moves the VU to the next row of each
// data feed and picks a flow by weight. Call it once per iteration.
func (vu *VU) NextFlow() *Flow {
	for i := range vu.feeds {
		vu.feeds[i].row = -1
	}
	s := vu.scenario
	if len(s.Flows) == 1 {
		return s.Flows[0]
	}
	total := s.cumWeights[len(s.cumWeights)-1]
	x := vu.rand.Float64() * total
	i := sort.SearchFloat64s(s.cumWeights, x)
	// SearchFloat64s finds the first cumulative weight ≥ x; x equal to a
	// boundary belongs to the next flow.
	for i < len(s.cumWeights)-1 && s.cumWeights[i] <= x {
		i++
	}
	return s.Flows[i]
}

// Var returns the value of an extracted variable and whether it is set.
func (vu *VU) Var(name string) (string, bool) {
	slot, ok := vu.scenario.varSlots[name]
	if !ok || !vu.varSet[slot] {
		return "", false
	}
	return vu.vars[slot], true
}

func (vu *VU) feedValue(feedIdx, column int) string {
	st := &vu.feeds[feedIdx]
	f := vu.scenario.plan.feeds[feedIdx]
	if st.row < 0 {
		st.row = f.pick(vu, st)
	}
	return f.rows[st.row][column]
}
