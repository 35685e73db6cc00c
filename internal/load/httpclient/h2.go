package httpclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"time"
)

// newH2Transport is net/http's transport restricted to HTTP/2, dialing the
// run's cached addresses.
func newH2Transport(opts Options, resolver *Resolver, base *tls.Config) *http.Transport {
	tlsConfig := base.Clone()
	tlsConfig.NextProtos = []string{"h2"}
	var protocols http.Protocols
	protocols.SetHTTP2(true)
	protocols.SetUnencryptedHTTP2(true)
	dialer := &net.Dialer{}
	return &http.Transport{
		Protocols:       &protocols,
		TLSClientConfig: tlsConfig,
		MaxConnsPerHost: opts.MaxConnsPerHost,
		DialContext: func(ctx context.Context, network, hostPort string) (net.Conn, error) {
			addr, err := resolver.Resolve(ctx, hostPort)
			if err != nil {
				return nil, err
			}
			return dialer.DialContext(ctx, network, addr)
		},
		ForceAttemptHTTP2:  true,
		DisableCompression: true,
	}
}

// h2Session multiplexes every session's requests over the client's shared
// HTTP/2 connections; a session only owns its cancellation.
type h2Session struct {
	client *Client
	ctx    context.Context
	cancel context.CancelFunc
	body   []byte
}

func newH2Session(c *Client) *h2Session {
	ctx, cancel := context.WithCancel(context.Background())
	return &h2Session{client: c, ctx: ctx, cancel: cancel}
}

func (s *h2Session) Interrupt() { s.cancel() }

// Connect is a no-op: HTTP/2 connections are shared and opened on demand.
func (s *h2Session) Connect(Endpoint) error { return nil }
func (s *h2Session) Close()                 { s.cancel() }

func (s *h2Session) Do(req *Request, capture Capture, res *Result) {
	*res = Result{Start: time.Now()}
	defer func() { res.End = time.Now() }()
	if s.ctx.Err() != nil {
		res.Err = errInterrupted
		return
	}
	ctx := s.ctx
	t := s.client.opts.Timeout
	if req.Timeout > 0 {
		t = req.Timeout
	}
	if t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, res.Start.Add(t))
		defer cancel()
	}
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotFirstResponseByte: func() { res.FirstByte = time.Now() },
		ConnectStart:         func(string, string) { res.Reconnected = true },
		WroteHeaders:         func() { res.Sent = true },
	})
	hreq, err := http.NewRequestWithContext(ctx, req.Method, req.URL, bytes.NewReader(req.Body))
	if err != nil {
		res.Err = err
		return
	}
	hreq.Header = req.Header.Clone()
	if hreq.Header == nil {
		hreq.Header = http.Header{}
	}
	if hreq.Header.Get("User-Agent") == "" {
		hreq.Header.Set("User-Agent", UserAgent)
	}
	if h := hreq.Header.Get("Host"); h != "" {
		hreq.Host = h
	}
	res.BytesOut = int64(len(req.Body))
	resp, err := s.client.h2.Do(hreq)
	if err != nil {
		if s.ctx.Err() != nil {
			err = errInterrupted
		}
		res.Err = err
		return
	}
	defer resp.Body.Close()
	res.Status = resp.StatusCode
	if capture.Header {
		res.Header = resp.Header
	}
	s.body = s.body[:0]
	var n int64
	if capture.Body {
		buf := bytes.NewBuffer(s.body)
		n, err = io.Copy(buf, io.LimitReader(resp.Body, int64(s.client.opts.MaxCapture)))
		if err == nil {
			var rest int64
			rest, err = io.Copy(io.Discard, resp.Body)
			n += rest
		}
		s.body = buf.Bytes()
		res.Body = s.body
	} else {
		n, err = io.Copy(io.Discard, resp.Body)
	}
	// HTTP/2 compresses headers (HPACK), so only body bytes are counted.
	res.BytesIn = n
	if err != nil {
		if s.ctx.Err() != nil {
			err = errInterrupted
		}
		res.Err = err
	}
}
