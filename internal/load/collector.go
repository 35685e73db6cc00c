package load

import (
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/brinkhq/brink/internal/histogram"
	"github.com/brinkhq/brink/internal/results"
)

// Collector gathers per-request measurements into one results.Second per
// wall-clock second. VUs record into a few mutex-guarded shards (one per
// processor, chosen by VU id) rather than into per-VU histograms, so 10,000
// VUs cost a few megabytes, not 10,000 × 139 KB; each second every shard is
// merged into the Second and reset in place, so memory stays flat however
// long a run lasts, and a request name costs one histogram pair per shard.
type Collector struct {
	names  []string // request name by index
	shards []collectorShard

	vus        atomic.Int64
	iterations atomic.Int64
	dropped    atomic.Int64
	targetRate []atomic.Uint64 // float64 bits, per scenario

	// Run totals not in results.Second, guarded by snapMu.
	jitterTotal  *histogram.Histogram
	jitterSecond *histogram.Histogram // scratch: the second being snapshot
	jitterP99    []JitterSecond
	snapMu       sync.Mutex
}

// JitterSecond is how late the open model started the iterations of one
// second: the p99 of send time minus scheduled time. The analysis reads it
// beside the load to tell a generator that fell behind its schedule from a
// slow target.
type JitterSecond struct {
	T   int64 // unix second
	P99 time.Duration
}

type collectorShard struct {
	mu   sync.Mutex
	data *shardData
	_    [48]byte // keep neighbouring shards' locks off one cache line
}

type shardData struct {
	stats  []*results.Stats // by name index; nil until the name is recorded
	jitter *histogram.Histogram
}

func newShardData(names int) *shardData {
	return &shardData{stats: make([]*results.Stats, names), jitter: histogram.New()}
}

// NewCollector returns a collector for the given request names and number
// of scenarios (each reports its own target rate).
func NewCollector(names []string, scenarios int) *Collector {
	n := min(max(runtime.GOMAXPROCS(0), 1), 8)
	c := &Collector{
		names:        names,
		shards:       make([]collectorShard, n),
		targetRate:   make([]atomic.Uint64, scenarios),
		jitterTotal:  histogram.New(),
		jitterSecond: histogram.New(),
	}
	for i := range c.shards {
		c.shards[i].data = newShardData(len(names))
	}
	return c
}

// Shards is the number of shards; Recorders should spread over them.
func (c *Collector) Shards() int { return len(c.shards) }

// Sample is one finished request.
type Sample struct {
	Name     int // index into the collector's names
	Latency  time.Duration
	TTFB     time.Duration // zero when no byte arrived
	BytesIn  int64
	BytesOut int64
	Failed   bool
	Kind     results.FailureKind // when Failed
}

// Record adds one request to the current second, on shard (a VU's id).
func (c *Collector) Record(shard int, s *Sample) {
	sh := &c.shards[shard%len(c.shards)]
	sh.mu.Lock()
	st := sh.data.stats[s.Name]
	if st == nil {
		st = results.NewStats()
		sh.data.stats[s.Name] = st
	}
	st.Requests++
	if s.Failed {
		st.Failures[s.Kind]++
	}
	st.BytesIn += s.BytesIn
	st.BytesOut += s.BytesOut
	st.Latency.RecordN(s.Latency.Microseconds(), 1)
	if s.TTFB > 0 {
		st.TTFB.RecordN(s.TTFB.Microseconds(), 1)
	}
	sh.mu.Unlock()
}

// RecordJitter adds one open-model send delay: how late an iteration
// started after its scheduled time.
func (c *Collector) RecordJitter(shard int, d time.Duration) {
	sh := &c.shards[shard%len(c.shards)]
	sh.mu.Lock()
	sh.data.jitter.RecordN(d.Microseconds(), 1)
	sh.mu.Unlock()
}

// AddVUs changes the number of active VUs.
func (c *Collector) AddVUs(delta int) { c.vus.Add(int64(delta)) }

// VUs is the number of active VUs now.
func (c *Collector) VUs() int { return int(c.vus.Load()) }

// IterationDone counts one finished iteration.
func (c *Collector) IterationDone() { c.iterations.Add(1) }

// Dropped counts iterations the open model could not start.
func (c *Collector) Dropped(n int64) { c.dropped.Add(n) }

// SetTargetRate sets scenario's scheduled iterations per second.
func (c *Collector) SetTargetRate(scenario int, perSecond float64) {
	c.targetRate[scenario].Store(math.Float64bits(perSecond))
}

// Snapshot takes everything recorded since the previous snapshot as the
// second starting at unix time t.
func (c *Collector) Snapshot(t int64) *results.Second {
	c.snapMu.Lock()
	defer c.snapMu.Unlock()
	sec := results.NewSecond(t)
	sec.VUs = c.VUs()
	for i := range c.targetRate {
		sec.TargetRate += math.Float64frombits(c.targetRate[i].Load())
	}
	sec.Iterations = c.iterations.Swap(0)
	sec.Dropped = c.dropped.Swap(0)
	c.jitterSecond.Reset()
	for i := range c.shards {
		// Merging costs the span of occupied buckets, microseconds: VUs on
		// this shard wait that long once a second.
		sh := &c.shards[i]
		sh.mu.Lock()
		for name, st := range sh.data.stats {
			if st != nil && st.Requests > 0 {
				sec.Stats(c.names[name]).Merge(st)
				st.Reset()
			}
		}
		c.jitterSecond.Merge(sh.data.jitter)
		sh.data.jitter.Reset()
		sh.mu.Unlock()
	}
	if c.jitterSecond.Count() > 0 {
		c.jitterTotal.Merge(c.jitterSecond)
		// One small entry per second of an open-model run: a day is 1.4 MB.
		c.jitterP99 = append(c.jitterP99, JitterSecond{T: t, P99: c.jitterSecond.QuantileDuration(0.99)})
	}
	return sec
}

// JitterBySecond is the open model's send-time lateness per second so far,
// for the seconds in which iterations started (none for a closed model).
func (c *Collector) JitterBySecond() []JitterSecond {
	c.snapMu.Lock()
	defer c.snapMu.Unlock()
	return slices.Clone(c.jitterP99)
}

// Jitter is the open-model send delay over the whole run so far.
func (c *Collector) Jitter() *histogram.Histogram {
	c.snapMu.Lock()
	defer c.snapMu.Unlock()
	return c.jitterTotal.Clone()
}
