package store

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

func count(t *testing.T, q storage.Queryable) int {
	t.Helper()
	qr, err := q.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	defer qr.Close()
	set := qr.Select(context.Background(), false, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", "m"))
	n := 0
	var it chunkenc.Iterator
	for set.Next() {
		it = set.At().Iterator(it)
		for it.Next() != chunkenc.ValNone {
			n++
		}
	}
	return n
}

func TestTSDBAppendReopenCompact(t *testing.T) {
	dir := t.TempDir()
	db, err := OpenTSDB(Options{Dir: dir, Retention: 48 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	base := time.Now().Add(-time.Hour).UnixMilli()
	app := db.Appender(context.Background())
	var ref SeriesRef
	for i := range 600 {
		for s := range 10 {
			ls := labels.FromStrings("__name__", "m", "s", string(rune('a'+s)))
			if s == 0 {
				ref, err = app.Append(ref, ls, base+int64(i)*1000, float64(i))
			} else {
				_, err = app.Append(0, ls, base+int64(i)*1000, float64(i))
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	if st := db.Stats(); st.Series != 10 || st.HeadMinTime != base || st.HeadMaxTime != base+599_000 {
		t.Fatalf("stats %+v", st)
	}
	// Uncommitted samples are not stored.
	app = db.Appender(context.Background())
	if _, err := app.Append(0, labels.FromStrings("__name__", "m", "s", "rolled back"), base, 1); err != nil {
		t.Fatal(err)
	}
	if err := app.Rollback(); err != nil {
		t.Fatal(err)
	}
	// The store refuses an older sample for a series, and says why.
	app = db.Appender(context.Background())
	_, err = app.Append(0, labels.FromStrings("__name__", "m", "s", "a"), base-10_000, 1)
	if RejectionReason(err) != "out_of_order" || !IsSampleRejection(err) {
		t.Fatalf("out-of-order append: %v", err)
	}
	_ = app.Rollback()
	if RejectionReason(errors.New("disk full")) != "" {
		t.Fatal("a failure taken for a rejection")
	}
	db.Close()

	db, err = OpenTSDB(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if n := count(t, db); n != 6000 {
		t.Fatalf("%d samples after reopen, want 6000", n)
	}
	if err := db.CompactAll(); err != nil {
		t.Fatal(err)
	}
	st := db.Stats()
	if st.Blocks != 1 || st.BlockSamples != 6000 || st.BlockSeries != 10 || st.BlockBytes <= 0 || db.DiskBytes() < st.BlockBytes {
		t.Fatalf("after compaction %+v, disk %d", st, db.DiskBytes())
	}
	if n := count(t, db); n != 6000 {
		t.Fatalf("%d samples after compaction, want 6000", n)
	}
}

func TestOpenTSDBNeedsADirectory(t *testing.T) {
	if _, err := OpenTSDB(Options{}); err == nil {
		t.Fatal("opened without a directory")
	}
}
