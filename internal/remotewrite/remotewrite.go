// Package remotewrite is a Prometheus remote-write 1.0 client that does not
// lose data when its receiver is down.
//
// Requests are sent one at a time, in the order they were queued, because
// receivers reject samples older than ones they already hold. When a send
// fails, the request in flight and everything queued behind it are written
// to a buffer directory, one file per request, and resent in order once
// the receiver answers again. The buffer is bounded: when it is full the
// oldest requests are dropped and counted. Requests still buffered when
// the process stops are sent after the next start.
package remotewrite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
)

// Config configures a Client.
type Config struct {
	// URL is the receiver's endpoint (http://hub:9339/api/v1/write).
	URL string
	// TokenFile holds a bearer token sent as "Authorization: Bearer
	// <token>". It is read before every request, so it can be rotated.
	TokenFile string
	// Token is a bearer token given directly (from an environment
	// variable); TokenFile wins when both are set.
	Token string
	// BufferDir is where requests wait while the receiver is down. Empty
	// keeps them in memory only (lost when the process stops).
	BufferDir string
	// BufferMaxBytes bounds the waiting requests (default 256 MiB).
	BufferMaxBytes int64
	// Timeout bounds one request (default 10 s).
	Timeout time.Duration
	// MinBackoff is the first wait after a failed send (default 100 ms);
	// it doubles with every failure up to MaxBackoff (default 5 s).
	MinBackoff, MaxBackoff time.Duration
	// FlushTimeout is how long Run keeps sending after its context ends
	// before it leaves the rest in BufferDir (default 2 s).
	FlushTimeout time.Duration
	// UserAgent is sent with every request.
	UserAgent  string
	HTTPClient *http.Client
	Logger     *slog.Logger
}

// DefaultBufferMaxBytes is the default bound of the buffer.
const DefaultBufferMaxBytes = 256 << 20

// memoryQueue is how many requests may wait in memory while the receiver
// is healthy; more than that means it is slow, and they go to disk.
const memoryQueue = 2

// item is one request: a snappy-compressed WriteRequest.
type item struct {
	seq     uint64
	samples int
	size    int64
	body    []byte // nil while only on disk
	file    string // "" while only in memory
}

// Client sends remote-write requests in order, buffering through outages.
type Client struct {
	cfg Config

	mu    sync.Mutex
	queue []*item // waiting, oldest first
	// inflight is the request being sent; it returns to the queue's head
	// if the send fails.
	inflight *item
	nextSeq  uint64
	healthy  bool
	stats    Stats
	wake     chan struct{}
}

// Stats are the client's counters, exported as brink_monitor_remote_write_*.
type Stats struct {
	RequestsSent    uint64
	SamplesSent     uint64
	SendFailures    uint64 // attempts that failed and will be retried
	SamplesDropped  uint64 // dropped because the buffer was full
	SamplesRejected uint64 // the receiver refused them (4xx); resending would not help
	PendingRequests int
	PendingSamples  int
	PendingBytes    int64
	LastSuccess     time.Time
	Healthy         bool
}

// New checks cfg, creates BufferDir and picks up requests left there by a
// previous run.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("remote-write URL %q: want http(s)://host:port/path, e.g. http://127.0.0.1:9339/api/v1/write", cfg.URL)
	}
	if cfg.BufferMaxBytes <= 0 {
		cfg.BufferMaxBytes = DefaultBufferMaxBytes
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 100 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 5 * time.Second
	}
	cfg.MaxBackoff = max(cfg.MaxBackoff, cfg.MinBackoff)
	if cfg.FlushTimeout <= 0 {
		cfg.FlushTimeout = 2 * time.Second
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "brink-monitor"
	}
	if cfg.TokenFile != "" {
		if _, err := readToken(cfg.TokenFile); err != nil {
			return nil, err
		}
	}
	c := &Client{cfg: cfg, healthy: true, wake: make(chan struct{}, 1), nextSeq: 1}
	if cfg.BufferDir != "" {
		if err := os.MkdirAll(cfg.BufferDir, 0o700); err != nil {
			return nil, fmt.Errorf("remote-write buffer directory: %w", err)
		}
		if err := c.recover(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func readToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("remote-write token file: %w", err)
	}
	t := strings.TrimSpace(string(b))
	if t == "" {
		return "", fmt.Errorf("remote-write token file %s is empty", path)
	}
	return t, nil
}

// fileName is "<seq>-<samples>.rw": the name alone orders the buffer and
// says how many samples a dropped file held.
func fileName(seq uint64, samples int) string {
	return fmt.Sprintf("%020d-%d.rw", seq, samples)
}

func parseFileName(name string) (seq uint64, samples int, ok bool) {
	base, found := strings.CutSuffix(name, ".rw")
	if !found {
		return 0, 0, false
	}
	s, n, found := strings.Cut(base, "-")
	if !found {
		return 0, 0, false
	}
	seq, err1 := strconv.ParseUint(s, 10, 64)
	samples, err2 := strconv.Atoi(n)
	return seq, samples, err1 == nil && err2 == nil && seq > 0
}

// recover queues the requests a previous run left in BufferDir.
func (c *Client) recover() error {
	entries, err := os.ReadDir(c.cfg.BufferDir)
	if err != nil {
		return fmt.Errorf("remote-write buffer directory: %w", err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			os.Remove(filepath.Join(c.cfg.BufferDir, e.Name()))
			continue
		}
		seq, samples, ok := parseFileName(e.Name())
		if !ok {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		c.queue = append(c.queue, &item{seq: seq, samples: samples, size: fi.Size(), file: filepath.Join(c.cfg.BufferDir, e.Name())})
		c.nextSeq = max(c.nextSeq, seq+1)
	}
	sort.Slice(c.queue, func(i, j int) bool { return c.queue[i].seq < c.queue[j].seq })
	if len(c.queue) > 0 {
		c.healthy = false
		c.cfg.Logger.Info("remote write: resending requests buffered by a previous run", "requests", len(c.queue), "dir", c.cfg.BufferDir)
		c.enforceBoundLocked()
	}
	return nil
}

// Encode marshals req and compresses it as remote write wants it. buf is
// scratch space for the protobuf encoding, returned for reuse.
func Encode(req *prompb.WriteRequest, buf []byte) (body, scratch []byte, err error) {
	size := req.Size()
	if cap(buf) < size {
		buf = make([]byte, size)
	}
	buf = buf[:size]
	n, err := req.MarshalToSizedBuffer(buf)
	if err != nil {
		return nil, buf, fmt.Errorf("encoding write request: %w", err)
	}
	return snappy.Encode(nil, buf[size-n:]), buf, nil
}

// Enqueue queues one request (a snappy-compressed WriteRequest holding
// samples samples). It never blocks on the network; the client owns body.
func (c *Client) Enqueue(body []byte, samples int) {
	c.mu.Lock()
	it := &item{seq: c.nextSeq, samples: samples, size: int64(len(body)), body: body}
	c.nextSeq++
	c.queue = append(c.queue, it)
	if !c.healthy || len(c.queue) > memoryQueue {
		c.spillLocked()
	}
	c.enforceBoundLocked()
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// spillLocked writes every queued request that is only in memory to the
// buffer directory.
func (c *Client) spillLocked() {
	if c.cfg.BufferDir == "" {
		return
	}
	for _, it := range c.queue {
		c.persistLocked(it)
	}
}

// persistLocked writes it to the buffer directory (once) and frees its body.
func (c *Client) persistLocked(it *item) {
	if c.cfg.BufferDir == "" || it.file != "" || it.body == nil {
		return
	}
	path := filepath.Join(c.cfg.BufferDir, fileName(it.seq, it.samples))
	if err := writeFile(path, it.body); err != nil {
		c.cfg.Logger.Error("remote write: cannot buffer request on disk; keeping it in memory", "err", err)
		return
	}
	it.file = path
	it.body = nil
}

// writeFile writes body to path through a temporary file and a rename, so
// a crash never leaves a partial request under a name that is resent. It
// does not fsync: spilling runs on the tick's path, and the buffer has to
// survive the monitor's crashes and restarts, which the page cache does.
func writeFile(path string, body []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// enforceBoundLocked drops the oldest waiting requests while the buffer
// holds more than BufferMaxBytes.
func (c *Client) enforceBoundLocked() {
	total := int64(0)
	for _, it := range c.queue {
		total += it.size
	}
	if c.inflight != nil {
		total += c.inflight.size
	}
	dropped, samples := 0, 0
	for total > c.cfg.BufferMaxBytes && len(c.queue) > 0 {
		it := c.queue[0]
		c.queue = c.queue[1:]
		total -= it.size
		c.removeLocked(it)
		dropped++
		samples += it.samples
	}
	if dropped > 0 {
		c.stats.SamplesDropped += uint64(samples)
		c.cfg.Logger.Warn("remote write: buffer full, dropped the oldest requests", "requests", dropped, "samples", samples, "max_bytes", c.cfg.BufferMaxBytes)
	}
}

func (c *Client) removeLocked(it *item) {
	if it.file != "" {
		os.Remove(it.file)
		it.file = ""
	}
	it.body = nil
}

// Stats returns the current counters.
func (c *Client) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Healthy = c.healthy
	for _, it := range c.queue {
		s.PendingRequests++
		s.PendingSamples += it.samples
		s.PendingBytes += it.size
	}
	if c.inflight != nil {
		s.PendingRequests++
		s.PendingSamples += c.inflight.samples
		s.PendingBytes += c.inflight.size
	}
	return s
}

// Run sends queued requests until ctx ends, then keeps sending for up to
// FlushTimeout (a request in flight may finish, a healthy receiver gets
// the rest) and leaves whatever is left in BufferDir.
func (c *Client) Run(ctx context.Context) error {
	sendCtx, cancelSend := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelSend()
	go func() {
		select {
		case <-ctx.Done():
		case <-sendCtx.Done():
			return
		}
		t := time.NewTimer(c.cfg.FlushTimeout)
		defer t.Stop()
		select {
		case <-t.C:
			cancelSend()
		case <-sendCtx.Done():
		}
	}()
	c.loop(ctx, sendCtx, false)
	c.mu.Lock()
	healthy := c.healthy
	c.mu.Unlock()
	if healthy {
		c.loop(sendCtx, sendCtx, true)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.spillLocked()
	if n := len(c.queue); n > 0 && c.cfg.BufferDir != "" {
		c.cfg.Logger.Info("remote write: requests left in the buffer for the next start", "requests", n, "dir", c.cfg.BufferDir)
	}
	return ctx.Err()
}

// loop sends until ctx ends; each request runs under sendCtx. With drain
// (the final flush) it also returns as soon as the queue is empty or a
// send fails.
func (c *Client) loop(ctx, sendCtx context.Context, drain bool) {
	backoff := c.cfg.MinBackoff
	for ctx.Err() == nil {
		it := c.next()
		if it == nil {
			if drain {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-c.wake:
			}
			continue
		}
		retry, err := c.send(sendCtx, it)
		c.mu.Lock()
		c.inflight = nil
		switch {
		case err == nil:
			c.stats.RequestsSent++
			c.stats.SamplesSent += uint64(it.samples)
			c.stats.LastSuccess = time.Now()
			c.removeLocked(it)
			if !c.healthy {
				c.cfg.Logger.Info("remote write: receiver answers again", "url", c.cfg.URL, "pending", len(c.queue))
			}
			c.healthy = true
			backoff = c.cfg.MinBackoff
		case !retry:
			c.stats.SamplesRejected += uint64(it.samples)
			c.removeLocked(it)
			c.cfg.Logger.Error("remote write: receiver rejected a request; dropped", "samples", it.samples, "err", err)
		default:
			if c.healthy || c.stats.SendFailures%30 == 0 {
				c.cfg.Logger.Warn("remote write: send failed; buffering and retrying", "url", c.cfg.URL, "err", err, "pending", len(c.queue)+1)
			}
			c.stats.SendFailures++
			c.healthy = false
			// Back to the head of the queue: it is sent first once the
			// receiver answers, and is the first dropped if the buffer
			// fills meanwhile.
			c.queue = append([]*item{it}, c.queue...)
			c.spillLocked()
		}
		c.mu.Unlock()
		if err != nil && retry {
			if drain {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, c.cfg.MaxBackoff)
		}
	}
}

// next takes the oldest waiting request.
func (c *Client) next() *item {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.queue) == 0 {
		return nil
	}
	c.inflight = c.queue[0]
	c.queue = c.queue[1:]
	return c.inflight
}

// errRejected marks answers that resending cannot fix.
var errRejected = errors.New("rejected by the receiver")

// send posts one request. retry says whether a failure may succeed later.
func (c *Client) send(ctx context.Context, it *item) (retry bool, err error) {
	c.mu.Lock()
	body, file := it.body, it.file
	c.mu.Unlock()
	if body == nil {
		b, rerr := os.ReadFile(file)
		if rerr != nil {
			return false, fmt.Errorf("reading buffered request: %w", rerr)
		}
		body = b
	}
	rctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, c.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	if c.cfg.TokenFile != "" {
		token, terr := readToken(c.cfg.TokenFile)
		if terr != nil {
			return true, terr
		}
		req.Header.Set("Authorization", "Bearer "+token)
	} else if c.cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.Token)
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return true, err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 == 2 {
		return false, nil
	}
	err = fmt.Errorf("%s answered %s: %s", c.cfg.URL, resp.Status, bytes.TrimSpace(msg))
	switch resp.StatusCode {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity:
		// The request itself is bad: out-of-order or malformed samples, or
		// too large. Resending the same bytes gets the same answer.
		return false, fmt.Errorf("%w: %w", errRejected, err)
	}
	// 5xx, 429, and the answers of a misconfigured or restarting receiver
	// (401, 403, 404): keep the data until it is fixed.
	return true, err
}
