package hub

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
)

// The cluster view: hosts, containers and services at one instant, computed
// with PromQL over the series monitors write, so scrubbing back in time is
// the same query at an earlier instant.

type clusterQuery struct {
	h        *Hub
	ctx      context.Context
	ts       time.Time
	lookback time.Duration
	live     bool // no time given: the UI's live view, polled every second
}

// liveContainers keeps the live view's container list for a second: the UI
// asks for hosts, containers and services each second, from every open tab,
// and each answer needs the same few PromQL queries over every container.
type liveContainers struct {
	mu       sync.Mutex
	computed time.Time
	lookback time.Duration
	ts       time.Time
	cts      []Container
}

func (h *Hub) clusterQuery(r *http.Request) (*clusterQuery, error) {
	ts, err := parseTimeParam(r, "time", h.now())
	if err != nil {
		return nil, badData(err)
	}
	lookback, err := parseDurationParam(r, "lookback", h.config().UI.Lookback.D())
	if err != nil {
		return nil, badData(err)
	}
	if lookback < time.Second || lookback > 24*time.Hour {
		return nil, badData(fmt.Errorf("lookback %s: use 1s to 24h", lookback))
	}
	return &clusterQuery{h: h, ctx: r.Context(), ts: ts, lookback: lookback, live: r.FormValue("time") == ""}, nil
}

// containers returns the containers at c.ts, for the live view from a
// cache at most a second old (and c.ts becomes that answer's instant).
func (c *clusterQuery) containers() ([]Container, error) {
	if !c.live {
		return c.queryContainers()
	}
	lc := &c.h.live
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if lc.cts != nil && lc.lookback == c.lookback && time.Since(lc.computed) < time.Second {
		c.ts = lc.ts
		return lc.cts, nil
	}
	cts, err := c.queryContainers()
	if err != nil {
		return nil, err
	}
	lc.computed, lc.lookback, lc.ts, lc.cts = time.Now(), c.lookback, c.ts, cts
	return cts, nil
}

// vector evaluates an instant query whose range selectors use the lookback
// (written as $L in q) and whose plain selectors look back as far.
func (c *clusterQuery) vector(q string) (promql.Vector, error) {
	q = strings.ReplaceAll(q, "$L", fmt.Sprintf("%dms", c.lookback.Milliseconds()))
	opts := promql.NewPrometheusQueryOpts(false, c.lookback, nil)
	qry, err := c.h.engine.Load().NewInstantQuery(c.ctx, c.h.store, opts, q, c.ts)
	if err != nil {
		return nil, fmt.Errorf("cluster query %s: %w", q, err)
	}
	defer qry.Close()
	res := qry.Exec(c.ctx)
	if res.Err != nil {
		return nil, queryError(res.Err)
	}
	v, err := res.Vector()
	if err != nil {
		return nil, fmt.Errorf("cluster query %s: %w", q, err)
	}
	return v, nil
}

// byKey evaluates q and indexes the values by the given labels.
func (c *clusterQuery) byKey(q string, keys ...string) (map[string]float64, error) {
	v, err := c.vector(q)
	if err != nil {
		return nil, err
	}
	out := make(map[string]float64, len(v))
	for _, s := range v {
		out[key(s.Metric, keys...)] = s.F
	}
	return out, nil
}

func key(ls labels.Labels, names ...string) string {
	var b strings.Builder
	for _, n := range names {
		b.WriteString(ls.Get(n))
		b.WriteByte(0)
	}
	return b.String()
}

// value is a number or JSON null.
func value(m map[string]float64, k string) *float64 {
	v, ok := m[k]
	if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// Container is one container at an instant.
type Container struct {
	ID                  string   `json:"id"`
	Name                string   `json:"name"`
	Image               string   `json:"image"`
	Host                string   `json:"host"`
	Service             string   `json:"service"`
	CPUCores            *float64 `json:"cpu_cores"`
	CPULimitCores       *float64 `json:"cpu_limit_cores"`
	CPUThrottledRatio   *float64 `json:"cpu_throttled_ratio"`
	MemoryWorkingSet    *float64 `json:"memory_working_set_bytes"`
	MemoryLimit         *float64 `json:"memory_limit_bytes"`
	NetworkReceiveRate  *float64 `json:"network_receive_bytes_per_second"`
	NetworkTransmitRate *float64 `json:"network_transmit_bytes_per_second"`
	LastSeenMs          int64    `json:"last_seen_ms"`
}

var containerKey = []string{"host", "id", "name"}

func (c *clusterQuery) queryContainers() ([]Container, error) {
	// timestamp() drops the metric name, so each metric gets its own
	// aggregation; "or" keeps containers that report only one of them.
	present, err := c.vector(`max by (host, id, name, image, service) (timestamp(container_cpu_usage_seconds_total))
		or max by (host, id, name, image, service) (timestamp(container_memory_working_set_bytes))`)
	if err != nil {
		return nil, err
	}
	queries := map[string]string{
		"cpu":       `sum by (host, id, name) (irate(container_cpu_usage_seconds_total[$L]))`,
		"quota":     `max by (host, id, name) (container_spec_cpu_quota > 0) / max by (host, id, name) (container_spec_cpu_period > 0)`,
		"throttled": `sum by (host, id, name) (irate(container_cpu_cfs_throttled_periods_total[$L])) / sum by (host, id, name) (irate(container_cpu_cfs_periods_total[$L]) > 0)`,
		"ws":        `max by (host, id, name) (container_memory_working_set_bytes)`,
		// cgroup v1 says "no limit" with a number near 2^63; cAdvisor with 0.
		"memlimit": `max by (host, id, name) (container_spec_memory_limit_bytes > 0 < 4.6e18)`,
		"rx":       `sum by (host, id, name) (irate(container_network_receive_bytes_total[$L]))`,
		"tx":       `sum by (host, id, name) (irate(container_network_transmit_bytes_total[$L]))`,
	}
	vals := map[string]map[string]float64{}
	for name, q := range queries {
		if vals[name], err = c.byKey(q, containerKey...); err != nil {
			return nil, err
		}
	}
	out := make([]Container, 0, len(present))
	for _, s := range present {
		k := key(s.Metric, containerKey...)
		out = append(out, Container{
			ID: s.Metric.Get("id"), Name: s.Metric.Get("name"), Image: s.Metric.Get("image"),
			Host: s.Metric.Get("host"), Service: s.Metric.Get("service"),
			CPUCores: value(vals["cpu"], k), CPULimitCores: value(vals["quota"], k),
			CPUThrottledRatio: value(vals["throttled"], k), MemoryWorkingSet: value(vals["ws"], k),
			MemoryLimit: value(vals["memlimit"], k), NetworkReceiveRate: value(vals["rx"], k),
			NetworkTransmitRate: value(vals["tx"], k), LastSeenMs: int64(s.F * 1000),
		})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Host != b.Host {
			return a.Host < b.Host
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.ID < b.ID
	})
	return out, nil
}

// Host is one host at an instant.
type Host struct {
	Host                string   `json:"host"`
	CPUs                *float64 `json:"cpus"`
	CPUUsedCores        *float64 `json:"cpu_used_cores"`
	CPUUtilization      *float64 `json:"cpu_utilization"`
	MemoryTotal         *float64 `json:"memory_total_bytes"`
	MemoryAvailable     *float64 `json:"memory_available_bytes"`
	MemoryUsed          *float64 `json:"memory_used_bytes"`
	NetworkReceiveRate  *float64 `json:"network_receive_bytes_per_second"`
	NetworkTransmitRate *float64 `json:"network_transmit_bytes_per_second"`
	Load1               *float64 `json:"load1"`
	Containers          int      `json:"containers"`
	LastSeenMs          int64    `json:"last_seen_ms"`
}

func (c *clusterQuery) hosts(containers []Container) ([]Host, error) {
	queries := map[string]string{
		"seen":  `max by (host) (timestamp(node_memory_MemTotal_bytes)) or max by (host) (timestamp(node_cpu_seconds_total))`,
		"cpus":  `count by (host) (node_cpu_seconds_total{mode="idle"})`,
		"used":  `sum by (host) (irate(node_cpu_seconds_total{mode!~"idle|iowait"}[$L]))`,
		"total": `max by (host) (node_memory_MemTotal_bytes)`,
		"avail": `max by (host) (node_memory_MemAvailable_bytes)`,
		"rx":    `sum by (host) (irate(node_network_receive_bytes_total{device!="lo"}[$L]))`,
		"tx":    `sum by (host) (irate(node_network_transmit_bytes_total{device!="lo"}[$L]))`,
		"load1": `max by (host) (node_load1)`,
	}
	vals := map[string]map[string]float64{}
	for name, q := range queries {
		var err error
		if vals[name], err = c.byKey(q, "host"); err != nil {
			return nil, err
		}
	}
	perHost := map[string]int{}
	lastSeen := map[string]int64{}
	for _, ct := range containers {
		k := key(labels.FromStrings("host", ct.Host), "host")
		perHost[k]++
		lastSeen[k] = max(lastSeen[k], ct.LastSeenMs)
	}
	names := map[string]bool{}
	for k := range vals["seen"] {
		names[k] = true
	}
	for k := range perHost {
		names[k] = true
	}
	out := make([]Host, 0, len(names))
	for k := range names {
		h := Host{
			Host: strings.TrimSuffix(k, "\x00"), CPUs: value(vals["cpus"], k), CPUUsedCores: value(vals["used"], k),
			MemoryTotal: value(vals["total"], k), MemoryAvailable: value(vals["avail"], k),
			NetworkReceiveRate: value(vals["rx"], k), NetworkTransmitRate: value(vals["tx"], k),
			Load1: value(vals["load1"], k), Containers: perHost[k],
			LastSeenMs: max(int64(vals["seen"][k]*1000), lastSeen[k]),
		}
		if h.CPUs != nil && h.CPUUsedCores != nil && *h.CPUs > 0 {
			u := *h.CPUUsedCores / *h.CPUs
			h.CPUUtilization = &u
		}
		if h.MemoryTotal != nil && h.MemoryAvailable != nil {
			u := *h.MemoryTotal - *h.MemoryAvailable
			h.MemoryUsed = &u
		}
		out = append(out, h)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Host < out[j].Host })
	return out, nil
}

// Service aggregates a service's replicas at an instant.
type Service struct {
	Service          string   `json:"service"`
	Replicas         int      `json:"replicas"`
	Hosts            []string `json:"hosts"`
	CPUCores         *float64 `json:"cpu_cores"`
	CPULimitCores    *float64 `json:"cpu_limit_cores"`
	MemoryWorkingSet *float64 `json:"memory_working_set_bytes"`
	MemoryLimit      *float64 `json:"memory_limit_bytes"`
	RPS              *float64 `json:"rps"`
	Runs             []string `json:"runs"`
	Containers       []string `json:"containers"`
}

func addTo(dst **float64, v *float64) {
	if v == nil {
		return
	}
	if *dst == nil {
		x := 0.0
		*dst = &x
	}
	**dst += *v
}

func (c *clusterQuery) services(containers []Container) ([]Service, error) {
	rps, err := c.byKey(`sum by (service) (irate(brink_requests_total{service!=""}[$L]))`, "service")
	if err != nil {
		return nil, err
	}
	runsBySvc, err := c.vector(`group by (service, run) (brink_requests_total{service!=""})`)
	if err != nil {
		return nil, err
	}
	bySvc := map[string]*Service{}
	get := func(name string) *Service {
		s := bySvc[name]
		if s == nil {
			s = &Service{Service: name, Hosts: []string{}, Runs: []string{}, Containers: []string{}}
			bySvc[name] = s
		}
		return s
	}
	for _, ct := range containers {
		if ct.Service == "" {
			continue
		}
		s := get(ct.Service)
		s.Replicas++
		if !slices.Contains(s.Hosts, ct.Host) {
			s.Hosts = append(s.Hosts, ct.Host)
		}
		s.Containers = append(s.Containers, ct.Name)
		addTo(&s.CPUCores, ct.CPUCores)
		addTo(&s.CPULimitCores, ct.CPULimitCores)
		addTo(&s.MemoryWorkingSet, ct.MemoryWorkingSet)
		addTo(&s.MemoryLimit, ct.MemoryLimit)
	}
	for _, smp := range runsBySvc {
		s := get(smp.Metric.Get("service"))
		s.Runs = append(s.Runs, smp.Metric.Get("run"))
		s.RPS = value(rps, key(smp.Metric, "service"))
	}
	out := make([]Service, 0, len(bySvc))
	for _, s := range bySvc {
		slices.Sort(s.Hosts)
		slices.Sort(s.Containers)
		slices.Sort(s.Runs)
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Service < out[j].Service })
	return out, nil
}

func (h *Hub) handleHosts(w http.ResponseWriter, r *http.Request) {
	c, err := h.clusterQuery(r)
	if err != nil {
		respondError(w, err)
		return
	}
	cts, err := c.containers()
	if err != nil {
		respondError(w, err)
		return
	}
	hosts, err := c.hosts(cts)
	if err != nil {
		respondError(w, err)
		return
	}
	writeJSON(w, map[string]any{"time_ms": c.ts.UnixMilli(), "hosts": hosts})
}

// ContainerGroup is the containers of one host or one service.
type ContainerGroup struct {
	Key        string      `json:"key"`
	Containers []Container `json:"containers"`
}

func (h *Hub) handleContainers(w http.ResponseWriter, r *http.Request) {
	c, err := h.clusterQuery(r)
	if err != nil {
		respondError(w, err)
		return
	}
	group := r.FormValue("group")
	if group == "" {
		group = "host"
	}
	if group != "host" && group != "service" {
		respondError(w, badData(fmt.Errorf("group %q: use host or service", group)))
		return
	}
	cts, err := c.containers()
	if err != nil {
		respondError(w, err)
		return
	}
	host, service := r.FormValue("host"), r.FormValue("service")
	groups := []ContainerGroup{}
	index := map[string]int{}
	for _, ct := range cts {
		if (host != "" && ct.Host != host) || (service != "" && ct.Service != service) {
			continue
		}
		k := ct.Host
		if group == "service" {
			k = ct.Service
		}
		i, ok := index[k]
		if !ok {
			i = len(groups)
			index[k] = i
			groups = append(groups, ContainerGroup{Key: k})
		}
		groups[i].Containers = append(groups[i].Containers, ct)
	}
	sort.SliceStable(groups, func(i, j int) bool { return groups[i].Key < groups[j].Key })
	writeJSON(w, map[string]any{"time_ms": c.ts.UnixMilli(), "group": group, "groups": groups})
}

func (h *Hub) handleServices(w http.ResponseWriter, r *http.Request) {
	c, err := h.clusterQuery(r)
	if err != nil {
		respondError(w, err)
		return
	}
	cts, err := c.containers()
	if err != nil {
		respondError(w, err)
		return
	}
	svcs, err := c.services(cts)
	if err != nil {
		respondError(w, err)
		return
	}
	writeJSON(w, map[string]any{"time_ms": c.ts.UnixMilli(), "services": svcs})
}
