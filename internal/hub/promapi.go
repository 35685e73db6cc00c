package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"
)

// The Prometheus-compatible query API: same parameters, same JSON, same
// PromQL engine as Prometheus, so Grafana and Prometheus clients use the hub
// as they are.

// Prometheus' own boundaries for "no start" and "no end", which its clients send.
var (
	minTime = time.Unix(math.MinInt64/1000+62135596801, 0).UTC()
	maxTime = time.Unix(math.MaxInt64/1000-62135596801, 999999999).UTC()

	minTimeFormatted = minTime.Format(time.RFC3339Nano)
	maxTimeFormatted = maxTime.Format(time.RFC3339Nano)
)

// maxPointsPerSeries bounds a range query as Prometheus does.
const maxPointsPerSeries = 11000

var promqlParser = parser.NewParser(parser.Options{})

func parseTime(s string) (time.Time, error) {
	if t, err := strconv.ParseFloat(s, 64); err == nil {
		sec, frac := math.Modf(t)
		frac = math.Round(frac*1000) / 1000
		return time.Unix(int64(sec), int64(frac*float64(time.Second))).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	switch s {
	case minTimeFormatted:
		return minTime, nil
	case maxTimeFormatted:
		return maxTime, nil
	}
	return time.Time{}, fmt.Errorf("cannot parse %q to a valid timestamp: use Unix seconds or RFC 3339", s)
}

func parseTimeParam(r *http.Request, name string, def time.Time) (time.Time, error) {
	v := r.FormValue(name)
	if v == "" {
		return def, nil
	}
	t, err := parseTime(v)
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid time value for '%s': %w", name, err)
	}
	return t, nil
}

func parseDuration(s string) (time.Duration, error) {
	if d, err := strconv.ParseFloat(s, 64); err == nil {
		ts := d * float64(time.Second)
		if math.IsNaN(ts) || ts >= float64(math.MaxInt64) || ts < float64(math.MinInt64) {
			return 0, fmt.Errorf("cannot parse %q to a valid duration: it overflows int64", s)
		}
		return time.Duration(ts), nil
	}
	if d, err := model.ParseDuration(s); err == nil {
		return time.Duration(d), nil
	}
	return 0, fmt.Errorf("cannot parse %q to a valid duration: use 15s, 5m or seconds", s)
}

func parseDurationParam(r *http.Request, name string, def time.Duration) (time.Duration, error) {
	v := r.FormValue(name)
	if v == "" {
		return def, nil
	}
	d, err := parseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("invalid duration for '%s': %w", name, err)
	}
	return d, nil
}

// apiError carries the Prometheus error type and HTTP status.
type apiError struct {
	code    int
	errType string
	err     error
}

func (e *apiError) Error() string { return e.err.Error() }

func badData(err error) *apiError { return &apiError{http.StatusBadRequest, "bad_data", err} }

func respondError(w http.ResponseWriter, err error) {
	var ae *apiError
	if errors.As(err, &ae) {
		writeError(w, ae.code, ae.errType, ae.err.Error())
		return
	}
	writeError(w, http.StatusInternalServerError, "internal", err.Error())
}

// queryError maps engine errors as Prometheus does.
func queryError(err error) *apiError {
	var (
		timeout  promql.ErrQueryTimeout
		canceled promql.ErrQueryCanceled
		storErr  promql.ErrStorage
	)
	switch {
	case errors.As(err, &timeout):
		return &apiError{http.StatusServiceUnavailable, "timeout", err}
	case errors.As(err, &canceled):
		return &apiError{http.StatusServiceUnavailable, "canceled", err}
	case errors.As(err, &storErr):
		return &apiError{http.StatusInternalServerError, "internal", err}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &apiError{http.StatusServiceUnavailable, "timeout", err}
	}
	return &apiError{http.StatusUnprocessableEntity, "execution", err}
}

type queryData struct {
	ResultType parser.ValueType `json:"resultType"`
	Value      any              `json:"result"`
}

func (h *Hub) queryOpts(r *http.Request) (promql.QueryOpts, error) {
	lookback, err := parseDurationParam(r, "lookback_delta", 0)
	if err != nil {
		return nil, badData(err)
	}
	return promql.NewPrometheusQueryOpts(r.FormValue("stats") == "all", lookback, nil), nil
}

// queryContext applies the timeout parameter on top of the engine's.
func queryContext(r *http.Request) (context.Context, context.CancelFunc, error) {
	if v := r.FormValue("timeout"); v != "" {
		d, err := parseDuration(v)
		if err != nil {
			return nil, nil, badData(fmt.Errorf("invalid parameter 'timeout': %w", err))
		}
		ctx, cancel := context.WithTimeout(r.Context(), d)
		return ctx, cancel, nil
	}
	ctx, cancel := context.WithCancel(r.Context())
	return ctx, cancel, nil
}

func (h *Hub) handleQuery(w http.ResponseWriter, r *http.Request) {
	ts, err := parseTimeParam(r, "time", h.now())
	if err != nil {
		respondError(w, badData(err))
		return
	}
	ctx, cancel, err := queryContext(r)
	if err != nil {
		respondError(w, err)
		return
	}
	defer cancel()
	opts, err := h.queryOpts(r)
	if err != nil {
		respondError(w, err)
		return
	}
	qry, err := h.engine.Load().NewInstantQuery(ctx, h.store, opts, r.FormValue("query"), ts)
	if err != nil {
		respondError(w, badData(err))
		return
	}
	h.execAndRespond(ctx, w, qry)
}

func (h *Hub) handleQueryRange(w http.ResponseWriter, r *http.Request) {
	start, err := parseTimeParam(r, "start", time.Time{})
	if err == nil && r.FormValue("start") == "" {
		err = errors.New("missing parameter 'start'")
	}
	if err != nil {
		respondError(w, badData(err))
		return
	}
	end, err := parseTimeParam(r, "end", time.Time{})
	if err == nil && r.FormValue("end") == "" {
		err = errors.New("missing parameter 'end'")
	}
	if err != nil {
		respondError(w, badData(err))
		return
	}
	step, err := parseDurationParam(r, "step", 0)
	if err != nil {
		respondError(w, badData(err))
		return
	}
	if err := checkRange(start, end, step); err != nil {
		respondError(w, badData(err))
		return
	}
	ctx, cancel, err := queryContext(r)
	if err != nil {
		respondError(w, err)
		return
	}
	defer cancel()
	opts, err := h.queryOpts(r)
	if err != nil {
		respondError(w, err)
		return
	}
	qry, err := h.engine.Load().NewRangeQuery(ctx, h.store, opts, r.FormValue("query"), start, end, step)
	if err != nil {
		respondError(w, badData(err))
		return
	}
	h.execAndRespond(ctx, w, qry)
}

func checkRange(start, end time.Time, step time.Duration) error {
	switch {
	case end.Before(start):
		return errors.New("end timestamp must not be before start time")
	case step <= 0:
		return errors.New("zero or negative query resolution step widths are not accepted. Try a positive integer")
	case end.Sub(start)/step > maxPointsPerSeries:
		return errors.New("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)")
	}
	return nil
}

func (h *Hub) execAndRespond(ctx context.Context, w http.ResponseWriter, qry promql.Query) {
	defer qry.Close()
	res := qry.Exec(ctx)
	if res.Err != nil {
		respondError(w, queryError(res.Err))
		return
	}
	writeJSONWithWarnings(w, queryData{ResultType: res.Value.Type(), Value: nonNilValue(res.Value)}, res.Warnings)
}

// nonNilValue makes empty results encode as [] rather than null, as
// Prometheus answers.
func nonNilValue(v parser.Value) any {
	switch x := v.(type) {
	case promql.Vector:
		if x == nil {
			return promql.Vector{}
		}
	case promql.Matrix:
		if x == nil {
			return promql.Matrix{}
		}
	}
	return v
}

func writeJSONWithWarnings(w http.ResponseWriter, data any, warnings annotations.Annotations) {
	if len(warnings) == 0 {
		writeJSON(w, data)
		return
	}
	ws, infos := warnings.AsStrings("", 10, 10)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(struct {
		Status   string   `json:"status"`
		Data     any      `json:"data"`
		Warnings []string `json:"warnings,omitempty"`
		Infos    []string `json:"infos,omitempty"`
	}{"success", data, ws, infos})
}

// matcherSets parses match[] parameters.
func matcherSets(r *http.Request) ([][]*labels.Matcher, error) {
	if err := r.ParseForm(); err != nil {
		return nil, badData(fmt.Errorf("parse form: %w", err))
	}
	sets, err := promqlParser.ParseMetricSelectors(r.Form["match[]"])
	if err != nil {
		return nil, badData(err)
	}
	for _, ms := range sets {
		empty := true
		for _, m := range ms {
			if m != nil && !m.Matches("") {
				empty = false
			}
		}
		if empty {
			return nil, badData(errors.New("match[] must contain at least one non-empty matcher"))
		}
	}
	return sets, nil
}

func timeRange(r *http.Request) (time.Time, time.Time, error) {
	start, err := parseTimeParam(r, "start", minTime)
	if err != nil {
		return start, start, badData(err)
	}
	end, err := parseTimeParam(r, "end", maxTime)
	if err != nil {
		return start, end, badData(err)
	}
	if end.Before(start) {
		return start, end, badData(errors.New("end timestamp must not be before start time"))
	}
	return start, end, nil
}

func parseLimit(r *http.Request) (int, error) {
	v := r.FormValue("limit")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, badData(fmt.Errorf("limit must be a non-negative integer, got %q", v))
	}
	return n, nil
}

func (h *Hub) handleSeries(w http.ResponseWriter, r *http.Request) {
	sets, err := matcherSets(r)
	if err == nil && len(sets) == 0 {
		err = badData(errors.New("no match[] parameter provided"))
	}
	if err != nil {
		respondError(w, err)
		return
	}
	start, end, limit, q, err := h.metadataQuerier(r)
	if err != nil {
		respondError(w, err)
		return
	}
	defer q.Close()
	hints := &storage.SelectHints{Start: timestamp(start), End: timestamp(end), Func: "series"}
	var set storage.SeriesSet
	if len(sets) == 1 {
		set = q.Select(r.Context(), false, hints, sets[0]...)
	} else {
		sub := make([]storage.SeriesSet, 0, len(sets))
		for _, ms := range sets {
			sub = append(sub, q.Select(r.Context(), true, hints, ms...))
		}
		set = storage.NewMergeSeriesSet(sub, 0, storage.ChainedSeriesMerge)
	}
	out := []labels.Labels{}
	var warnings annotations.Annotations
	for set.Next() {
		if limit > 0 && len(out) >= limit {
			warnings.Add(errors.New("results truncated due to limit"))
			break
		}
		out = append(out, set.At().Labels())
	}
	warnings.Merge(set.Warnings())
	if err := set.Err(); err != nil {
		respondError(w, queryError(err))
		return
	}
	writeJSONWithWarnings(w, out, warnings)
}

func (h *Hub) handleLabels(w http.ResponseWriter, r *http.Request) {
	h.labelQuery(w, r, "")
}

func (h *Hub) handleLabelValues(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if name == "" {
		respondError(w, badData(errors.New("empty label name")))
		return
	}
	h.labelQuery(w, r, name)
}

// labelQuery answers /labels (name == "") or /label/<name>/values.
func (h *Hub) labelQuery(w http.ResponseWriter, r *http.Request, name string) {
	sets, err := matcherSets(r)
	if err != nil {
		respondError(w, err)
		return
	}
	_, _, limit, q, err := h.metadataQuerier(r)
	if err != nil {
		respondError(w, err)
		return
	}
	defer q.Close()
	if len(sets) == 0 {
		sets = [][]*labels.Matcher{nil}
	}
	seen := map[string]struct{}{}
	var warnings annotations.Annotations
	hints := &storage.LabelHints{Limit: limit}
	for _, ms := range sets {
		var vals []string
		var ws annotations.Annotations
		if name == "" {
			vals, ws, err = q.LabelNames(r.Context(), hints, ms...)
		} else {
			vals, ws, err = q.LabelValues(r.Context(), name, hints, ms...)
		}
		if err != nil {
			respondError(w, queryError(err))
			return
		}
		warnings.Merge(ws)
		for _, v := range vals {
			seen[v] = struct{}{}
		}
	}
	out := make([]string, 0, len(seen))
	for v := range seen {
		out = append(out, v)
	}
	slices.Sort(out)
	if limit > 0 && len(out) > limit {
		out = out[:limit]
		warnings.Add(errors.New("results truncated due to limit"))
	}
	writeJSONWithWarnings(w, out, warnings)
}

func timestamp(t time.Time) int64 {
	switch {
	case t.Equal(minTime):
		return math.MinInt64
	case t.Equal(maxTime):
		return math.MaxInt64
	}
	return t.UnixMilli()
}

// metadataQuerier reads the time range and limit that /series, /labels and
// /label/<name>/values share and opens a querier over that range. Errors are
// ready for respondError.
func (h *Hub) metadataQuerier(r *http.Request) (start, end time.Time, limit int, q storage.Querier, err error) {
	if start, end, err = timeRange(r); err != nil {
		return
	}
	if limit, err = parseLimit(r); err != nil {
		return
	}
	if q, err = h.store.Querier(timestamp(start), timestamp(end)); err != nil {
		err = queryError(err)
	}
	return
}
