package hub

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/brinkhq/brink/internal/store"
	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/model/labels"
	"google.golang.org/protobuf/encoding/protowire"
)

// The remote-write hot path. A fleet sends the same series every second, so
// instead of unmarshalling every label into fresh strings (which made the
// garbage collector the hub's main cost), the request is walked in place
// and each series is looked up by the raw bytes of its labels in a cache
// that holds the parsed, validated labels and the store's series ref.
// decodeWriteRequest (prompb) stays as the reference this decoder is
// fuzzed against.

// rwSample is one float sample.
type rwSample struct {
	t int64
	v float64
}

// seriesCacheBound is the size of one cache generation: room for a fleet
// of a quarter million series before entries start moving between
// generations, at roughly 450 bytes per entry.
const seriesCacheBound = 256 << 10

// seriesEntry is a known series: its labels and the store's ref for it.
type seriesEntry struct {
	labels labels.Labels
	ref    atomic.Uint64
}

// seriesCache maps raw label bytes to entries. It is generational: when the
// current map has grown past the bound it becomes the previous one, and
// entries not used since are dropped at the next turn, so containers that
// went away do not pin memory.
type seriesCache struct {
	mu        sync.Mutex
	cur, prev map[string]*seriesEntry
	bound     int
}

func newSeriesCache(bound int) *seriesCache {
	return &seriesCache{cur: map[string]*seriesEntry{}, prev: map[string]*seriesEntry{}, bound: bound}
}

func (c *seriesCache) get(key []byte) *seriesEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.cur[string(key)]; e != nil {
		return e
	}
	if e := c.prev[string(key)]; e != nil {
		c.putLocked(string(key), e)
		return e
	}
	return nil
}

func (c *seriesCache) put(key []byte, e *seriesEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.putLocked(string(key), e)
}

func (c *seriesCache) putLocked(key string, e *seriesEntry) {
	if len(c.cur) >= c.bound {
		c.prev, c.cur = c.cur, make(map[string]*seriesEntry, len(c.cur))
	}
	c.cur[key] = e
}

// rwBatch is a decoded request: every series resolved and validated, ready
// to append. Its buffers are reused across requests.
type rwBatch struct {
	body    bytes.Buffer
	raw     []byte
	entries []*seriesEntry
	ends    []int // samples[ends[i-1]:ends[i]] belong to entries[i]
	samples []rwSample
	// scratch for one series
	key    []byte
	names  [][]byte
	values [][]byte
}

var rwBatchPool = sync.Pool{New: func() any { return &rwBatch{} }}

func (b *rwBatch) reset() {
	clear(b.entries)
	b.entries, b.ends, b.samples = b.entries[:0], b.ends[:0], b.samples[:0]
}

var errRemoteWrite = errors.New("body is not a remote-write 1.0 WriteRequest")

// unsnappy decompresses body into b.raw, refusing before allocating when
// the announced size is over the limit.
func (b *rwBatch) unsnappy(body []byte, maxBytes int64) error {
	n, err := snappy.DecodedLen(body)
	if err != nil {
		return fmt.Errorf("body is not snappy-compressed (block format): %w", err)
	}
	if int64(n) > maxBytes {
		return fmt.Errorf("%w: %d bytes decompressed, limit %d (remote_write.max_body_bytes)", errTooLarge, n, maxBytes)
	}
	if cap(b.raw) < n {
		b.raw = make([]byte, n)
	}
	if b.raw, err = snappy.Decode(b.raw[:cap(b.raw)], body); err != nil {
		return fmt.Errorf("body is not snappy-compressed (block format): %w", err)
	}
	return nil
}

func protoErr(what string, n int) error {
	return fmt.Errorf("%w: %s: %v", errRemoteWrite, what, protowire.ParseError(n))
}

// decode walks a serialized prometheus.WriteRequest. Only timeseries
// (field 1) matter; metadata and unknown fields are skipped. Exemplars and
// native histograms in a series are skipped as well.
func (b *rwBatch) decode(msg []byte, cache *seriesCache) error {
	b.reset()
	for i := 0; len(msg) > 0; {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return protoErr("request field", n)
		}
		msg = msg[n:]
		if num == 1 {
			if typ != protowire.BytesType {
				return fmt.Errorf("%w: timeseries field has wire type %d", errRemoteWrite, typ)
			}
			ts, n := protowire.ConsumeBytes(msg)
			if n < 0 {
				return protoErr("timeseries", n)
			}
			msg = msg[n:]
			if err := b.series(ts, cache); err != nil {
				return fmt.Errorf("series %d: %w", i, err)
			}
			i++
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, msg)
		if n < 0 {
			return protoErr("request field", n)
		}
		msg = msg[n:]
	}
	return nil
}

func (b *rwBatch) series(msg []byte, cache *seriesCache) error {
	b.key, b.names, b.values = b.key[:0], b.names[:0], b.values[:0]
	first := len(b.samples)
	for len(msg) > 0 {
		start := msg
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return protoErr("series field", n)
		}
		msg = msg[n:]
		switch num {
		case 1, 2:
			if typ != protowire.BytesType {
				return fmt.Errorf("%w: series field %d has wire type %d", errRemoteWrite, num, typ)
			}
			sub, n := protowire.ConsumeBytes(msg)
			if n < 0 {
				return protoErr("series field", n)
			}
			msg = msg[n:]
			if num == 1 {
				b.key = append(b.key, start[:len(start)-len(msg)]...)
				if err := b.label(sub); err != nil {
					return err
				}
			} else if err := b.sample(sub); err != nil {
				return err
			}
		default:
			n = protowire.ConsumeFieldValue(num, typ, msg)
			if n < 0 {
				return protoErr("series field", n)
			}
			msg = msg[n:]
		}
	}
	e := cache.get(b.key)
	if e == nil {
		ls, err := b.buildLabels()
		if err != nil {
			return err
		}
		e = &seriesEntry{labels: ls}
		cache.put(b.key, e)
	}
	if len(b.samples) > first {
		b.entries = append(b.entries, e)
		b.ends = append(b.ends, len(b.samples))
	}
	return nil
}

func (b *rwBatch) label(msg []byte) error {
	var name, value []byte
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return protoErr("label", n)
		}
		msg = msg[n:]
		if num == 1 || num == 2 {
			if typ != protowire.BytesType {
				return fmt.Errorf("%w: label field %d has wire type %d", errRemoteWrite, num, typ)
			}
			v, n := protowire.ConsumeBytes(msg)
			if n < 0 {
				return protoErr("label", n)
			}
			msg = msg[n:]
			if num == 1 {
				name = v
			} else {
				value = v
			}
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, msg)
		if n < 0 {
			return protoErr("label", n)
		}
		msg = msg[n:]
	}
	b.names = append(b.names, name)
	b.values = append(b.values, value)
	return nil
}

func (b *rwBatch) sample(msg []byte) error {
	var s rwSample
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return protoErr("sample", n)
		}
		msg = msg[n:]
		switch {
		case num == 1 && typ == protowire.Fixed64Type:
			v, n := protowire.ConsumeFixed64(msg)
			if n < 0 {
				return protoErr("sample value", n)
			}
			s.v, msg = math.Float64frombits(v), msg[n:]
		case num == 2 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(msg)
			if n < 0 {
				return protoErr("sample timestamp", n)
			}
			s.t, msg = int64(v), msg[n:]
		case num == 1 || num == 2:
			return fmt.Errorf("%w: sample field %d has wire type %d", errRemoteWrite, num, typ)
		default:
			n = protowire.ConsumeFieldValue(num, typ, msg)
			if n < 0 {
				return protoErr("sample", n)
			}
			msg = msg[n:]
		}
	}
	b.samples = append(b.samples, s)
	return nil
}

// buildLabels validates the scratch labels (sorted, unique, valid UTF-8,
// with a metric name) and copies them into labels.Labels. Labels with an
// empty value are dropped: in Prometheus an empty value means "no label".
func (b *rwBatch) buildLabels() (labels.Labels, error) {
	if len(b.names) == 0 {
		return labels.EmptyLabels(), errors.New("no labels")
	}
	var sb labels.ScratchBuilder
	hasName := false
	for i, name := range b.names {
		value := b.values[i]
		if len(name) == 0 || !utf8.Valid(name) || !utf8.Valid(value) {
			return labels.EmptyLabels(), fmt.Errorf("label %d: empty name or invalid UTF-8", i)
		}
		if i > 0 && string(b.names[i-1]) >= string(name) {
			return labels.EmptyLabels(), fmt.Errorf("labels not sorted by name or %q repeated", name)
		}
		if string(name) == labels.MetricName {
			hasName = len(value) > 0
		}
		if len(value) > 0 {
			sb.Add(string(name), string(value))
		}
	}
	if !hasName {
		return labels.EmptyLabels(), errors.New("no metric name (__name__)")
	}
	return sb.Labels(), nil
}

// appendTo writes the batch. Refused samples are counted by reason and
// skipped; any other store error stops the batch.
func (b *rwBatch) appendTo(app store.Appender, rejected map[string]int) (int64, error) {
	var appended int64
	start := 0
	for i, e := range b.entries {
		ref := store.SeriesRef(e.ref.Load())
		for _, s := range b.samples[start:b.ends[i]] {
			next, err := app.Append(ref, e.labels, s.t, s.v)
			if err != nil {
				if reason := store.RejectionReason(err); reason != "" {
					rejected[reason]++
					continue
				}
				return appended, err
			}
			ref = next
			appended++
		}
		if ref != 0 {
			e.ref.Store(uint64(ref))
		}
		start = b.ends[i]
	}
	return appended, nil
}
