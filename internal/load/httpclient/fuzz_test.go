package httpclient

import (
	"io"
	"net"
	"testing"
	"time"
)

// FuzzResponse feeds arbitrary bytes to the response parser as a server's
// answer: it must never panic or hang, and a response it accepts has a
// three-digit status.
func FuzzResponse(f *testing.F) {
	for _, seed := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"HTTP/1.0 200 OK\r\n\r\nbody until close",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffff\r\n",
		"HTTP/1.1 2",
		"\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, response []byte) {
		client := New(Options{Timeout: time.Second, MaxCapture: 1 << 10}, nil)
		s := client.NewSession().(*rawSession)
		defer s.Close()
		clientEnd, serverEnd := net.Pipe()
		go func() {
			defer serverEnd.Close()
			// Read the request, then answer with the fuzzed bytes and close.
			buf := make([]byte, 4096)
			if _, err := serverEnd.Read(buf); err != nil {
				return
			}
			serverEnd.Write(response)
		}()
		req, err := Prepare("GET", "http://fuzz.test/", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		c := s.conn(req.Endpoint)
		c.nc, c.buf = clientEnd, make([]byte, readBufferSize)
		var res Result
		c.do(req, Capture{Header: true, Body: true}, &res)
		if res.Err == nil && (res.Status < 100 || res.Status > 999) {
			t.Fatalf("accepted status %d", res.Status)
		}
		io.Copy(io.Discard, clientEnd)
	})
}
