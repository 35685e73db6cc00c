package hub

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	brinkv1 "github.com/brinkhq/brink/internal/gen/brink/v1"
	"github.com/brinkhq/brink/internal/hub/events"
	"github.com/brinkhq/brink/internal/hub/runs"
	"github.com/brinkhq/brink/internal/web"
)

// runService is brink.v1.RunService on the hub.
type runService struct{ h *Hub }

func connectError(err error) error {
	switch {
	case errors.Is(err, runs.ErrInvalid):
		return connect.NewError(connect.CodeInvalidArgument, err)
	case errors.Is(err, runs.ErrNotFound):
		return connect.NewError(connect.CodeNotFound, err)
	}
	return connect.NewError(connect.CodeInternal, err)
}

func (s *runService) unavailable() error {
	if s.h.closing.Load() {
		return connect.NewError(connect.CodeUnavailable, errors.New("the hub is shutting down: retry"))
	}
	return nil
}

func (s *runService) StartRun(_ context.Context, req *connect.Request[brinkv1.StartRunRequest]) (*connect.Response[brinkv1.StartRunResponse], error) {
	if err := s.unavailable(); err != nil {
		return nil, err
	}
	resp, err := s.h.runs.StartRun(req.Msg)
	if err != nil {
		return nil, connectError(err)
	}
	return connect.NewResponse(resp), nil
}

func (s *runService) PushSeconds(ctx context.Context, req *connect.Request[brinkv1.PushSecondsRequest]) (*connect.Response[brinkv1.PushSecondsResponse], error) {
	if err := s.unavailable(); err != nil {
		return nil, err
	}
	s.h.metrics.runSeconds.Add(float64(len(req.Msg.Seconds)))
	resp, err := s.h.runs.PushSeconds(ctx, req.Msg)
	if err != nil {
		return nil, connectError(err)
	}
	s.h.coord.ObserveSeconds(req.Msg)
	return connect.NewResponse(resp), nil
}

func (s *runService) FinishRun(ctx context.Context, req *connect.Request[brinkv1.FinishRunRequest]) (*connect.Response[brinkv1.FinishRunResponse], error) {
	if err := s.unavailable(); err != nil {
		return nil, err
	}
	resp, err := s.h.runs.FinishRun(ctx, req.Msg)
	if err != nil {
		return nil, connectError(err)
	}
	return connect.NewResponse(resp), nil
}

func runsError(err error) error {
	switch {
	case errors.Is(err, runs.ErrNotFound):
		return &apiError{http.StatusNotFound, "not_found", err}
	case errors.Is(err, runs.ErrInvalid):
		return badData(err)
	}
	return err
}

func intParam(r *http.Request, name string, def, maxValue int) (int, error) {
	v := r.FormValue(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, badData(fmt.Errorf("%s must be a positive integer, got %q", name, v))
	}
	return min(n, maxValue), nil
}

// optionalTimeMs parses an optional time parameter into Unix ms (0: absent).
func optionalTimeMs(r *http.Request, name string) (int64, error) {
	if r.FormValue(name) == "" {
		return 0, nil
	}
	t, err := parseTimeParam(r, name, time.Time{})
	if err != nil {
		return 0, badData(err)
	}
	return t.UnixMilli(), nil
}

func (h *Hub) handleRuns(w http.ResponseWriter, r *http.Request) {
	limit, err := intParam(r, "limit", 100, 1000)
	if err != nil {
		respondError(w, err)
		return
	}
	before, err := optionalTimeMs(r, "before")
	if err != nil {
		respondError(w, err)
		return
	}
	list, more := h.runs.List(runs.ListQuery{
		Q: r.FormValue("q"), Status: r.FormValue("status"), Service: r.FormValue("service"), BeforeMs: before, Limit: limit,
	})
	if list == nil {
		list = []runs.View{}
	}
	writeJSON(w, map[string]any{"runs": list, "more": more})
}

func (h *Hub) handleRun(w http.ResponseWriter, r *http.Request) {
	v, err := h.runs.Get(r.PathValue("id"))
	if err != nil {
		respondError(w, runsError(err))
		return
	}
	writeJSON(w, v)
}

func (h *Hub) handleRunLatency(w http.ResponseWriter, r *http.Request) {
	from, err := optionalTimeMs(r, "from")
	if err != nil {
		respondError(w, err)
		return
	}
	to, err := optionalTimeMs(r, "to")
	if err != nil {
		respondError(w, err)
		return
	}
	q := runs.LatencyQuery{ID: r.PathValue("id"), FromMs: from, ToMs: to, Name: r.FormValue("name"), Buckets: r.FormValue("buckets") == "1"}
	if qs := r.FormValue("q"); qs != "" {
		for part := range strings.SplitSeq(qs, ",") {
			x, err := strconv.ParseFloat(strings.TrimSpace(part), 64)
			if err != nil || x < 0 || x > 1 {
				respondError(w, badData(fmt.Errorf("quantile %q: use numbers from 0 to 1, e.g. q=0.5,0.99", part)))
				return
			}
			q.Quantile = append(q.Quantile, x)
		}
	}
	lat, err := h.runs.Latency(q)
	if err != nil {
		respondError(w, runsError(err))
		return
	}
	writeJSON(w, lat)
}

func (h *Hub) handleEvents(w http.ResponseWriter, r *http.Request) {
	limit, err := intParam(r, "limit", 200, 5000)
	if err != nil {
		respondError(w, err)
		return
	}
	from, err := optionalTimeMs(r, "from")
	if err != nil {
		respondError(w, err)
		return
	}
	to, err := optionalTimeMs(r, "to")
	if err != nil {
		respondError(w, err)
		return
	}
	list := h.events.List(events.Query{FromMs: from, ToMs: to, Kind: r.FormValue("kind"), Run: r.FormValue("run"),
		Service: r.FormValue("service"), Host: r.FormValue("host"), Limit: limit})
	if list == nil {
		list = []events.Event{}
	}
	writeJSON(w, map[string]any{"events": list})
}

// Status is the hub's own state.
type Status struct {
	Version            string `json:"version"`
	StartedMs          int64  `json:"started_ms"`
	NowMs              int64  `json:"now_ms"`
	DataDir            string `json:"data_dir"`
	Retention          string `json:"retention"`
	RetentionSizeBytes int64  `json:"retention_size_bytes"`
	Series             uint64 `json:"series"`
	HeadMinTimeMs      int64  `json:"head_min_time_ms"`
	HeadMaxTimeMs      int64  `json:"head_max_time_ms"`
	SamplesAppended    int64  `json:"samples_appended_total"`
	DiskBytes          int64  `json:"disk_bytes"`
	AuthRequired       bool   `json:"auth_required"`
	UIBuilt            bool   `json:"ui_built"`
}

func (h *Hub) status() Status {
	st := h.db.Stats()
	retention := h.opts.Retention
	if retention == 0 {
		retention = 15 * 24 * time.Hour
	}
	return Status{
		Version: h.opts.Version, StartedMs: h.started.UnixMilli(), NowMs: h.now().UnixMilli(), DataDir: h.opts.DataDir,
		Retention: formatDuration(retention), RetentionSizeBytes: h.opts.RetentionBytes,
		Series: st.Series, HeadMinTimeMs: st.HeadMinTime, HeadMaxTimeMs: st.HeadMaxTime,
		SamplesAppended: h.samplesAppended.Load(), DiskBytes: h.db.DiskBytes(),
		AuthRequired: h.tokens.required(), UIBuilt: h.uiBuilt(),
	}
}

func (h *Hub) uiBuilt() bool {
	return h.opts.UI != nil || web.Built()
}

func (h *Hub) handleStatus(w http.ResponseWriter, _ *http.Request) { writeJSON(w, h.status()) }

func formatDuration(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}
