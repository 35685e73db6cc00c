// Package histogram is an HDR (high dynamic range) latency histogram with a
// fixed layout: 1 µs to 60 s at 3 significant digits. Because every histogram
// in brink has the same bucket layout, merging is exact: the merged
// histogram is identical to one that recorded every sample itself. That is
// what lets agents, the hub and reports combine latencies without ever
// averaging percentiles.
package histogram

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"time"
)

const (
	// Lowest and Highest are the trackable range in microseconds.
	Lowest  = 1
	Highest = 60_000_000
	// SignificantDigits is the relative precision: values are kept to within 0.1%.
	SignificantDigits = 3

	subBucketCountMagnitude     = 11 // ceil(log2(2 * 10^3))
	subBucketCount              = 1 << subBucketCountMagnitude
	subBucketHalfCountMagnitude = subBucketCountMagnitude - 1
	subBucketHalfCount          = 1 << subBucketHalfCountMagnitude
	subBucketMask               = subBucketCount - 1
	bucketCount                 = 16 // smallest n with 2048<<(n-1) > Highest
	// CountsLen is the number of counters in one histogram.
	CountsLen = (bucketCount + 1) * subBucketHalfCount
)

// Histogram records values in microseconds. The zero value is not usable;
// call New. It is not safe for concurrent use: engines keep one per worker
// and merge.
type Histogram struct {
	counts     []int64
	total      int64
	min, max   int64
	sum        float64
	saturated  int64 // values above Highest, recorded as Highest
	nonZeroMin int   // lowest index with a count, for fast iteration
	nonZeroMax int
}

// New returns an empty histogram.
func New() *Histogram {
	return &Histogram{counts: make([]int64, CountsLen), min: math.MaxInt64, nonZeroMin: CountsLen, nonZeroMax: -1}
}

func countsIndex(v int64) int {
	pow2ceiling := 64 - bits.LeadingZeros64(uint64(v)|subBucketMask)
	bucketIdx := pow2ceiling - (subBucketHalfCountMagnitude + 1)
	subBucketIdx := int(v >> uint(bucketIdx))
	return (bucketIdx+1)<<subBucketHalfCountMagnitude + (subBucketIdx - subBucketHalfCount)
}

func indexBucket(idx int) (bucketIdx, subBucketIdx int) {
	bucketIdx = (idx >> subBucketHalfCountMagnitude) - 1
	subBucketIdx = (idx & (subBucketHalfCount - 1)) + subBucketHalfCount
	if bucketIdx < 0 {
		subBucketIdx -= subBucketHalfCount
		bucketIdx = 0
	}
	return bucketIdx, subBucketIdx
}

// lowestEquivalent is the smallest value that lands in counter idx.
func lowestEquivalent(idx int) int64 {
	b, s := indexBucket(idx)
	return int64(s) << uint(b)
}

// highestEquivalent is the largest value that lands in counter idx; HDR
// reports percentiles as this value so a reported p99 is never below the
// true one.
func highestEquivalent(idx int) int64 {
	b, _ := indexBucket(idx)
	return lowestEquivalent(idx) + (int64(1) << uint(b)) - 1
}

// Record adds one value in microseconds. Values below 1 µs count as 1 µs,
// values above 60 s count as 60 s (and are tallied as saturated).
func (h *Histogram) Record(us int64) { h.RecordN(us, 1) }

// RecordDuration adds one duration.
func (h *Histogram) RecordDuration(d time.Duration) { h.RecordN(d.Microseconds(), 1) }

// RecordN adds n occurrences of a value in microseconds.
func (h *Histogram) RecordN(us, n int64) {
	if n <= 0 {
		return
	}
	if us < Lowest {
		us = Lowest
	}
	if us > Highest {
		us = Highest
		h.saturated += n
	}
	idx := countsIndex(us)
	h.counts[idx] += n
	h.total += n
	h.sum += float64(us) * float64(n)
	if us < h.min {
		h.min = us
	}
	if us > h.max {
		h.max = us
	}
	if idx < h.nonZeroMin {
		h.nonZeroMin = idx
	}
	if idx > h.nonZeroMax {
		h.nonZeroMax = idx
	}
}

// Merge adds every sample of o into h. The result is exactly the histogram
// that would have recorded both sample sets.
func (h *Histogram) Merge(o *Histogram) {
	if o == nil || o.total == 0 {
		return
	}
	for i := o.nonZeroMin; i <= o.nonZeroMax; i++ {
		h.counts[i] += o.counts[i]
	}
	h.total += o.total
	h.sum += o.sum
	h.saturated += o.saturated
	h.min = min(h.min, o.min)
	h.max = max(h.max, o.max)
	h.nonZeroMin = min(h.nonZeroMin, o.nonZeroMin)
	h.nonZeroMax = max(h.nonZeroMax, o.nonZeroMax)
}

// Reset empties h for reuse without allocating.
func (h *Histogram) Reset() {
	if h.nonZeroMax >= 0 {
		clear(h.counts[h.nonZeroMin : h.nonZeroMax+1])
	}
	h.total, h.sum, h.saturated, h.max = 0, 0, 0, 0
	h.min = math.MaxInt64
	h.nonZeroMin, h.nonZeroMax = CountsLen, -1
}

// Clone returns an independent copy.
func (h *Histogram) Clone() *Histogram {
	c := New()
	c.Merge(h)
	return c
}

// Count is the number of recorded values.
func (h *Histogram) Count() int64 { return h.total }

// Saturated is how many values were above 60 s and clamped.
func (h *Histogram) Saturated() int64 { return h.saturated }

// Min is the smallest recorded value (exact), 0 when empty.
func (h *Histogram) Min() int64 {
	if h.total == 0 {
		return 0
	}
	return h.min
}

// Max is the largest recorded value (exact), 0 when empty.
func (h *Histogram) Max() int64 { return h.max }

// Mean is the exact arithmetic mean of recorded values.
func (h *Histogram) Mean() float64 {
	if h.total == 0 {
		return 0
	}
	return h.sum / float64(h.total)
}

// Sum is the exact sum of recorded values in microseconds.
func (h *Histogram) Sum() float64 { return h.sum }

// Quantile returns the value at quantile q (0..1) in microseconds, as HDR
// does: the highest value equivalent to the bucket holding the q-th sample,
// capped at the exact maximum.
func (h *Histogram) Quantile(q float64) int64 {
	if h.total == 0 {
		return 0
	}
	q = min(max(q, 0), 1)
	want := int64(q*float64(h.total) + 0.5)
	if want < 1 {
		want = 1
	}
	var seen int64
	for i := h.nonZeroMin; i <= h.nonZeroMax; i++ {
		seen += h.counts[i]
		if seen >= want {
			return min(highestEquivalent(i), h.max)
		}
	}
	return h.max
}

// QuantileDuration is Quantile as a time.Duration.
func (h *Histogram) QuantileDuration(q float64) time.Duration {
	return time.Duration(h.Quantile(q)) * time.Microsecond
}

// Bucket is one non-empty counter: every value in [Low, High] µs.
type Bucket struct {
	Low, High int64
	Count     int64
}

// Buckets lists the non-empty counters in ascending order.
func (h *Histogram) Buckets() []Bucket {
	var out []Bucket
	for i := h.nonZeroMin; i <= h.nonZeroMax; i++ {
		if c := h.counts[i]; c != 0 {
			out = append(out, Bucket{Low: lowestEquivalent(i), High: highestEquivalent(i), Count: c})
		}
	}
	return out
}

// Equal reports whether two histograms hold the same samples.
func (h *Histogram) Equal(o *Histogram) bool {
	if h.total != o.total || h.min != o.min || h.max != o.max || h.saturated != o.saturated {
		return false
	}
	for i := range h.counts {
		if h.counts[i] != o.counts[i] {
			return false
		}
	}
	return true
}

// Encoding: a compact sparse form for the wire and for storage. Only
// non-empty counters are written, as (index delta, count) varint pairs, so a
// typical one-second histogram is a few hundred bytes, not 139 KB.
const encodingVersion = 1

// MarshalBinary encodes h in the sparse form.
func (h *Histogram) MarshalBinary() ([]byte, error) { return h.AppendBinary(nil), nil }

// AppendBinary appends the sparse encoding of h to b.
func (h *Histogram) AppendBinary(b []byte) []byte {
	b = append(b, encodingVersion)
	b = binary.AppendUvarint(b, uint64(h.total))
	b = binary.AppendUvarint(b, uint64(h.Min()))
	b = binary.AppendUvarint(b, uint64(h.max))
	b = binary.AppendUvarint(b, math.Float64bits(h.sum))
	b = binary.AppendUvarint(b, uint64(h.saturated))
	prev := -1
	for i := h.nonZeroMin; i <= h.nonZeroMax; i++ {
		if c := h.counts[i]; c != 0 {
			b = binary.AppendUvarint(b, uint64(i-prev))
			b = binary.AppendUvarint(b, uint64(c))
			prev = i
		}
	}
	return b
}

// ErrCorrupt is returned for an encoding that cannot be decoded.
var ErrCorrupt = errors.New("histogram: corrupt encoding")

// UnmarshalBinary decodes the sparse form into h (which is reset first). It
// validates everything, since encodings arrive from the network.
func (h *Histogram) UnmarshalBinary(b []byte) error {
	if h.counts == nil {
		*h = *New()
	} else {
		h.Reset()
	}
	if len(b) == 0 || b[0] != encodingVersion {
		return fmt.Errorf("%w: unknown version", ErrCorrupt)
	}
	b = b[1:]
	next := func() (uint64, error) {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, fmt.Errorf("%w: truncated", ErrCorrupt)
		}
		b = b[n:]
		return v, nil
	}
	var hdr [5]uint64
	for i := range hdr {
		v, err := next()
		if err != nil {
			return err
		}
		hdr[i] = v
	}
	total, mn, mx, sumBits, sat := hdr[0], hdr[1], hdr[2], hdr[3], hdr[4]
	var seen uint64
	idx := -1
	for len(b) > 0 {
		d, err := next()
		if err != nil {
			return err
		}
		c, err := next()
		if err != nil {
			return err
		}
		if d == 0 || d > CountsLen || c == 0 || c > math.MaxInt64/2 {
			return fmt.Errorf("%w: bad counter", ErrCorrupt)
		}
		idx += int(d)
		if idx >= CountsLen {
			return fmt.Errorf("%w: index out of range", ErrCorrupt)
		}
		h.counts[idx] = int64(c)
		h.nonZeroMin = min(h.nonZeroMin, idx)
		h.nonZeroMax = idx
		seen += c
		if seen > math.MaxInt64/2 {
			return fmt.Errorf("%w: count overflow", ErrCorrupt)
		}
	}
	if seen != total || sat > total || (total > 0 && (mn < Lowest || mx > Highest || mn > mx)) {
		h.Reset()
		return fmt.Errorf("%w: header does not match counters", ErrCorrupt)
	}
	if total > 0 && (countsIndex(int64(mn)) != h.nonZeroMin || countsIndex(int64(mx)) != h.nonZeroMax) {
		h.Reset()
		return fmt.Errorf("%w: min/max outside counters", ErrCorrupt)
	}
	h.total = int64(total)
	if total > 0 {
		h.min, h.max = int64(mn), int64(mx)
	}
	h.sum = math.Float64frombits(sumBits)
	h.saturated = int64(sat)
	return nil
}
