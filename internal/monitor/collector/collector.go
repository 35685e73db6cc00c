// Package collector holds the monitor's collectors: one file each, in the
// style of node_exporter. A collector registers its metric families when it
// is built and, every tick, appends the current value of each series to a
// batch. The monitor times each call and reports its success.
package collector

import (
	"context"
	"fmt"
	"sort"

	"github.com/brinkhq/brink/internal/monitor/metrics"
)

// Collector reads one kind of measurement.
type Collector interface {
	// Update appends the current samples to b. An error means some or all
	// of the collector's samples are missing from this tick.
	Update(ctx context.Context, b *metrics.Batch) error
}

// Config is what host collectors are built with.
type Config struct {
	// ProcFS, SysFS and RootFS are where the host's /proc, /sys and / are
	// visible (under /rootfs when the monitor runs in a container).
	ProcFS, SysFS, RootFS string
	Registry              *metrics.Registry
	// Host is the label set of every host series (host="...").
	Host *metrics.LabelSet
	// Self is the label set of the monitor's own series (the process
	// collector); the same labels as Host, told apart by identity.
	Self *metrics.LabelSet
}

// Factory builds a collector.
type Factory func(Config) (Collector, error)

// Host returns the host collectors by name. Every name can be switched off
// with --no-collector.<name>.
func Host() map[string]Factory {
	return map[string]Factory{
		"cpu":        newCPU,
		"loadavg":    newLoadAvg,
		"meminfo":    newMeminfo,
		"netdev":     newNetDev,
		"diskstats":  newDiskStats,
		"filesystem": newFilesystem,
		"pressure":   newPressure,
		"process":    newProcess,
	}
}

// HostNames returns the host collector names, sorted.
func HostNames() []string {
	var names []string
	for n := range Host() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Build builds the named host collectors in the given order.
func Build(cfg Config, names []string) ([]Named, error) {
	all := Host()
	out := make([]Named, 0, len(names))
	for _, n := range names {
		f, ok := all[n]
		if !ok {
			return nil, fmt.Errorf("unknown collector %q (known: %v)", n, HostNames())
		}
		c, err := f(cfg)
		if err != nil {
			return nil, fmt.Errorf("collector %s: %w", n, err)
		}
		out = append(out, Named{Name: n, Collector: c})
	}
	return out, nil
}

// Named is a collector with its name.
type Named struct {
	Name string
	Collector
}

// keyed caches the series of one family set per key (a device, an
// interface, a mount point). Keys not seen in a tick are dropped at the
// tick's end, so a removed interface does not keep its series forever.
type keyed[T any] struct {
	m    map[string]*keyedEntry[T]
	tick uint64
}

type keyedEntry[T any] struct {
	v    T
	seen uint64
}

// begin starts a tick.
func (k *keyed[T]) begin() {
	if k.m == nil {
		k.m = map[string]*keyedEntry[T]{}
	}
	k.tick++
}

// get returns the value for key, building it with mk on first use. The
// lookup with a converted []byte key does not allocate.
func (k *keyed[T]) get(key []byte, mk func(key string) T) T {
	e, ok := k.m[string(key)]
	if !ok {
		e = &keyedEntry[T]{v: mk(string(key))}
		k.m[string(key)] = e
	}
	e.seen = k.tick
	return e.v
}

// getString is get for a key that is already a string.
func (k *keyed[T]) getString(key string, mk func(key string) T) T {
	e, ok := k.m[key]
	if !ok {
		e = &keyedEntry[T]{v: mk(key)}
		k.m[key] = e
	}
	e.seen = k.tick
	return e.v
}

// end drops the keys not seen since begin.
func (k *keyed[T]) end() {
	for key, e := range k.m {
		if e.seen != k.tick {
			delete(k.m, key)
		}
	}
}
