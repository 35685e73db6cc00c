package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/brinkhq/brink/internal/analysis"
	"github.com/brinkhq/brink/internal/hubclient"
	"github.com/brinkhq/brink/internal/load"
	"github.com/brinkhq/brink/internal/output"
	"github.com/brinkhq/brink/internal/report"
	"github.com/brinkhq/brink/internal/results"
	"github.com/brinkhq/brink/internal/scenario"
	"github.com/brinkhq/brink/internal/threshold"
)

// runFlags are the flags of `brink run`.
type runFlags struct {
	url, method, body, rate, ramp, reportPath, hubURL string
	runName, service                                  string
	headers, thresholds, outs                         []string
	vus                                               int
	iterations                                        int64
	duration, timeout                                 time.Duration
	insecure, http2                                   bool
}

// unreachableAfter is how long a run may go without a single connection
// before brink stops it as unreachable.
const unreachableAfter = time.Second

func newRunCmd(env *Env) *cobra.Command {
	f := &runFlags{}
	af := &agentFlags{}
	cmd := &cobra.Command{
		Use:   "run [scenario.yaml] [flags]",
		Short: "Generate HTTP load against a target, show it live and judge it",
		Long: `brink run generates HTTP load from this machine: against one URL (--url), or as
described by a scenario file (steps, checks, think time, data, several scenarios).

Load models:
  --vus N               closed model: N virtual users, each sending its next request when
                        the previous one is answered (plus think time in scenario files)
  --rate R/s            open model: R iterations per second on schedule, whether or not the
                        target keeps up; latency counts from the scheduled send time, and
                        iterations no free VU could start are reported as "dropped"
  --ramp STAGES         ramp VUs (or, with --rate, the rate) through DURATION:TARGET stages

Stopping: --duration, --iterations, or Ctrl-C. The first Ctrl-C stops gracefully: no new
requests, in-flight ones finish (up to the scenario's graceful stop, 30s by default), and
the summary of what ran is printed. A second Ctrl-C aborts at once (exit code 97).

While it runs, a live block (or one line per second when stdout is not a terminal) shows
progress, VUs or rate, requests per second, p50/p95/p99 and the error rate. At the end a
summary table per request name, the thresholds, and the files asked for with --out and
--report.

With --hub, the run shows up live in the hub, and after it the summary ends with the
saturation analysis: the knee (the load at which throughput stopped rising, latency
turned up or errors began) and the resource at its limit there, read from the monitors'
series of the --service's containers, their hosts and the load balancer, and from this
process's own CPU and schedule (a saturated generator is named, never blamed on the
target). A hub that cannot be reached or a run too short to analyse does not fail the run.

Exit codes: 0 all thresholds held, 1 runtime error (e.g. target unreachable),
2 bad flags or scenario file, 97 aborted, 99 a threshold failed.`,
		Example: `  # 50 VUs for 30 s against one URL
  brink run --url http://127.0.0.1:8080/ --vus 50 --duration 30s

  # open model: 1,000 requests per second for a minute, judged by thresholds
  brink run --url http://127.0.0.1:8080/ --rate 1000/s --duration 1m \
      --threshold 'p95<200ms' --threshold 'error_rate<1%'

  # ramp VUs up to 100 over 30 s, hold a minute, ramp down
  brink run --url http://127.0.0.1:8080/ --ramp 30s:100,1m:100,10s:0

  # POST a JSON body with headers, exactly 500 requests
  brink run --url http://127.0.0.1:8080/api --method POST --body @order.json \
      --header 'Content-Type: application/json' --iterations 500 --vus 10

  # a scenario file, with results as JSON, CSV and an HTML report
  brink run checkout.yaml --out json=out/run.json --out csv=out/run.csv --report out/run.html

  # override a scenario file's duration and report to a hub
  brink run checkout.yaml --duration 5m --hub http://127.0.0.1:9339

  # ramp until the service breaks; the hub puts its containers beside the load
  # and the summary ends with the knee and the resource that hit its limit
  brink run --url http://127.0.0.1:8080/ --rate 50/s --ramp 2m:1500 \
      --hub http://127.0.0.1:9339 --service /shop/web --name "web, 1 replica"

  # split the load over 5 of the hub's agents (see 'brink agent --help')
  brink run checkout.yaml --hub http://127.0.0.1:9339 --agents 5 --on-agent-loss rebalance`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			distributed, err := af.distributed(cmd.Flags())
			if err != nil {
				return err
			}
			if distributed {
				return runWithAgents(cmd.Context(), env, cmd.Flags(), f, af, args)
			}
			return runLoad(cmd.Context(), env, cmd.Flags(), f, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.url, "url", "", "target URL (quick mode, no scenario file)")
	fl.StringVar(&f.method, "method", "", "HTTP method (default GET, or POST with --body)")
	fl.StringArrayVar(&f.headers, "header", nil, `request header "Name: value" (repeatable; with a file: added to every request)`)
	fl.StringVar(&f.body, "body", "", "request body: text, @FILE, or @- for standard input")
	fl.IntVar(&f.vus, "vus", 0, "virtual users (closed model); with --rate, the most VUs the open model may use")
	fl.StringVar(&f.rate, "rate", "", "open model: iterations per second, e.g. 500/s, 500, 6000/m")
	fl.DurationVar(&f.duration, "duration", 0, "how long to run (default 10s in quick mode without --iterations or --ramp)")
	fl.Int64Var(&f.iterations, "iterations", 0, "stop after this many iterations in total")
	fl.StringVar(&f.ramp, "ramp", "", "stages DURATION:TARGET,... e.g. 30s:50,1m:50,10s:0 (targets are VUs, or rates with --rate)")
	fl.DurationVar(&f.timeout, "timeout", 0, "per-request timeout (default 30s)")
	fl.BoolVar(&f.insecure, "insecure", false, "accept any TLS certificate")
	fl.BoolVar(&f.http2, "http2", false, "use HTTP/2 (h2 over TLS, prior-knowledge h2c over http://)")
	fl.StringArrayVar(&f.thresholds, "threshold", nil, "pass/fail criterion, e.g. 'p95<200ms', 'error_rate<1%', 'rps>500' (repeatable)")
	fl.StringArrayVar(&f.outs, "out", nil, "write results: json=PATH (summary) or csv=PATH (per-second timeline) (repeatable)")
	fl.StringVar(&f.reportPath, "report", "", "write a self-contained HTML report to PATH.html")
	fl.StringVar(&f.hubURL, "hub", "", "report the run live to a brink hub at URL (token from $BRINK_HUB_TOKEN) and analyse it there")
	fl.StringVar(&f.service, "service", "", "the service under test as the monitor names it (Marathon app id, Compose/Swarm service, brink.service label); default: the file's target_service")
	fl.StringVar(&f.runName, "name", "", "the run's name in the hub and the summary (default: the file's name:, else the file name or URL)")
	addAgentFlags(fl, af)
	return cmd
}

// outputs are the files a run writes.
type outputs struct{ json, csv, html []string }

func parseOuts(outs []string, reportPath string) (outputs, error) {
	var o outputs
	for _, spec := range outs {
		kind, path, ok := strings.Cut(spec, "=")
		if !ok || path == "" {
			return o, Usagef("--out %q: expected json=PATH or csv=PATH", spec)
		}
		switch kind {
		case "json":
			o.json = append(o.json, path)
		case "csv":
			o.csv = append(o.csv, path)
		default:
			return o, Usagef("--out %q: unknown format %q (use json or csv; --report writes HTML)", spec, kind)
		}
	}
	if reportPath != "" {
		o.html = append(o.html, reportPath)
	}
	return o, nil
}

// parseRate reads "500/s", "500", "6000/m", "2/ms" as iterations per second.
func parseRate(s string) (float64, error) {
	num, unit, hasUnit := strings.Cut(strings.TrimSpace(s), "/")
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || v <= 0 || v > 1e9 {
		return 0, fmt.Errorf("%q is not a positive rate (e.g. 500/s, 6000/m)", s)
	}
	if !hasUnit {
		return v, nil
	}
	per := map[string]time.Duration{"ms": time.Millisecond, "s": time.Second, "m": time.Minute, "min": time.Minute, "h": time.Hour}[strings.TrimSpace(unit)]
	if per == 0 {
		return 0, fmt.Errorf("%q: unknown unit %q (use /s, /m or /h)", s, unit)
	}
	return v * float64(time.Second) / float64(per), nil
}

func readBody(env *Env, body string) ([]byte, error) {
	switch {
	case body == "@-":
		b, err := io.ReadAll(io.LimitReader(env.Stdin, 64<<20))
		if err != nil {
			return nil, fmt.Errorf("--body @-: reading standard input: %w", err)
		}
		return b, nil
	case strings.HasPrefix(body, "@"):
		b, err := os.ReadFile(body[1:])
		if err != nil {
			return nil, Usagef("--body %s: %v", body, err)
		}
		return b, nil
	default:
		return []byte(body), nil
	}
}

// buildPlan turns the arguments into a plan: quick mode from flags, or a
// scenario file with the flags as overrides.
func buildPlan(env *Env, fs *pflag.FlagSet, f *runFlags, args []string) (*scenario.Plan, string, error) {
	var rate float64
	if f.rate != "" {
		r, err := parseRate(f.rate)
		if err != nil {
			return nil, "", Usagef("--rate %v", err)
		}
		rate = r
	}
	if len(args) == 0 {
		if f.url == "" {
			return nil, "", Usagef("give a scenario file or --url (see 'brink run --help')")
		}
		body, err := readBody(env, f.body)
		if err != nil {
			return nil, "", err
		}
		plan, err := scenario.Quick(scenario.QuickOptions{
			URL: f.url, Method: f.method, Headers: f.headers, Body: body,
			VUs: f.vus, Rate: rate, Duration: f.duration, Iterations: f.iterations,
			Ramp: f.ramp, Timeout: f.timeout, Thresholds: f.thresholds,
		})
		if err != nil {
			return nil, "", Usagef("%v", err)
		}
		plan.Options.Insecure, plan.Options.HTTP2 = f.insecure, f.http2
		return labelPlan(plan, fs, f, f.url)
	}
	path := args[0]
	for _, name := range []string{"url", "method", "body"} {
		if fs.Changed(name) {
			return nil, "", Usagef("--%s cannot be combined with a scenario file: the file describes the requests", name)
		}
	}
	plan, err := scenario.LoadEnv(path, env.Getenv)
	if err != nil {
		var se *scenario.Error
		if errors.As(err, &se) {
			return nil, "", WithExit(ExitUsage, err, "fix the scenario file at the position shown")
		}
		return nil, "", WithExit(ExitUsage, err, "")
	}
	if err := applyOverrides(plan, fs, f, rate); err != nil {
		return nil, "", err
	}
	return labelPlan(plan, fs, f, filepath.Base(path))
}

// labelPlan applies --name and --service over the file's name: and
// target_service:, and returns the run's label: its name, or fallback.
func labelPlan(plan *scenario.Plan, fs *pflag.FlagSet, f *runFlags, fallback string) (*scenario.Plan, string, error) {
	for _, fl := range []struct {
		flag  string
		value string
		into  *string
	}{{"name", f.runName, &plan.Name}, {"service", f.service, &plan.TargetService}} {
		if !fs.Changed(fl.flag) {
			continue
		}
		v := strings.TrimSpace(fl.value)
		switch {
		case v == "":
			return nil, "", Usagef("--%s is blank: give a value or leave the flag out", fl.flag)
		case len(v) > maxRunLabelBytes:
			return nil, "", Usagef("--%s is %d bytes long; at most %d fit", fl.flag, len(v), maxRunLabelBytes)
		case strings.ContainsFunc(v, unicode.IsControl):
			return nil, "", Usagef("--%s %q: must be one line without control characters", fl.flag, v)
		}
		*fl.into = v
	}
	if plan.Name != "" {
		return plan, plan.Name, nil
	}
	return plan, fallback, nil
}

// maxRunLabelBytes bounds --name and --service: what the hub keeps for a
// run's name and target service.
const maxRunLabelBytes = 1024

// applyOverrides applies command-line flags to a scenario file's plan. A
// flag applies to every scenario whose executor has that setting; one that
// applies to none is an error rather than silently ignored.
func applyOverrides(plan *scenario.Plan, fs *pflag.FlagSet, f *runFlags, rate float64) error {
	applied := map[string]bool{}
	var stages []scenario.Stage
	if f.ramp != "" {
		s, err := scenario.ParseRamp(f.ramp)
		if err != nil {
			return Usagef("--ramp: %v", err)
		}
		stages = s
	}
	for _, sc := range plan.Scenarios {
		e := &sc.Executor
		if fs.Changed("vus") {
			switch e.Kind {
			case scenario.ConstantVUs:
				e.VUs, applied["vus"] = f.vus, true
			case scenario.ConstantArrivalRate, scenario.RampingArrivalRate:
				e.MaxVUs, applied["vus"] = f.vus, true
				e.PreAllocatedVUs = min(e.PreAllocatedVUs, f.vus)
			}
		}
		if fs.Changed("duration") && (e.Kind == scenario.ConstantVUs || e.Kind == scenario.ConstantArrivalRate) {
			e.Duration, applied["duration"] = f.duration, true
		}
		if fs.Changed("iterations") {
			e.Iterations, applied["iterations"] = f.iterations, true
		}
		if fs.Changed("rate") && e.Kind == scenario.ConstantArrivalRate {
			e.Rate, e.TimeUnit, applied["rate"] = rate, time.Second, true
		}
		if fs.Changed("ramp") && (e.Kind == scenario.RampingVUs || e.Kind == scenario.RampingArrivalRate) {
			e.Stages, applied["ramp"] = stages, true
		}
		if fs.Changed("timeout") {
			for _, fl := range sc.Flows {
				for _, st := range fl.Steps {
					st.Timeout = f.timeout
				}
			}
		}
	}
	where := map[string]string{
		"vus": "constant-vus and arrival-rate", "duration": "constant-vus and constant-arrival-rate",
		"rate": "constant-arrival-rate", "ramp": "ramping-vus and ramping-arrival-rate", "iterations": "any",
	}
	for _, name := range []string{"vus", "duration", "iterations", "rate", "ramp"} {
		if fs.Changed(name) && !applied[name] {
			return Usagef("--%s applies to %s scenarios, and the file has none", name, where[name])
		}
	}
	if fs.Changed("timeout") {
		plan.Options.Timeout = f.timeout
	}
	plan.Options.Insecure = plan.Options.Insecure || f.insecure
	plan.Options.HTTP2 = plan.Options.HTTP2 || f.http2
	for _, h := range f.headers {
		name, value, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(name) == "" || strings.ContainsAny(h, "\r\n") {
			return Usagef(`--header %q: expected "Name: value"`, h)
		}
		if plan.Options.Headers == nil {
			plan.Options.Headers = map[string]string{}
		}
		plan.Options.Headers[strings.TrimSpace(name)] = strings.TrimSpace(value)
	}
	for _, t := range f.thresholds {
		if _, err := threshold.Parse(t); err != nil {
			return Usagef("--threshold: %v", err)
		}
	}
	plan.Thresholds = append(plan.Thresholds, f.thresholds...)
	return nil
}

func plannedIterations(plan *scenario.Plan) int64 {
	var n int64
	for _, sc := range plan.Scenarios {
		if sc.Executor.Iterations <= 0 {
			return 0
		}
		n += sc.Executor.Iterations
	}
	return n
}

func runLoad(ctx context.Context, env *Env, fs *pflag.FlagSet, f *runFlags, args []string) error {
	outs, err := parseOuts(f.outs, f.reportPath)
	if err != nil {
		return err
	}
	plan, label, err := buildPlan(env, fs, f, args)
	if err != nil {
		return err
	}
	thresholds, err := threshold.ParseAll(plan.Thresholds)
	if err != nil {
		return Usagef("%v", err)
	}
	engine, err := load.New(ctx, plan)
	if err != nil {
		return WithExit(ExitError, err, "check the host name and port of the target URL")
	}
	for _, w := range engine.Warnings() {
		fmt.Fprintf(env.Stderr, "warning: %s\n", w)
	}

	var (
		hubRun  *hubclient.Run
		sampler *analysis.GeneratorSampler
	)
	if f.hubURL != "" {
		scenarioText := ""
		if len(args) > 0 {
			if b, err := os.ReadFile(args[0]); err == nil {
				scenarioText = string(b)
			}
		}
		hubRun = hubclient.New(f.hubURL, env.Getenv(hubTokenEnv)).StartRun(ctx, hubclient.RunInfo{
			Name: label, Scenario: scenarioText, TargetService: plan.TargetService})
		defer hubRun.Close()
		fmt.Fprintf(env.Stderr, "reporting to %s\n", hubRun.URL())
		// The generator's own CPU, second by second beside the load, lets
		// the analysis tell a saturated generator from a saturated target.
		sampler = analysis.NewGeneratorSampler()
	}

	progress := output.NewProgress(env.Stdout, env.IsTerminal, plan.PlannedDuration(), label)
	if plan.PlannedDuration() == 0 {
		progress.SetPlannedIterations(plannedIterations(plan))
	}

	runDone := make(chan load.RunInfo, 1)
	go func() { runDone <- engine.Run(ctx) }()
	stopSignals := watchSignals(env, engine)
	defer stopSignals()

	var (
		acc         *results.Accumulator
		start       time.Time
		unreachable bool
		anySuccess  bool
		attempts    int64
		refused     int64
	)
	for sec := range engine.Seconds() {
		if acc == nil {
			start = engine.StartTime()
			acc = results.NewAccumulator(start)
		}
		acc.Add(sec)
		total := sec.Total()
		secEnd := time.Unix(sec.T+1, 0)
		if now := time.Now(); now.Before(secEnd) {
			secEnd = now // the final, partial second
		}
		progress.Second(sec, secEnd.Sub(start))
		if hubRun != nil {
			hubRun.Push(sec)
			sampler.Sample(sec.T)
		}
		if !anySuccess && !unreachable {
			attempts += total.Requests
			refused += total.Failures[results.ConnectRefused]
			anySuccess = total.Requests > total.Failures[results.ConnectRefused]
			if !anySuccess && attempts > 0 && refused == attempts && time.Since(start) >= unreachableAfter {
				unreachable = true
				engine.Stop()
			}
		}
	}
	info := <-runDone
	stopSignals()
	progress.Done()
	if acc == nil {
		acc = results.NewAccumulator(info.Start)
	}
	acc.SetEnd(info.End)
	summary := acc.Summary()
	summary.Name = label
	summary.TargetService = plan.TargetService
	summary.Aborted = info.Aborted
	if j := info.Jitter; j != nil && j.Count() > 0 {
		l := results.LatencyOf(j)
		summary.ScheduleJitterMs = &l
	}
	if hubRun != nil {
		summary.Run = hubRun.ID()
	}
	summary.Thresholds = threshold.Evaluate(thresholds, &summary)
	summary.ThresholdOK = threshold.AllOK(summary.Thresholds)

	fmt.Fprintln(env.Stdout)
	output.WriteSummaryTable(env.Stdout, &summary)
	writeEngineNotes(env.Stdout, info, summary.Dropped)

	var saturation *analysis.Result
	if hubRun != nil {
		// After the run a Ctrl-C cuts the hub's part short; the results
		// stand and the files are still written.
		postCtx, stopPost := interruptible(ctx, env)
		finishCtx, cancel := context.WithTimeout(postCtx, 10*time.Second)
		err := hubRun.Finish(finishCtx, hubclient.Finish{End: info.End, Aborted: info.Aborted,
			Thresholds: summary.Thresholds, ThresholdsOK: summary.ThresholdOK, Summary: &summary})
		cancel()
		if err != nil {
			fmt.Fprintf(env.Stderr, "warning: the hub has not received the whole run: %v\n", err)
			fmt.Fprintf(env.Stdout, "\nsaturation analysis: skipped: the hub at %s did not take the run\n", f.hubURL)
		} else {
			saturation = analyzeRun(postCtx, env.Stdout, f.hubURL, &summary, info, sampler)
		}
		stopPost()
	}

	var writeErrs []error
	for _, p := range outs.json {
		writeErrs = append(writeErrs, writeSummaryJSON(p, &summary, saturation))
	}
	for _, p := range outs.csv {
		writeErrs = append(writeErrs, output.WriteCSV(p, &summary))
	}
	for _, p := range outs.html {
		writeErrs = append(writeErrs, report.WriteRunHTML(p, &summary))
	}

	switch {
	case info.Aborted:
		return WithExit(ExitAborted, errors.New("run aborted: results above cover what ran until then"), "")
	case unreachable:
		return WithExit(ExitError,
			fmt.Errorf("target unreachable: all %d connection attempts in the first %s were refused", attempts, unreachableAfter),
			"start the target or correct the URL; the results above (and any --out files) were still written")
	}
	if err := errors.Join(writeErrs...); err != nil {
		return WithExit(ExitError, err, "check that the output directory exists and is writable")
	}
	if !summary.ThresholdOK {
		failed := 0
		for _, r := range summary.Thresholds {
			if !r.OK {
				failed++
			}
		}
		return WithExit(ExitThresholdFailed, fmt.Errorf("%d of %d thresholds failed", failed, len(summary.Thresholds)), "")
	}
	return nil
}

// watchSignals turns the first signal into a graceful stop and the second
// into an abort.
// stop may be called more than once.
func watchSignals(env *Env, engine *load.Engine) (stop func()) {
	done := make(chan struct{})
	if env.Signals == nil {
		return func() {}
	}
	go func() {
		for n := 0; ; n++ {
			select {
			case <-done:
				return
			case <-env.Signals:
			}
			if n == 0 {
				fmt.Fprintln(env.Stderr, "\nstopping: no new requests, waiting for in-flight ones (Ctrl-C again to abort)")
				engine.Stop()
				continue
			}
			fmt.Fprintln(env.Stderr, "\naborting")
			engine.Abort()
			return
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done) }) }
}

// interruptible is ctx, cancelled as well by the next signal (Ctrl-C).
func interruptible(ctx context.Context, env *Env) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	if env.Signals == nil {
		return ctx, cancel
	}
	go func() {
		select {
		case <-ctx.Done():
		case <-env.Signals:
			fmt.Fprintln(env.Stderr, "\ninterrupted: skipping what is left of the hub's part")
			cancel()
		}
	}()
	return ctx, cancel
}

// writeEngineNotes prints what the summary table does not show: why
// requests failed, how fast VUs started, and the open model's schedule
// accuracy.
func writeEngineNotes(w io.Writer, info load.RunInfo, dropped int64) {
	if len(info.Notes) > 0 {
		fmt.Fprintln(w, "\nwhy requests failed (first of each kind)")
		for _, n := range info.Notes {
			fmt.Fprintf(w, "  %s\n", n)
		}
	}
	fmt.Fprintf(w, "\nengine: %s VUs started (the last after %s); the last first request went out after %s\n",
		output.FormatCount(int64(info.VUs)), fmtDur(info.LastVUCreated), fmtDur(info.LastFirstRequest))
	if j := info.Jitter; j != nil && j.Count() > 0 {
		fmt.Fprintf(w, "schedule: %s iterations started late by p50 %s, p99 %s, max %s (send time minus scheduled time)\n",
			output.FormatCount(j.Count()), output.FormatMs(results.Ms(j.Quantile(0.5))),
			output.FormatMs(results.Ms(j.Quantile(0.99))), output.FormatMs(results.Ms(j.Max())))
	}
	if dropped > 0 {
		fmt.Fprintf(w, "dropped: %s iterations were due while every VU was busy: the target answered more slowly "+
			"than the rate allows with this many VUs (raise --vus or max_vus to offer the full rate)\n", output.FormatCount(dropped))
	}
}

func fmtDur(d time.Duration) string { return output.FormatMs(float64(d) / float64(time.Millisecond)) }
