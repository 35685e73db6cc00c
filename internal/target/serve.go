package target

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// DefaultAddr is where brink-target listens unless told otherwise: loopback
// only.
const DefaultAddr = "127.0.0.1:8080"

// ParseFlags reads brink-target's command line.
func ParseFlags(args []string, stderr io.Writer) (cfg Config, addr string, err error) {
	fs := flag.NewFlagSet("brink-target", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `brink-target: a sample web app to load-test.

Every path except the control endpoints answers "`+HelloText+`".
Control endpoints (not counted): GET /healthz, GET /stats (JSON counters),
GET /stall?for=1s (freeze request handling now).

Examples:
  brink-target                                   # fast hello server on 127.0.0.1:8080
  brink-target --cpu 2ms --latency 10ms          # 2 ms of CPU and 10 ms of waiting per request
  brink-target --failure-rate 0.05               # every 20th request answers 500
  brink-target --stall-at 5s --stall-for 1s      # freeze for 1 s, 5 s after start
  brink-target --mode seed --cpu 5ms             # one request at a time; overload answers 200 + error page

Flags:
`)
		fs.PrintDefaults()
	}
	fs.StringVar(&addr, "listen", DefaultAddr, "address to listen on (host:port)")
	fs.StringVar(&cfg.Mode, "mode", ModeWell, `"well" (concurrent) or "seed" (one request at a time, overload answers 200 with an error page)`)
	fs.DurationVar(&cfg.CPUCost, "cpu", 0, "busy CPU time per request (e.g. 2ms)")
	fs.DurationVar(&cfg.Latency, "latency", 0, "added wait per request, without CPU (e.g. 20ms)")
	fs.Float64Var(&cfg.FailureRate, "failure-rate", 0, "fraction of requests answered 500 (0..1), spread evenly")
	fs.IntVar(&cfg.BodySize, "body-size", 0, "hello body size in bytes (default: just the hello line)")
	fs.DurationVar(&cfg.StallAt, "stall-at", 0, "freeze request handling this long after start (with --stall-for)")
	fs.DurationVar(&cfg.StallFor, "stall-for", 0, "how long the stall lasts")
	fs.DurationVar(&cfg.SeedPatience, "seed-patience", DefaultSeedPatience, "seed mode: a request that waited longer for the worker gets the error page")
	if err := fs.Parse(args); err != nil {
		return cfg, addr, err
	}
	if fs.NArg() > 0 {
		return cfg, addr, fmt.Errorf("unexpected argument %q (see --help)", fs.Arg(0))
	}
	return cfg, addr, nil
}

// Serve runs the target on addr until ctx ends, then shuts down, letting
// in-flight requests finish. ready, if not nil, receives the bound address.
func Serve(ctx context.Context, addr string, cfg Config, log io.Writer, ready func(net.Addr)) error {
	srv, err := New(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	// HTTP/1.1, and HTTP/2 with prior knowledge for `brink run --http2`.
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, Protocols: &protocols}
	fmt.Fprintf(log, "brink-target: mode %s, listening on http://%s\n", srv.cfg.Mode, ln.Addr())
	if ready != nil {
		ready(ln.Addr())
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	st := srv.Stats()
	fmt.Fprintf(log, "brink-target: served %d requests (%d failed, %d error pages)\n", st.Requests, st.Failed, st.ErrorPages)
	return nil
}
