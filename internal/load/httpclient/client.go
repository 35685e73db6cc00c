package httpclient

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// Options configure a Client for one run.
type Options struct {
	// Timeout bounds each request from its start (including connecting) to
	// the end of its response body. Zero means no limit.
	Timeout time.Duration
	// Insecure skips TLS certificate verification.
	Insecure bool
	// HTTP2 sends requests over HTTP/2 (TLS with ALPN for https://, prior
	// knowledge cleartext for http://) through net/http's transport.
	HTTP2 bool
	// MaxConnsPerHost limits HTTP/2 connections per host (0 = no limit). The
	// HTTP/1.1 path always uses one connection per session.
	MaxConnsPerHost int
	// MaxCapture bounds how many body bytes a captured response keeps;
	// the rest is read and counted but not kept. Zero means 1 MiB.
	MaxCapture int
}

// Capture says which response parts the caller needs. Reading neither is
// the allocation-free fast path.
type Capture struct {
	Header bool
	Body   bool
}

// Result is the outcome of one request. Header and Body are only set when
// captured; both stay valid until the session's next request.
type Result struct {
	Status    int
	Start     time.Time // when the request started (before connecting, if it had to)
	FirstByte time.Time // when the first response byte arrived (zero if none)
	End       time.Time
	BytesIn   int64 // response bytes read, headers and body
	BytesOut  int64 // request bytes written
	Err       error // transport failure; nil when a response was read
	// Sent reports that the request went out (at least partly): a failed
	// request that was never sent did not reach the target.
	Sent   bool
	Header http.Header
	Body   []byte
	// Reconnected reports that the request had to open a new connection.
	Reconnected bool
}

// Session is one virtual user's view of the client: its own connections.
// A Session is used by one goroutine, except Interrupt, which may be
// called from any goroutine.
type Session interface {
	// Do sends req and reads the response into res.
	Do(req *Request, capture Capture, res *Result)
	// Connect opens the session's connection to ep ahead of its first
	// request (a no-op when it is open already, or for HTTP/2).
	Connect(ep Endpoint) error
	// Interrupt makes the in-flight and every later request fail at once.
	Interrupt()
	// Close releases the session's connections.
	Close()
}

// Client creates sessions that share one run's DNS cache, TLS session
// cache and (for HTTP/2) transport.
type Client struct {
	opts        Options
	resolver    *Resolver
	tlsConfig   *tls.Config
	h2          *http.Client
	h2Transport *http.Transport
}

// New returns a client for one run.
func New(opts Options, resolver *Resolver) *Client {
	if opts.MaxCapture <= 0 {
		opts.MaxCapture = 1 << 20
	}
	if resolver == nil {
		resolver = NewResolver(nil)
	}
	c := &Client{
		opts:     opts,
		resolver: resolver,
		tlsConfig: &tls.Config{
			InsecureSkipVerify: opts.Insecure, //nolint:gosec // only with --insecure, by the user's choice
			ClientSessionCache: tls.NewLRUClientSessionCache(1024),
			NextProtos:         []string{"http/1.1"},
		},
	}
	if opts.HTTP2 {
		c.h2Transport = newH2Transport(opts, resolver, c.tlsConfig)
		c.h2 = &http.Client{
			Transport: c.h2Transport,
			// Load tests measure the response they asked for, not a redirect chain.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return c
}

// Resolver returns the client's DNS cache.
func (c *Client) Resolver() *Resolver { return c.resolver }

// NewSession returns a session for one virtual user.
func (c *Client) NewSession() Session {
	if c.opts.HTTP2 {
		return newH2Session(c)
	}
	return &rawSession{client: c}
}

// Close releases shared resources (idle HTTP/2 connections).
func (c *Client) Close() {
	if c.h2Transport != nil {
		c.h2Transport.CloseIdleConnections()
	}
}

// Resolver resolves each host once per run and caches the answer, so that
// a run never waits on DNS after it has started and every session goes to
// the same address.
type Resolver struct {
	lookup func(ctx context.Context, host string) ([]net.IPAddr, error)
	mu     sync.Mutex
	cache  map[string]resolved
}

type resolved struct {
	addr string
	err  error
}

// NewResolver returns an empty cache; lookup nil means the system resolver.
func NewResolver(lookup func(ctx context.Context, host string) ([]net.IPAddr, error)) *Resolver {
	if lookup == nil {
		lookup = net.DefaultResolver.LookupIPAddr
	}
	return &Resolver{lookup: lookup, cache: map[string]resolved{}}
}

// Resolve returns an ip:port for host:port, looking it up only the first time.
func (r *Resolver) Resolve(ctx context.Context, hostPort string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if v, ok := r.cache[hostPort]; ok {
		return v.addr, v.err
	}
	v := r.resolve(ctx, hostPort)
	r.cache[hostPort] = v
	return v.addr, v.err
}

func (r *Resolver) resolve(ctx context.Context, hostPort string) resolved {
	host, port, err := net.SplitHostPort(hostPort)
	if err != nil {
		return resolved{err: err}
	}
	if net.ParseIP(host) != nil {
		return resolved{addr: hostPort}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	addrs, err := r.lookup(ctx, host)
	if err != nil {
		return resolved{err: fmt.Errorf("resolving %s: %w", host, err)}
	}
	if len(addrs) == 0 {
		return resolved{err: fmt.Errorf("resolving %s: no addresses", host)}
	}
	// Prefer IPv4, as browsers and most load tools reach it first.
	best := addrs[0]
	for _, a := range addrs {
		if a.IP.To4() != nil {
			best = a
			break
		}
	}
	return resolved{addr: net.JoinHostPort(best.IP.String(), port)}
}

// errInterrupted is the failure of requests cut off by Interrupt.
var errInterrupted = errors.New("request interrupted: the run was stopped")

// IsInterrupted reports whether err comes from Session.Interrupt.
func IsInterrupted(err error) bool { return errors.Is(err, errInterrupted) }
