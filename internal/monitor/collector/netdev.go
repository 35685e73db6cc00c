package collector

import (
	"context"
	"path/filepath"

	"github.com/brinkhq/brink/internal/monitor/metrics"
	"github.com/brinkhq/brink/internal/monitor/procfs"
)

// netdev reads the host's /proc/net/dev: node_network_<field>_total per
// device, as node_exporter names them.
type netdev struct {
	file     *procfs.File
	host     *metrics.LabelSet
	families [len(procfs.NetDevFields)]*metrics.Family
	devices  keyed[*[len(procfs.NetDevFields)]*metrics.Series]
}

func newNetDev(cfg Config) (Collector, error) {
	// The host's network namespace is the one of PID 1, which is right
	// even when the monitor itself runs in a container with its own.
	f, err := procfs.Open(filepath.Join(cfg.ProcFS, "1", "net", "dev"))
	if err != nil {
		return nil, err
	}
	c := &netdev{file: f, host: cfg.Host}
	for i, name := range procfs.NetDevFields {
		c.families[i] = cfg.Registry.Family("node_network_"+name+"_total",
			"Network device statistic "+name+".", metrics.Counter)
	}
	return c, nil
}

func (c *netdev) Update(_ context.Context, b *metrics.Batch) error {
	data, err := c.file.Read()
	if err != nil {
		return err
	}
	c.devices.begin()
	defer c.devices.end()
	return procfs.ParseNetDev(data, func(iface []byte, v *procfs.NetDev) {
		s := c.devices.get(iface, func(dev string) *[len(procfs.NetDevFields)]*metrics.Series {
			var s [len(procfs.NetDevFields)]*metrics.Series
			for i, f := range c.families {
				s[i] = metrics.NewSeries(f, c.host, metrics.Label{Name: "device", Value: dev})
			}
			return &s
		})
		for i, x := range v {
			b.Add(s[i], float64(x))
		}
	})
}
