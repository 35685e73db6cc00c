package monitor

import (
	"compress/gzip"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/brinkhq/brink/internal/monitor/metrics"
)

// Handler serves /metrics, /api/v1/containers, /-/healthy and an index.
func (m *Monitor) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", m.serveMetrics)
	mux.HandleFunc("GET /api/v1/containers", m.serveContainers)
	mux.HandleFunc("GET /-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>brink monitor</title><h1>brink monitor</h1>
<ul><li><a href="/metrics">/metrics</a> (Prometheus text format)</li>
<li><a href="/api/v1/containers">/api/v1/containers</a> (JSON, exact current values)</li></ul>`)
	})
	return mux
}

// serveMetrics renders the published tick once and serves the same bytes
// (gzip-compressed when the client accepts it) until the next tick.
func (m *Monitor) serveMetrics(w http.ResponseWriter, r *http.Request) {
	s := m.cur.Load()
	if s == nil {
		http.Error(w, "no sample yet: the first tick has not run", http.StatusServiceUnavailable)
		return
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	gz := acceptsGzip(r.Header.Get("Accept-Encoding"))
	body := s.render(gz, !m.cfg.NoTimestamps)
	w.Header().Set("Content-Type", metrics.ContentType)
	if gz {
		w.Header().Set("Content-Encoding", "gzip")
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.Write(body)
}

// render returns the snapshot's text (or its gzip form), rendering it on
// first use. The caller holds s.mu for reading.
func (s *snapshot) render(gz, timestamps bool) []byte {
	s.renderMu.Lock()
	defer s.renderMu.Unlock()
	if !s.rendered {
		// The snapshot's buffers are reused from the last time it was
		// published: the page is rendered into memory it already has.
		s.text = s.batch.AppendText(s.text[:0], timestamps)
		s.rendered = true
	}
	if !gz {
		return s.text
	}
	if !s.gzRendered {
		s.gzBuf.Reset()
		if s.gz == nil {
			s.gz, _ = gzip.NewWriterLevel(&s.gzBuf, gzip.BestSpeed)
		} else {
			s.gz.Reset(&s.gzBuf)
		}
		s.gz.Write(s.text)
		s.gz.Close()
		s.gzRendered = true
	}
	return s.gzBuf.Bytes()
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip
// ("gzip", "gzip;q=0.5", but not "gzip;q=0").
func acceptsGzip(h string) bool {
	for _, part := range strings.Split(h, ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.TrimSpace(enc) != "gzip" {
			continue
		}
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(p), "q="); ok {
				if f, err := strconv.ParseFloat(v, 64); err == nil {
					q = f
				}
			}
		}
		return q > 0
	}
	return false
}
