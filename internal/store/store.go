// Package store is the hub's time-series storage behind two narrow seams:
// an Appendable that takes samples and a Queryable (Prometheus' own
// storage.Queryable) that the PromQL engine and the export read from. The
// implementation here is the embedded Prometheus TSDB with its write-ahead
// log; a remote Prometheus-compatible backend (remote-write for appends,
// remote-read for queries) fits behind the same two interfaces, which is how
// a fleet-sized deployment swaps the embedded store out.
package store

import (
	"context"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
)

// SeriesRef is an opaque handle that speeds up later appends to the same
// series. Zero means "look the series up by its labels".
type SeriesRef = storage.SeriesRef

// Appender collects samples of one transaction. Nothing is visible to
// queries, nor durable, before Commit returns nil; after that the samples
// survive a crash of the process.
type Appender interface {
	// Append adds one float sample. The returned ref may be passed to later
	// Append calls for the same series; it is only a hint.
	Append(ref SeriesRef, ls labels.Labels, t int64, v float64) (SeriesRef, error)
	Commit() error
	Rollback() error
}

// Appendable hands out appenders.
type Appendable interface {
	Appender(ctx context.Context) Appender
}

// Store is what the hub needs from its storage: appends, PromQL-capable
// queries, a few figures for /api/v1/status, and a clean close.
type Store interface {
	Appendable
	storage.Queryable
	Stats() Stats
	Close() error
}

// Stats describes the store's contents.
type Stats struct {
	Series      uint64 // series in memory (the head)
	HeadMinTime int64  // ms; oldest sample in the head
	HeadMaxTime int64  // ms; newest sample in the head
	Blocks      int    // persisted blocks
	// BlockSamples and BlockBytes cover persisted blocks only, so their
	// ratio is the on-disk cost of a sample after compaction.
	BlockSamples uint64
	BlockSeries  uint64 // summed over blocks: a series in two blocks counts twice
	BlockBytes   int64
}

// IsSampleRejection reports whether err is the store refusing one sample
// (out of order, duplicate with another value, too old) as opposed to
// failing. Such samples are skipped and counted; the rest of a batch goes in.
func IsSampleRejection(err error) bool {
	return RejectionReason(err) != ""
}

// RejectionReason names why the store refused a sample, "" if it did not.
func RejectionReason(err error) string {
	switch {
	case err == nil:
		return ""
	case errorsIs(err, storage.ErrOutOfOrderSample):
		return "out_of_order"
	case errorsIs(err, storage.ErrOutOfBounds):
		return "out_of_bounds"
	case errorsIs(err, storage.ErrTooOldSample):
		return "too_old"
	case errorsIs(err, storage.ErrDuplicateSampleForTimestamp):
		return "duplicate_timestamp"
	}
	return ""
}
