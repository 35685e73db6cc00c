package collector

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/brinkhq/brink/internal/monitor/metrics"
	"github.com/brinkhq/brink/internal/monitor/procfs"
)

// meminfo reads /proc/meminfo into node_memory_<Field>_bytes (node_exporter
// names: "Active(anon)" becomes node_memory_Active_anon_bytes; counts
// without a unit, like HugePages_Total, have no _bytes suffix), plus
// cAdvisor's machine_memory_bytes.
type meminfo struct {
	file    *procfs.File
	byField map[string]*metrics.Series
	total   *metrics.Series
}

func newMeminfo(cfg Config) (Collector, error) {
	f, err := procfs.Open(filepath.Join(cfg.ProcFS, "meminfo"))
	if err != nil {
		return nil, err
	}
	data, err := f.Read()
	if err != nil {
		return nil, err
	}
	c := &meminfo{file: f, byField: map[string]*metrics.Series{}}
	// Families are registered once, from the fields this kernel has.
	err = procfs.ParseMeminfo(data, func(name []byte, _ uint64, hasUnit bool) {
		metric := "node_memory_" + strings.NewReplacer("(", "_", ")", "").Replace(string(name))
		help := "Memory information field " + string(name) + "."
		if hasUnit {
			metric += "_bytes"
		}
		if !metrics.ValidMetricName(metric) {
			return
		}
		c.byField[string(name)] = metrics.NewSeries(cfg.Registry.Family(metric, help, metrics.Gauge), cfg.Host)
	})
	if err != nil {
		return nil, err
	}
	if len(c.byField) == 0 {
		return nil, fmt.Errorf("%s has no fields", f.Path())
	}
	c.total = metrics.NewSeries(cfg.Registry.Family("machine_memory_bytes", "Amount of memory installed on the machine.", metrics.Gauge), cfg.Host)
	return c, nil
}

func (c *meminfo) Update(_ context.Context, b *metrics.Batch) error {
	data, err := c.file.Read()
	if err != nil {
		return err
	}
	return procfs.ParseMeminfo(data, func(name []byte, v uint64, _ bool) {
		if s, ok := c.byField[string(name)]; ok {
			b.Add(s, float64(v))
		}
		if string(name) == "MemTotal" {
			b.Add(c.total, float64(v))
		}
	})
}
