package coord

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"connectrpc.com/connect"
	brinkv1 "github.com/brinkhq/brink/internal/gen/brink/v1"
	"github.com/brinkhq/brink/internal/gen/brink/v1/brinkv1connect"
)

// Client drives distributed runs on a hub: `brink run --agents` uses it.
type Client struct {
	url   string
	rpc   brinkv1connect.DistributedRunServiceClient
	unary brinkv1connect.DistributedRunServiceClient
}

// NewClient returns a client for the hub at url; token may be empty when
// the hub requires none. transport nil means http.DefaultTransport.
func NewClient(url, token string, transport http.RoundTripper) *Client {
	if transport == nil {
		transport = http.DefaultTransport
	}
	url = strings.TrimRight(url, "/")
	auth := connect.WithInterceptors(clientToken(token))
	return &Client{
		url:   url,
		rpc:   brinkv1connect.NewDistributedRunServiceClient(&http.Client{Transport: transport}, url, auth),
		unary: brinkv1connect.NewDistributedRunServiceClient(&http.Client{Transport: transport, Timeout: 30 * time.Second}, url, auth),
	}
}

type clientToken string

func (t clientToken) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if t != "" {
			req.Header().Set("Authorization", "Bearer "+string(t))
		}
		return next(ctx, req)
	}
}

func (t clientToken) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		if t != "" {
			conn.RequestHeader().Set("Authorization", "Bearer "+string(t))
		}
		return conn
	}
}

func (t clientToken) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// Start starts a distributed run. The call may wait for agents
// (req.WaitForAgentsMs), so ctx should allow for that.
func (c *Client) Start(ctx context.Context, req *brinkv1.StartDistributedRunRequest) (*brinkv1.StartDistributedRunResponse, error) {
	resp, err := c.rpc.StartDistributedRun(ctx, connect.NewRequest(req))
	if err != nil {
		return nil, c.explain("start the run", err)
	}
	return resp.Msg, nil
}

// Stop stops a run on every agent: gracefully, or at once with abort.
func (c *Client) Stop(ctx context.Context, runID string, abort bool, reason string) error {
	_, err := c.unary.StopRun(ctx, connect.NewRequest(&brinkv1.StopRunRequest{RunId: runID, Abort: abort, Reason: reason}))
	if err != nil {
		return c.explain("stop the run", err)
	}
	return nil
}

func (c *Client) explain(what string, err error) error {
	var ce *connect.Error
	if errors.As(err, &ce) {
		switch ce.Code() {
		case connect.CodeUnauthenticated:
			return fmt.Errorf("%s: hub %s refused the token: give the hub's token with --token-file or BRINK_HUB_TOKEN", what, c.url)
		case connect.CodeUnavailable, connect.CodeUnknown, connect.CodeDeadlineExceeded:
			return fmt.Errorf("%s: hub %s: %w", what, c.url, err)
		}
		return fmt.Errorf("%s: %s", what, ce.Message())
	}
	return fmt.Errorf("%s: hub %s: %w", what, c.url, err)
}

// WatchOptions bound a Watch.
type WatchOptions struct {
	// GiveUpAfter ends the watch when the hub has been unreachable this
	// long (0: never; ctx still bounds it).
	GiveUpAfter time.Duration
	// OnLinkError is told about each broken watch before it is retried.
	OnLinkError func(error)
}

// Watch follows a run until its result, calling onUpdate for every update
// in order. A broken watch (the hub restarted, the network dropped) is
// resumed with backoff after the last second shown; events are not
// repeated.
func (c *Client) Watch(ctx context.Context, runID string, o WatchOptions, onUpdate func(*brinkv1.RunUpdate)) (*brinkv1.RunResult, error) {
	var after int64
	seenEvents := map[string]bool{}
	backoff := 200 * time.Millisecond
	var downSince time.Time
	for {
		stream, err := c.rpc.WatchRun(ctx, connect.NewRequest(&brinkv1.WatchRunRequest{RunId: runID, AfterUnixSecond: after}))
		if err == nil {
			for stream.Receive() {
				downSince = time.Time{}
				backoff = 200 * time.Millisecond
				u := stream.Msg()
				fresh := u.Events[:0:0]
				for _, e := range u.Events {
					key := fmt.Sprintf("%d\x00%s\x00%s\x00%s", e.TimeMs, e.Kind, e.Agent, e.Message)
					if !seenEvents[key] {
						seenEvents[key] = true
						fresh = append(fresh, e)
					}
				}
				u.Events = fresh
				kept := u.Seconds[:0:0]
				for _, s := range u.Seconds {
					if s.UnixSecond > after {
						kept = append(kept, s)
						after = s.UnixSecond
					}
				}
				u.Seconds = kept
				onUpdate(u)
				if u.Result != nil {
					stream.Close()
					return u.Result, nil
				}
			}
			err = stream.Err()
			stream.Close()
			if err == nil {
				err = errors.New("the hub ended the watch")
			}
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		switch connect.CodeOf(err) {
		case connect.CodeNotFound, connect.CodeUnauthenticated, connect.CodePermissionDenied:
			return nil, c.explain("watch the run", err)
		}
		if downSince.IsZero() {
			downSince = time.Now()
		}
		if o.GiveUpAfter > 0 && time.Since(downSince) > o.GiveUpAfter {
			return nil, fmt.Errorf("watch run %s: hub %s unreachable for %s: %w", runID, c.url, o.GiveUpAfter, err)
		}
		if o.OnLinkError != nil {
			o.OnLinkError(err)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		backoff = min(backoff*2, 2*time.Second)
	}
}
