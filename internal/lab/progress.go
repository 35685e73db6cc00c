package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/brinkhq/brink/internal/output"
	"github.com/brinkhq/brink/internal/results"
)

// containerView is one container as the monitor reports it now.
type containerView struct {
	Name      string   `json:"name"`
	Service   string   `json:"service"`
	CPU       *float64 `json:"cpu_cores"`
	CPULimit  *float64 `json:"cpu_limit_cores"`
	Throttled *float64 `json:"cpu_throttled_ratio"`
}

// resourceView is the monitor's picture of the lab at one instant: the web
// replicas, the load balancer and the host, for the live progress line.
type resourceView struct {
	Host struct {
		CPUs    float64  `json:"cpus"`
		CPUUsed *float64 `json:"cpu_used_cores"`
	} `json:"host"`
	Containers []containerView `json:"containers"`
}

// watcher polls the monitor's /api/v1/containers once a second so that the
// progress line can put the containers' CPU beside the load, as cAdvisor
// showed it in the seed, without ever holding up the load loop.
type watcher struct {
	url  string
	http *http.Client
	mu   sync.Mutex
	last *resourceView
	at   time.Time
}

func newWatcher(monitorURL string) *watcher {
	return &watcher{url: monitorURL + "/api/v1/containers", http: &http.Client{Timeout: 2 * time.Second}}
}

// run polls until ctx ends.
func (w *watcher) run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		if v, err := w.fetch(ctx); err == nil {
			w.mu.Lock()
			w.last, w.at = v, time.Now()
			w.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (w *watcher) fetch(ctx context.Context) (*resourceView, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := w.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("monitor: HTTP %d", resp.StatusCode)
	}
	var env struct {
		Data resourceView `json:"data"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&env); err != nil {
		return nil, fmt.Errorf("monitor: %w", err)
	}
	return &env.Data, nil
}

// latest is the last view, if it is recent.
func (w *watcher) latest() *resourceView {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.last == nil || time.Since(w.at) > 5*time.Second {
		return nil
	}
	return w.last
}

// progress prints a phase's live line: in place once a second on a
// terminal, otherwise one line every few seconds.
type progress struct {
	w         io.Writer
	terminal  bool
	phase     string
	planned   time.Duration
	service   string
	every     time.Duration
	lastPrint time.Time
	width     int
}

func newProgress(w io.Writer, terminal bool, phase string, planned time.Duration, service string) *progress {
	every := 5 * time.Second
	if terminal {
		every = 0
	}
	return &progress{w: w, terminal: terminal, phase: phase, planned: planned, service: service, every: every}
}

// second reports one finished second.
func (p *progress) second(elapsed time.Duration, sec *results.Second, view *resourceView) {
	if !p.terminal && time.Since(p.lastPrint) < p.every {
		return
	}
	p.lastPrint = time.Now()
	line := progressLine(p.phase, elapsed, p.planned, sec, view, p.service)
	if p.terminal {
		pad := ""
		if n := p.width - len(line); n > 0 {
			pad = strings.Repeat(" ", n)
		}
		p.width = len(line)
		fmt.Fprintf(p.w, "\r%s%s", line, pad)
		return
	}
	fmt.Fprintln(p.w, line)
}

// done ends the in-place line.
func (p *progress) done() {
	if p.terminal && p.width > 0 {
		fmt.Fprintln(p.w)
	}
}

// progressLine is one second of a phase: offered and achieved load, errors
// (and how many of them only the body check caught), p95, and beside it
// what the monitor sees: each replica's CPU against its limit and its
// throttling, the load balancer's CPU and the host's.
func progressLine(phase string, elapsed, planned time.Duration, sec *results.Second, view *resourceView, service string) string {
	t := sec.Total()
	good := t.Requests - t.FailureCount()
	var b strings.Builder
	fmt.Fprintf(&b, "  %-12s %s/%s  offered %6s/s  ok %6s/s", phase, clock(elapsed), clock(planned),
		output.FormatRate(sec.TargetRate), output.FormatRate(float64(good)))
	if t.Requests > 0 {
		fmt.Fprintf(&b, "  failed %5.1f%%", 100*float64(t.FailureCount())/float64(t.Requests))
		if cf := t.Failures[results.CheckFailed]; cf > 0 {
			fmt.Fprintf(&b, " (%s 200s failed the body check)", output.FormatCount(cf))
		}
		fmt.Fprintf(&b, "  p95 %s", output.FormatMs(results.Ms(t.Latency.Quantile(0.95))))
	}
	if view == nil {
		return b.String()
	}
	var web []containerView
	var lbView *containerView
	for i, c := range view.Containers {
		switch c.Service {
		case service:
			web = append(web, c)
		case LBService:
			lbView = &view.Containers[i]
		}
	}
	sort.Slice(web, func(i, j int) bool { return web[i].Name < web[j].Name })
	if len(web) > 0 {
		b.WriteString("  | cpu")
		for _, c := range web {
			b.WriteString(" " + cpuText(c))
		}
	}
	if lbView != nil && lbView.CPU != nil {
		fmt.Fprintf(&b, "  lb %.2f", *lbView.CPU)
	}
	if view.Host.CPUUsed != nil && view.Host.CPUs > 0 {
		fmt.Fprintf(&b, "  host %.1f/%.0f", *view.Host.CPUUsed, view.Host.CPUs)
	}
	return b.String()
}

func cpuText(c containerView) string {
	if c.CPU == nil {
		return "-"
	}
	s := fmt.Sprintf("%.2f", *c.CPU)
	if c.CPULimit != nil {
		s += fmt.Sprintf("/%.2f", *c.CPULimit)
	}
	if c.Throttled != nil && *c.Throttled >= 0.01 {
		s += fmt.Sprintf(" thr %.0f%%", 100**c.Throttled)
	}
	return s
}

func clock(d time.Duration) string {
	s := int(d.Round(time.Second) / time.Second)
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}
