package collector

import (
	"context"
	"path/filepath"
	"regexp"

	"github.com/brinkhq/brink/internal/monitor/metrics"
	"github.com/brinkhq/brink/internal/monitor/procfs"
)

// diskExclude skips partitions, RAM disks and loop devices, as
// node_exporter does by default: their IO is counted on the whole disk.
var diskExclude = regexp.MustCompile(`^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$`)

// diskstats reads /proc/diskstats into node_disk_* per device.
type diskstats struct {
	file    *procfs.File
	host    *metrics.LabelSet
	fam     diskFamilies
	devices keyed[*diskSeries]
}

type diskFamilies struct {
	reads, readsMerged, readBytes, readTime          *metrics.Family
	writes, writesMerged, writeBytes, writeTime      *metrics.Family
	ioNow, ioTime, ioWeighted                        *metrics.Family
	discards, discardsMerged, discarded, discardTime *metrics.Family
	flushes, flushTime                               *metrics.Family
}

type diskSeries struct {
	skip                                             bool
	reads, readsMerged, readBytes, readTime          *metrics.Series
	writes, writesMerged, writeBytes, writeTime      *metrics.Series
	ioNow, ioTime, ioWeighted                        *metrics.Series
	discards, discardsMerged, discarded, discardTime *metrics.Series
	flushes, flushTime                               *metrics.Series
}

func newDiskStats(cfg Config) (Collector, error) {
	f, err := procfs.Open(filepath.Join(cfg.ProcFS, "diskstats"))
	if err != nil {
		return nil, err
	}
	r := cfg.Registry
	c := func(name, help string) *metrics.Family { return r.Family(name, help, metrics.Counter) }
	return &diskstats{file: f, host: cfg.Host, fam: diskFamilies{
		reads:          c("node_disk_reads_completed_total", "The total number of reads completed successfully."),
		readsMerged:    c("node_disk_reads_merged_total", "The total number of reads merged."),
		readBytes:      c("node_disk_read_bytes_total", "The total number of bytes read successfully."),
		readTime:       c("node_disk_read_time_seconds_total", "The total number of seconds spent by all reads."),
		writes:         c("node_disk_writes_completed_total", "The total number of writes completed successfully."),
		writesMerged:   c("node_disk_writes_merged_total", "The number of writes merged."),
		writeBytes:     c("node_disk_written_bytes_total", "The total number of bytes written successfully."),
		writeTime:      c("node_disk_write_time_seconds_total", "This is the total number of seconds spent by all writes."),
		ioNow:          r.Family("node_disk_io_now", "The number of I/Os currently in progress.", metrics.Gauge),
		ioTime:         c("node_disk_io_time_seconds_total", "Total seconds spent doing I/Os."),
		ioWeighted:     c("node_disk_io_time_weighted_seconds_total", "The weighted # of seconds spent doing I/Os."),
		discards:       c("node_disk_discards_completed_total", "The total number of discards completed successfully."),
		discardsMerged: c("node_disk_discards_merged_total", "The total number of discards merged."),
		discarded:      c("node_disk_discarded_sectors_total", "The total number of sectors discarded successfully."),
		discardTime:    c("node_disk_discard_time_seconds_total", "This is the total number of seconds spent by all discards."),
		flushes:        c("node_disk_flush_requests_total", "The total number of flush requests completed successfully."),
		flushTime:      c("node_disk_flush_requests_time_seconds_total", "This is the total number of seconds spent by all flush requests."),
	}}, nil
}

func (c *diskstats) newSeries(dev string) *diskSeries {
	if diskExclude.MatchString(dev) {
		return &diskSeries{skip: true}
	}
	l := metrics.Label{Name: "device", Value: dev}
	s := func(f *metrics.Family) *metrics.Series { return metrics.NewSeries(f, c.host, l) }
	f := &c.fam
	return &diskSeries{
		reads: s(f.reads), readsMerged: s(f.readsMerged), readBytes: s(f.readBytes), readTime: s(f.readTime),
		writes: s(f.writes), writesMerged: s(f.writesMerged), writeBytes: s(f.writeBytes), writeTime: s(f.writeTime),
		ioNow: s(f.ioNow), ioTime: s(f.ioTime), ioWeighted: s(f.ioWeighted),
		discards: s(f.discards), discardsMerged: s(f.discardsMerged), discarded: s(f.discarded), discardTime: s(f.discardTime),
		flushes: s(f.flushes), flushTime: s(f.flushTime),
	}
}

func (c *diskstats) Update(_ context.Context, b *metrics.Batch) error {
	data, err := c.file.Read()
	if err != nil {
		return err
	}
	c.devices.begin()
	defer c.devices.end()
	return procfs.ParseDiskStats(data, func(dev []byte, d *procfs.DiskStats) {
		s := c.devices.get(dev, c.newSeries)
		if s.skip {
			return
		}
		const sector = 512
		b.Add(s.reads, float64(d.ReadsCompleted))
		b.Add(s.readsMerged, float64(d.ReadsMerged))
		b.Add(s.readBytes, float64(d.SectorsRead*sector))
		b.Add(s.readTime, float64(d.ReadTimeMs)/1000)
		b.Add(s.writes, float64(d.WritesCompleted))
		b.Add(s.writesMerged, float64(d.WritesMerged))
		b.Add(s.writeBytes, float64(d.SectorsWritten*sector))
		b.Add(s.writeTime, float64(d.WriteTimeMs)/1000)
		b.Add(s.ioNow, float64(d.IOsInProgress))
		b.Add(s.ioTime, float64(d.IOTimeMs)/1000)
		b.Add(s.ioWeighted, float64(d.WeightedIOTimeMs)/1000)
		if d.Has >= 15 {
			b.Add(s.discards, float64(d.DiscardsCompleted))
			b.Add(s.discardsMerged, float64(d.DiscardsMerged))
			b.Add(s.discarded, float64(d.SectorsDiscarded))
			b.Add(s.discardTime, float64(d.DiscardTimeMs)/1000)
		}
		if d.Has >= 17 {
			b.Add(s.flushes, float64(d.FlushesCompleted))
			b.Add(s.flushTime, float64(d.FlushTimeMs)/1000)
		}
	})
}
