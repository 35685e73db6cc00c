package collector

import (
	"context"
	"path/filepath"

	"github.com/brinkhq/brink/internal/monitor/metrics"
	"github.com/brinkhq/brink/internal/monitor/procfs"
)

// loadavg reads /proc/loadavg.
type loadavg struct {
	file           *procfs.File
	load1, l5, l15 *metrics.Series
}

func newLoadAvg(cfg Config) (Collector, error) {
	f, err := procfs.Open(filepath.Join(cfg.ProcFS, "loadavg"))
	if err != nil {
		return nil, err
	}
	r := cfg.Registry
	return &loadavg{
		file:  f,
		load1: metrics.NewSeries(r.Family("node_load1", "1m load average.", metrics.Gauge), cfg.Host),
		l5:    metrics.NewSeries(r.Family("node_load5", "5m load average.", metrics.Gauge), cfg.Host),
		l15:   metrics.NewSeries(r.Family("node_load15", "15m load average.", metrics.Gauge), cfg.Host),
	}, nil
}

func (c *loadavg) Update(_ context.Context, b *metrics.Batch) error {
	data, err := c.file.Read()
	if err != nil {
		return err
	}
	l, err := procfs.ParseLoadAvg(data)
	if err != nil {
		return err
	}
	b.Add(c.load1, l.Load1)
	b.Add(c.l5, l.Load5)
	b.Add(c.l15, l.Load15)
	return nil
}
