package collector

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strconv"

	"github.com/brinkhq/brink/internal/monitor/metrics"
	"github.com/brinkhq/brink/internal/monitor/procfs"
)

// process reports the monitor's own CPU time, memory and goroutines, so
// its overhead is visible next to what it measures.
type process struct {
	file                    *procfs.File
	cpu, rss, start, gorout *metrics.Series
	bootTime                float64
	pageSize                float64
}

func newProcess(cfg Config) (Collector, error) {
	// The monitor's own /proc entry: /proc/self in the monitor's PID
	// namespace, which --path.procfs may not be.
	f, err := procfs.Open(filepath.Join("/proc", strconv.Itoa(os.Getpid()), "stat"))
	if err != nil {
		return nil, err
	}
	r := cfg.Registry
	ls := cfg.Self
	if ls == nil {
		ls = cfg.Host
	}
	c := &process{
		file:     f,
		cpu:      metrics.NewSeries(r.Family("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", metrics.Counter), ls),
		rss:      metrics.NewSeries(r.Family("process_resident_memory_bytes", "Resident memory size in bytes.", metrics.Gauge), ls),
		start:    metrics.NewSeries(r.Family("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", metrics.Gauge), ls),
		gorout:   metrics.NewSeries(r.Family("go_goroutines", "Number of goroutines that currently exist.", metrics.Gauge), ls),
		pageSize: float64(os.Getpagesize()),
	}
	if st, err := os.ReadFile("/proc/stat"); err == nil {
		if s, err := procfs.ParseStat(st, func(int, *procfs.CPUTimes) {}); err == nil {
			c.bootTime = float64(s.BootTime)
		}
	}
	return c, nil
}

func (c *process) Update(_ context.Context, b *metrics.Batch) error {
	data, err := c.file.Read()
	if err != nil {
		return err
	}
	ps, err := procfs.ParseProcStat(data)
	if err != nil {
		return err
	}
	b.Add(c.cpu, float64(ps.UTime+ps.STime)/procfs.UserHZ)
	b.Add(c.rss, float64(ps.RSSPages)*c.pageSize)
	if c.bootTime > 0 {
		b.Add(c.start, c.bootTime+float64(ps.StartTime)/procfs.UserHZ)
	}
	b.Add(c.gorout, float64(runtime.NumGoroutine()))
	return nil
}
