// Package runs is the hub's registry of load-test runs. Runs are first
// class: each has an id, a name, its scenario text, start and end, the
// service it targets, its thresholds outcome and summary, and is listed,
// searched and kept across restarts under <data>/runs/<id>/.
//
// Seconds arrive from one or more sources (a `brink run`, or agents) and
// are kept twice: exactly, per source, in the run's seconds log (the exact
// HDR histograms behind /api/v1/runs/<id>/latency), and, merged across
// sources, as brink_* series in the time-series store so that PromQL and
// charts put load next to container metrics.
package runs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	brinkv1 "github.com/brinkhq/brink/internal/gen/brink/v1"
	"github.com/brinkhq/brink/internal/histogram"
	"github.com/brinkhq/brink/internal/hub/events"
	"github.com/brinkhq/brink/internal/hub/wire"
	"github.com/brinkhq/brink/internal/results"
	"github.com/brinkhq/brink/internal/store"
)

// Run statuses.
const (
	StatusRunning  = "running"
	StatusFinished = "finished"
	StatusAborted  = "aborted"
	StatusLost     = "lost"
)

// Errors callers map to answers: bad input (400) and unknown run (404).
var (
	ErrInvalid  = errors.New("invalid run request")
	ErrNotFound = errors.New("run not found")
)

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// Options configure a Registry.
type Options struct {
	Dir    string // <data>/runs
	Store  store.Appendable
	Events *events.Log
	Now    func() time.Time
	Logger *slog.Logger
	Timing Timing
	// OnEnd is called with a run's id when it ends (finished, aborted or
	// lost), with the run's lock held: it must return at once (queue work,
	// never call back into the registry synchronously).
	OnEnd func(id string)
}

// Timing holds the settings that a config reload may change.
type Timing struct {
	// FinalizeGrace is how long after a second ended the hub waits for
	// sources that have not reported it before writing it to the store.
	FinalizeGrace time.Duration
	// LostAfter marks a running run lost when no source said anything for
	// this long.
	LostAfter time.Duration
}

// DefaultTiming is used for zero fields.
var DefaultTiming = Timing{FinalizeGrace: 5 * time.Second, LostAfter: 2 * time.Minute}

// Registry holds every run. It is safe for concurrent use.
type Registry struct {
	dir    string
	store  store.Appendable
	events *events.Log
	now    func() time.Time
	log    *slog.Logger
	onEnd  func(id string)

	mu     sync.Mutex
	runs   map[string]*run
	timing Timing
}

// SourceMeta is one reporter of a run.
type SourceMeta struct {
	Source       string `json:"source"`
	Status       string `json:"status"`
	StartedMs    int64  `json:"started_ms"`
	FinishedMs   int64  `json:"finished_ms,omitempty"`
	LastSequence uint64 `json:"last_sequence,omitempty"`
	Complete     *bool  `json:"complete,omitempty"`
	// Seconds held from this source and the newest of them (Unix seconds).
	Seconds    int   `json:"seconds"`
	LastSecond int64 `json:"last_second,omitempty"`
}

// Totals are a run's (or one request name's) figures over every stored
// second, from exactly merged histograms.
type Totals struct {
	Requests  int64            `json:"requests"`
	Failures  int64            `json:"failures"`
	ByKind    map[string]int64 `json:"failures_by_kind,omitempty"`
	RPS       float64          `json:"rps"`
	ErrorRate float64          `json:"error_rate"`
	LatencyMs *results.Latency `json:"latency_ms,omitempty"`
}

// meta is what run.json holds.
type meta struct {
	ID            string                    `json:"id"`
	Name          string                    `json:"name"`
	Scenario      string                    `json:"scenario"`
	TargetService string                    `json:"target_service"`
	Labels        map[string]string         `json:"labels"`
	Status        string                    `json:"status"`
	StartedMs     int64                     `json:"started_ms"`
	EndedMs       int64                     `json:"ended_ms,omitempty"`
	Sources       []SourceMeta              `json:"sources"`
	Thresholds    []results.ThresholdResult `json:"thresholds"`
	ThresholdsOK  *bool                     `json:"thresholds_ok"`
	Aborted       bool                      `json:"aborted"`
	Summary       json.RawMessage           `json:"summary,omitempty"`
	// FinalizedThrough is the last unix second written to the store.
	FinalizedThrough int64 `json:"finalized_through"`
	// Kept when the run ends so a restart need not replay its seconds.
	FirstSecond int64             `json:"first_second,omitempty"`
	LastSecond  int64             `json:"last_second,omitempty"`
	Names       []string          `json:"names,omitempty"`
	Totals      *Totals           `json:"totals,omitempty"`
	ByName      map[string]Totals `json:"by_name,omitempty"`
	// Analysis is the saturation analysis the hub computed when the run
	// ended (the hub package's RunAnalysis as JSON).
	Analysis json.RawMessage `json:"analysis,omitempty"`
}

// Open loads every run under opts.Dir. Runs that were running when the hub
// stopped are rebuilt from their seconds logs and carry on.
func Open(opts Options) (*Registry, error) {
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create runs directory: %w", err)
	}
	r := &Registry{
		dir: opts.Dir, store: opts.Store, events: opts.Events, now: opts.Now, log: opts.Logger, onEnd: opts.OnEnd,
		runs: map[string]*run{},
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	r.SetTiming(opts.Timing)
	entries, err := os.ReadDir(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("list runs in %s: %w", opts.Dir, err)
	}
	for _, e := range entries {
		if !e.IsDir() || !idPattern.MatchString(e.Name()) {
			continue
		}
		ru, err := loadRun(filepath.Join(opts.Dir, e.Name()), r.now())
		if err != nil {
			// One damaged run must not keep the hub from starting.
			r.log.Warn("skipping damaged run", "dir", e.Name(), "err", err)
			continue
		}
		r.runs[ru.meta.ID] = ru
	}
	return r, nil
}

// SetTiming changes finalize grace and lost timeout (zero fields: default).
func (r *Registry) SetTiming(t Timing) {
	if t.FinalizeGrace <= 0 {
		t.FinalizeGrace = DefaultTiming.FinalizeGrace
	}
	if t.LostAfter <= 0 {
		t.LostAfter = DefaultTiming.LostAfter
	}
	r.mu.Lock()
	r.timing = t
	r.mu.Unlock()
}

func (r *Registry) currentTiming() Timing {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.timing
}

func (r *Registry) get(id string) (*run, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ru := r.runs[id]
	if ru == nil {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	return ru, nil
}

func newRunID(now time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return "r-" + now.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
}

func validSource(s string) error {
	if s == "" || len(s) > 256 || strings.ContainsAny(s, "\x00\n") {
		return fmt.Errorf("%w: source must be 1 to 256 printable bytes", ErrInvalid)
	}
	return nil
}

// StartRun creates a run or, for a known id, registers the source and
// returns what the hub already holds from it.
func (r *Registry) StartRun(req *brinkv1.StartRunRequest) (*brinkv1.StartRunResponse, error) {
	if err := validSource(req.Source); err != nil {
		return nil, err
	}
	now := r.now()
	id := req.RunId
	if id == "" {
		id = newRunID(now)
	}
	if !idPattern.MatchString(id) {
		return nil, fmt.Errorf("%w: run id %q: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit", ErrInvalid, id)
	}
	if len(req.Name) > 1024 || len(req.TargetService) > 1024 || len(req.Scenario) > 4<<20 || len(req.Labels) > 64 {
		return nil, fmt.Errorf("%w: name, target service, scenario (4 MiB) or labels (64) too large", ErrInvalid)
	}
	r.mu.Lock()
	ru := r.runs[id]
	created := false
	if ru == nil {
		started := req.StartUnixMs
		if started <= 0 {
			started = now.UnixMilli()
		}
		name := req.Name
		if name == "" {
			name = id
		}
		ru = newRun(filepath.Join(r.dir, id), meta{
			ID: id, Name: name, Scenario: req.Scenario, TargetService: req.TargetService,
			Labels: maps.Clone(req.Labels), Status: StatusRunning, StartedMs: started,
		}, now)
		if err := os.MkdirAll(ru.dir, 0o755); err != nil {
			r.mu.Unlock()
			return nil, fmt.Errorf("create run directory: %w", err)
		}
		r.runs[id] = ru
		created = true
	}
	r.mu.Unlock()

	ru.mu.Lock()
	defer ru.mu.Unlock()
	src := ru.source(req.Source, now)
	ru.lastActivity = now
	if ru.meta.Status == StatusLost {
		ru.meta.Status = StatusRunning
	}
	if src.meta.Status != StatusRunning && !created {
		// A source that finished and starts again is reporting anew.
		src.meta.Status = StatusRunning
		src.meta.FinishedMs = 0
		ru.meta.Status, ru.meta.EndedMs = StatusRunning, 0
		// The run goes on: what was concluded about it no longer holds.
		ru.meta.Analysis = nil
	}
	if err := ru.saveMeta(); err != nil {
		return nil, err
	}
	if created && r.events != nil {
		_, _ = r.events.Append(events.Event{
			Kind: events.KindRunStarted, Run: id, Service: req.TargetService, TimeMs: ru.meta.StartedMs,
			Message: fmt.Sprintf("run %q started by %s", ru.meta.Name, req.Source),
			Fields:  map[string]string{"source": req.Source},
		})
	}
	return &brinkv1.StartRunResponse{RunId: id, AckedSequence: src.contiguous}, nil
}

// PushSeconds stores a batch of one source's seconds durably, skipping the
// seconds already held, then writes whatever can be finalized to the store.
func (r *Registry) PushSeconds(ctx context.Context, req *brinkv1.PushSecondsRequest) (*brinkv1.PushSecondsResponse, error) {
	if err := validSource(req.Source); err != nil {
		return nil, err
	}
	ru, err := r.get(req.RunId)
	if err != nil {
		return nil, err
	}
	decoded := make([]*results.Second, len(req.Seconds))
	for i, p := range req.Seconds {
		s, err := wire.SecondFromProto(p)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		if p.Sequence == 0 {
			return nil, fmt.Errorf("%w: second %d has no sequence number", ErrInvalid, s.T)
		}
		decoded[i] = s
	}
	now := r.now()
	ru.mu.Lock()
	defer ru.mu.Unlock()
	src := ru.source(req.Source, now)
	ru.lastActivity = now
	if ru.meta.Status == StatusLost {
		ru.meta.Status = StatusRunning
	}
	fresh := &brinkv1.PushSecondsRequest{RunId: req.RunId, Source: req.Source}
	var freshSeconds []*results.Second
	batchSeen := map[int64]bool{}
	for i, p := range req.Seconds {
		if _, dup := src.seen[p.UnixSecond]; dup || batchSeen[p.UnixSecond] {
			continue
		}
		batchSeen[p.UnixSecond] = true
		fresh.Seconds = append(fresh.Seconds, p)
		freshSeconds = append(freshSeconds, decoded[i])
	}
	if len(fresh.Seconds) > 0 {
		if err := ru.appendLog(fresh); err != nil {
			return nil, err
		}
	}
	// Sequence numbers count as held once their second is durable, and a
	// resent second (already held) is acknowledged too.
	for _, p := range req.Seconds {
		src.ack(p.Sequence)
	}
	for _, s := range freshSeconds {
		ru.absorb(src, s)
	}
	r.finalize(ctx, ru, now)
	return &brinkv1.PushSecondsResponse{AckedSequence: src.contiguous}, nil
}

// FinishRun records that a source is done. When every source is, the run
// ends: everything pending is written and the run's figures are kept.
func (r *Registry) FinishRun(ctx context.Context, req *brinkv1.FinishRunRequest) (*brinkv1.FinishRunResponse, error) {
	if err := validSource(req.Source); err != nil {
		return nil, err
	}
	if len(req.SummaryJson) > 0 && !json.Valid(req.SummaryJson) {
		return nil, fmt.Errorf("%w: summary_json is not valid JSON", ErrInvalid)
	}
	ru, err := r.get(req.RunId)
	if err != nil {
		return nil, err
	}
	now := r.now()
	ru.mu.Lock()
	defer ru.mu.Unlock()
	src := ru.source(req.Source, now)
	ru.lastActivity = now
	complete := req.LastSequence == 0 || src.contiguous >= req.LastSequence
	src.meta.Complete = &complete
	src.meta.LastSequence = req.LastSequence
	src.meta.FinishedMs = req.EndUnixMs
	if src.meta.FinishedMs <= 0 {
		src.meta.FinishedMs = now.UnixMilli()
	}
	src.meta.Status = StatusFinished
	if req.Aborted {
		src.meta.Status = StatusAborted
		ru.meta.Aborted = true
	}
	if len(req.Thresholds) > 0 {
		ru.meta.Thresholds = wire.ThresholdsFromProto(req.Thresholds)
	}
	// With several sources the run holds only if every source's did.
	ok := req.ThresholdsOk
	if ru.meta.ThresholdsOK != nil {
		ok = ok && *ru.meta.ThresholdsOK
	}
	ru.meta.ThresholdsOK = &ok
	if len(req.SummaryJson) > 0 {
		ru.meta.Summary = json.RawMessage(slices.Clone(req.SummaryJson))
	}
	if ru.allSourcesDone() {
		r.endRun(ctx, ru, now, StatusFinished)
	} else {
		r.finalize(ctx, ru, now)
	}
	if err := ru.saveMeta(); err != nil {
		return nil, err
	}
	return &brinkv1.FinishRunResponse{Complete: complete}, nil
}

// endRun writes every pending second, settles the status and keeps the
// figures in run.json. Caller holds ru.mu.
func (r *Registry) endRun(ctx context.Context, ru *run, now time.Time, status string) {
	ru.flushAll(ctx, r.store, r.log)
	if status == StatusFinished && ru.meta.Aborted {
		status = StatusAborted
	}
	ru.meta.Status = status
	ended := now.UnixMilli()
	for _, s := range ru.sources {
		ended = max(ended, s.meta.FinishedMs)
		if status == StatusLost && s.meta.Status == StatusRunning {
			s.meta.Status = StatusLost
		}
	}
	if status == StatusLost {
		ended = max(ru.meta.StartedMs, (ru.lastSecond+1)*1000)
	}
	ru.meta.EndedMs = ended
	ru.keepFigures()
	if err := ru.saveMeta(); err != nil {
		r.log.Error("saving run", "run", ru.meta.ID, "err", err)
	}
	ru.closeLog()
	ru.dropState()
	if r.onEnd != nil {
		r.onEnd(ru.meta.ID)
	}
	if r.events == nil {
		return
	}
	kind, verb := events.KindRunFinished, "finished"
	switch status {
	case StatusAborted:
		kind, verb = events.KindRunAborted, "was aborted"
	case StatusLost:
		kind, verb = events.KindRunLost, "was lost: no source reported for too long"
	}
	e := events.Event{Kind: kind, Run: ru.meta.ID, Service: ru.meta.TargetService, TimeMs: ended,
		Message: fmt.Sprintf("run %q %s", ru.meta.Name, verb), Fields: map[string]string{}}
	if ru.meta.ThresholdsOK != nil {
		e.Fields["thresholds_ok"] = fmt.Sprint(*ru.meta.ThresholdsOK)
	}
	if t := ru.meta.Totals; t != nil && t.Requests > 0 {
		e.Fields["requests"] = fmt.Sprint(t.Requests)
	}
	_, _ = r.events.Append(e)
}

// finalize writes the seconds every running source has reported, and
// those whose grace has passed. Caller holds ru.mu.
func (r *Registry) finalize(ctx context.Context, ru *run, now time.Time) {
	grace := r.currentTiming().FinalizeGrace
	for _, t := range ru.pendingSeconds() {
		if !ru.allReported(t) && now.Before(time.Unix(t+1, 0).Add(grace)) {
			break
		}
		ru.writeSecond(ctx, r.store, r.log, t)
	}
}

// Tick finalizes seconds whose grace passed and marks silent runs lost.
// The hub calls it every second.
func (r *Registry) Tick(ctx context.Context) {
	now := r.now()
	timing := r.currentTiming()
	r.mu.Lock()
	all := slices.Collect(maps.Values(r.runs))
	r.mu.Unlock()
	for _, ru := range all {
		ru.mu.Lock()
		if ru.meta.Status == StatusRunning {
			if now.Sub(ru.lastActivity) > timing.LostAfter {
				r.endRun(ctx, ru, now, StatusLost)
			} else {
				r.finalize(ctx, ru, now)
				if ru.dirty && now.Sub(ru.savedAt) > 10*time.Second {
					if err := ru.saveMeta(); err != nil {
						r.log.Error("saving run", "run", ru.meta.ID, "err", err)
					}
				}
			}
		}
		ru.mu.Unlock()
	}
}

// Run calls Tick every second until ctx ends, then writes what is pending.
func (r *Registry) Run(ctx context.Context) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			r.Close()
			return nil
		case <-t.C:
			r.Tick(ctx)
		}
	}
}

// Close saves every run's state and closes their logs. Pending seconds stay
// in the logs and are written after the next start.
func (r *Registry) Close() {
	r.mu.Lock()
	all := slices.Collect(maps.Values(r.runs))
	r.mu.Unlock()
	for _, ru := range all {
		ru.mu.Lock()
		if ru.dirty {
			if err := ru.saveMeta(); err != nil {
				r.log.Error("saving run", "run", ru.meta.ID, "err", err)
			}
		}
		ru.closeLog()
		ru.mu.Unlock()
	}
}

// ListQuery selects runs.
type ListQuery struct {
	Q, Status, Service string
	BeforeMs           int64
	Limit              int
}

// List returns runs matching q, newest first, and whether more matched.
func (r *Registry) List(q ListQuery) ([]View, bool) {
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	needle := strings.ToLower(q.Q)
	r.mu.Lock()
	all := slices.Collect(maps.Values(r.runs))
	r.mu.Unlock()
	var out []View
	for _, ru := range all {
		ru.mu.Lock()
		m := &ru.meta
		match := (q.Status == "" || m.Status == q.Status) &&
			(q.Service == "" || m.TargetService == q.Service) &&
			(q.BeforeMs == 0 || m.StartedMs < q.BeforeMs) &&
			(needle == "" || ru.matches(needle))
		if match {
			out = append(out, ru.view(false))
		}
		ru.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].StartedMs != out[j].StartedMs {
			return out[i].StartedMs > out[j].StartedMs
		}
		return out[i].ID > out[j].ID
	})
	if len(out) > limit {
		return out[:limit], true
	}
	return out, false
}

// Get returns one run in full.
func (r *Registry) Get(id string) (View, error) {
	ru, err := r.get(id)
	if err != nil {
		return View{}, err
	}
	ru.mu.Lock()
	defer ru.mu.Unlock()
	return ru.view(true), nil
}

// SetAnalysis keeps a run's saturation analysis (JSON) in its run.json,
// where it survives restarts and is shown in the run's detail.
func (r *Registry) SetAnalysis(id string, analysis json.RawMessage) error {
	if !json.Valid(analysis) {
		return fmt.Errorf("%w: run %s: the analysis is not valid JSON", ErrInvalid, id)
	}
	ru, err := r.get(id)
	if err != nil {
		return err
	}
	ru.mu.Lock()
	defer ru.mu.Unlock()
	ru.meta.Analysis = slices.Clone(analysis)
	return ru.saveMeta()
}

// Analysis is the saturation analysis kept for run id (nil: none yet).
func (r *Registry) Analysis(id string) (json.RawMessage, error) {
	ru, err := r.get(id)
	if err != nil {
		return nil, err
	}
	ru.mu.Lock()
	defer ru.mu.Unlock()
	return ru.meta.Analysis, nil
}

// Live lists the latest figures of runs that are running or ended less
// than recent ago.
func (r *Registry) Live(recent time.Duration) []LivePoint {
	cutoff := r.now().Add(-recent).UnixMilli()
	r.mu.Lock()
	all := slices.Collect(maps.Values(r.runs))
	r.mu.Unlock()
	var out []LivePoint
	for _, ru := range all {
		ru.mu.Lock()
		if ru.meta.Status == StatusRunning || ru.meta.EndedMs >= cutoff {
			p := ru.latest
			p.ID, p.Status, p.TargetService = ru.meta.ID, ru.meta.Status, ru.meta.TargetService
			out = append(out, p)
		}
		ru.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// LivePoint is a run's newest stored second, for the live stream.
type LivePoint struct {
	ID            string  `json:"id"`
	Status        string  `json:"status"`
	TargetService string  `json:"target_service"`
	LastSecondMs  int64   `json:"last_second_ms"`
	RPS           float64 `json:"rps"`
	Failures      int64   `json:"failures"`
	P95Ms         float64 `json:"p95_ms"`
	VUs           int     `json:"vus"`
}

// LatencyQuery selects a window of a run's seconds.
type LatencyQuery struct {
	ID       string
	FromMs   int64 // 0: the run's start
	ToMs     int64 // 0: the run's end (or now)
	Name     string
	Buckets  bool
	Quantile []float64
}

// Latency is the exact distribution over a window.
type Latency struct {
	Run       string             `json:"run"`
	Name      string             `json:"name"`
	FromMs    int64              `json:"from_ms"`
	ToMs      int64              `json:"to_ms"`
	Seconds   int                `json:"seconds"`
	Count     int64              `json:"count"`
	MinUs     int64              `json:"min_us"`
	MaxUs     int64              `json:"max_us"`
	MeanUs    float64            `json:"mean_us"`
	Quantiles []QuantileValue    `json:"quantiles"`
	Buckets   []histogram.Bucket `json:"buckets,omitempty"`
}

// QuantileValue is one quantile in microseconds.
type QuantileValue struct {
	Q  float64 `json:"q"`
	Us int64   `json:"us"`
}

// Latency merges the stored per-second histograms of every source whose
// second starts in [from, to). The answer is exact: the same as one
// histogram that had recorded every request of the window.
func (r *Registry) Latency(q LatencyQuery) (Latency, error) {
	ru, err := r.get(q.ID)
	if err != nil {
		return Latency{}, err
	}
	ru.mu.Lock()
	from, to := q.FromMs, q.ToMs
	if from == 0 {
		from = ru.meta.StartedMs
	}
	if to == 0 {
		to = ru.meta.EndedMs
		if to == 0 {
			to = r.now().UnixMilli()
		}
	}
	path := ru.logPath()
	ru.mu.Unlock()
	if to < from {
		return Latency{}, fmt.Errorf("%w: to (%d) is before from (%d)", ErrInvalid, to, from)
	}
	merged := histogram.New()
	seconds := map[int64]bool{}
	part := histogram.New()
	_, err = scanSecondsLog(path, func(rec *brinkv1.PushSecondsRequest) error {
		for _, s := range rec.Seconds {
			startMs := s.UnixSecond * 1000
			if startMs < from || startMs >= to {
				continue
			}
			for _, st := range s.ByName {
				if (q.Name != "" && st.Name != q.Name) || len(st.Latency) == 0 {
					continue
				}
				if err := part.UnmarshalBinary(st.Latency); err != nil {
					return fmt.Errorf("run %s second %d: stored histogram: %w", q.ID, s.UnixSecond, err)
				}
				merged.Merge(part)
				seconds[s.UnixSecond] = true
			}
		}
		return nil
	})
	if err != nil {
		return Latency{}, err
	}
	out := Latency{
		Run: q.ID, Name: q.Name, FromMs: from, ToMs: to, Seconds: len(seconds),
		Count: merged.Count(), MinUs: merged.Min(), MaxUs: merged.Max(), MeanUs: merged.Mean(),
	}
	qs := q.Quantile
	if len(qs) == 0 {
		qs = []float64{0.5, 0.9, 0.95, 0.99, 0.999, 1}
	}
	for _, x := range qs {
		out.Quantiles = append(out.Quantiles, QuantileValue{Q: x, Us: merged.Quantile(x)})
	}
	if q.Buckets {
		out.Buckets = merged.Buckets()
	}
	return out, nil
}

// Seconds calls fn with every second the hub holds for run id, with the
// source that reported it, in the order received; each (source, second)
// comes once. The coordinator of distributed runs builds a run's exact
// summary from them.
func (r *Registry) Seconds(id string, fn func(source string, s *brinkv1.Second) error) error {
	ru, err := r.get(id)
	if err != nil {
		return err
	}
	ru.mu.Lock()
	path := ru.logPath()
	ru.mu.Unlock()
	_, err = scanSecondsLog(path, func(rec *brinkv1.PushSecondsRequest) error {
		for _, s := range rec.Seconds {
			if err := fn(rec.Source, s); err != nil {
				return err
			}
		}
		return nil
	})
	return err
}

// Counts returns how many runs have each status.
func (r *Registry) Counts() map[string]int {
	r.mu.Lock()
	all := slices.Collect(maps.Values(r.runs))
	r.mu.Unlock()
	out := map[string]int{StatusRunning: 0, StatusFinished: 0, StatusAborted: 0, StatusLost: 0}
	for _, ru := range all {
		ru.mu.Lock()
		out[ru.meta.Status]++
		ru.mu.Unlock()
	}
	return out
}
