package hub

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/brinkhq/brink/internal/store"
	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
)

// errTooLarge marks a body over the configured limit (413, not 400).
var errTooLarge = errors.New("request too large")

// decodeWriteRequest turns a remote-write body into a validated request.
// Everything is checked before anything is written, so a malformed push
// changes nothing.
func decodeWriteRequest(body []byte, maxBytes int64) (*prompb.WriteRequest, error) {
	n, err := snappy.DecodedLen(body)
	if err != nil {
		return nil, fmt.Errorf("body is not snappy-compressed (block format): %w", err)
	}
	if int64(n) > maxBytes {
		return nil, fmt.Errorf("%w: %d bytes decompressed, limit %d (remote_write.max_body_bytes)", errTooLarge, n, maxBytes)
	}
	raw, err := snappy.Decode(nil, body)
	if err != nil {
		return nil, fmt.Errorf("body is not snappy-compressed (block format): %w", err)
	}
	var req prompb.WriteRequest
	if err := req.Unmarshal(raw); err != nil {
		return nil, fmt.Errorf("body is not a remote-write 1.0 WriteRequest: %w", err)
	}
	for i := range req.Timeseries {
		if err := validateSeriesLabels(req.Timeseries[i].Labels); err != nil {
			return nil, fmt.Errorf("series %d: %w", i, err)
		}
	}
	return &req, nil
}

func validateSeriesLabels(ls []prompb.Label) error {
	if len(ls) == 0 {
		return errors.New("no labels")
	}
	hasName := false
	for i, l := range ls {
		if l.Name == "" || !utf8.ValidString(l.Name) || !utf8.ValidString(l.Value) {
			return fmt.Errorf("label %d: empty name or invalid UTF-8", i)
		}
		if i > 0 && ls[i-1].Name >= l.Name {
			return fmt.Errorf("labels not sorted by name or %q repeated", l.Name)
		}
		if l.Name == labels.MetricName {
			hasName = l.Value != ""
		}
	}
	if !hasName {
		return errors.New("no metric name (__name__)")
	}
	return nil
}

// handleWrite is the remote-write receiver.
func (h *Hub) handleWrite(w http.ResponseWriter, r *http.Request) {
	code, msg := h.write(r)
	h.metrics.writeRequests.WithLabelValues(strconv.Itoa(code)).Inc()
	if code == http.StatusNoContent {
		w.WriteHeader(code)
		return
	}
	http.Error(w, msg, code)
}

func (h *Hub) write(r *http.Request) (int, string) {
	if h.closing.Load() {
		return http.StatusServiceUnavailable, "the hub is shutting down: retry"
	}
	if enc := r.Header.Get("Content-Encoding"); enc != "" && !strings.EqualFold(enc, "snappy") {
		return http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Encoding %q: the hub accepts snappy only", enc)
	}
	if ct := r.Header.Get("Content-Type"); strings.Contains(ct, "io.prometheus.write.v2") {
		return http.StatusUnsupportedMediaType, "remote-write 2.0 is not supported: send remote-write 1.0 (prometheus.WriteRequest)"
	}
	maxBytes := h.config().RemoteWrite.MaxBodyBytes
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBytes+1))
	if err != nil {
		return http.StatusBadRequest, fmt.Sprintf("read body: %v", err)
	}
	if int64(len(body)) > maxBytes {
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("body over %d bytes (remote_write.max_body_bytes): send smaller batches", maxBytes)
	}
	req, err := decodeWriteRequest(body, maxBytes)
	if errors.Is(err, errTooLarge) {
		return http.StatusRequestEntityTooLarge, err.Error()
	}
	if err != nil {
		return http.StatusBadRequest, err.Error()
	}
	app := h.store.Appender(r.Context())
	rejected := map[string]int{}
	var appended int64
	var b labels.ScratchBuilder
	for i := range req.Timeseries {
		ts := &req.Timeseries[i]
		if len(ts.Samples) == 0 {
			continue
		}
		b.Reset()
		for _, l := range ts.Labels {
			b.Add(l.Name, l.Value)
		}
		ls := b.Labels()
		var ref store.SeriesRef
		for _, s := range ts.Samples {
			next, err := app.Append(ref, ls, s.Timestamp, s.Value)
			if err != nil {
				if reason := store.RejectionReason(err); reason != "" {
					rejected[reason]++
					continue
				}
				_ = app.Rollback()
				return http.StatusInternalServerError, fmt.Sprintf("store: %v", err)
			}
			ref = next
			appended++
		}
	}
	if err := app.Commit(); err != nil {
		return http.StatusInternalServerError, fmt.Sprintf("store commit: %v", err)
	}
	h.samplesAppended.Add(appended)
	h.metrics.samplesAppended.Add(float64(appended))
	if len(rejected) > 0 {
		reasons := make([]string, 0, len(rejected))
		for reason, n := range rejected {
			h.metrics.samplesRejected.WithLabelValues(reason).Add(float64(n))
			reasons = append(reasons, fmt.Sprintf("%d %s", n, reason))
		}
		sort.Strings(reasons)
		return http.StatusBadRequest, fmt.Sprintf("%d samples written, rejected: %s", appended, strings.Join(reasons, ", "))
	}
	return http.StatusNoContent, ""
}
