package collector

import (
	"context"
	"errors"
	"os"
	"path/filepath"

	"github.com/brinkhq/brink/internal/monitor/metrics"
	"github.com/brinkhq/brink/internal/monitor/procfs"
)

// pressure reads the host's pressure stall information (PSI) from
// /proc/pressure, as node_exporter names it. On a kernel without PSI the
// collector reports nothing and no error.
type pressure struct {
	files          [3]*procfs.File
	waiting, stall [3]*metrics.Series
}

func newPressure(cfg Config) (Collector, error) {
	c := &pressure{}
	for i, res := range []string{"cpu", "memory", "io"} {
		f, err := procfs.Open(filepath.Join(cfg.ProcFS, "pressure", res))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		c.files[i] = f
		c.waiting[i] = metrics.NewSeries(cfg.Registry.Family("node_pressure_"+res+"_waiting_seconds_total",
			"Total time in seconds that processes have waited for "+res+".", metrics.Counter), cfg.Host)
		if res != "cpu" {
			c.stall[i] = metrics.NewSeries(cfg.Registry.Family("node_pressure_"+res+"_stalled_seconds_total",
				"Total time in seconds no process could make progress due to "+res+" congestion.", metrics.Counter), cfg.Host)
		}
	}
	return c, nil
}

func (c *pressure) Update(_ context.Context, b *metrics.Batch) error {
	var errs []error
	for i, f := range c.files {
		if f == nil {
			continue
		}
		data, err := f.Read()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p, err := procfs.ParsePressure(data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		b.Add(c.waiting[i], float64(p.SomeUs)/1e6)
		if c.stall[i] != nil && p.HasFull {
			b.Add(c.stall[i], float64(p.FullUs)/1e6)
		}
	}
	return errors.Join(errs...)
}
