package runs

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	brinkv1 "github.com/brinkhq/brink/internal/gen/brink/v1"
	"github.com/brinkhq/brink/internal/hub/wire"
	"github.com/brinkhq/brink/internal/results"
	"github.com/brinkhq/brink/internal/store"
	"github.com/prometheus/prometheus/model/labels"
)

// run is one run's state; every field is guarded by mu.
type run struct {
	mu   sync.Mutex
	dir  string
	meta meta

	slog *secondsLog // open while seconds may arrive

	// replayed is false for a run loaded from disk whose seconds log has
	// not been read; its figures then come from meta.
	replayed    bool
	sources     map[string]*sourceState
	sourceOrder []string
	pending     map[int64]*results.Second // merged across sources, not yet in the store
	cum         map[string]*counters      // cumulative per request name, as written
	iterations  int64
	dropped     int64
	overall     *results.Stats // every stored second, exactly merged
	byName      map[string]*results.Stats
	firstSecond int64
	lastSecond  int64
	maxVUs      int
	latest      LivePoint

	lastActivity time.Time
	dirty        bool
	savedAt      time.Time
}

type counters struct {
	requests, bytesIn, bytesOut int64
	failures                    [results.NumFailureKinds]int64
}

type sourceState struct {
	meta       SourceMeta
	seen       map[int64]struct{} // unix seconds held
	contiguous uint64             // every sequence number up to this is held
	above      map[uint64]struct{}
	lastSecond int64
}

func (s *sourceState) ack(seq uint64) {
	if seq <= s.contiguous {
		return
	}
	s.above[seq] = struct{}{}
	for {
		if _, ok := s.above[s.contiguous+1]; !ok {
			return
		}
		delete(s.above, s.contiguous+1)
		s.contiguous++
	}
}

func newRun(dir string, m meta, now time.Time) *run {
	ru := &run{dir: dir, meta: m, lastActivity: now, dirty: true}
	ru.resetState()
	ru.replayed = true
	return ru
}

func (ru *run) resetState() {
	ru.sources = map[string]*sourceState{}
	ru.sourceOrder = nil
	ru.pending = map[int64]*results.Second{}
	ru.cum = map[string]*counters{}
	ru.overall = results.NewStats()
	ru.byName = map[string]*results.Stats{}
	ru.iterations, ru.dropped, ru.firstSecond, ru.lastSecond, ru.maxVUs = 0, 0, 0, 0, 0
	for _, sm := range ru.meta.Sources {
		ru.addSource(sm)
	}
}

// dropState frees the histograms of a run that ended; its figures stay in
// meta, and the seconds log is read again if the run is ever touched.
func (ru *run) dropState() {
	ru.saveSourcesToMeta()
	ru.replayed = false
	ru.pending, ru.cum, ru.byName, ru.overall = nil, nil, nil, nil
	for _, s := range ru.sources {
		s.seen, s.above = nil, nil
	}
}

func (ru *run) addSource(sm SourceMeta) *sourceState {
	s := &sourceState{meta: sm, seen: map[int64]struct{}{}, above: map[uint64]struct{}{}, lastSecond: sm.LastSecond}
	ru.sources[sm.Source] = s
	ru.sourceOrder = append(ru.sourceOrder, sm.Source)
	return s
}

func (ru *run) logPath() string  { return filepath.Join(ru.dir, "seconds.log") }
func (ru *run) metaPath() string { return filepath.Join(ru.dir, "run.json") }

// source returns the state of a reporter, registering it on first contact.
func (ru *run) source(name string, now time.Time) *sourceState {
	ru.ensureReplayed()
	if s := ru.sources[name]; s != nil {
		return s
	}
	ru.dirty = true
	return ru.addSource(SourceMeta{Source: name, Status: StatusRunning, StartedMs: now.UnixMilli()})
}

// ensureReplayed reads the seconds log of a run loaded from disk before
// anything may change it, so that duplicates are recognised and counters
// continue where they were.
func (ru *run) ensureReplayed() {
	if ru.replayed {
		return
	}
	ru.replayed = true
	// The log is counted again from the start.
	for i := range ru.meta.Sources {
		ru.meta.Sources[i].Seconds, ru.meta.Sources[i].LastSecond = 0, 0
	}
	ru.resetState()
	_, _ = scanSecondsLog(ru.logPath(), func(rec *brinkv1.PushSecondsRequest) error {
		src := ru.sources[rec.Source]
		if src == nil {
			src = ru.addSource(SourceMeta{Source: rec.Source, Status: StatusRunning})
		}
		for _, p := range rec.Seconds {
			s, err := wire.SecondFromProto(p)
			if err != nil {
				continue // validated before it was written; unreachable unless the file was edited
			}
			if _, dup := src.seen[s.T]; dup {
				continue
			}
			src.ack(p.Sequence)
			ru.absorb(src, s)
		}
		return nil
	})
}

func (ru *run) appendLog(rec *brinkv1.PushSecondsRequest) error {
	if ru.slog == nil {
		l, err := openSecondsLog(ru.logPath())
		if err != nil {
			return fmt.Errorf("run %s: %w", ru.meta.ID, err)
		}
		ru.slog = l
	}
	if err := ru.slog.append(rec); err != nil {
		return fmt.Errorf("run %s: %w", ru.meta.ID, err)
	}
	return nil
}

func (ru *run) closeLog() {
	if ru.slog != nil {
		_ = ru.slog.close()
		ru.slog = nil
	}
}

// absorb takes one stored second of one source. A second at or before the
// last one written to the store arrived late: its counts join the counters
// that the next written second carries, so totals stay exact.
func (ru *run) absorb(src *sourceState, s *results.Second) {
	src.seen[s.T] = struct{}{}
	src.lastSecond = max(src.lastSecond, s.T)
	src.meta.Seconds++
	src.meta.LastSecond = src.lastSecond
	if ru.firstSecond == 0 || s.T < ru.firstSecond {
		ru.firstSecond = s.T
	}
	ru.lastSecond = max(ru.lastSecond, s.T)
	for name, st := range s.ByName {
		acc := ru.byName[name]
		if acc == nil {
			acc = results.NewStats()
			ru.byName[name] = acc
		}
		acc.Merge(st)
		ru.overall.Merge(st)
	}
	if s.T <= ru.meta.FinalizedThrough {
		ru.addCounters(s)
		return
	}
	if p := ru.pending[s.T]; p != nil {
		p.Merge(s)
	} else {
		ru.pending[s.T] = s
	}
}

func (ru *run) addCounters(s *results.Second) {
	for name, st := range s.ByName {
		c := ru.cum[name]
		if c == nil {
			c = &counters{}
			ru.cum[name] = c
		}
		c.requests += st.Requests
		c.bytesIn += st.BytesIn
		c.bytesOut += st.BytesOut
		for k, n := range st.Failures {
			c.failures[k] += n
		}
	}
	ru.iterations += s.Iterations
	ru.dropped += s.Dropped
}

func (ru *run) pendingSeconds() []int64 {
	return slices.Sorted(maps.Keys(ru.pending))
}

// allReported tells whether every source still running has reported second
// t (or a later one).
func (ru *run) allReported(t int64) bool {
	for _, s := range ru.sources {
		if s.meta.Status == StatusRunning && s.lastSecond < t {
			return false
		}
	}
	return true
}

func (ru *run) allSourcesDone() bool {
	for _, s := range ru.sources {
		if s.meta.Status == StatusRunning {
			return false
		}
	}
	return true
}

func (ru *run) flushAll(ctx context.Context, st store.Appendable, log *slog.Logger) {
	for _, t := range ru.pendingSeconds() {
		ru.writeSecond(ctx, st, log, t)
	}
}

// writeSecond appends second t, merged over sources, to the store. The
// sample time is the end of the second, so the sample at t describes
// (t-1s, t] like a rate over counters sampled each second.
func (ru *run) writeSecond(ctx context.Context, st store.Appendable, log *slog.Logger, t int64) {
	sec := ru.pending[t]
	delete(ru.pending, t)
	ru.addCounters(sec)
	ru.maxVUs = max(ru.maxVUs, sec.VUs)
	ru.meta.FinalizedThrough = t
	ru.dirty = true
	total := sec.Total()
	ru.latest = LivePoint{
		LastSecondMs: (t + 1) * 1000, RPS: float64(total.Requests), Failures: total.FailureCount(),
		P95Ms: results.Ms(total.Latency.Quantile(0.95)), VUs: sec.VUs,
	}
	if st == nil {
		return
	}
	ts := (t + 1) * 1000
	app := st.Appender(ctx)
	w := seriesWriter{app: app, ts: ts, run: ru.meta.ID, service: ru.meta.TargetService}
	for _, name := range slices.Sorted(maps.Keys(ru.cum)) {
		c := ru.cum[name]
		w.add(float64(c.requests), "brink_requests_total", "name", name)
		for k, n := range c.failures {
			w.add(float64(n), "brink_failures_total", "name", name, "kind", results.FailureKind(k).String())
		}
		w.add(float64(c.bytesIn), "brink_bytes_received_total", "name", name)
		w.add(float64(c.bytesOut), "brink_bytes_sent_total", "name", name)
		if s := sec.ByName[name]; s != nil && s.Latency.Count() > 0 {
			for _, q := range results.Quantiles {
				w.add(float64(s.Latency.Quantile(q))/1e6, "brink_latency_seconds", "name", name, "quantile", formatQuantile(q))
			}
		}
	}
	if total.Latency.Count() > 0 {
		for _, q := range results.Quantiles {
			w.add(float64(total.Latency.Quantile(q))/1e6, "brink_run_latency_seconds", "quantile", formatQuantile(q))
		}
	}
	w.add(float64(sec.VUs), "brink_vus")
	w.add(sec.TargetRate, "brink_target_rate")
	w.add(float64(ru.iterations), "brink_iterations_total")
	w.add(float64(ru.dropped), "brink_dropped_iterations_total")
	if w.err != nil {
		_ = app.Rollback()
		log.Error("writing run second to the store", "run", ru.meta.ID, "second", t, "err", w.err)
		return
	}
	if err := app.Commit(); err != nil {
		log.Error("committing run second to the store", "run", ru.meta.ID, "second", t, "err", err)
	}
}

func formatQuantile(q float64) string { return strconv.FormatFloat(q, 'f', -1, 64) }

type seriesWriter struct {
	app          store.Appender
	ts           int64
	run, service string
	err          error
}

func (w *seriesWriter) add(v float64, name string, kv ...string) {
	if w.err != nil {
		return
	}
	pairs := append([]string{labels.MetricName, name, "run", w.run}, kv...)
	if w.service != "" {
		pairs = append(pairs, "service", w.service)
	}
	_, err := w.app.Append(0, labels.FromStrings(pairs...), w.ts, v)
	// A second written again after a restart is already there: the store
	// refuses the repeat, which is what should happen.
	if err != nil && !store.IsSampleRejection(err) {
		w.err = err
	}
}

// keepFigures stores the run's figures in meta so that a restarted hub can
// show the run without reading its seconds.
func (ru *run) keepFigures() {
	if !ru.replayed {
		return
	}
	t := ru.totalsOf(ru.overall, true)
	ru.meta.Totals = &t
	ru.meta.ByName = map[string]Totals{}
	for name, st := range ru.byName {
		ru.meta.ByName[name] = ru.totalsOf(st, true)
	}
	ru.meta.Names = slices.Sorted(maps.Keys(ru.byName))
	ru.meta.FirstSecond, ru.meta.LastSecond = ru.firstSecond, ru.lastSecond
}

func (ru *run) totalsOf(st *results.Stats, withLatency bool) Totals {
	t := Totals{Requests: st.Requests, Failures: st.FailureCount()}
	if secs := ru.lastSecond - ru.firstSecond + 1; ru.firstSecond > 0 && secs > 0 {
		t.RPS = float64(st.Requests) / float64(secs)
	}
	if st.Requests > 0 {
		t.ErrorRate = float64(t.Failures) / float64(st.Requests)
	}
	for k, n := range st.Failures {
		if n > 0 {
			if t.ByKind == nil {
				t.ByKind = map[string]int64{}
			}
			t.ByKind[results.FailureKind(k).String()] = n
		}
	}
	if withLatency && st.Latency.Count() > 0 {
		l := results.LatencyOf(st.Latency)
		t.LatencyMs = &l
	}
	return t
}

func (ru *run) saveSourcesToMeta() {
	ru.meta.Sources = ru.meta.Sources[:0]
	for _, name := range ru.sourceOrder {
		ru.meta.Sources = append(ru.meta.Sources, ru.sources[name].meta)
	}
}

func (ru *run) saveMeta() error {
	ru.saveSourcesToMeta()
	b, err := json.MarshalIndent(ru.meta, "", "  ")
	if err != nil {
		return fmt.Errorf("encode run %s: %w", ru.meta.ID, err)
	}
	tmp := ru.metaPath() + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("save run %s: %w", ru.meta.ID, err)
	}
	_, werr := f.Write(b)
	serr := f.Sync()
	cerr := f.Close()
	if werr != nil || serr != nil || cerr != nil {
		return fmt.Errorf("save run %s to %s: write %v, sync %v, close %v", ru.meta.ID, tmp, werr, serr, cerr)
	}
	if err := os.Rename(tmp, ru.metaPath()); err != nil {
		return fmt.Errorf("save run %s: %w", ru.meta.ID, err)
	}
	ru.dirty = false
	ru.savedAt = time.Now()
	return nil
}

func loadRun(dir string, now time.Time) (*run, error) {
	b, err := os.ReadFile(filepath.Join(dir, "run.json"))
	if err != nil {
		return nil, fmt.Errorf("read run: %w", err)
	}
	var m meta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("decode %s/run.json: %w", dir, err)
	}
	if m.ID != filepath.Base(dir) {
		return nil, fmt.Errorf("%s/run.json holds run %q", dir, m.ID)
	}
	ru := &run{dir: dir, meta: m, lastActivity: now}
	ru.resetState()
	if m.Status == StatusRunning {
		// Sources get a fresh lost timeout: they may be resending what the
		// hub missed while it was down.
		ru.ensureReplayed()
	}
	return ru, nil
}

func (ru *run) matches(needle string) bool {
	m := &ru.meta
	if strings.Contains(strings.ToLower(m.ID), needle) || strings.Contains(strings.ToLower(m.Name), needle) ||
		strings.Contains(strings.ToLower(m.TargetService), needle) || strings.Contains(strings.ToLower(m.Scenario), needle) {
		return true
	}
	for _, v := range m.Labels {
		if strings.Contains(strings.ToLower(v), needle) {
			return true
		}
	}
	return false
}

// View is a run as the API shows it.
type View struct {
	ID            string                    `json:"id"`
	Name          string                    `json:"name"`
	Scenario      string                    `json:"scenario,omitempty"`
	TargetService string                    `json:"target_service"`
	Labels        map[string]string         `json:"labels"`
	Status        string                    `json:"status"`
	StartedMs     int64                     `json:"started_ms"`
	EndedMs       *int64                    `json:"ended_ms"`
	LastSecondMs  *int64                    `json:"last_second_ms"`
	Sources       []SourceView              `json:"sources"`
	ThresholdsOK  *bool                     `json:"thresholds_ok"`
	Thresholds    []results.ThresholdResult `json:"thresholds"`
	Aborted       bool                      `json:"aborted"`
	Totals        Totals                    `json:"totals"`
	Names         []string                  `json:"names"`
	Summary       json.RawMessage           `json:"summary,omitempty"`
	ByName        map[string]Totals         `json:"by_name,omitempty"`
	// Analysis is the saturation analysis kept with the run (detail only).
	Analysis json.RawMessage `json:"analysis,omitempty"`
}

// SourceView is a reporter as the API shows it.
type SourceView struct {
	SourceMeta
	LastSecondMs *int64 `json:"last_second_ms"`
}

func (ru *run) view(full bool) View {
	m := &ru.meta
	v := View{
		ID: m.ID, Name: m.Name, TargetService: m.TargetService, Labels: m.Labels, Status: m.Status,
		StartedMs: m.StartedMs, ThresholdsOK: m.ThresholdsOK, Thresholds: m.Thresholds, Aborted: m.Aborted,
	}
	if v.Labels == nil {
		v.Labels = map[string]string{}
	}
	if v.Thresholds == nil {
		v.Thresholds = []results.ThresholdResult{}
	}
	if m.EndedMs > 0 {
		ended := m.EndedMs
		v.EndedMs = &ended
	}
	lastSecond := m.LastSecond
	if ru.replayed {
		lastSecond = ru.lastSecond
		v.Totals = ru.totalsOf(ru.overall, full)
		v.Names = slices.Sorted(maps.Keys(ru.byName))
		if full {
			v.ByName = map[string]Totals{}
			for name, st := range ru.byName {
				v.ByName[name] = ru.totalsOf(st, true)
			}
		}
	} else {
		if m.Totals != nil {
			v.Totals = *m.Totals
		}
		v.Names = m.Names
		if full {
			v.ByName = m.ByName
		}
	}
	if lastSecond > 0 {
		ms := (lastSecond + 1) * 1000
		v.LastSecondMs = &ms
	}
	if v.Names == nil {
		v.Names = []string{}
	}
	for _, name := range ru.sourceOrder {
		s := ru.sources[name]
		sv := SourceView{SourceMeta: s.meta}
		if s.meta.LastSecond > 0 {
			ms := (s.meta.LastSecond + 1) * 1000
			sv.LastSecondMs = &ms
		}
		v.Sources = append(v.Sources, sv)
	}
	if v.Sources == nil {
		v.Sources = []SourceView{}
	}
	if full {
		v.Scenario = m.Scenario
		v.Summary = m.Summary
		v.Analysis = m.Analysis
	} else if v.Totals.LatencyMs != nil {
		v.Totals.LatencyMs = nil
	}
	return v
}
