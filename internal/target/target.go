// Package target is brink's sample web application: a small HTTP server
// whose per-request CPU cost, added latency, failure rate, body size and
// stalls are configurable, for tests, benchmarks and the lab. It counts
// every request it serves (GET /stats) so that load results can be
// checked against the target's own count exactly.
//
// In "seed" mode it behaves like the single-threaded web app of brink's
// source story: it serves one request at a time, and under overload it
// keeps answering 200 with an error page instead of its hello text — it
// looks alive while it is dead, which only a check on the body catches.
package target

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Modes.
const (
	ModeWell = "well" // concurrent, honest status codes
	ModeSeed = "seed" // one request at a time; overload answers 200 with an error page
)

// HelloText starts every successful response body; body checks look for it.
const HelloText = "Hello from brink-target"

// ErrorPage is what seed mode answers, with status 200, when overloaded.
const ErrorPage = "<html><head><title>Error</title></head><body><h1>Service temporarily unavailable</h1>" +
	"<p>The server is too busy to handle your request. Please try again later.</p></body></html>\n"

// Config is the target's behaviour.
type Config struct {
	Mode        string
	CPUCost     time.Duration // busy CPU work per request
	Latency     time.Duration // added wait per request (no CPU)
	FailureRate float64       // fraction of requests answered 500, spread evenly
	BodySize    int           // hello body size in bytes (at least the hello text)
	// StallAt and StallFor freeze request handling once, StallAt after the
	// server starts, for StallFor: requests arriving meanwhile wait.
	StallAt, StallFor time.Duration
	// SeedPatience is how long a request may wait for seed mode's single
	// worker before it gets the error page instead.
	SeedPatience time.Duration
}

// DefaultSeedPatience is SeedPatience when none is given.
const DefaultSeedPatience = 500 * time.Millisecond

// Server is the target application (an http.Handler).
type Server struct {
	cfg     Config
	started time.Time
	hello   []byte
	busy    *busyWork

	worker     sync.Mutex // seed mode's one worker
	stallUntil atomic.Int64
	served     atomic.Int64 // counted requests (everything but control endpoints)
	failed     atomic.Int64 // answered 500 by the failure rate
	errorPages atomic.Int64 // seed mode overload pages
	inFlight   atomic.Int64
}

// New validates cfg and returns a server. It calibrates the busy loop when
// a CPU cost is configured.
func New(cfg Config) (*Server, error) {
	switch cfg.Mode {
	case "":
		cfg.Mode = ModeWell
	case ModeWell, ModeSeed:
	default:
		return nil, fmt.Errorf("mode %q: use %q or %q", cfg.Mode, ModeWell, ModeSeed)
	}
	if cfg.FailureRate < 0 || cfg.FailureRate > 1 {
		return nil, fmt.Errorf("failure rate %v: must be between 0 and 1", cfg.FailureRate)
	}
	if cfg.CPUCost < 0 || cfg.Latency < 0 || cfg.StallAt < 0 || cfg.StallFor < 0 || cfg.BodySize < 0 || cfg.SeedPatience < 0 {
		return nil, fmt.Errorf("durations and sizes must not be negative")
	}
	if cfg.SeedPatience == 0 {
		cfg.SeedPatience = DefaultSeedPatience
	}
	s := &Server{cfg: cfg, started: time.Now(), hello: helloBody(cfg.BodySize)}
	if cfg.CPUCost > 0 {
		b, err := calibrate()
		if err != nil {
			return nil, err
		}
		s.busy = b
	}
	if cfg.StallFor > 0 {
		// Stall at the configured offset: handled lazily by stallWait.
		s.stallUntil.Store(-1)
	}
	return s, nil
}

func helloBody(size int) []byte {
	line := HelloText + "\n"
	if size <= len(line) {
		return []byte(line)
	}
	b := make([]byte, size)
	copy(b, line)
	for i := len(line); i < size-1; i++ {
		b[i] = 'x'
	}
	b[size-1] = '\n'
	return b
}

// Stats is what GET /stats returns.
type Stats struct {
	Requests   int64   `json:"requests"`    // every counted request received
	Failed     int64   `json:"failed"`      // answered 500 by the failure rate
	ErrorPages int64   `json:"error_pages"` // seed mode: 200 with the error page
	InFlight   int64   `json:"in_flight"`
	UptimeS    float64 `json:"uptime_s"`
	Mode       string  `json:"mode"`
}

// Stats returns the counters now.
func (s *Server) Stats() Stats {
	return Stats{
		Requests: s.served.Load(), Failed: s.failed.Load(), ErrorPages: s.errorPages.Load(),
		InFlight: s.inFlight.Load(), UptimeS: time.Since(s.started).Seconds(), Mode: s.cfg.Mode,
	}
}

// Stall freezes request handling for d from now.
func (s *Server) Stall(d time.Duration) {
	s.stallUntil.Store(time.Now().Add(d).UnixNano())
}

// ServeHTTP serves the control endpoints (/healthz, /stats, /stall) and
// counts everything else as application traffic.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/healthz":
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("ok\n"))
		return
	case "/stats":
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(s.Stats())
		return
	case "/stall":
		d, err := time.ParseDuration(r.URL.Query().Get("for"))
		if err != nil || d <= 0 || d > time.Hour {
			http.Error(w, "want /stall?for=DURATION (e.g. 1s), at most 1h", http.StatusBadRequest)
			return
		}
		s.Stall(d)
		w.Write([]byte("stalling for " + d.String() + "\n"))
		return
	}
	n := s.served.Add(1)
	s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	s.stallWait()
	if s.cfg.Mode == ModeSeed {
		arrived := time.Now()
		s.worker.Lock()
		defer s.worker.Unlock()
		if time.Since(arrived) > s.cfg.SeedPatience {
			s.errorPages.Add(1)
			writeBody(w, http.StatusOK, "text/html", []byte(ErrorPage))
			return
		}
	}
	s.work()
	if s.fails(n) {
		s.failed.Add(1)
		writeBody(w, http.StatusInternalServerError, "text/plain", []byte("internal server error (configured failure rate)\n"))
		return
	}
	writeBody(w, http.StatusOK, "text/plain; charset=utf-8", s.hello)
}

// fails spreads the failure rate evenly: request n fails when the running
// count of failures due, floor(n·rate), steps up.
func (s *Server) fails(n int64) bool {
	r := s.cfg.FailureRate
	return r > 0 && int64(float64(n)*r) > int64(float64(n-1)*r)
}

func (s *Server) work() {
	if s.busy != nil {
		s.busy.spend(s.cfg.CPUCost)
	}
	if s.cfg.Latency > 0 {
		time.Sleep(s.cfg.Latency)
	}
}

func (s *Server) stallWait() {
	until := s.stallUntil.Load()
	if until == -1 {
		start := s.started.Add(s.cfg.StallAt)
		if time.Now().Before(start) {
			return
		}
		// The configured stall begins now (first request past StallAt).
		until = start.Add(s.cfg.StallFor).UnixNano()
		s.stallUntil.CompareAndSwap(-1, until)
		until = s.stallUntil.Load()
	}
	if wait := time.Until(time.Unix(0, until)); wait > 0 {
		time.Sleep(wait)
	}
}

func writeBody(w http.ResponseWriter, status int, contentType string, body []byte) {
	h := w.Header()
	h["Content-Type"] = []string{contentType}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	w.Write(body)
}

// IsErrorPage reports whether body is seed mode's overload page.
func IsErrorPage(body []byte) bool {
	return strings.Contains(string(body), "Service temporarily unavailable")
}
