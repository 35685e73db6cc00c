package agent

import (
	"sync"
	"time"
)

// clockEstimator estimates (hub clock - agent clock) from heartbeats, the
// way NTP does: each round trip gives offset = hub - (sent+received)/2,
// whose error is at most half the round trip, so the sample with the
// shortest round trip among the recent ones is the one to trust.
type clockEstimator struct {
	mu      sync.Mutex
	samples [16]clockSample
	n       int
	next    int
	// hinted is a rough offset from a command's timestamp, used until the
	// first heartbeat has come back.
	hinted    int64
	hasHinted bool
}

type clockSample struct {
	rtt, offset int64
}

func (c *clockEstimator) add(sent, received time.Time, hubNs int64) {
	if hubNs == 0 {
		return
	}
	rtt := received.Sub(sent).Nanoseconds()
	mid := sent.UnixNano() + rtt/2
	c.mu.Lock()
	c.samples[c.next] = clockSample{rtt: rtt, offset: hubNs - mid}
	c.next = (c.next + 1) % len(c.samples)
	c.n = min(c.n+1, len(c.samples))
	c.mu.Unlock()
}

func (c *clockEstimator) hint(hubNs int64) {
	if hubNs == 0 {
		return
	}
	c.mu.Lock()
	if !c.hasHinted {
		c.hinted, c.hasHinted = hubNs-time.Now().UnixNano(), true
	}
	c.mu.Unlock()
}

// uncertainty is how far offset may be off: half the shortest round trip
// (0 before any sample).
func (c *clockEstimator) uncertainty() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == 0 {
		return 0
	}
	best := c.samples[0].rtt
	for _, s := range c.samples[1:c.n] {
		best = min(best, s.rtt)
	}
	return best / 2
}

// offset is the best estimate in ns; 0 before any sample.
func (c *clockEstimator) offset() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == 0 {
		return c.hinted
	}
	best := c.samples[0]
	for _, s := range c.samples[1:c.n] {
		if s.rtt < best.rtt {
			best = s
		}
	}
	return best.offset
}
