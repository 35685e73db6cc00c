package hub

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// exportSeries is one series of an export.
type exportSeries struct {
	labels labels.Labels
	points []promql.FPoint
}

// handleExport writes any series over any time range as CSV or JSON: a
// range query when step is given, otherwise the raw stored samples of a
// series selector, untouched.
func (h *Hub) handleExport(w http.ResponseWriter, r *http.Request) {
	format := r.FormValue("format")
	if format == "" {
		format = "csv"
	}
	if format != "csv" && format != "json" {
		respondError(w, badData(fmt.Errorf("format %q: use csv or json", format)))
		return
	}
	query := r.FormValue("query")
	if query == "" {
		respondError(w, badData(errors.New("missing parameter 'query'")))
		return
	}
	now := h.now()
	start, err := parseTimeParam(r, "start", now.Add(-time.Hour))
	if err != nil {
		respondError(w, badData(err))
		return
	}
	end, err := parseTimeParam(r, "end", now)
	if err != nil {
		respondError(w, badData(err))
		return
	}
	step, err := parseDurationParam(r, "step", 0)
	if err != nil {
		respondError(w, badData(err))
		return
	}
	if end.Before(start) {
		respondError(w, badData(errors.New("end must not be before start")))
		return
	}
	maxPoints := h.config().Export.MaxPoints
	var series []exportSeries
	if step > 0 {
		series, err = h.exportRange(r, query, start, end, step)
	} else {
		series, err = h.exportRaw(r, query, start, end, maxPoints)
	}
	if err != nil {
		respondError(w, err)
		return
	}
	total := 0
	for _, s := range series {
		total += len(s.points)
	}
	if total > maxPoints {
		respondError(w, badData(fmt.Errorf("export of %d points is over the limit of %d (export.max_points): narrow the time range or raise step", total, maxPoints)))
		return
	}
	filename := fmt.Sprintf("brink-export-%d.%s", start.Unix(), format)
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s"`, filename))
	if format == "json" {
		writeExportJSON(w, query, start, end, step, series)
		return
	}
	writeExportCSV(w, series)
}

func (h *Hub) exportRange(r *http.Request, query string, start, end time.Time, step time.Duration) ([]exportSeries, error) {
	if err := checkRange(start, end, step); err != nil {
		return nil, badData(err)
	}
	qry, err := h.engine.Load().NewRangeQuery(r.Context(), h.store, nil, query, start, end, step)
	if err != nil {
		return nil, badData(err)
	}
	defer qry.Close()
	res := qry.Exec(r.Context())
	if res.Err != nil {
		return nil, queryError(res.Err)
	}
	m, err := res.Matrix()
	if err != nil {
		return nil, badData(fmt.Errorf("the query does not give series over time: %w", err))
	}
	out := make([]exportSeries, 0, len(m))
	for _, s := range m {
		out = append(out, exportSeries{labels: s.Metric, points: s.Floats})
	}
	return out, nil
}

func (h *Hub) exportRaw(r *http.Request, query string, start, end time.Time, maxPoints int) ([]exportSeries, error) {
	matchers, err := promqlParser.ParseMetricSelector(query)
	if err != nil {
		return nil, badData(fmt.Errorf("without step, query must be a series selector such as up{job=\"x\"}: %w", err))
	}
	q, err := h.store.Querier(start.UnixMilli(), end.UnixMilli())
	if err != nil {
		return nil, queryError(err)
	}
	defer q.Close()
	set := q.Select(r.Context(), true, nil, matchers...)
	var out []exportSeries
	total := 0
	var it chunkenc.Iterator
	for set.Next() {
		s := set.At()
		es := exportSeries{labels: s.Labels()}
		it = s.Iterator(it)
		for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
			if vt != chunkenc.ValFloat {
				continue
			}
			t, v := it.At()
			es.points = append(es.points, promql.FPoint{T: t, F: v})
			if total++; total > maxPoints {
				return nil, badData(fmt.Errorf("export is over the limit of %d points (export.max_points): narrow the time range or the selector", maxPoints))
			}
		}
		if err := it.Err(); err != nil {
			return nil, queryError(err)
		}
		out = append(out, es)
	}
	if err := set.Err(); err != nil {
		return nil, queryError(err)
	}
	return out, nil
}

func formatValue(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// writeExportCSV writes one row per timestamp and one column per series.
func writeExportCSV(w http.ResponseWriter, series []exportSeries) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	cw := csv.NewWriter(w)
	header := make([]string, 0, len(series)+1)
	header = append(header, "timestamp")
	var times []int64
	cols := make([]map[int64]float64, len(series))
	for i, s := range series {
		header = append(header, s.labels.String())
		cols[i] = make(map[int64]float64, len(s.points))
		for _, p := range s.points {
			cols[i][p.T] = p.F
			times = append(times, p.T)
		}
	}
	slices.Sort(times)
	times = slices.Compact(times)
	_ = cw.Write(header)
	row := make([]string, len(series)+1)
	for _, t := range times {
		row[0] = strconv.FormatFloat(float64(t)/1000, 'f', 3, 64)
		for i := range series {
			if v, ok := cols[i][t]; ok {
				row[i+1] = formatValue(v)
			} else {
				row[i+1] = ""
			}
		}
		_ = cw.Write(row)
	}
	cw.Flush()
}

func writeExportJSON(w http.ResponseWriter, query string, start, end time.Time, step time.Duration, series []exportSeries) {
	type jsonSeries struct {
		Labels map[string]string `json:"labels"`
		Values [][2]any          `json:"values"`
	}
	out := struct {
		Query   string       `json:"query"`
		StartMs int64        `json:"start_ms"`
		EndMs   int64        `json:"end_ms"`
		StepMs  int64        `json:"step_ms"`
		Series  []jsonSeries `json:"series"`
	}{Query: query, StartMs: start.UnixMilli(), EndMs: end.UnixMilli(), StepMs: step.Milliseconds(), Series: []jsonSeries{}}
	for _, s := range series {
		js := jsonSeries{Labels: s.labels.Map(), Values: make([][2]any, 0, len(s.points))}
		for _, p := range s.points {
			js.Values = append(js.Values, [2]any{p.T, formatValue(p.F)})
		}
		out.Series = append(out.Series, js)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}
