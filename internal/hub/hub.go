// Package hub is the centre of brink: it stores what monitors remote-write
// and what load generators report, answers Prometheus-compatible queries,
// keeps test runs and events, exports, streams live updates to the web UI
// and serves that UI, all on one HTTP port.
//
// Components (HTTP server, run finalizer, run analyzer) start together in Run and stop
// together when its context ends; storage is closed last, after the last
// request finished, so nothing acknowledged is lost on SIGTERM.
package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"github.com/brinkhq/brink/internal/coord"
	"github.com/brinkhq/brink/internal/gen/brink/v1/brinkv1connect"
	"github.com/brinkhq/brink/internal/hub/events"
	"github.com/brinkhq/brink/internal/hub/runs"
	"github.com/brinkhq/brink/internal/store"
	"github.com/brinkhq/brink/internal/web"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
)

// ErrConfig marks errors in the config file or token files: the user's to fix.
var ErrConfig = errors.New("configuration error")

// Options configure a Hub. Zero values take defaults.
type Options struct {
	DataDir        string
	Retention      time.Duration
	RetentionBytes int64
	// OutOfOrderWindow lets writers that buffered through an outage append
	// samples older than a series' newest (default 30m).
	OutOfOrderWindow time.Duration
	TokenFile        string
	ConfigFile       string
	Version          string
	Logger           *slog.Logger
	Now              func() time.Time
	// UI serves the web UI; nil uses the embedded build.
	UI http.Handler
}

// Hub is a running hub's state.
type Hub struct {
	opts    Options
	log     *slog.Logger
	now     func() time.Time
	started time.Time

	db     *store.TSDB
	store  store.Store
	runs   *runs.Registry
	events *events.Log
	coord  *coord.Coordinator
	// analyzer computes each run's saturation analysis.
	analyzer *analyzer

	tokens tokens
	cfg    atomic.Pointer[Config]
	engine atomic.Pointer[promql.Engine]

	// series caches parsed remote-write label sets by their raw bytes.
	series *seriesCache
	live   liveContainers

	reg     *prometheus.Registry
	metrics *metrics
	// samplesAppended counts every sample committed through this hub.
	samplesAppended atomic.Int64

	closing   atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// New opens the hub's storage under opts.DataDir and loads its state. The
// hub does nothing until Run.
func New(opts Options) (*Hub, error) {
	if opts.DataDir == "" {
		return nil, errors.New("no data directory: give --data DIR")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.OutOfOrderWindow == 0 {
		opts.OutOfOrderWindow = 30 * time.Minute
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	cfg, err := LoadConfig(opts.ConfigFile)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	h := &Hub{opts: opts, log: opts.Logger, now: opts.Now, started: opts.Now(), reg: prometheus.NewRegistry(),
		series: newSeriesCache(seriesCacheBound)}
	if err := h.applyTokens(cfg); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if err := os.MkdirAll(opts.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	h.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	h.metrics = newMetrics(h.reg)
	h.db, err = store.OpenTSDB(store.Options{
		Dir: filepath.Join(opts.DataDir, "tsdb"), Retention: opts.Retention, RetentionBytes: opts.RetentionBytes,
		OutOfOrderWindow: opts.OutOfOrderWindow, Registerer: h.reg, Logger: opts.Logger.With("component", "tsdb"),
	})
	if err != nil {
		return nil, err
	}
	h.store = h.db
	h.events, err = events.Open(filepath.Join(opts.DataDir, "events.jsonl"), 0, opts.Now)
	if err != nil {
		h.db.Close()
		return nil, err
	}
	h.analyzer = newAnalyzer(h)
	h.runs, err = runs.Open(runs.Options{
		Dir: filepath.Join(opts.DataDir, "runs"), Store: countingAppendable{h}, Events: h.events, Now: opts.Now,
		Logger: opts.Logger, Timing: runTiming(cfg), OnEnd: h.analyzer.schedule,
	})
	if err != nil {
		h.events.Close()
		h.db.Close()
		return nil, err
	}
	h.coord, err = coord.New(coord.Options{
		Runs: h.runs, Events: h.events, DataDir: filepath.Join(opts.DataDir, "agents"), Version: opts.Version,
		Logger: opts.Logger, Now: opts.Now, Authorize: h.tokens.allowed,
	})
	if err != nil {
		h.runs.Close()
		h.events.Close()
		h.db.Close()
		return nil, err
	}
	h.applyConfig(cfg)
	h.metrics.observeRuns(h.runs)
	return h, nil
}

func runTiming(cfg Config) runs.Timing {
	return runs.Timing{FinalizeGrace: cfg.Runs.FinalizeGrace.D(), LostAfter: cfg.Runs.LostAfter.D()}
}

func (h *Hub) applyTokens(cfg Config) error {
	var files []string
	if h.opts.TokenFile != "" {
		files = append(files, h.opts.TokenFile)
	}
	files = append(files, cfg.Auth.TokenFiles...)
	toks, err := readTokenFiles(files)
	if err != nil {
		return err
	}
	h.tokens.set.Store(&toks)
	return nil
}

func (h *Hub) applyConfig(cfg Config) {
	h.cfg.Store(&cfg)
	h.engine.Store(promql.NewEngine(promql.EngineOpts{
		Logger: h.log, MaxSamples: cfg.Query.MaxSamples, Timeout: cfg.Query.Timeout.D(),
		LookbackDelta: cfg.Query.LookbackDelta.D(), EnableAtModifier: true, EnableNegativeOffset: true,
		NoStepSubqueryIntervalFn: func(int64) int64 { return time.Minute.Milliseconds() },
	}))
	h.runs.SetTiming(runTiming(cfg))
}

func (h *Hub) config() Config { return *h.cfg.Load() }

// Reload re-reads the config file and the token files. On error the hub
// keeps its previous configuration.
func (h *Hub) Reload() error {
	cfg, err := LoadConfig(h.opts.ConfigFile)
	if err == nil {
		err = h.applyTokens(cfg)
	}
	if err != nil {
		h.metrics.reloadSuccess.Set(0)
		h.log.Error("config reload failed; keeping the previous configuration", "err", err)
		return err
	}
	h.applyConfig(cfg)
	h.metrics.reloadSuccess.Set(1)
	_, _ = h.events.Append(events.Event{Kind: events.KindConfigReloaded, Message: "configuration reloaded"})
	return nil
}

// Events is the hub's event list, for other parts of brink to append to.
func (h *Hub) Events() *events.Log { return h.events }

// Store is the hub's time-series store.
func (h *Hub) Store() *store.TSDB { return h.db }

// Runs is the hub's run registry.
func (h *Hub) Runs() *runs.Registry { return h.runs }

// Handler is every endpoint of the hub.
func (h *Hub) Handler() http.Handler {
	mux := http.NewServeMux()
	api := func(pattern, name string, f http.HandlerFunc) {
		mux.Handle(pattern, h.metrics.instrument(name, f))
	}
	mux.Handle("POST /api/v1/write", h.metrics.instrument("write", h.requireToken(http.HandlerFunc(h.handleWrite))))
	path, connectHandler := brinkv1connect.NewRunServiceHandler(&runService{h: h},
		connect.WithReadMaxBytes(64<<20), connect.WithCompressMinBytes(1024))
	mux.Handle(path, h.metrics.instrument("run_service", h.requireToken(connectHandler)))

	for _, m := range []string{"GET", "POST"} {
		api(m+" /api/v1/query", "query", h.handleQuery)
		api(m+" /api/v1/query_range", "query_range", h.handleQueryRange)
		api(m+" /api/v1/series", "series", h.handleSeries)
		api(m+" /api/v1/labels", "labels", h.handleLabels)
	}
	api("GET /api/v1/label/{name}/values", "label_values", h.handleLabelValues)
	api("GET /api/v1/status", "status", h.handleStatus)
	api("GET /api/v1/hosts", "hosts", h.handleHosts)
	api("GET /api/v1/containers", "containers", h.handleContainers)
	api("GET /api/v1/services", "services", h.handleServices)
	api("GET /api/v1/runs", "runs", h.handleRuns)
	api("GET /api/v1/runs/{id}", "run", h.handleRun)
	api("GET /api/v1/runs/{id}/latency", "run_latency", h.handleRunLatency)
	api("GET /api/v1/runs/{id}/analysis", "run_analysis", h.handleRunAnalysis)
	api("GET /api/v1/events", "events", h.handleEvents)
	api("GET /api/v1/export", "export", h.handleExport)
	h.coord.Mount(mux)
	mux.HandleFunc("GET /api/v1/stream", h.handleStream)
	mux.Handle("/api/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no endpoint %s %s: see docs/api.md", r.Method, r.URL.Path))
	}))
	mux.Handle("GET /metrics", promhttp.HandlerFor(h.reg, promhttp.HandlerOpts{}))
	// Profiles of a live hub, as Prometheus serves them.
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	ui := h.opts.UI
	if ui == nil {
		ui = web.Handler()
	}
	mux.Handle("/", ui)
	return mux
}

// Run serves on ln until ctx ends, then shuts down in order: stop taking
// requests, let running ones finish, write pending run seconds, close the
// store.
func (h *Hub) Run(ctx context.Context, ln net.Listener) error {
	reqCtx, cancelRequests := context.WithCancel(context.Background())
	defer cancelRequests()
	srv := &http.Server{
		Handler:           h.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		// Long-lived requests (the live stream) end when shutdown starts.
		BaseContext: func(net.Listener) context.Context { return reqCtx },
		ErrorLog:    slog.NewLogLogger(h.log.Handler(), slog.LevelWarn),
	}
	_, _ = h.events.Append(events.Event{Kind: events.KindHubStarted, Message: "hub started on " + ln.Addr().String()})

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	wg.Add(4)
	go func() {
		defer wg.Done()
		h.coord.Run(ctx)
	}()
	go func() {
		defer wg.Done()
		h.analyzer.run(ctx)
	}()
	go func() {
		defer wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs <- fmt.Errorf("serve on %s: %w", ln.Addr(), err)
		}
		cancel()
	}()
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				h.runs.Tick(ctx)
				h.metrics.observeRuns(h.runs)
			}
		}
	}()
	<-ctx.Done()
	h.closing.Store(true)
	cancelRequests()
	shutdownCtx, cancelShutdown := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancelShutdown()
	shutdownErr := srv.Shutdown(shutdownCtx)
	wg.Wait()
	closeErr := h.Close()
	close(errs)
	for err := range errs {
		return err
	}
	if shutdownErr != nil {
		return fmt.Errorf("shut down HTTP server: %w", shutdownErr)
	}
	return closeErr
}

// Close saves runs and closes the event list and the store.
func (h *Hub) Close() error {
	h.closeOnce.Do(func() {
		h.closing.Store(true)
		h.coord.Close()
		h.runs.Close()
		h.events.Close()
		h.closeErr = h.db.Close()
	})
	return h.closeErr
}

// countingAppendable counts what the run registry commits.
type countingAppendable struct{ h *Hub }

func (c countingAppendable) Appender(ctx context.Context) store.Appender {
	return &countingAppender{Appender: c.h.store.Appender(ctx), h: c.h}
}

type countingAppender struct {
	store.Appender
	h *Hub
	n int64
}

func (a *countingAppender) Append(ref store.SeriesRef, ls labels.Labels, t int64, v float64) (store.SeriesRef, error) {
	r, err := a.Appender.Append(ref, ls, t, v)
	if err == nil {
		a.n++
	}
	return r, err
}

func (a *countingAppender) Commit() error {
	err := a.Appender.Commit()
	if err == nil {
		a.h.samplesAppended.Add(a.n)
		a.h.metrics.samplesAppended.Add(float64(a.n))
	}
	return err
}

// writeJSON answers 200 with Prometheus' success envelope around data.
func writeJSON(w http.ResponseWriter, data any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	_ = enc.Encode(struct {
		Status string `json:"status"`
		Data   any    `json:"data"`
	}{"success", data})
}

// writeError answers with Prometheus' error envelope.
func writeError(w http.ResponseWriter, code int, errType, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(struct {
		Status    string `json:"status"`
		ErrorType string `json:"errorType"`
		Error     string `json:"error"`
	}{"error", errType, msg})
}
