package hub

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// errTooLarge marks a body over the configured limit (413, not 400).
var errTooLarge = errors.New("request too large")

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
	b := rwBatchPool.Get().(*rwBatch)
	defer rwBatchPool.Put(b)
	b.body.Reset()
	if _, err := b.body.ReadFrom(io.LimitReader(r.Body, maxBytes+1)); err != nil {
		return http.StatusBadRequest, fmt.Sprintf("read body: %v", err)
	}
	if int64(b.body.Len()) > maxBytes {
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("body over %d bytes (remote_write.max_body_bytes): send smaller batches", maxBytes)
	}
	if err := b.unsnappy(b.body.Bytes(), maxBytes); err != nil {
		if errors.Is(err, errTooLarge) {
			return http.StatusRequestEntityTooLarge, err.Error()
		}
		return http.StatusBadRequest, err.Error()
	}
	if err := b.decode(b.raw, h.series); err != nil {
		return http.StatusBadRequest, err.Error()
	}
	app := h.store.Appender(r.Context())
	rejected := map[string]int{}
	appended, err := b.appendTo(app, rejected)
	if err != nil {
		_ = app.Rollback()
		return http.StatusInternalServerError, fmt.Sprintf("store: %v", err)
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
