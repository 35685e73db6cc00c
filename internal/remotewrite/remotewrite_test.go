package remotewrite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
)

// receiver is a remote-write endpoint that decodes every request the way
// Prometheus does and can be taken down (its port closed: connection
// refused) and brought back on the same address.
type receiver struct {
	t    *testing.T
	addr string

	mu       sync.Mutex
	srv      *http.Server
	requests int
	// samples per series name, in arrival order.
	samples map[string][]prompb.Sample
	headers http.Header
	// status, when set, answers instead of storing.
	status func(n int) int
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{t: t, samples: map[string][]prompb.Sample{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = ln.Addr().String()
	r.serve(ln)
	t.Cleanup(r.down)
	return r
}

func (r *receiver) url() string { return "http://" + r.addr + "/api/v1/write" }

func (r *receiver) serve(ln net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(r.handle)}
	r.mu.Lock()
	r.srv = srv
	r.mu.Unlock()
	go srv.Serve(ln)
}

func (r *receiver) down() {
	r.mu.Lock()
	srv := r.srv
	r.srv = nil
	r.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

func (r *receiver) up() {
	var ln net.Listener
	var err error
	for range 50 { // the port may take a moment to be free again
		if ln, err = net.Listen("tcp", r.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		r.t.Fatalf("receiver cannot listen on %s again: %v", r.addr, err)
	}
	r.serve(ln)
}

func (r *receiver) handle(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	raw, err := snappy.Decode(nil, body)
	if err != nil {
		http.Error(w, "not snappy: "+err.Error(), 400)
		return
	}
	var wr prompb.WriteRequest
	if err := wr.Unmarshal(raw); err != nil {
		http.Error(w, "not a WriteRequest: "+err.Error(), 400)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests++
	r.headers = req.Header.Clone()
	if r.status != nil {
		if code := r.status(r.requests); code != 0 {
			http.Error(w, "test says no", code)
			return
		}
	}
	for _, ts := range wr.Timeseries {
		name := ""
		for _, l := range ts.Labels {
			if l.Name == "__name__" {
				name = l.Value
			}
		}
		r.samples[name] = append(r.samples[name], ts.Samples...)
	}
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) got(name string) []prompb.Sample {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]prompb.Sample(nil), r.samples[name]...)
}

// request encodes one request with one sample per series named in names,
// all at timestamp ts with value v.
func request(t *testing.T, ts int64, v float64, names ...string) ([]byte, int) {
	t.Helper()
	req := &prompb.WriteRequest{}
	for _, n := range names {
		req.Timeseries = append(req.Timeseries, prompb.TimeSeries{
			Labels:  []prompb.Label{{Name: "__name__", Value: n}, {Name: "host", Value: "test"}},
			Samples: []prompb.Sample{{Value: v, Timestamp: ts}},
		})
	}
	body, _, err := Encode(req, nil)
	if err != nil {
		t.Fatal(err)
	}
	return body, len(names)
}

func start(t *testing.T, c *Client) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkInOrder fails unless got holds exactly the timestamps 1..n in order.
func checkInOrder(t *testing.T, got []prompb.Sample, n int) {
	t.Helper()
	if len(got) != n {
		t.Fatalf("received %d samples, want %d", len(got), n)
	}
	for i, s := range got {
		if s.Timestamp != int64(i+1) || s.Value != float64(i+1) {
			t.Fatalf("sample %d = (ts %d, value %v), want %d: lost, duplicated or out of order", i, s.Timestamp, s.Value, i+1)
		}
	}
}

// An outage of tens of seconds: the receiver's port is closed while
// requests keep coming every 100 ms, then it comes back. Every sample
// arrives exactly once and in order, and the buffer empties.
func TestOutageLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the outage lasts 20 s")
	}
	t.Parallel()
	rcv := newReceiver(t)
	dir := t.TempDir()
	c, err := New(Config{URL: rcv.url(), BufferDir: dir, MaxBackoff: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	start(t, c)
	const every = 100 * time.Millisecond
	n := 0
	produce := func(d time.Duration) {
		end := time.Now().Add(d)
		for time.Now().Before(end) {
			n++
			c.Enqueue(request(t, int64(n), float64(n), "a", "b"))
			time.Sleep(every)
		}
	}
	produce(3 * time.Second)
	rcv.down()
	produce(20 * time.Second)
	during := c.Stats()
	if during.Healthy || during.SendFailures == 0 || during.PendingRequests < 100 {
		t.Errorf("during the outage: %+v; want unhealthy, failures, >=100 pending", during)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.rw"))
	if len(files) < 100 {
		t.Errorf("during the outage %d requests are on disk, want them buffered there", len(files))
	}
	rcv.up()
	produce(3 * time.Second)
	waitFor(t, "the backlog to drain", func() bool { return c.Stats().PendingRequests == 0 })
	checkInOrder(t, rcv.got("a"), n)
	checkInOrder(t, rcv.got("b"), n)
	st := c.Stats()
	if st.SamplesSent != uint64(2*n) || st.SamplesDropped != 0 || st.SamplesRejected != 0 || !st.Healthy {
		t.Errorf("stats = %+v, want %d samples sent, none dropped", st, 2*n)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*")); len(files) != 0 {
		t.Errorf("buffer not emptied: %v", files)
	}
	t.Logf("%d requests over a 20 s outage, %d failed attempts, all %d samples delivered in order", n, st.SendFailures, st.SamplesSent)
}

func TestHeadersAndToken(t *testing.T) {
	rcv := newReceiver(t)
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte("s3cret\n"), 0o600)
	c, err := New(Config{URL: rcv.url(), TokenFile: tokenFile, UserAgent: "brink-monitor/test"})
	if err != nil {
		t.Fatal(err)
	}
	start(t, c)
	c.Enqueue(request(t, 1, 1, "a"))
	waitFor(t, "a request", func() bool { return len(rcv.got("a")) == 1 })
	rcv.mu.Lock()
	h := rcv.headers
	rcv.mu.Unlock()
	for k, want := range map[string]string{
		"Content-Encoding":                  "snappy",
		"Content-Type":                      "application/x-protobuf",
		"X-Prometheus-Remote-Write-Version": "0.1.0",
		"Authorization":                     "Bearer s3cret",
		"User-Agent":                        "brink-monitor/test",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	// The token file is read for every request: rotation needs no restart.
	os.WriteFile(tokenFile, []byte("rotated"), 0o600)
	c.Enqueue(request(t, 2, 2, "a"))
	waitFor(t, "a second request", func() bool { return len(rcv.got("a")) == 2 })
	rcv.mu.Lock()
	got := rcv.headers.Get("Authorization")
	rcv.mu.Unlock()
	if got != "Bearer rotated" {
		t.Errorf("after rotation Authorization = %q", got)
	}

	if _, err := New(Config{URL: rcv.url(), TokenFile: filepath.Join(t.TempDir(), "missing")}); err == nil {
		t.Error("missing token file accepted")
	}
	for _, u := range []string{"", "127.0.0.1:9339/api/v1/write", "ftp://x/y", "http:///nohost"} {
		if _, err := New(Config{URL: u}); err == nil {
			t.Errorf("URL %q accepted", u)
		}
	}
}

// Answers that resending cannot fix drop the request (counted); answers
// of a receiver that is misconfigured or overloaded keep it.
func TestAnswers(t *testing.T) {
	tests := []struct {
		code         int
		wantRejected bool
	}{
		{400, true},
		{413, true},
		{422, true},
		{401, false},
		{404, false},
		{429, false},
		{500, false},
		{503, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.code), func(t *testing.T) {
			rcv := newReceiver(t)
			rcv.status = func(n int) int {
				if n == 1 {
					return tt.code
				}
				return 0
			}
			c, err := New(Config{URL: rcv.url(), BufferDir: t.TempDir(), MaxBackoff: 50 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			start(t, c)
			c.Enqueue(request(t, 1, 1, "a"))
			c.Enqueue(request(t, 2, 2, "a"))
			waitFor(t, "the queue to empty", func() bool { return c.Stats().PendingRequests == 0 })
			st := c.Stats()
			got := rcv.got("a")
			if tt.wantRejected {
				if st.SamplesRejected != 1 || len(got) != 1 || got[0].Timestamp != 2 {
					t.Errorf("stats %+v, received %v: want the first request dropped as rejected", st, got)
				}
			} else {
				if st.SamplesRejected != 0 || st.SendFailures != 1 || len(got) != 2 || got[0].Timestamp != 1 {
					t.Errorf("stats %+v, received %v: want the first request retried and both delivered in order", st, got)
				}
			}
		})
	}
}

// A full buffer drops the oldest requests and counts their samples; what
// is delivered afterwards is the newest, still in order.
func TestBufferBound(t *testing.T) {
	rcv := newReceiver(t)
	rcv.down()
	body, _ := request(t, 1, 1, "a", "b", "c")
	size := int64(len(body))
	// A long first backoff: the request that failed waits in the queue
	// while the test enqueues behind it.
	c, err := New(Config{URL: rcv.url(), BufferDir: t.TempDir(), BufferMaxBytes: 10*size + size/2, MinBackoff: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 30; i++ {
		c.Enqueue(request(t, int64(i), float64(i), "a", "b", "c"))
	}
	st := c.Stats()
	if st.PendingRequests != 10 || st.SamplesDropped != 20*3 {
		t.Fatalf("stats = %+v, want 10 pending and 60 samples dropped", st)
	}
	stop := start(t, c)
	waitFor(t, "a failed attempt", func() bool { return c.Stats().SendFailures > 0 })
	// Requests that wait for a retry are dropped oldest first too.
	c.Enqueue(request(t, 31, 31, "a", "b", "c"))
	if st := c.Stats(); st.PendingRequests != 10 || st.SamplesDropped != 21*3 {
		t.Fatalf("stats = %+v, want 10 pending and 63 samples dropped", st)
	}
	rcv.up()
	waitFor(t, "the backlog to drain", func() bool { return c.Stats().PendingRequests == 0 })
	stop()
	got := rcv.got("a")
	if len(got) != 10 || got[0].Timestamp != 22 || got[9].Timestamp != 31 {
		t.Errorf("received %v, want timestamps 22..31", got)
	}
}

// Requests still buffered when the client stops are sent, first and in
// order, by the next client on the same directory.
func TestRestartResends(t *testing.T) {
	rcv := newReceiver(t)
	rcv.down()
	dir := t.TempDir()
	c1, err := New(Config{URL: rcv.url(), BufferDir: dir, MaxBackoff: 100 * time.Millisecond, FlushTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	stop1 := start(t, c1)
	for i := 1; i <= 5; i++ {
		c1.Enqueue(request(t, int64(i), float64(i), "a"))
	}
	waitFor(t, "a failed attempt", func() bool { return c1.Stats().SendFailures > 0 })
	stop1()
	files, _ := filepath.Glob(filepath.Join(dir, "*.rw"))
	if len(files) != 5 {
		t.Fatalf("%d files left after stop, want 5", len(files))
	}
	// A stale temporary file from a crash is cleaned up, not sent.
	os.WriteFile(filepath.Join(dir, fmt.Sprintf("%020d-1.rw.tmp", 99)), []byte("partial"), 0o600)

	rcv.up()
	c2, err := New(Config{URL: rcv.url(), BufferDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if st := c2.Stats(); st.PendingRequests != 5 || st.PendingSamples != 5 {
		t.Fatalf("recovered %+v, want 5 requests", st)
	}
	start(t, c2)
	for i := 6; i <= 8; i++ {
		c2.Enqueue(request(t, int64(i), float64(i), "a"))
	}
	waitFor(t, "everything sent", func() bool { return c2.Stats().PendingRequests == 0 })
	checkInOrder(t, rcv.got("a"), 8)
	if files, _ := filepath.Glob(filepath.Join(dir, "*")); len(files) != 0 {
		t.Errorf("files left: %v", files)
	}
}

// Without a buffer directory requests wait in memory, bounded the same way.
func TestMemoryBuffer(t *testing.T) {
	rcv := newReceiver(t)
	rcv.down()
	c, err := New(Config{URL: rcv.url(), MaxBackoff: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start(t, c)
	for i := 1; i <= 20; i++ {
		c.Enqueue(request(t, int64(i), float64(i), "a"))
	}
	waitFor(t, "a failed attempt", func() bool { return c.Stats().SendFailures > 0 })
	rcv.up()
	waitFor(t, "everything sent", func() bool { return c.Stats().PendingRequests == 0 })
	checkInOrder(t, rcv.got("a"), 20)
}

// On a clean stop with a healthy receiver, what is queued is sent before
// Run returns.
func TestStopFlushes(t *testing.T) {
	rcv := newReceiver(t)
	slow := make(chan struct{})
	rcv.status = func(n int) int {
		if n == 1 {
			<-slow
		}
		return 0
	}
	c, err := New(Config{URL: rcv.url(), BufferDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	stop := start(t, c)
	for i := 1; i <= 3; i++ {
		c.Enqueue(request(t, int64(i), float64(i), "a"))
	}
	go func() { time.Sleep(100 * time.Millisecond); close(slow) }()
	stop()
	checkInOrder(t, rcv.got("a"), 3)
}

func TestEncodeRoundTrip(t *testing.T) {
	body, n := request(t, 7, 1.5, "x", "y")
	raw, err := snappy.Decode(nil, body)
	if err != nil {
		t.Fatal(err)
	}
	var wr prompb.WriteRequest
	if err := wr.Unmarshal(raw); err != nil {
		t.Fatal(err)
	}
	if n != 2 || len(wr.Timeseries) != 2 || wr.Timeseries[1].Samples[0].Value != 1.5 || wr.Timeseries[1].Labels[0].Value != "y" {
		t.Errorf("round trip: %+v", wr)
	}
	if _, _, ok := parseFileName("00000000000000000001-3.rw"); !ok {
		t.Error("own file name not parsed")
	}
	for _, bad := range []string{"x.rw", "1.rw", "0-1.rw", "a-b.rw", "1-2.txt"} {
		if _, _, ok := parseFileName(bad); ok {
			t.Errorf("parseFileName(%q) accepted", bad)
		}
	}
	if errors.Is(nil, errRejected) {
		t.Error("unreachable")
	}
}
