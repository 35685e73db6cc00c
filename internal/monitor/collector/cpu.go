package collector

import (
	"context"
	"path/filepath"
	"strconv"

	"github.com/brinkhq/brink/internal/monitor/metrics"
	"github.com/brinkhq/brink/internal/monitor/procfs"
)

// cpu reads /proc/stat: CPU seconds per CPU and mode, the number of CPUs,
// context switches, forks, interrupts, boot time and runnable tasks.
type cpu struct {
	file                                           *procfs.File
	host                                           *metrics.LabelSet
	seconds                                        *metrics.Family
	perCPU                                         [][len(procfs.CPUModes)]*metrics.Series
	cores, ctxt, forks, intr, boot, running, block *metrics.Series
}

func newCPU(cfg Config) (Collector, error) {
	f, err := procfs.Open(filepath.Join(cfg.ProcFS, "stat"))
	if err != nil {
		return nil, err
	}
	r := cfg.Registry
	c := &cpu{
		file:    f,
		host:    cfg.Host,
		seconds: r.Family("node_cpu_seconds_total", "Seconds the CPUs spent in each mode.", metrics.Counter),
	}
	c.cores = metrics.NewSeries(r.Family("machine_cpu_cores", "Number of logical CPU cores.", metrics.Gauge), cfg.Host)
	c.ctxt = metrics.NewSeries(r.Family("node_context_switches_total", "Total number of context switches.", metrics.Counter), cfg.Host)
	c.forks = metrics.NewSeries(r.Family("node_forks_total", "Total number of forks.", metrics.Counter), cfg.Host)
	c.intr = metrics.NewSeries(r.Family("node_intr_total", "Total number of interrupts serviced.", metrics.Counter), cfg.Host)
	c.boot = metrics.NewSeries(r.Family("node_boot_time_seconds", "Node boot time, in unixtime.", metrics.Gauge), cfg.Host)
	c.running = metrics.NewSeries(r.Family("node_procs_running", "Number of processes in runnable state.", metrics.Gauge), cfg.Host)
	c.block = metrics.NewSeries(r.Family("node_procs_blocked", "Number of processes blocked waiting for I/O to complete.", metrics.Gauge), cfg.Host)
	return c, nil
}

func (c *cpu) Update(_ context.Context, b *metrics.Batch) error {
	data, err := c.file.Read()
	if err != nil {
		return err
	}
	n := 0
	st, err := procfs.ParseStat(data, func(i int, t *procfs.CPUTimes) {
		for len(c.perCPU) <= i {
			cpuLabel := metrics.Label{Name: "cpu", Value: strconv.Itoa(len(c.perCPU))}
			var s [len(procfs.CPUModes)]*metrics.Series
			for m, mode := range procfs.CPUModes {
				s[m] = metrics.NewSeries(c.seconds, c.host, cpuLabel, metrics.Label{Name: "mode", Value: mode})
			}
			c.perCPU = append(c.perCPU, s)
		}
		for m, v := range t {
			b.Add(c.perCPU[i][m], float64(v)/procfs.UserHZ)
		}
		n++
	})
	if err != nil {
		return err
	}
	b.Add(c.cores, float64(n))
	b.Add(c.ctxt, float64(st.ContextSwitches))
	b.Add(c.forks, float64(st.Forks))
	b.Add(c.intr, float64(st.Interrupts))
	b.Add(c.boot, float64(st.BootTime))
	b.Add(c.running, float64(st.ProcsRunning))
	b.Add(c.block, float64(st.ProcsBlocked))
	return nil
}
