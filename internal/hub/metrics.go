package hub

import (
	"net/http"
	"time"

	"github.com/brinkhq/brink/internal/hub/runs"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the hub's own, on /metrics.
type metrics struct {
	writeRequests   *prometheus.CounterVec
	samplesAppended prometheus.Counter
	samplesRejected *prometheus.CounterVec
	requestDuration *prometheus.HistogramVec
	runs            *prometheus.GaugeVec
	runSeconds      prometheus.Counter
	reloadSuccess   prometheus.Gauge
	analyses        *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		writeRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "brink_hub_remote_write_requests_total", Help: "Remote-write requests by HTTP status code.",
		}, []string{"code"}),
		samplesAppended: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "brink_hub_samples_appended_total", Help: "Samples committed to the store (remote write and run results).",
		}),
		samplesRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "brink_hub_samples_rejected_total", Help: "Remote-write samples the store refused, by reason.",
		}, []string{"reason"}),
		requestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "brink_hub_http_request_duration_seconds", Help: "HTTP request duration by handler.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
		}, []string{"handler"}),
		runs: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "brink_hub_runs", Help: "Runs known to the hub by status.",
		}, []string{"status"}),
		runSeconds: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "brink_hub_run_seconds_received_total", Help: "Per-second results received from load generators (before de-duplication).",
		}),
		reloadSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "brink_hub_config_last_reload_success", Help: "Whether the last configuration reload succeeded.",
		}),
		analyses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "brink_hub_run_analyses_total", Help: "Saturation analyses of ended runs kept, by outcome (knee, no_knee, error).",
		}, []string{"outcome"}),
	}
	m.reloadSuccess.Set(1)
	reg.MustRegister(m.writeRequests, m.samplesAppended, m.samplesRejected, m.requestDuration, m.runs, m.runSeconds, m.reloadSuccess, m.analyses)
	return m
}

func (m *metrics) instrument(name string, next http.Handler) http.Handler {
	obs := m.requestDuration.WithLabelValues(name)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		next.ServeHTTP(w, r)
		obs.Observe(time.Since(start).Seconds())
	})
}

func (m *metrics) observeRuns(r *runs.Registry) {
	for status, n := range r.Counts() {
		m.runs.WithLabelValues(status).Set(float64(n))
	}
}
