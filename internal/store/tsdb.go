package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/util/compression"
)

// Options configure the embedded TSDB.
type Options struct {
	Dir string
	// Retention drops blocks older than this (0: keep 15 days).
	Retention time.Duration
	// RetentionBytes caps the size of blocks plus WAL (0: no cap).
	RetentionBytes int64
	// OutOfOrderWindow accepts samples this much older than a series'
	// newest one, for writers that buffered through an outage and resend
	// out of step with others (0: in-order only).
	OutOfOrderWindow time.Duration
	// Registerer receives the TSDB's own metrics (nil: none).
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

// TSDB is the embedded Prometheus TSDB.
type TSDB struct {
	db  *tsdb.DB
	dir string
}

// OpenTSDB opens (creating if needed) the TSDB under opts.Dir and replays
// its write-ahead log, so that every sample committed before a crash is
// back.
func OpenTSDB(opts Options) (*TSDB, error) {
	if opts.Dir == "" {
		return nil, errors.New("store: no data directory given")
	}
	o := tsdb.DefaultOptions()
	if opts.Retention > 0 {
		o.RetentionDuration = opts.Retention.Milliseconds()
	}
	o.MaxBytes = opts.RetentionBytes
	o.OutOfOrderTimeWindow = opts.OutOfOrderWindow.Milliseconds()
	// Snappy keeps the WAL at roughly half its size for a few percent of CPU.
	o.WALCompression = compression.Snappy
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	db, err := tsdb.Open(opts.Dir, logger, opts.Registerer, o, nil)
	if err != nil {
		return nil, fmt.Errorf("open time-series store in %s: %w", opts.Dir, err)
	}
	return &TSDB{db: db, dir: opts.Dir}, nil
}

// Appender implements Appendable.
func (s *TSDB) Appender(ctx context.Context) Appender { return s.db.Appender(ctx) }

// Querier implements storage.Queryable.
func (s *TSDB) Querier(mint, maxt int64) (storage.Querier, error) { return s.db.Querier(mint, maxt) }

// Close flushes and closes the TSDB.
func (s *TSDB) Close() error { return s.db.Close() }

// Stats implements Store.
func (s *TSDB) Stats() Stats {
	h := s.db.Head()
	st := Stats{Series: h.NumSeries(), HeadMinTime: h.MinTime(), HeadMaxTime: h.MaxTime()}
	for _, b := range s.db.Blocks() {
		st.Blocks++
		st.BlockSamples += b.Meta().Stats.NumSamples
		st.BlockSeries += b.Meta().Stats.NumSeries
		st.BlockBytes += b.Size()
	}
	return st
}

// DiskBytes is the size of everything under the data directory: blocks,
// WAL, head chunks. It walks the directory, so call it sparingly.
func (s *TSDB) DiskBytes() int64 { return dirSize(s.dir) }

// CompactAll writes everything in memory into persisted blocks, as the
// TSDB does by itself every two hours. Benchmarks and tests use it to
// measure the on-disk cost of a sample without waiting.
func (s *TSDB) CompactAll() error {
	h := s.db.Head()
	if h.NumSeries() == 0 {
		return nil
	}
	if err := s.db.CompactHead(tsdb.NewRangeHead(h, h.MinTime(), h.MaxTime())); err != nil {
		return fmt.Errorf("compact the store's head into a block: %w", err)
	}
	return nil
}

func dirSize(dir string) int64 {
	var total int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // files vanish under compaction; a size is an estimate anyway
		}
		if !d.IsDir() {
			if info, err := d.Info(); err == nil {
				total += info.Size()
			}
		}
		return nil
	})
	return total
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }
