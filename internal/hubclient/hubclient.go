// Package hubclient reports a load-test run to a brink hub while it runs,
// so that a test started on a laptop shows up live in the hub next to the
// target's containers.
//
// Use:
//
//	c := hubclient.New("http://127.0.0.1:9339", os.Getenv("BRINK_HUB_TOKEN"))
//	run := c.StartRun(ctx, hubclient.RunInfo{Name: "checkout", TargetService: "web", Scenario: text})
//	defer run.Close()
//	for s := range seconds { // each results.Second as soon as it is complete
//		run.Push(s)
//	}
//	err := run.Finish(ctx, hubclient.Finish{End: time.Now(), Summary: &summary, ThresholdsOK: ok})
//	// err != nil only means the hub has not received everything: warn, never fail the run.
//
// Nothing here blocks the load engine or fails the run: Push encodes the
// second and queues it; a background sender delivers queued seconds in
// batches, and when the hub is unreachable it keeps them (up to
// MaxBuffered seconds) and resends with backoff. Every second carries a
// sequence number and the run id is chosen here, so a resend after a lost
// answer is recognised by the hub and counted once.
package hubclient

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	brinkv1 "github.com/brinkhq/brink/internal/gen/brink/v1"
	"github.com/brinkhq/brink/internal/gen/brink/v1/brinkv1connect"
	"github.com/brinkhq/brink/internal/hub/wire"
	"github.com/brinkhq/brink/internal/results"
)

// Defaults for a Client.
const (
	DefaultMaxBuffered = 24 * 60 * 60 // one day of seconds
	DefaultBatch       = 60
	maxBackoff         = 5 * time.Second
	minBackoff         = 200 * time.Millisecond
)

// Client talks to one hub.
type Client struct {
	rpc         brinkv1connect.RunServiceClient
	http        *http.Client
	url         string
	maxBuffered int
	batch       int
	source      string
}

// Option changes a Client.
type Option func(*Client)

// WithMaxBuffered bounds the seconds kept while the hub is unreachable;
// beyond it the oldest are dropped (and counted in Status).
func WithMaxBuffered(n int) Option { return func(c *Client) { c.maxBuffered = max(n, 1) } }

// WithSource names this reporter (default: the host name).
func WithSource(s string) Option { return func(c *Client) { c.source = s } }

// WithHTTPClient replaces the HTTP client (default: 10 s timeout per call).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// New returns a client for the hub at url; token may be empty when the
// hub requires none.
func New(url, token string, opts ...Option) *Client {
	url = strings.TrimRight(url, "/")
	c := &Client{url: url, maxBuffered: DefaultMaxBuffered, batch: DefaultBatch,
		http: &http.Client{Timeout: 10 * time.Second}}
	for _, o := range opts {
		o(c)
	}
	if c.source == "" {
		c.source, _ = os.Hostname()
		if c.source == "" {
			c.source = "brink-run"
		}
	}
	c.rpc = newRPC(c.http, url, token)
	return c
}

func newRPC(hc *http.Client, url, token string) brinkv1connect.RunServiceClient {
	auth := connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			if token != "" {
				req.Header().Set("Authorization", "Bearer "+token)
			}
			return next(ctx, req)
		}
	})
	return brinkv1connect.NewRunServiceClient(hc, url, connect.WithInterceptors(auth), connect.WithSendGzip())
}

// RunInfo describes a run at its start.
type RunInfo struct {
	ID            string // empty: chosen here
	Name          string
	Scenario      string
	TargetService string
	Labels        map[string]string
	Start         time.Time // zero: now
}

// Finish is the run's outcome.
type Finish struct {
	End          time.Time // zero: now
	Aborted      bool
	Thresholds   []results.ThresholdResult
	ThresholdsOK bool
	Summary      *results.Summary
}

// Status says how delivery is going, for progress displays.
type Status struct {
	Delivered uint64 // seconds the hub acknowledged
	Pending   int    // seconds queued
	Dropped   int    // seconds dropped because the queue was full
	LastError error  // the last delivery failure, nil once delivery works again
}

// Run reports one run. Its methods are safe for concurrent use.
type Run struct {
	c    *Client
	id   string
	info RunInfo

	mu       sync.Mutex
	queue    []*brinkv1.Second
	nextSeq  uint64
	acked    uint64
	dropped  int
	lastErr  error
	finish   *brinkv1.FinishRunRequest
	finished bool // FinishRun was acknowledged
	wake     chan struct{}
	done     chan struct{}
	stop     context.CancelFunc
}

func newRunID(now time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return "r-" + now.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
}

// StartRun begins reporting a run and returns at once; the hub is told in
// the background. ctx bounds the background sender's life: cancel it (or
// call Close) to stop reporting.
func (c *Client) StartRun(ctx context.Context, info RunInfo) *Run {
	if info.Start.IsZero() {
		info.Start = time.Now()
	}
	if info.ID == "" {
		info.ID = newRunID(info.Start)
	}
	ctx, cancel := context.WithCancel(ctx)
	r := &Run{c: c, id: info.ID, info: info, nextSeq: 1, wake: make(chan struct{}, 1), done: make(chan struct{}), stop: cancel}
	go r.send(ctx)
	return r
}

// ID is the run's id, the same in the hub.
func (r *Run) ID() string { return r.id }

// URL is the run's page in the hub's UI.
func (r *Run) URL() string { return r.c.url + "/runs/" + r.id }

// Push queues one complete second. It never blocks on the network.
func (r *Run) Push(s *results.Second) {
	p := wire.SecondToProto(s, 0)
	r.mu.Lock()
	p.Sequence = r.nextSeq
	r.nextSeq++
	r.queue = append(r.queue, p)
	if over := len(r.queue) - r.c.maxBuffered; over > 0 {
		r.queue = r.queue[over:]
		r.dropped += over
	}
	r.mu.Unlock()
	r.poke()
}

func (r *Run) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Status reports delivery progress.
func (r *Run) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Status{Delivered: r.acked, Pending: len(r.queue), Dropped: r.dropped, LastError: r.lastErr}
}

// Finish queues the outcome and waits until the hub has every second and
// the outcome, or ctx ends. An error means the hub misses something; the
// local run's result stands either way.
func (r *Run) Finish(ctx context.Context, f Finish) error {
	if f.End.IsZero() {
		f.End = time.Now()
	}
	req := &brinkv1.FinishRunRequest{
		RunId: r.id, Source: r.c.source, EndUnixMs: f.End.UnixMilli(), Aborted: f.Aborted,
		Thresholds: wire.ThresholdsToProto(f.Thresholds), ThresholdsOk: f.ThresholdsOK,
	}
	if f.Summary != nil {
		b, err := json.Marshal(f.Summary)
		if err != nil {
			return fmt.Errorf("encode run summary: %w", err)
		}
		req.SummaryJson = b
	}
	r.mu.Lock()
	req.LastSequence = r.nextSeq - 1
	r.finish = req
	r.mu.Unlock()
	r.poke()
	select {
	case <-r.done:
	case <-ctx.Done():
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.finished {
		return nil
	}
	err := r.lastErr
	if err == nil {
		err = ctx.Err()
	}
	return fmt.Errorf("hub %s did not receive all of run %s (%d seconds pending): %w", r.c.url, r.id, len(r.queue), err)
}

// Close stops the background sender; what it has not delivered is lost.
func (r *Run) Close() {
	r.stop()
	<-r.done
}

// send delivers until the run is finished and acknowledged or ctx ends.
func (r *Run) send(ctx context.Context) {
	defer close(r.done)
	started := false
	backoff := minBackoff
	for {
		err := r.deliver(ctx, &started)
		r.mu.Lock()
		r.lastErr = err
		finished := r.finished
		idle := err == nil && len(r.queue) == 0
		r.mu.Unlock()
		if finished {
			return
		}
		if err != nil {
			timer := time.NewTimer(backoff)
			backoff = min(backoff*2, maxBackoff)
			select {
			case <-ctx.Done():
				timer.Stop()
				return
			case <-timer.C:
			}
			continue
		}
		backoff = minBackoff
		if !idle {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		}
	}
}

// deliver makes one step: start the run, push one batch, or finish.
func (r *Run) deliver(ctx context.Context, started *bool) error {
	if !*started {
		resp, err := r.c.rpc.StartRun(ctx, connect.NewRequest(&brinkv1.StartRunRequest{
			RunId: r.id, Source: r.c.source, Name: r.info.Name, Scenario: r.info.Scenario,
			TargetService: r.info.TargetService, Labels: r.info.Labels, StartUnixMs: r.info.Start.UnixMilli(),
		}))
		if err != nil {
			return fmt.Errorf("start run on hub %s: %w", r.c.url, err)
		}
		*started = true
		r.ack(resp.Msg.AckedSequence)
		return nil
	}
	r.mu.Lock()
	n := min(len(r.queue), r.c.batch)
	batch := append([]*brinkv1.Second(nil), r.queue[:n]...)
	finish := r.finish
	r.mu.Unlock()
	if n > 0 {
		resp, err := r.c.rpc.PushSeconds(ctx, connect.NewRequest(&brinkv1.PushSecondsRequest{RunId: r.id, Source: r.c.source, Seconds: batch}))
		if connect.CodeOf(err) == connect.CodeNotFound {
			// The hub lost the run (its data was wiped): start it again.
			*started = false
			return fmt.Errorf("push to hub %s: %w", r.c.url, err)
		}
		if connect.CodeOf(err) == connect.CodeInvalidArgument {
			// The hub will never take this batch; keeping it would block
			// every later second.
			r.mu.Lock()
			r.queue = r.queue[n:]
			r.dropped += n
			r.mu.Unlock()
			return fmt.Errorf("hub %s refused %d seconds: %w", r.c.url, n, err)
		}
		if err != nil {
			return fmt.Errorf("push to hub %s: %w", r.c.url, err)
		}
		r.ack(max(resp.Msg.AckedSequence, batch[n-1].Sequence))
		return nil
	}
	if finish != nil {
		if _, err := r.c.rpc.FinishRun(ctx, connect.NewRequest(finish)); err != nil {
			return fmt.Errorf("finish run on hub %s: %w", r.c.url, err)
		}
		r.mu.Lock()
		r.finished = true
		r.mu.Unlock()
	}
	return nil
}

// ack forgets every queued second up to seq.
func (r *Run) ack(seq uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.acked = max(r.acked, seq)
	i := 0
	for i < len(r.queue) && r.queue[i].Sequence <= r.acked {
		i++
	}
	r.queue = r.queue[i:]
}
