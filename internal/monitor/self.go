package monitor

import (
	"time"

	"github.com/brinkhq/brink/internal/monitor/collector"
	"github.com/brinkhq/brink/internal/monitor/metrics"
)

// selfMetrics are the brink_monitor_* series: how well the monitor keeps
// its rate, what each collector costs, and the state of its connections.
type selfMetrics struct {
	labels                                     *metrics.LabelSet
	interval, tickLag, duration, ticks, missed *metrics.Series
	containers, buildInfo                      *metrics.Series

	collectorDuration, collectorSuccess *metrics.Family
	perCollector                        map[string]*collectorSeries
	collectorOrder                      []*collectorSeries

	dockerConnected, dockerConnects, dockerEvents, dockerInspectErrors *metrics.Series

	rwRequests, rwSamples, rwFailures, rwDropped, rwRejected *metrics.Series
	rwPendingRequests, rwPendingSamples, rwPendingBytes      *metrics.Series
	rwLastSuccess, rwHealthy                                 *metrics.Series
}

type collectorSeries struct {
	duration, success *metrics.Series
	lastDuration      time.Duration
	lastOK            bool
}

func newSelfMetrics(r *metrics.Registry, ls *metrics.LabelSet, host []collector.Named, cfg Config) selfMetrics {
	g := func(name, help string) *metrics.Series {
		return metrics.NewSeries(r.Family(name, help, metrics.Gauge), ls)
	}
	c := func(name, help string) *metrics.Series {
		return metrics.NewSeries(r.Family(name, help, metrics.Counter), ls)
	}
	s := selfMetrics{
		labels:     ls,
		interval:   g("brink_monitor_interval_seconds", "The configured sampling interval."),
		tickLag:    g("brink_monitor_tick_lag_seconds", "How late this tick started after its scheduled instant."),
		duration:   g("brink_monitor_collection_duration_seconds", "How long this tick's collection took, from its start to the end of the last collector."),
		ticks:      c("brink_monitor_ticks_total", "Ticks collected."),
		missed:     c("brink_monitor_ticks_missed_total", "Scheduled ticks that could not run because the previous one ended too late."),
		containers: g("brink_monitor_containers", "Containers reported in this tick."),
		buildInfo: metrics.NewSeries(r.Family("brink_monitor_build_info", "The monitor's version, always 1.", metrics.Gauge), ls,
			metrics.Label{Name: "version", Value: cfg.Version}),
		collectorDuration: r.Family("brink_monitor_collector_duration_seconds", "How long each collector took in this tick.", metrics.Gauge),
		collectorSuccess:  r.Family("brink_monitor_collector_success", "Whether each collector succeeded in this tick (1) or not (0).", metrics.Gauge),
		perCollector:      map[string]*collectorSeries{},
	}
	names := []string{"containers"}
	for _, n := range host {
		names = append(names, n.Name)
	}
	for _, n := range names {
		l := metrics.Label{Name: "collector", Value: n}
		cs := &collectorSeries{
			duration: metrics.NewSeries(s.collectorDuration, ls, l),
			success:  metrics.NewSeries(s.collectorSuccess, ls, l),
		}
		s.perCollector[n] = cs
		s.collectorOrder = append(s.collectorOrder, cs)
	}
	if cfg.DockerHost != "" && cfg.Engine == nil {
		s.dockerConnected = g("brink_monitor_docker_connected", "Whether the Docker event stream is connected (1) or being re-established (0).")
		s.dockerConnects = c("brink_monitor_docker_connects_total", "Successful connections to the Docker engine (1 plus reconnections).")
		s.dockerEvents = c("brink_monitor_docker_events_total", "Container events received from the Docker engine.")
		s.dockerInspectErrors = c("brink_monitor_docker_inspect_errors_total", "Failed container inspections.")
	}
	if cfg.RemoteWrite != nil {
		s.rwRequests = c("brink_monitor_remote_write_requests_total", "Remote-write requests the receiver accepted.")
		s.rwSamples = c("brink_monitor_remote_write_samples_total", "Samples the receiver accepted.")
		s.rwFailures = c("brink_monitor_remote_write_failures_total", "Failed send attempts (retried).")
		s.rwDropped = c("brink_monitor_remote_write_dropped_samples_total", "Samples dropped because the buffer was full.")
		s.rwRejected = c("brink_monitor_remote_write_rejected_samples_total", "Samples the receiver refused with a 4xx answer that resending cannot fix.")
		s.rwPendingRequests = g("brink_monitor_remote_write_pending_requests", "Requests waiting to be sent (buffered during an outage).")
		s.rwPendingSamples = g("brink_monitor_remote_write_pending_samples", "Samples waiting to be sent.")
		s.rwPendingBytes = g("brink_monitor_remote_write_pending_bytes", "Bytes waiting to be sent.")
		s.rwLastSuccess = g("brink_monitor_remote_write_last_success_timestamp_seconds", "When the receiver last accepted a request.")
		s.rwHealthy = g("brink_monitor_remote_write_healthy", "Whether the last send succeeded (1) or the client is buffering (0).")
	}
	return s
}

func (s *selfMetrics) collectorDone(name string, d time.Duration, ok bool) {
	if cs := s.perCollector[name]; cs != nil {
		cs.lastDuration, cs.lastOK = d, ok
	}
}

// add appends the monitor's own samples for this tick.
func (s *selfMetrics) add(m *Monitor, b *metrics.Batch, lag, duration time.Duration) {
	b.Add(s.interval, m.cfg.Interval.Seconds())
	b.Add(s.tickLag, lag.Seconds())
	b.Add(s.duration, duration.Seconds())
	b.Add(s.ticks, float64(m.ticks))
	b.Add(s.missed, float64(m.missed))
	b.Add(s.containers, float64(len(m.containers.Infos())))
	b.Add(s.buildInfo, 1)
	for _, cs := range s.collectorOrder {
		b.Add(cs.duration, cs.lastDuration.Seconds())
		ok := 0.0
		if cs.lastOK {
			ok = 1
		}
		b.Add(cs.success, ok)
	}
	if m.docker != nil && s.dockerConnected != nil {
		st := m.docker.Stats()
		connected := 0.0
		if st.Connected {
			connected = 1
		}
		b.Add(s.dockerConnected, connected)
		b.Add(s.dockerConnects, float64(st.Connects))
		b.Add(s.dockerEvents, float64(st.Events))
		b.Add(s.dockerInspectErrors, float64(st.InspectErrors))
	}
	if m.rw != nil {
		st := m.rw.Stats()
		b.Add(s.rwRequests, float64(st.RequestsSent))
		b.Add(s.rwSamples, float64(st.SamplesSent))
		b.Add(s.rwFailures, float64(st.SendFailures))
		b.Add(s.rwDropped, float64(st.SamplesDropped))
		b.Add(s.rwRejected, float64(st.SamplesRejected))
		b.Add(s.rwPendingRequests, float64(st.PendingRequests))
		b.Add(s.rwPendingSamples, float64(st.PendingSamples))
		b.Add(s.rwPendingBytes, float64(st.PendingBytes))
		if !st.LastSuccess.IsZero() {
			b.Add(s.rwLastSuccess, float64(st.LastSuccess.UnixNano())/1e9)
		}
		healthy := 0.0
		if st.Healthy {
			healthy = 1
		}
		b.Add(s.rwHealthy, healthy)
	}
}
