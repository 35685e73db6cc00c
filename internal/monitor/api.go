package monitor

import (
	"encoding/json"
	"math"
	"net/http"
	"strings"

	"github.com/brinkhq/brink/internal/monitor/collector"
	"github.com/brinkhq/brink/internal/monitor/metrics"
)

// The JSON of /api/v1/containers. It follows the conventions of the hub's
// API (docs/api.md): a {"status","data"} envelope, times in Unix
// milliseconds in *_ms fields, null for absent values. Every value is the
// exact number read at the tick; rates are over the last interval.

type apiResponse struct {
	Status string  `json:"status"`
	Data   apiData `json:"data"`
}

type apiData struct {
	TimeMs          int64          `json:"time_ms"`
	IntervalSeconds float64        `json:"interval_seconds"`
	Host            apiHost        `json:"host"`
	Containers      []apiContainer `json:"containers"`
	Monitor         apiMetrics     `json:"monitor"`
}

type apiHost struct {
	Host                   string     `json:"host"`
	CPUs                   *float64   `json:"cpus"`
	CPUUsedCores           *float64   `json:"cpu_used_cores"`
	CPUUtilization         *float64   `json:"cpu_utilization"`
	MemoryTotalBytes       *float64   `json:"memory_total_bytes"`
	MemoryAvailableBytes   *float64   `json:"memory_available_bytes"`
	MemoryUsedBytes        *float64   `json:"memory_used_bytes"`
	NetworkReceiveBytesPS  *float64   `json:"network_receive_bytes_per_second"`
	NetworkTransmitBytesPS *float64   `json:"network_transmit_bytes_per_second"`
	Load1                  *float64   `json:"load1"`
	Containers             int        `json:"containers"`
	Metrics                apiMetrics `json:"metrics"`
}

type apiContainer struct {
	ID                     string            `json:"id"`
	Name                   string            `json:"name"`
	Image                  string            `json:"image"`
	Host                   string            `json:"host"`
	Service                string            `json:"service"`
	ServiceRule            string            `json:"service_rule"`
	Cgroup                 string            `json:"cgroup"`
	Source                 string            `json:"source"`
	NetworkMode            string            `json:"network_mode"`
	Pid                    int               `json:"pid"`
	StartedMs              *int64            `json:"started_ms"`
	Labels                 map[string]string `json:"labels"`
	CPUCores               *float64          `json:"cpu_cores"`
	CPULimitCores          *float64          `json:"cpu_limit_cores"`
	CPUThrottledRatio      *float64          `json:"cpu_throttled_ratio"`
	MemoryWorkingSetBytes  *float64          `json:"memory_working_set_bytes"`
	MemoryLimitBytes       *float64          `json:"memory_limit_bytes"`
	NetworkReceiveBytesPS  *float64          `json:"network_receive_bytes_per_second"`
	NetworkTransmitBytesPS *float64          `json:"network_transmit_bytes_per_second"`
	LastSeenMs             int64             `json:"last_seen_ms"`
	Metrics                apiMetrics        `json:"metrics"`
}

// apiMetrics maps a metric name to its value, or, for families with labels
// beyond the owner's (a CPU mode, an interface), to a list of labelled
// values.
type apiMetrics map[string]any

type apiLabelled struct {
	Labels map[string]string `json:"labels"`
	Value  *float64          `json:"value"`
}

func (m *Monitor) serveContainers(w http.ResponseWriter, r *http.Request) {
	cur := m.cur.Load()
	if cur == nil {
		writeAPIError(w, http.StatusServiceUnavailable, "unavailable", "no sample yet: the first tick has not run")
		return
	}
	cur.mu.RLock()
	defer cur.mu.RUnlock()
	// The previous tick gives the rates; it is only used if it really is
	// the tick right before (the ring may have moved on meanwhile).
	var prevValues map[*metrics.Series]float64
	var dt float64
	if prev := m.prev.Load(); prev != nil && prev != cur {
		prev.mu.RLock()
		if prev.seq+1 == cur.seq {
			prevValues = map[*metrics.Series]float64{}
			prev.batch.Each(func(s metrics.Sample) { prevValues[s.Series] = s.Value })
			dt = cur.batch.Time().Sub(prev.batch.Time()).Seconds()
		}
		prev.mu.RUnlock()
	}
	rate := func(s metrics.Sample) (float64, bool) {
		p, ok := prevValues[s.Series]
		if !ok || dt <= 0 || s.Value < p {
			return 0, false
		}
		return (s.Value - p) / dt, true
	}

	data := apiData{
		TimeMs:          cur.batch.Time().UnixMilli(),
		IntervalSeconds: m.cfg.Interval.Seconds(),
		Host:            apiHost{Host: m.cfg.Hostname, Metrics: apiMetrics{}, Containers: len(cur.infos)},
		Containers:      make([]apiContainer, 0, len(cur.infos)),
		Monitor:         apiMetrics{},
	}
	byOwner := map[*metrics.LabelSet]*apiContainer{}
	for _, info := range cur.infos {
		data.Containers = append(data.Containers, containerJSON(info, m.cfg.Hostname))
	}
	for i := range data.Containers {
		byOwner[cur.infos[i].Labels] = &data.Containers[i]
	}

	// Per-owner accumulators for the summary fields.
	type sums struct {
		cpu, periods, throttled, rx, tx   float64
		hasCPU, hasThrottle, hasRx, hasTx bool
	}
	csums := map[*apiContainer]*sums{}
	var hostCPUBusy, hostRx, hostTx float64
	var hostHasCPU, hostHasNet bool

	cur.batch.Each(func(s metrics.Sample) {
		owner := s.Series.Owner()
		name := s.Series.Family().Name
		switch owner {
		case m.hostLabels:
			addMetric(data.Host.Metrics, s)
			switch name {
			case "machine_cpu_cores":
				data.Host.CPUs = num(s.Value)
			case "node_memory_MemTotal_bytes":
				data.Host.MemoryTotalBytes = num(s.Value)
			case "node_memory_MemAvailable_bytes":
				data.Host.MemoryAvailableBytes = num(s.Value)
			case "node_load1":
				data.Host.Load1 = num(s.Value)
			case "node_cpu_seconds_total":
				mode := extra(s.Series, "mode")
				if mode != "idle" && mode != "iowait" {
					if v, ok := rate(s); ok {
						hostCPUBusy += v
						hostHasCPU = true
					}
				}
			case "node_network_receive_bytes_total", "node_network_transmit_bytes_total":
				if extra(s.Series, "device") == "lo" {
					break
				}
				if v, ok := rate(s); ok {
					if strings.Contains(name, "receive") {
						hostRx += v
					} else {
						hostTx += v
					}
					hostHasNet = true
				}
			}
			return
		case m.selfLabels:
			addMetric(data.Monitor, s)
			return
		}
		c := byOwner[owner]
		if c == nil {
			return
		}
		addMetric(c.Metrics, s)
		sm := csums[c]
		if sm == nil {
			sm = &sums{}
			csums[c] = sm
		}
		switch name {
		case "container_cpu_usage_seconds_total":
			if v, ok := rate(s); ok {
				sm.cpu, sm.hasCPU = v, true
			}
		case "container_cpu_cfs_periods_total":
			if v, ok := rate(s); ok {
				sm.periods, sm.hasThrottle = v, true
			}
		case "container_cpu_cfs_throttled_periods_total":
			if v, ok := rate(s); ok {
				sm.throttled = v
			}
		case "container_spec_cpu_limit_cores":
			c.CPULimitCores = num(s.Value)
		case "container_memory_working_set_bytes":
			c.MemoryWorkingSetBytes = num(s.Value)
		case "container_spec_memory_limit_bytes":
			if s.Value > 0 {
				c.MemoryLimitBytes = num(s.Value)
			}
		case "container_network_receive_bytes_total":
			if v, ok := rate(s); ok {
				sm.rx += v
				sm.hasRx = true
			}
		case "container_network_transmit_bytes_total":
			if v, ok := rate(s); ok {
				sm.tx += v
				sm.hasTx = true
			}
		case "container_last_seen":
			c.LastSeenMs = int64(math.Round(s.Value * 1000))
		}
	})
	for c, sm := range csums {
		if sm.hasCPU {
			c.CPUCores = num(sm.cpu)
		}
		if sm.hasThrottle && sm.periods > 0 {
			c.CPUThrottledRatio = num(sm.throttled / sm.periods)
		}
		if sm.hasRx {
			c.NetworkReceiveBytesPS = num(sm.rx)
		}
		if sm.hasTx {
			c.NetworkTransmitBytesPS = num(sm.tx)
		}
	}
	if hostHasCPU {
		data.Host.CPUUsedCores = num(hostCPUBusy)
		if data.Host.CPUs != nil && *data.Host.CPUs > 0 {
			data.Host.CPUUtilization = num(hostCPUBusy / *data.Host.CPUs)
		}
	}
	if data.Host.MemoryTotalBytes != nil && data.Host.MemoryAvailableBytes != nil {
		data.Host.MemoryUsedBytes = num(*data.Host.MemoryTotalBytes - *data.Host.MemoryAvailableBytes)
	}
	if hostHasNet {
		data.Host.NetworkReceiveBytesPS = num(hostRx)
		data.Host.NetworkTransmitBytesPS = num(hostTx)
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.Encode(apiResponse{Status: "success", Data: data})
}

func containerJSON(info collector.Info, host string) apiContainer {
	c := apiContainer{
		ID: info.ID, Name: info.Name, Image: info.Image, Host: host,
		Service: info.Service, ServiceRule: string(info.Rule), Cgroup: info.Cgroup,
		Source: info.Source, NetworkMode: info.NetworkMode, Pid: info.Pid,
		Labels: map[string]string{}, Metrics: apiMetrics{},
	}
	if !info.StartedAt.IsZero() {
		ms := info.StartedAt.UnixMilli()
		c.StartedMs = &ms
	}
	for _, l := range info.Labels.Labels() {
		if strings.HasPrefix(l.Name, "container_label_") || strings.HasPrefix(l.Name, "container_env_") {
			c.Labels[l.Name] = l.Value
		}
	}
	return c
}

// addMetric records one sample in an owner's metrics map.
func addMetric(dst apiMetrics, s metrics.Sample) {
	name := s.Series.Family().Name
	ex := s.Series.Extra()
	if len(ex) == 0 {
		dst[name] = num(s.Value)
		return
	}
	labels := make(map[string]string, len(ex))
	for _, l := range ex {
		labels[l.Name] = l.Value
	}
	list, _ := dst[name].([]apiLabelled)
	dst[name] = append(list, apiLabelled{Labels: labels, Value: num(s.Value)})
}

func extra(s *metrics.Series, name string) string {
	for _, l := range s.Extra() {
		if l.Name == name {
			return l.Value
		}
	}
	return ""
}

// num returns v for JSON, nil for NaN and infinities (JSON has no such
// numbers).
func num(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

func writeAPIError(w http.ResponseWriter, code int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"status": "error", "errorType": typ, "error": msg})
}
