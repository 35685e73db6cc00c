// Package httpclient is brink's load-generating HTTP client: a lean
// HTTP/1.1 keep-alive client on raw connections for the hot path, and a
// net/http transport for HTTP/2.
//
// The HTTP/1.1 path sends pre-serialized requests over one connection per
// virtual user and parses responses in place in a reused buffer, so a
// request allocates nothing unless the caller asks for the response headers
// or body. That is what lets one generator core keep up with wrk.
package httpclient

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// UserAgent is sent unless a request sets its own.
const UserAgent = "brink"

// Endpoint is where requests go: a scheme and host:port. Connections are
// kept per endpoint.
type Endpoint struct {
	TLS      bool
	HostPort string // host:port as written in the URL, with the default port filled in
	Host     string // host without port, for TLS server names
}

// Request is a request ready to send. Wire is its complete HTTP/1.1
// serialization; the other fields serve the HTTP/2 path and checks.
type Request struct {
	Endpoint Endpoint
	Method   string
	URL      string
	Header   http.Header
	Body     []byte
	Wire     []byte
	// NoBody is true when the response can carry no body (HEAD).
	NoBody bool
	// Timeout overrides the client's per-request timeout when positive.
	Timeout time.Duration
}

// Prepare parses rawURL and serializes the request. Header values override
// the defaults (Host, User-Agent); Content-Length is always computed.
func Prepare(method, rawURL string, header http.Header, body []byte) (*Request, error) {
	r := &Request{}
	if err := r.Reset(method, rawURL, header, body); err != nil {
		return nil, err
	}
	return r, nil
}

// Reset re-prepares r in place, reusing its wire buffer. Requests built per
// iteration reuse one Request this way.
func (r *Request) Reset(method, rawURL string, header http.Header, body []byte) error {
	if method == "" {
		method = http.MethodGet
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("request URL %q: %w", rawURL, err)
	}
	ep, err := endpointOf(u)
	if err != nil {
		return fmt.Errorf("request URL %q: %w", rawURL, err)
	}
	if !validToken(method) {
		return fmt.Errorf("request method %q is not a valid HTTP method token", method)
	}
	r.Endpoint = ep
	r.Method = method
	r.URL = rawURL
	r.Header = header
	r.Body = body
	r.NoBody = method == http.MethodHead
	r.Wire = appendWire(r.Wire[:0], method, u, ep, header, body)
	return nil
}

func endpointOf(u *url.URL) (Endpoint, error) {
	var ep Endpoint
	switch u.Scheme {
	case "http":
	case "https":
		ep.TLS = true
	default:
		return ep, fmt.Errorf("scheme %q is not supported (use http:// or https://)", u.Scheme)
	}
	host := u.Hostname()
	if host == "" {
		return ep, fmt.Errorf("no host in URL")
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if ep.TLS {
			port = "443"
		}
	}
	ep.Host = host
	ep.HostPort = net.JoinHostPort(host, port)
	return ep, nil
}

func appendWire(b []byte, method string, u *url.URL, ep Endpoint, header http.Header, body []byte) []byte {
	target := u.RequestURI()
	b = append(b, method...)
	b = append(b, ' ')
	b = append(b, target...)
	b = append(b, " HTTP/1.1\r\n"...)
	if header.Get("Host") == "" {
		b = append(b, "Host: "...)
		b = append(b, u.Host...)
		b = append(b, "\r\n"...)
	}
	if header.Get("User-Agent") == "" {
		b = append(b, "User-Agent: "+UserAgent+"\r\n"...)
	}
	for _, k := range slices.Sorted(mapsKeys(header)) {
		if strings.EqualFold(k, "Content-Length") || strings.EqualFold(k, "Transfer-Encoding") {
			continue
		}
		for _, v := range header[k] {
			b = append(b, k...)
			b = append(b, ": "...)
			b = append(b, sanitizeHeaderValue(v)...)
			b = append(b, "\r\n"...)
		}
	}
	if len(body) > 0 || methodWantsBody(method) {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	return append(b, body...)
}

func mapsKeys(h http.Header) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range h {
			if !yield(k) {
				return
			}
		}
	}
}

func methodWantsBody(m string) bool {
	return m == http.MethodPost || m == http.MethodPut || m == http.MethodPatch
}

// sanitizeHeaderValue drops CR and LF so a value cannot inject headers.
func sanitizeHeaderValue(v string) string {
	if !strings.ContainsAny(v, "\r\n") {
		return v
	}
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, v)
}

func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || bytes.IndexByte([]byte(`()<>@,;:\"/[]?={}`), c) >= 0 {
			return false
		}
	}
	return true
}
