// Package monitor is `brink monitor`: every container on a host and the
// host itself, sampled at a fixed rate, exposed as Prometheus metrics with
// cAdvisor and node_exporter names, as JSON with exact values, and pushed
// by remote write.
//
// One goroutine ticks at the configured interval, aligned to the wall
// clock. Each tick runs every collector into a fresh batch stamped with the
// moment the tick really started, then publishes it; HTTP handlers only
// read published batches. A tick that starts late is reported
// (brink_monitor_tick_lag_seconds) and ticks that could not run at all are
// counted (brink_monitor_ticks_missed_total): the rate never backs off
// silently.
package monitor

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/brinkhq/brink/internal/monitor/cgroup"
	"github.com/brinkhq/brink/internal/monitor/collector"
	"github.com/brinkhq/brink/internal/monitor/docker"
	"github.com/brinkhq/brink/internal/monitor/metrics"
	"github.com/brinkhq/brink/internal/monitor/naming"
	"github.com/brinkhq/brink/internal/remotewrite"
	"github.com/prometheus/prometheus/prompb"
)

// Config configures a Monitor.
type Config struct {
	// Listen is the HTTP address (127.0.0.1:9338); empty serves nothing.
	Listen   string
	Interval time.Duration
	// TimestampTolerance: a tick that starts within this much of its
	// scheduled instant is stamped with the scheduled instant, as Prometheus
	// does for scrapes. Regular timestamps compress to about half the bytes
	// per sample in a TSDB; later ticks keep their real time, and the real
	// lag of every tick is still reported. Zero stamps every tick with its
	// real wake-up time.
	TimestampTolerance time.Duration
	// ProcFS, SysFS and RootFS are where the host's /proc, /sys and / are.
	ProcFS, SysFS, RootFS string
	// DockerHost is the Docker Engine address; empty watches raw cgroups
	// only.
	DockerHost string
	// Hostname is the host label's value.
	Hostname string
	// Collectors are the host collectors to run (collector.HostNames()).
	Collectors []string
	// CgroupPatterns select raw cgroups reported as containers.
	CgroupPatterns []string
	Exports        naming.Exports
	// NetworkExclude matches container interfaces not to report.
	NetworkExclude *regexp.Regexp
	// NoTimestamps leaves sample timestamps out of /metrics, for scrapers
	// that prefer their own.
	NoTimestamps bool
	// RemoteWrite, when set, pushes every tick's samples.
	RemoteWrite *remotewrite.Config
	// Engine overrides the Docker watcher (tests feed recorded containers).
	Engine  collector.EngineSource
	Version string
	Logger  *slog.Logger
}

// DefaultCgroupPatterns are the raw cgroups reported besides Docker's
// containers: systemd services and Mesos containerizer containers.
var DefaultCgroupPatterns = []string{"/system.slice/*.service", "/mesos/*"}

// Monitor samples a host and its containers.
type Monitor struct {
	cfg        Config
	log        *slog.Logger
	reg        *metrics.Registry
	hostLabels *metrics.LabelSet
	selfLabels *metrics.LabelSet
	host       []collector.Named
	containers *collector.Containers
	docker     *docker.Watcher
	rw         *remotewrite.Client
	self       selfMetrics

	// snaps is a ring of three: the published one, the one before it
	// (for rates in /api/v1/containers) and the one being filled.
	snaps [3]*snapshot
	cur   atomic.Pointer[snapshot]
	prev  atomic.Pointer[snapshot]
	seq   uint64

	ticks, missed uint64
	lastErr       map[string]string

	rwReq     prompb.WriteRequest
	rwScratch []byte

	listening chan struct{}
	addr      net.Addr
}

// snapshot is one published tick.
type snapshot struct {
	mu    sync.RWMutex
	seq   uint64
	batch *metrics.Batch
	infos []collector.Info

	renderMu   sync.Mutex
	rendered   bool
	text       []byte
	gzRendered bool
	gzBuf      bytes.Buffer
	gz         *gzip.Writer
}

// New builds a monitor: it finds the cgroup hierarchies and opens the
// files every collector reads, so configuration mistakes surface here.
func New(cfg Config) (*Monitor, error) {
	if cfg.Interval <= 0 {
		return nil, fmt.Errorf("interval %s: must be positive (e.g. 1s)", cfg.Interval)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Hostname == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("hostname: %w (set --hostname)", err)
		}
		cfg.Hostname = h
	}
	m := &Monitor{cfg: cfg, log: cfg.Logger, reg: metrics.NewRegistry(), lastErr: map[string]string{}, listening: make(chan struct{})}
	var err error
	if m.hostLabels, err = metrics.NewLabelSet(metrics.Label{Name: "host", Value: cfg.Hostname}); err != nil {
		return nil, err
	}
	// The monitor's own metrics carry the same labels as the host's but a
	// distinct label set, so /api/v1/containers can tell them apart.
	if m.selfLabels, err = metrics.NewLabelSet(metrics.Label{Name: "host", Value: cfg.Hostname}); err != nil {
		return nil, err
	}
	ccfg := collector.Config{ProcFS: cfg.ProcFS, SysFS: cfg.SysFS, RootFS: cfg.RootFS, Registry: m.reg, Host: m.hostLabels, Self: m.selfLabels}
	if m.host, err = collector.Build(ccfg, cfg.Collectors); err != nil {
		return nil, err
	}
	layout, err := cgroup.Detect(cfg.SysFS)
	if err != nil {
		return nil, err
	}
	engine := cfg.Engine
	if engine == nil && cfg.DockerHost != "" {
		m.docker, err = docker.New(docker.Config{Host: cfg.DockerHost, WantEnv: cfg.Exports.WantedEnv, Logger: cfg.Logger})
		if err != nil {
			return nil, err
		}
		engine = m.docker
	}
	m.containers, err = collector.NewContainers(collector.ContainersConfig{
		ProcFS: cfg.ProcFS, SysFS: cfg.SysFS, Layout: layout, Registry: m.reg, Hostname: cfg.Hostname,
		Engine: engine, CgroupPatterns: cfg.CgroupPatterns, Exports: cfg.Exports,
		NetworkExclude: cfg.NetworkExclude, Logger: cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	if cfg.RemoteWrite != nil {
		rwc := *cfg.RemoteWrite
		if rwc.Logger == nil {
			rwc.Logger = cfg.Logger
		}
		if rwc.UserAgent == "" {
			rwc.UserAgent = "brink-monitor/" + cfg.Version
		}
		if m.rw, err = remotewrite.New(rwc); err != nil {
			return nil, err
		}
	}
	m.self = newSelfMetrics(m.reg, m.selfLabels, m.host, cfg)
	for i := range m.snaps {
		m.snaps[i] = &snapshot{batch: metrics.NewBatch(m.reg)}
	}
	m.log.Info("monitor ready", "cgroup", layout.Version, "cgroup_root", layout.Primary(),
		"docker", cfg.DockerHost, "interval", cfg.Interval, "collectors", cfg.Collectors)
	return m, nil
}

// Run serves HTTP on cfg.Listen, follows Docker, pushes remote writes and
// ticks until ctx ends. It returns nil after a clean stop.
func (m *Monitor) Run(ctx context.Context) error {
	var srv *http.Server
	serveErr := make(chan error, 1)
	if m.cfg.Listen != "" {
		ln, err := net.Listen("tcp", m.cfg.Listen)
		if err != nil {
			return fmt.Errorf("listening on %s: %w (is another monitor running? choose another --listen)", m.cfg.Listen, err)
		}
		m.addr = ln.Addr()
		srv = &http.Server{Handler: m.Handler(), ReadHeaderTimeout: 10 * time.Second}
		go func() { serveErr <- srv.Serve(ln) }()
		m.log.Info("serving", "addr", "http://"+ln.Addr().String(), "paths", "/metrics /api/v1/containers")
	}
	close(m.listening)

	var wg sync.WaitGroup
	if m.docker != nil {
		wg.Add(1)
		go func() { defer wg.Done(); m.docker.Run(ctx) }()
	}
	// Remote write outlives the tick loop so that the last tick is queued
	// before the client flushes and stops.
	rwCtx, rwCancel := context.WithCancel(context.WithoutCancel(ctx))
	rwDone := make(chan struct{})
	if m.rw != nil {
		go func() { defer close(rwDone); m.rw.Run(rwCtx) }()
	} else {
		close(rwDone)
	}

	loopErr := m.loop(ctx, serveErr)

	rwCancel()
	<-rwDone
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		srv.Shutdown(sctx)
		cancel()
	}
	wg.Wait()
	m.containers.Close()
	if errors.Is(loopErr, context.Canceled) {
		return nil
	}
	return loopErr
}

// Listening is closed once Run listens; Addr is valid then.
func (m *Monitor) Listening() <-chan struct{} { return m.listening }

// Addr is the address Run listens on.
func (m *Monitor) Addr() net.Addr { return m.addr }

// loop ticks at the interval until ctx ends or the HTTP server fails.
func (m *Monitor) loop(ctx context.Context, serveErr <-chan error) error {
	iv := m.cfg.Interval
	// Ticks are aligned to multiples of the interval since the Unix epoch,
	// so monitors on different hosts sample at the same instants. The
	// schedule is kept on the monotonic clock.
	start := time.Now()
	firstWall := (start.UnixNano()/int64(iv) + 1) * int64(iv)
	base := start.Add(time.Duration(firstWall - start.UnixNano()))
	n := int64(0)
	timer := time.NewTimer(time.Until(base))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-serveErr:
			return fmt.Errorf("http server: %w", err)
		case <-timer.C:
		}
		woke := time.Now()
		scheduled := base.Add(time.Duration(n) * iv)
		lag := woke.Sub(scheduled)
		if lag >= iv {
			skipped := int64(lag / iv)
			m.missed += uint64(skipped)
			n += skipped
			scheduled = base.Add(time.Duration(n) * iv)
			lag = woke.Sub(scheduled)
			m.log.Warn("ticks missed: the monitor could not run in time", "missed", skipped, "interval", iv)
		}
		m.Collect(ctx, tickStamp(woke, scheduled, m.cfg.TimestampTolerance), lag)
		if m.ticks == 3 {
			// Startup is over and the steady-state pages have been used.
			m.log.Debug("released startup pages", "bytes", releaseStartupPages())
		}
		n++
		timer.Reset(time.Until(base.Add(time.Duration(n) * iv)))
	}
}

// Collect runs one tick stamped t (lag is how late it started) and
// publishes it. Run calls it at every tick; tests call it directly.
func (m *Monitor) Collect(ctx context.Context, t time.Time, lag time.Duration) {
	began := time.Now()
	s := m.spare()
	s.mu.Lock()
	b := s.batch
	b.Reset(t)
	for _, c := range m.host {
		m.run(ctx, c.Name, c.Collector, b)
	}
	m.run(ctx, "containers", m.containers, b)
	m.ticks++
	m.self.add(m, b, lag, time.Since(began))
	m.seq++
	s.seq = m.seq
	s.infos = m.containers.Infos()
	s.rendered, s.gzRendered = false, false
	s.mu.Unlock()
	m.prev.Store(m.cur.Load())
	m.cur.Store(s)
	if m.rw != nil {
		m.pushRemote(b)
	}
}

// spare returns the ring's snapshot that is neither current nor previous.
func (m *Monitor) spare() *snapshot {
	cur, prev := m.cur.Load(), m.prev.Load()
	for _, s := range m.snaps {
		if s != cur && s != prev {
			return s
		}
	}
	panic("monitor: no spare snapshot")
}

// run calls one collector, timing it and logging changes in its errors.
func (m *Monitor) run(ctx context.Context, name string, c collector.Collector, b *metrics.Batch) {
	start := time.Now()
	err := c.Update(ctx, b)
	m.self.collectorDone(name, time.Since(start), err == nil)
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	if prev := m.lastErr[name]; prev != msg {
		if msg != "" {
			m.log.Warn("collector failed", "collector", name, "err", err)
		} else {
			m.log.Info("collector recovered", "collector", name)
		}
		m.lastErr[name] = msg
	}
}

// pushRemote queues the tick's samples for remote write.
func (m *Monitor) pushRemote(b *metrics.Batch) {
	m.rwReq.Timeseries = b.AppendTimeSeries(m.rwReq.Timeseries[:0])
	body, scratch, err := remotewrite.Encode(&m.rwReq, m.rwScratch)
	m.rwScratch = scratch
	if err != nil {
		m.log.Error("remote write: encoding failed", "err", err)
		return
	}
	m.rw.Enqueue(body, len(m.rwReq.Timeseries))
}

// tickStamp is the timestamp of a tick that was scheduled at scheduled and
// started at woke: the scheduled instant when the tick was on time within
// tolerance, else the real start.
func tickStamp(woke, scheduled time.Time, tolerance time.Duration) time.Time {
	if woke.Sub(scheduled) <= tolerance {
		return scheduled
	}
	return woke
}
