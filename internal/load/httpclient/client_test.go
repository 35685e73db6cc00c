package httpclient

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/brinkhq/brink/internal/results"
)

// cannedServer answers every request read on a connection with the next
// raw response from responses (cycling), then optionally closes.
func cannedServer(t *testing.T, response string, closeAfter bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				br := bufio.NewReader(nc)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					if _, err := io.WriteString(nc, response); err != nil || closeAfter {
						return
					}
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String() + "/"
}

func mustPrepare(t *testing.T, method, url string, h http.Header, body []byte) *Request {
	t.Helper()
	r, err := Prepare(method, url, h, body)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestResponseFraming(t *testing.T) {
	tests := []struct {
		name       string
		response   string
		closeAfter bool
		method     string
		wantStatus int
		wantBody   string
		wantHeader string // X-Test value
	}{
		{"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Test: a\r\n\r\nhello", false, "GET", 200, "hello", "a"},
		{"chunked with extension and trailer", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Test: b\r\n\r\n3;ext=1\r\nhel\r\n2\r\nlo\r\n0\r\nTrailer: x\r\n\r\n", false, "GET", 200, "hello", "b"},
		{"read to EOF", "HTTP/1.0 200 OK\r\nX-Test: c\r\n\r\nhello", true, "GET", 200, "hello", "c"},
		{"HEAD has no body", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nX-Test: d\r\n\r\n", false, "HEAD", 200, "", "d"},
		{"204 has no body", "HTTP/1.1 204 No Content\r\nX-Test: e\r\n\r\n", false, "GET", 204, "", "e"},
		{"interim 100 skipped", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\nX-Test: f\r\n\r\nok", false, "POST", 201, "ok", "f"},
		{"bare LF line endings", "HTTP/1.1 404 Not Found\nContent-Length: 3\nX-Test: g\n\nnah", false, "GET", 404, "nah", "g"},
		{"connection close", "HTTP/1.1 500 Oops\r\nConnection: close\r\nContent-Length: 4\r\nX-Test: h\r\n\r\noops", true, "GET", 500, "oops", "h"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := cannedServer(t, tt.response, tt.closeAfter)
			s := New(Options{Timeout: 5 * time.Second}, nil).NewSession()
			defer s.Close()
			req := mustPrepare(t, tt.method, url, nil, nil)
			// Twice: the second request must reuse (or cleanly replace) the connection.
			for i := 0; i < 2; i++ {
				var res Result
				s.Do(req, Capture{Header: true, Body: true}, &res)
				if res.Err != nil {
					t.Fatalf("request %d: %v", i, res.Err)
				}
				if res.Status != tt.wantStatus || string(res.Body) != tt.wantBody || res.Header.Get("X-Test") != tt.wantHeader {
					t.Fatalf("request %d: got %d %q X-Test=%q, want %d %q %q", i, res.Status, res.Body, res.Header.Get("X-Test"), tt.wantStatus, tt.wantBody, tt.wantHeader)
				}
				if res.BytesIn <= 0 || res.BytesOut != int64(len(req.Wire)) {
					t.Fatalf("bytes in/out = %d/%d", res.BytesIn, res.BytesOut)
				}
				if res.FirstByte.Before(res.Start) || res.End.Before(res.FirstByte) {
					t.Fatalf("times out of order: start %v first byte %v end %v", res.Start, res.FirstByte, res.End)
				}
			}
		})
	}
}

func TestLargeBodiesAndHeaders(t *testing.T) {
	body := strings.Repeat("x", 300_000)
	bigHeader := strings.Repeat("y", 20_000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Big", bigHeader)
		if r.URL.Query().Get("chunked") != "" {
			w.(http.Flusher).Flush()
		} else {
			w.Header().Set("Content-Length", "300000")
		}
		io.WriteString(w, body)
	}))
	defer srv.Close()
	for _, path := range []string{"/?chunked=1", "/"} {
		s := New(Options{MaxCapture: 1000}, nil).NewSession()
		var res Result
		s.Do(mustPrepare(t, "GET", srv.URL+path, nil, nil), Capture{Header: true, Body: true}, &res)
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		if len(res.Body) != 1000 || res.Header.Get("X-Big") != bigHeader || res.BytesIn < 320_000 {
			t.Fatalf("%s: body %d bytes (want the 1000-byte capture limit), header %d bytes, %d bytes in", path, len(res.Body), len(res.Header.Get("X-Big")), res.BytesIn)
		}
		s.Close()
	}
}

func TestKeepAliveOneConnectionPerSession(t *testing.T) {
	var conns, requests atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	}))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	s := New(Options{}, nil).NewSession()
	defer s.Close()
	req := mustPrepare(t, "POST", srv.URL+"/echo", http.Header{"Content-Type": {"text/plain"}}, []byte("ping"))
	for i := 0; i < 100; i++ {
		var res Result
		s.Do(req, Capture{Body: true}, &res)
		if res.Err != nil || string(res.Body) != "ping" {
			t.Fatalf("request %d: %v %q", i, res.Err, res.Body)
		}
		if res.Reconnected != (i == 0) {
			t.Fatalf("request %d: reconnected=%v", i, res.Reconnected)
		}
	}
	if conns.Load() != 1 || requests.Load() != 100 {
		t.Fatalf("%d connections, %d requests; want 1 and 100", conns.Load(), requests.Load())
	}
}

func TestStaleConnectionRetriedOnce(t *testing.T) {
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	s := New(Options{Timeout: 5 * time.Second}, nil).NewSession()
	defer s.Close()
	req := mustPrepare(t, "GET", srv.URL, nil, nil)
	var res Result
	s.Do(req, Capture{}, &res)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	// The server drops its idle keep-alive connections.
	srv.CloseClientConnections()
	time.Sleep(50 * time.Millisecond)
	s.Do(req, Capture{}, &res)
	if res.Err != nil || res.Status != 200 || !res.Reconnected {
		t.Fatalf("after idle close: err=%v status=%d reconnected=%v", res.Err, res.Status, res.Reconnected)
	}
	if requests.Load() != 2 {
		t.Fatalf("server saw %d requests, want 2", requests.Load())
	}
}

func TestFailureClassification(t *testing.T) {
	refused := func(t *testing.T) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		return "http://" + addr + "/"
	}
	stall := func(t *testing.T) string {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
		t.Cleanup(func() { close(release); srv.Close() })
		return srv.URL
	}
	midBodyReset := func(t *testing.T) string {
		return cannedServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", true)
	}
	badTLS := func(t *testing.T) string {
		srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	garbage := func(t *testing.T) string { return cannedServer(t, "SMTP ready\r\n\r\n", true) }
	tests := []struct {
		name    string
		server  func(*testing.T) string
		timeout time.Duration
		want    results.FailureKind
	}{
		{"connection refused", refused, 10 * time.Second, results.ConnectRefused},
		{"timeout", stall, 300 * time.Millisecond, results.Timeout},
		{"closed mid-body", midBodyReset, 10 * time.Second, results.Reset},
		{"unverified certificate", badTLS, 10 * time.Second, results.TLS},
		{"not HTTP", garbage, 10 * time.Second, results.OtherError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := tt.server(t)
			s := New(Options{Timeout: tt.timeout}, nil).NewSession()
			defer s.Close()
			var res Result
			s.Do(mustPrepare(t, "GET", url, nil, nil), Capture{}, &res)
			if res.Err == nil {
				t.Fatalf("no error, status %d", res.Status)
			}
			if got := Classify(res.Err); got != tt.want {
				t.Fatalf("Classify(%v) = %v, want %v", res.Err, got, tt.want)
			}
		})
	}
}

func TestTLSInsecureAndHTTP2(t *testing.T) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Proto", r.Proto)
		io.WriteString(w, "hi "+r.Header.Get("X-User"))
	})
	tlsSrv := httptest.NewUnstartedServer(handler)
	tlsSrv.EnableHTTP2 = true
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	h2c := httptest.NewUnstartedServer(handler)
	h2c.Config.Protocols = &protocols
	h2c.Start()
	defer h2c.Close()

	tests := []struct {
		name      string
		url       string
		opts      Options
		wantProto string
	}{
		{"https HTTP/1.1 insecure", tlsSrv.URL, Options{Insecure: true}, "HTTP/1.1"},
		{"https HTTP/2 insecure", tlsSrv.URL, Options{Insecure: true, HTTP2: true}, "HTTP/2.0"},
		{"cleartext HTTP/2", h2c.URL, Options{HTTP2: true}, "HTTP/2.0"},
		{"cleartext HTTP/1.1", h2c.URL, Options{}, "HTTP/1.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Timeout = 5 * time.Second
			c := New(tt.opts, nil)
			defer c.Close()
			s := c.NewSession()
			defer s.Close()
			req := mustPrepare(t, "GET", tt.url+"/x", http.Header{"X-User": {"ann"}}, nil)
			for i := 0; i < 3; i++ {
				var res Result
				s.Do(req, Capture{Header: true, Body: true}, &res)
				if res.Err != nil {
					t.Fatal(res.Err)
				}
				if res.Header.Get("X-Proto") != tt.wantProto || string(res.Body) != "hi ann" || res.FirstByte.IsZero() {
					t.Fatalf("proto %q body %q first byte %v", res.Header.Get("X-Proto"), res.Body, res.FirstByte)
				}
			}
		})
	}
}

func TestInterruptCutsInFlightRequest(t *testing.T) {
	for _, http2 := range []bool{false, true} {
		release := make(chan struct{})
		var protocols http.Protocols
		protocols.SetHTTP1(true)
		protocols.SetUnencryptedHTTP2(true)
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/stall" {
				<-release
			}
		}))
		srv.Config.Protocols = &protocols
		srv.Start()
		s := New(Options{HTTP2: http2}, nil).NewSession()
		var res Result
		s.Do(mustPrepare(t, "GET", srv.URL+"/fast", nil, nil), Capture{}, &res)
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.Do(mustPrepare(t, "GET", srv.URL+"/stall", nil, nil), Capture{}, &res)
		}()
		time.Sleep(100 * time.Millisecond)
		s.Interrupt()
		wg.Wait()
		if !IsInterrupted(res.Err) {
			t.Fatalf("http2=%v: in-flight request ended with %v, want interrupted", http2, res.Err)
		}
		var after Result
		s.Do(mustPrepare(t, "GET", srv.URL+"/fast", nil, nil), Capture{}, &after)
		if !IsInterrupted(after.Err) {
			t.Fatalf("http2=%v: request after Interrupt ended with %v, want interrupted", http2, after.Err)
		}
		s.Close()
		close(release)
		srv.Close()
	}
}

func TestResolverCachesOnce(t *testing.T) {
	var lookups atomic.Int64
	r := NewResolver(func(ctx context.Context, host string) ([]net.IPAddr, error) {
		lookups.Add(1)
		return []net.IPAddr{{IP: net.ParseIP("::1")}, {IP: net.ParseIP("127.0.0.1")}}, nil
	})
	for i := 0; i < 5; i++ {
		addr, err := r.Resolve(context.Background(), "example.test:8080")
		if err != nil || addr != "127.0.0.1:8080" {
			t.Fatalf("Resolve = %q, %v", addr, err)
		}
	}
	if addr, err := r.Resolve(context.Background(), "127.0.0.2:1"); err != nil || addr != "127.0.0.2:1" {
		t.Fatalf("IP literal: %q %v", addr, err)
	}
	if lookups.Load() != 1 {
		t.Fatalf("%d lookups, want 1", lookups.Load())
	}
}

func TestPrepareWire(t *testing.T) {
	tests := []struct {
		name, method, url string
		header            http.Header
		body              string
		want              string
		wantErr           bool
	}{
		{"get", "GET", "http://h:8080/a?b=1", nil, "", "GET /a?b=1 HTTP/1.1\r\nHost: h:8080\r\nUser-Agent: brink\r\n\r\n", false},
		{"post with headers", "POST", "http://h/", http.Header{"X-B": {"2"}, "X-A": {"1\r\nInjected: yes"}, "Content-Length": {"99"}}, "hi",
			"POST / HTTP/1.1\r\nHost: h\r\nUser-Agent: brink\r\nX-A: 1  Injected: yes\r\nX-B: 2\r\nContent-Length: 2\r\n\r\nhi", false},
		{"host override", "GET", "http://127.0.0.1/", http.Header{"Host": {"svc.local"}, "User-Agent": {"me"}}, "", "GET / HTTP/1.1\r\nHost: svc.local\r\nUser-Agent: me\r\n\r\n", false},
		{"empty post", "POST", "http://h/", nil, "", "POST / HTTP/1.1\r\nHost: h\r\nUser-Agent: brink\r\nContent-Length: 0\r\n\r\n", false},
		{"bad scheme", "GET", "ftp://h/", nil, "", "", true},
		{"bad method", "GE T", "http://h/", nil, "", "", true},
		{"no host", "GET", "http:///x", nil, "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Prepare(tt.method, tt.url, tt.header, []byte(tt.body))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && string(r.Wire) != tt.want {
				t.Fatalf("wire:\n%q\nwant\n%q", r.Wire, tt.want)
			}
		})
	}
}

// helloServer answers each request (a GET without body) with a fixed
// response, allocating nothing per request, so that allocation counts
// measured in this process are the client's alone.
func helloServer(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	response := []byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				buf := make([]byte, 4096)
				pending := 0
				for {
					n, err := nc.Read(buf[pending:])
					if err != nil {
						return
					}
					pending += n
					for {
						i := bytes.Index(buf[:pending], []byte("\r\n\r\n"))
						if i < 0 {
							break
						}
						pending = copy(buf, buf[i+4:pending])
						if _, err := nc.Write(response); err != nil {
							return
						}
					}
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String() + "/"
}

// The hot path (static request, nothing captured) must not allocate.
func TestDoDoesNotAllocate(t *testing.T) {
	url := helloServer(t)
	for _, timeout := range []time.Duration{0, 5 * time.Second} {
		s := New(Options{Timeout: timeout}, nil).NewSession()
		req := mustPrepare(t, "GET", url, nil, nil)
		var res Result
		s.Do(req, Capture{}, &res) // connect outside the measurement
		allocs := testing.AllocsPerRun(200, func() {
			s.Do(req, Capture{}, &res)
			if res.Err != nil {
				t.Fatal(res.Err)
			}
		})
		if allocs != 0 {
			t.Fatalf("timeout %v: %.1f allocations per request, want 0", timeout, allocs)
		}
		s.Close()
	}
}

func BenchmarkDo(b *testing.B) {
	url := helloServer(b)
	s := New(Options{Timeout: 5 * time.Second}, nil).NewSession()
	defer s.Close()
	req, _ := Prepare("GET", url, nil, nil)
	var res Result
	b.ReportAllocs()
	for b.Loop() {
		s.Do(req, Capture{}, &res)
	}
}

func TestConnectAheadOfTheFirstRequest(t *testing.T) {
	url := helloServer(t)
	s := New(Options{Timeout: 5 * time.Second}, nil).NewSession()
	defer s.Close()
	req := mustPrepare(t, "GET", url, nil, nil)
	if err := s.Connect(req.Endpoint); err != nil {
		t.Fatal(err)
	}
	var res Result
	s.Do(req, Capture{}, &res)
	if res.Err != nil || res.Reconnected {
		t.Fatalf("first request after Connect: err=%v reconnected=%v", res.Err, res.Reconnected)
	}
}

// A connection opened ahead and closed by the server while it sat idle
// (as servers do with connections that send no request) is replaced.
func TestConnectedAheadThenClosedByServer(t *testing.T) {
	var requests atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
	}))
	srv.Config.ReadHeaderTimeout = 100 * time.Millisecond
	srv.Start()
	defer srv.Close()
	s := New(Options{Timeout: 5 * time.Second}, nil).NewSession()
	defer s.Close()
	req := mustPrepare(t, "GET", srv.URL, nil, nil)
	if err := s.Connect(req.Endpoint); err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond)
	var res Result
	s.Do(req, Capture{}, &res)
	if res.Err != nil || res.Status != 200 || !res.Reconnected || requests.Load() != 1 {
		t.Fatalf("err=%v status=%d reconnected=%v, server saw %d", res.Err, res.Status, res.Reconnected, requests.Load())
	}
}

// A proxy that times out a connection opened ahead answers 408 and closes
// it before any request (HAProxy's default for "pre-connect" probes): the
// request goes again on a fresh connection, and is not a failure. A 408 to
// a request on a fresh connection is the server's answer and stays one.
func TestProxy408OnIdleConnectionRetried(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const timeout408 = "HTTP/1.1 408 Request Time-out\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
	var conns, served atomic.Int64
	always408 := atomic.Bool{}
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			n := conns.Add(1)
			go func() {
				defer nc.Close()
				if n == 1 {
					// The probe timeout: answer without a request, then close.
					time.Sleep(50 * time.Millisecond)
					_, _ = io.WriteString(nc, timeout408)
					return
				}
				br := bufio.NewReader(nc)
				for {
					if _, err := http.ReadRequest(br); err != nil {
						return
					}
					if always408.Load() {
						_, _ = io.WriteString(nc, timeout408)
						return
					}
					served.Add(1)
					_, _ = io.WriteString(nc, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				}
			}()
		}
	}()
	s := New(Options{Timeout: 5 * time.Second}, nil).NewSession()
	defer s.Close()
	req := mustPrepare(t, "GET", "http://"+ln.Addr().String()+"/", nil, nil)
	if err := s.Connect(req.Endpoint); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the 408 is waiting in the socket
	var res Result
	s.Do(req, Capture{}, &res)
	if res.Err != nil || res.Status != 200 || !res.Reconnected || served.Load() != 1 || conns.Load() != 2 {
		t.Fatalf("err=%v status=%d reconnected=%v; served %d on %d connections", res.Err, res.Status, res.Reconnected, served.Load(), conns.Load())
	}
	// The server itself answers 408 to a request on a fresh connection:
	// that is its answer, reported as such, not retried.
	always408.Store(true)
	s.Do(req, Capture{}, &res) // on the kept-alive connection: retried once, on a fresh one
	if res.Err != nil || res.Status != 408 || conns.Load() != 3 {
		t.Fatalf("a 408 from the server: err=%v status=%d after %d connections", res.Err, res.Status, conns.Load())
	}
	s.Do(req, Capture{}, &res) // on a fresh connection: no retry
	if res.Err != nil || res.Status != 408 || conns.Load() != 4 {
		t.Fatalf("a 408 on a fresh connection: err=%v status=%d after %d connections", res.Err, res.Status, conns.Load())
	}
}
