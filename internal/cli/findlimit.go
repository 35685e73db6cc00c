package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/brinkhq/brink/internal/analysis"
	"github.com/brinkhq/brink/internal/findlimit"
	"github.com/brinkhq/brink/internal/hubclient"
	"github.com/brinkhq/brink/internal/output"
	"github.com/brinkhq/brink/internal/results"
	"github.com/brinkhq/brink/internal/scenario"
	"github.com/brinkhq/brink/internal/threshold"
)

type findLimitFlags struct {
	url, method, body, start, maxRate string
	headers, slos, outs               []string
	step, warmup, pause, timeout      time.Duration
	precision                         float64
	maxSteps, vus, replicas, retries  int
	service, lbService, hubURL        string
	insecure, http2                   bool
}

func newFindLimitCmd(env *Env) *cobra.Command {
	f := &findLimitFlags{}
	cmd := &cobra.Command{
		Use:   "find-limit [scenario.yaml] [flags]",
		Short: "Find the highest arrival rate a service sustains within its SLOs",
		Long: `brink find-limit offers constant arrival rates in steps: it doubles the rate from --start
until a step breaks an SLO, then bisects between the last rate that held and the first that
broke until the gap is within --precision. Each step lasts --step; its first --warmup is not
judged. A doubling step that breaks is run once more (--retries) before the break is
believed, and after a step that broke the pause lasts at least as long as its slowest
response, so that the target has drained. It prints the highest sustainable rate and the
capacity per replica.

The load is one URL (--url) or a scenario file, whose scenarios are all turned into
constant-arrival-rate executors sharing the rate (in proportion to their own rates, or
equally). Without --slo, the file's thresholds are the SLOs.

If the load generator itself saturates (its CPU at its limit, its VU pool out while
responses stay fast, or its sends so late that the lateness alone is half of a broken latency
limit), the search stops there and says so: the target sustains at least
that rate, and the limit is the generator's, not the target's.

With --hub, the search is recorded in the hub as one run whose labels carry the capacity
(for the autoscaler's 'capacity: from-run RUN'); with --service too, the hub counts the
service's replicas and the monitor's series name the limiting resource at the first step
that broke.

Exit codes: 0 a sustainable rate was found, 1 runtime error, 2 bad flags or file,
97 interrupted, 99 not even the lowest rate held.`,
		Example: `  brink find-limit --url http://127.0.0.1:8080/ --slo 'p95<300ms' --slo 'error_rate<1%'
  brink find-limit checkout.yaml --slo 'p99<1s' --start 50/s --step 20s --out json=limit.json
  brink find-limit --url http://127.0.0.1:8080/ --slo 'p95<300ms' --service web --hub http://127.0.0.1:9339`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 1 {
				return Usagef("give one scenario file (or --url), not %d arguments", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runFindLimit(cmd.Context(), env, cmd, f, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.url, "url", "", "target URL (instead of a scenario file)")
	fl.StringVar(&f.method, "method", "", "HTTP method with --url (default GET, or POST with --body)")
	fl.StringArrayVar(&f.headers, "header", nil, `request header "Name: value" with --url (repeatable)`)
	fl.StringVar(&f.body, "body", "", "request body with --url: text, @FILE, or @- for standard input")
	fl.StringArrayVar(&f.slos, "slo", nil, "criterion every step must meet, e.g. 'p95<300ms', 'error_rate<1%' (repeatable)")
	fl.StringVar(&f.start, "start", "10/s", "first rate tried")
	fl.StringVar(&f.maxRate, "max-rate", "1000000/s", "highest rate tried")
	fl.Float64Var(&f.precision, "precision", findlimit.DefaultPrecision, "stop when the limit is known within this fraction (0.05 = 5%)")
	fl.DurationVar(&f.step, "step", findlimit.DefaultStep, "how long each rate is offered")
	fl.DurationVar(&f.warmup, "warmup", findlimit.DefaultWarmup, "start of each step not judged")
	fl.DurationVar(&f.pause, "pause", findlimit.DefaultPause, "pause between steps, for the target to drain")
	fl.IntVar(&f.maxSteps, "max-steps", findlimit.DefaultMaxSteps, "most steps to run")
	fl.IntVar(&f.retries, "retries", findlimit.DefaultRetries, "times a doubling step that broke is run again before the break is believed (0: never)")
	fl.IntVar(&f.vus, "vus", 0, "most VUs a step may use (default: twice the rate)")
	fl.DurationVar(&f.timeout, "timeout", 0, "per-request timeout (default 30s)")
	fl.BoolVar(&f.insecure, "insecure", false, "accept any TLS certificate")
	fl.BoolVar(&f.http2, "http2", false, "use HTTP/2")
	fl.IntVar(&f.replicas, "replicas", 0, "replicas serving the target, for the capacity per replica (default 1, or counted by --hub)")
	fl.StringVar(&f.service, "service", "", "the target's service name in the hub (with --hub)")
	fl.StringVar(&f.lbService, "lb-service", analysis.DefaultLBService, "the load balancer's service name in the hub")
	fl.StringVar(&f.hubURL, "hub", "", "a brink hub: counts replicas, names the limiting resource, records the search (token from $BRINK_HUB_TOKEN)")
	fl.StringArrayVar(&f.outs, "out", nil, "write the result: json=PATH")
	return cmd
}

func runFindLimit(ctx context.Context, env *Env, cmd *cobra.Command, f *findLimitFlags, args []string) error {
	fs := cmd.Flags()
	var jsonPaths []string
	for _, spec := range f.outs {
		kind, path, ok := strings.Cut(spec, "=")
		if !ok || kind != "json" || path == "" {
			return Usagef("--out %q: expected json=PATH", spec)
		}
		jsonPaths = append(jsonPaths, path)
	}
	start, err := parseRate(f.start)
	if err != nil {
		return Usagef("--start %v", err)
	}
	maxRate, err := parseRate(f.maxRate)
	if err != nil {
		return Usagef("--max-rate %v", err)
	}
	if f.service != "" && f.hubURL == "" {
		return Usagef("--service needs --hub: the hub knows the service's replicas and resources")
	}
	if f.replicas < 0 {
		return Usagef("--replicas must be at least 1")
	}

	var plan findlimit.PlanFunc
	var target, scenarioText string
	var fileThresholds []string
	switch {
	case len(args) == 1:
		for _, name := range []string{"url", "method", "body", "header"} {
			if fs.Changed(name) {
				return Usagef("--%s cannot be combined with a scenario file: the file describes the requests", name)
			}
		}
		path := args[0]
		p, err := scenario.LoadEnv(path, env.Getenv)
		if err != nil {
			var se *scenario.Error
			if errors.As(err, &se) {
				return WithExit(ExitUsage, err, "fix the scenario file at the position shown")
			}
			return WithExit(ExitUsage, err, "")
		}
		fileThresholds = p.Thresholds
		text, _ := os.ReadFile(path)
		scenarioText, target = string(text), filepath.Base(path)
		filePlan := findlimit.FilePlan(path, env.Getenv)
		plan = func(rate float64, d time.Duration) (*scenario.Plan, error) {
			p, err := filePlan(rate, d)
			if err != nil {
				return nil, err
			}
			applyFindLimitOptions(p, f)
			return p, nil
		}
	case f.url != "":
		body, err := readBody(env, f.body)
		if err != nil {
			return err
		}
		base := scenario.QuickOptions{URL: f.url, Method: f.method, Headers: f.headers, Body: body, VUs: f.vus, Timeout: f.timeout}
		probe := base
		probe.Rate, probe.Duration = start, time.Second
		if _, err := scenario.Quick(probe); err != nil {
			return Usagef("%v", err)
		}
		quick := findlimit.URLPlan(base)
		plan = func(rate float64, d time.Duration) (*scenario.Plan, error) {
			p, err := quick(rate, d)
			if err != nil {
				return nil, err
			}
			applyFindLimitOptions(p, f)
			return p, nil
		}
		target = f.url
	default:
		return Usagef("give a scenario file or --url (see 'brink find-limit --help')")
	}

	sloExprs := f.slos
	if len(sloExprs) == 0 {
		sloExprs = fileThresholds
	}
	if len(sloExprs) == 0 {
		return Usagef("no SLO: give at least one, e.g. --slo 'p95<300ms' --slo 'error_rate<1%%'")
	}
	slos, err := threshold.ParseAll(sloExprs)
	if err != nil {
		return Usagef("--slo: %v", err)
	}
	cfg := findlimit.Config{
		Start: start, Max: maxRate, Precision: f.precision,
		StepDuration: f.step, Warmup: f.warmup, Pause: f.pause, MaxSteps: f.maxSteps, SLOs: slos,
		Retries: f.retries,
	}
	if f.retries == 0 {
		cfg.Retries = -1
	}
	if err := cfg.Validate(); err != nil {
		return Usagef("%v", err)
	}
	if f.warmup >= f.step {
		return Usagef("--warmup %s must be shorter than --step %s", f.warmup, f.step)
	}

	var hub *analysis.Hub
	if f.hubURL != "" {
		hub = analysis.NewHub(f.hubURL)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopSignals := cancelOnSignal(env, cancel, "\nstopping: the current step is cut short; the steps so far are reported")
	defer stopSignals()

	fmt.Fprintf(env.Stdout, "brink find-limit %s\n  SLOs: %s; steps of %s (first %s not judged), doubling from %s, then bisecting to %s\n\n",
		target, strings.Join(sloExprs, ", "), f.step, f.warmup, rateText(start), output.FormatPercent(f.precision))
	obs := newLimitProgress(env.Stdout, env.IsTerminal)
	res, err := findlimit.Search(ctx, cfg, findlimit.EngineRunner{Plan: plan}, obs)
	obs.clear()
	if err != nil {
		if ctx.Err() != nil {
			return WithExit(ExitAborted, err, "")
		}
		return WithExit(ExitError, err, "check that the target is reachable")
	}
	res.Target = target

	var notes []string
	if f.replicas > 0 {
		res.SetReplicas(f.replicas)
	}
	if hub != nil && f.service != "" && ctx.Err() == nil {
		if f.replicas == 0 {
			n, err := hub.Replicas(ctx, f.service, time.Time{})
			if err != nil {
				notes = append(notes, fmt.Sprintf("replicas not counted: %v", err))
			} else {
				res.SetReplicas(n)
			}
		}
		if err := findlimit.Attribute(ctx, hub, res, f.service, f.lbService); err != nil {
			notes = append(notes, fmt.Sprintf("limiting resource not named: %v", err))
		}
	}
	if hub != nil && ctx.Err() == nil {
		c := hubclient.New(f.hubURL, env.Getenv("BRINK_HUB_TOKEN"))
		id, err := findlimit.Report(ctx, c, res, f.service, scenarioText)
		if err != nil {
			notes = append(notes, err.Error())
		} else {
			notes = append(notes, fmt.Sprintf("recorded in the hub as run %s (%s/runs/%s)", id, strings.TrimRight(f.hubURL, "/"), id))
		}
	}
	writeLimitResult(env.Stdout, res, notes)
	for _, p := range jsonPaths {
		if err := output.WriteAtomic(p, "find-limit result", func(w io.Writer) error {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(res)
		}); err != nil {
			return WithExit(ExitError, err, "")
		}
	}
	switch {
	case res.LimitedBy == "aborted":
		return WithExit(ExitAborted, errors.New("find-limit interrupted"), "")
	case res.MaxRate == 0:
		return WithExit(ExitThresholdFailed, fmt.Errorf("no rate met the SLOs, down to %s", rateText(res.BrokeAt)), "check the SLOs, or whether the target works at all at low load")
	}
	return nil
}

// applyFindLimitOptions applies the request-level flags to a step's plan.
func applyFindLimitOptions(p *scenario.Plan, f *findLimitFlags) {
	p.Thresholds = nil // the SLOs are judged per step, after the warm-up
	p.Options.Insecure = p.Options.Insecure || f.insecure
	p.Options.HTTP2 = p.Options.HTTP2 || f.http2
	if f.timeout > 0 {
		p.Options.Timeout = f.timeout
	}
	if f.vus > 0 {
		for _, sc := range p.Scenarios {
			sc.Executor.MaxVUs = f.vus
			sc.Executor.PreAllocatedVUs = min(sc.Executor.PreAllocatedVUs, f.vus)
		}
	}
}

// cancelOnSignal cancels on the first signal.
func cancelOnSignal(env *Env, cancel context.CancelFunc, msg string) (stop func()) {
	if env.Signals == nil {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-done:
		case <-env.Signals:
			fmt.Fprintln(env.Stderr, msg)
			cancel()
		}
	}()
	return func() { close(done) }
}

func rateText(r float64) string { return output.FormatRate(r) + "/s" }

// limitProgress shows a search as it runs: a line per step, and on a
// terminal the current second redrawn in place.
type limitProgress struct {
	w          io.Writer
	terminal   bool
	step       int
	rate       float64
	dur        time.Duration
	seconds    int
	live       bool
	lastPlainT int
}

func newLimitProgress(w io.Writer, terminal bool) *limitProgress {
	return &limitProgress{w: w, terminal: terminal}
}

func (p *limitProgress) StepStarted(n int, rate float64, d time.Duration) {
	p.step, p.rate, p.dur, p.seconds = n, rate, d, 0
	fmt.Fprintf(p.w, "step %2d  %9s for %s\n", n, rateText(rate), d)
}

func (p *limitProgress) Second(sec *results.Second) {
	p.seconds++
	t := sec.Total()
	line := fmt.Sprintf("         %3ds  %9s  p95 %7s  errors %6s  VUs %d",
		p.seconds, output.FormatRate(float64(t.Requests))+" req/s",
		output.FormatMs(results.Ms(t.Latency.Quantile(0.95))), output.FormatPercent(errorShare(t)), sec.VUs)
	if p.terminal {
		fmt.Fprintf(p.w, "\r\x1b[2K%s", line)
		p.live = true
		return
	}
	if p.seconds-p.lastPlainT >= 5 || p.seconds == 1 {
		p.lastPlainT = p.seconds
		fmt.Fprintln(p.w, line)
	}
}

func errorShare(s *results.Stats) float64 {
	if s.Requests == 0 {
		return 0
	}
	return float64(s.FailureCount()) / float64(s.Requests)
}

func (p *limitProgress) clear() {
	if p.live {
		fmt.Fprint(p.w, "\r\x1b[2K")
		p.live = false
	}
}

func (p *limitProgress) StepDone(s findlimit.Step) {
	p.clear()
	p.lastPlainT = 0
	verdict := "held"
	switch {
	case s.GeneratorLimited:
		verdict = "GENERATOR LIMITED: " + s.Note
	case !s.OK:
		var broken []string
		for _, r := range s.SLOs {
			if !r.OK {
				broken = append(broken, fmt.Sprintf("%s (was %s)", r.Expr, sloActual(r)))
			}
		}
		verdict = "broke " + strings.Join(broken, ", ")
	}
	fmt.Fprintf(p.w, "      →  %s req/s, p95 %s, p99 %s, errors %s: %s\n",
		output.FormatRate(s.RPS), output.FormatMs(s.P95Ms), output.FormatMs(s.P99Ms), output.FormatPercent(s.ErrorRate), verdict)
}

func sloActual(r results.ThresholdResult) string {
	t, err := threshold.Parse(r.Expr)
	if err != nil {
		return fmt.Sprint(r.Actual)
	}
	return threshold.FormatValue(t.Kind, r.Actual)
}

// writeLimitResult prints the answer.
func writeLimitResult(w io.Writer, r *findlimit.Result, notes []string) {
	var b strings.Builder
	b.WriteString("\n")
	if r.MaxRate > 0 {
		fmt.Fprintf(&b, "highest sustainable rate  %s  (%s req/s achieved)\n", rateText(r.MaxRate), output.FormatRate(r.MaxRPS))
	} else {
		b.WriteString("highest sustainable rate  none\n")
	}
	if r.BrokeAt > 0 {
		fmt.Fprintf(&b, "SLOs broke at             %s\n", rateText(r.BrokeAt))
	}
	fmt.Fprintf(&b, "capacity per replica      %s req/s (%d replica", output.FormatRate(r.CapacityPerReplica), r.Replicas)
	if r.Replicas != 1 {
		b.WriteString("s")
	}
	b.WriteString(")\n")
	if r.Limit != nil {
		label := "limit"
		if r.Limit.Generator {
			label = "limit (generator)"
		}
		fmt.Fprintf(&b, "%-25s %s\n", label, r.Limit.Text)
	}
	fmt.Fprintf(&b, "%s\n", r.Message)
	for _, n := range notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	io.WriteString(w, b.String())
}
