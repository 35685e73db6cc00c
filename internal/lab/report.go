package lab

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/brinkhq/brink/internal/analysis"
	"github.com/brinkhq/brink/internal/output"
	"github.com/brinkhq/brink/internal/report"
	"github.com/brinkhq/brink/internal/report/chart"
	"github.com/brinkhq/brink/internal/results"
	"github.com/brinkhq/brink/internal/target"
)

// PhaseResult is one phase as it ran: its run in the hub, its load
// figures, the monitor's figures and the saturation analysis.
type PhaseResult struct {
	Name     string `json:"name"`
	Title    string `json:"title"`
	Story    string `json:"story"`
	Replicas int    `json:"replicas"`
	RunID    string `json:"run_id"`
	RunURL   string `json:"run_url"`

	Start          time.Time `json:"start"`
	End            time.Time `json:"end"`
	PeakOfferedRPS float64   `json:"peak_offered_rps"`

	// Whole-phase figures.
	Requests        int64            `json:"requests"`
	Failures        int64            `json:"failures"`
	FailuresByKind  map[string]int64 `json:"failures_by_kind"`
	ErrorRate       float64          `json:"error_rate"`
	StatusErrorRate float64          `json:"status_error_rate"` // what a status-code-only test would count
	CheckFailures   int64            `json:"check_failures"`    // answers below 400 whose body failed the check
	P95Ms           float64          `json:"p95_ms"`
	P99Ms           float64          `json:"p99_ms"`
	MaxSustainedRPS float64          `json:"max_sustained_rps"` // good req/s held for 5 s

	// The sample app's own counts over the phase.
	TargetRequests   int64 `json:"target_requests"`
	TargetErrorPages int64 `json:"target_error_pages"`

	// Peak is the load at peak offered load; Resources the monitor's
	// figures over the same seconds.
	Peak      PeakFigures     `json:"peak"`
	Resources ResourceFigures `json:"resources"`

	Knee     *analysis.Knee  `json:"knee"`
	Limit    *analysis.Limit `json:"limit"`
	Headline string          `json:"headline"`
	Analysis analysis.Result `json:"analysis"`

	Notes   []string       `json:"notes"`   // the first message of each kind of failure
	Scaling []ScalingEvent `json:"scaling"` // what a companion (the autoscaler) did
	// ReplicasEnd is how many replicas served when the load ended.
	ReplicasEnd int `json:"replicas_end"`

	Scenario string                  `json:"scenario"`
	Timeline []results.TimelinePoint `json:"timeline"`
	Series   []analysis.Series       `json:"resource_series"`
}

// Setup is what the lab ran, for the report.
type Setup struct {
	Mode               string   `json:"mode"`
	Service            string   `json:"service"`
	CPUCostMs          float64  `json:"cpu_cost_ms"`
	ReplicaCPUs        float64  `json:"replica_cpus"`
	ReplicaMemoryBytes int64    `json:"replica_memory_bytes"`
	LBCPUs             float64  `json:"lb_cpus"`
	LBMemoryBytes      int64    `json:"lb_memory_bytes"`
	GeneratorCores     int      `json:"generator_cores"`
	HostCores          int      `json:"host_cores"`
	Host               string   `json:"host"`
	ServiceURL         string   `json:"service_url"`
	Images             []string `json:"images"`
}

// Conclusion is one claim of the seed's story, checked against this run.
type Conclusion struct {
	Claim    string `json:"claim"`
	Holds    bool   `json:"holds"`
	Evidence string `json:"evidence"`
}

// Report is everything the lab found.
type Report struct {
	BrinkVersion string      `json:"brink_version"`
	Started      time.Time   `json:"started"`
	Finished     time.Time   `json:"finished"`
	Quick        bool        `json:"quick"`
	Setup        Setup       `json:"setup"`
	Calibration  Calibration `json:"calibration"`
	// HostBeforeLoad is the host's CPU use with the stack idle: other
	// work on the machine that every phase's figures include.
	HostBeforeLoad *HostLoad      `json:"host_before_load"`
	Phases         []*PhaseResult `json:"phases"`
	Conclusions    []Conclusion   `json:"conclusions"`
	DashboardURL   string         `json:"dashboard_url"`
	CompareURL     string         `json:"compare_url,omitempty"`
	Kept           bool           `json:"kept"`
}

// Phase returns the named phase's result, or nil.
func (r *Report) Phase(name string) *PhaseResult {
	for _, p := range r.Phases {
		if p.Name == name {
			return p
		}
	}
	return nil
}

func buildReport(cfg Config, s *Stack, cal Calibration, phases []*PhaseResult, started time.Time) *Report {
	rep := &Report{
		BrinkVersion: cfg.Version, Started: started, Finished: time.Now(), Quick: cfg.Quick,
		Setup: Setup{
			Mode: cfg.Mode, Service: cfg.Service, CPUCostMs: float64(cfg.CPUCost) / float64(time.Millisecond),
			ReplicaCPUs: cfg.ReplicaCPUs, ReplicaMemoryBytes: cfg.ReplicaMemory, LBCPUs: cfg.LBCPUs, LBMemoryBytes: cfg.LBMemory,
			GeneratorCores: cfg.GeneratorCores, HostCores: runtime.NumCPU(), Host: s.Hostname(), ServiceURL: s.ServiceURL(),
			Images: []string{s.img.Brink, s.img.Target},
		},
		Calibration: cal, Phases: phases, DashboardURL: s.HubURL() + "/", Kept: cfg.Keep,
	}
	over, two := rep.Phase("overload"), rep.Phase("two-replicas")
	if over != nil && two != nil {
		rep.CompareURL = s.HubURL() + "/compare?a=" + over.RunID + "&b=" + two.RunID
	}
	rep.Conclusions = conclusions(cfg, rep)
	return rep
}

// conclusions checks the seed's story against the figures.
func conclusions(cfg Config, r *Report) []Conclusion {
	var out []Conclusion
	over, two := r.Phase("overload"), r.Phase("two-replicas")
	if over != nil {
		thr := valueOr(over.Resources.Throttled, 0)
		errs := over.Peak.ErrorRate
		broke := errs >= 0.01 || plateaued(over)
		ev := fmt.Sprintf("at peak load %s of requests failed, the replica used %s CPU and was throttled in %s of periods",
			pct(errs), coresOf(over.Resources.CPUPerReplica, over.Resources.CPULimit), pct(thr))
		if over.Knee != nil {
			ev += "; " + over.Headline
		}
		out = append(out, Conclusion{
			Claim:    "One replica breaks under the overload: failures begin or throughput stops rising, with the container at its CPU limit and throttled",
			Holds:    broke && thr >= analysis.DefaultOptions().Throttled,
			Evidence: ev,
		})
	}
	if over != nil && two != nil {
		gain := two.MaxSustainedRPS/over.MaxSustainedRPS - 1
		out = append(out, Conclusion{
			Claim: "Two replicas behind the load balancer serve the same overload better: more throughput, fewer failures",
			Holds: two.MaxSustainedRPS > over.MaxSustainedRPS &&
				(two.Peak.ErrorRate < over.Peak.ErrorRate || two.Peak.ErrorRate == 0 && over.Peak.ErrorRate == 0),
			Evidence: fmt.Sprintf("max sustained %s req/s with two replicas against %s with one (%+.0f%%); failures at peak load %s against %s",
				output.FormatRate(two.MaxSustainedRPS), output.FormatRate(over.MaxSustainedRPS), 100*gain, pct(two.Peak.ErrorRate), pct(over.Peak.ErrorRate)),
		})
	}
	if over != nil && cfg.Mode == target.ModeSeed {
		out = append(out, Conclusion{
			Claim: "The overloaded app answers 200 while it fails; only the check on the body notices",
			Holds: over.CheckFailures > 0 && over.StatusErrorRate < over.ErrorRate,
			Evidence: fmt.Sprintf("%s answers had status 200 but the error page instead of %q (the app counted %s error pages); by status code alone the error rate was %s, with the body check %s",
				output.FormatCount(over.CheckFailures), target.HelloText, output.FormatCount(over.TargetErrorPages), pct(over.StatusErrorRate), pct(over.ErrorRate)),
		})
	}
	if as := r.Phase("autoscale"); as != nil {
		out = append(out, autoscaleConclusion(as, over))
	}
	return out
}

// autoscaleConclusion checks that the autoscaler added a replica that
// served before failures began, and that the ramp then failed less than
// with one replica alone.
func autoscaleConclusion(as, over *PhaseResult) Conclusion {
	c := Conclusion{Claim: "With the autoscaler on, replicas are added before errors begin"}
	var scaledOut, serving *ScalingEvent
	for i := range as.Scaling {
		e := &as.Scaling[i]
		if e.Kind == "scale_out" && scaledOut == nil {
			scaledOut = e
		}
		// Only a replica that joined after a scale-out is a new one.
		if e.Kind == "replica_serving" && scaledOut != nil && serving == nil {
			serving = e
		}
	}
	var firstFailure *results.TimelinePoint
	for i := range as.Timeline {
		t := &as.Timeline[i]
		if t.Requests > 0 && float64(t.Failures) >= 0.01*float64(t.Requests) {
			firstFailure = t
			break
		}
	}
	at := func(tm time.Time) string {
		return fmt.Sprintf("t=%ds", int(tm.Sub(as.Start).Round(time.Second)/time.Second))
	}
	var ev []string
	switch {
	case scaledOut == nil:
		ev = append(ev, "the autoscaler did not scale out")
	default:
		ev = append(ev, fmt.Sprintf("scaled out at %s (%s)", at(scaledOut.Time), scaledOut.Message))
	}
	if serving != nil {
		ev = append(ev, "a new replica served from "+at(serving.Time))
	}
	if firstFailure != nil {
		ev = append(ev, fmt.Sprintf("failures (1%% or more of a second's requests) began at t=%ds", firstFailure.T))
	} else {
		ev = append(ev, "no second had 1% failures or more")
	}
	ev = append(ev, fmt.Sprintf("failures at peak load %s with %s replicas", pct(as.Peak.ErrorRate), replicasText(as)))
	beforeErrors := serving != nil && (firstFailure == nil || firstFailure.Unix >= serving.Time.Unix())
	better := true
	if over != nil {
		better = as.Peak.ErrorRate < over.Peak.ErrorRate
		ev[len(ev)-1] += fmt.Sprintf(" against %s with one replica alone", pct(over.Peak.ErrorRate))
	}
	c.Holds = beforeErrors && better
	c.Evidence = strings.Join(ev, "; ")
	return c
}

// plateaued reports whether a phase's good throughput stopped following
// the offered load: the analysis saw it, or the best good throughput held
// stayed under 90 % of the peak offered.
func plateaued(p *PhaseResult) bool {
	if p.Knee != nil {
		for _, s := range p.Knee.Signals {
			if s.Kind == analysis.SignalThroughput {
				return true
			}
		}
	}
	return p.PeakOfferedRPS > 0 && p.MaxSustainedRPS < 0.9*p.PeakOfferedRPS
}

func valueOr(p *float64, def float64) float64 {
	if p == nil {
		return def
	}
	return *p
}

func pct(f float64) string {
	switch {
	case f == 0:
		return "0%"
	case f < 0.001:
		return "<0.1%"
	case f < 0.1:
		return fmt.Sprintf("%.1f%%", 100*f)
	}
	return fmt.Sprintf("%.0f%%", 100*f)
}

func cores(p *float64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf("%.2f", *p)
}

func coresOf(used, limit *float64) string {
	if limit == nil {
		return cores(used)
	}
	return cores(used) + "/" + cores(limit)
}

func msText(ms float64, requests int64) string {
	if requests == 0 {
		return "-"
	}
	return output.FormatMs(ms)
}

// loadTable and resourceTable are the comparison, as rows of text for the
// console and the HTML report alike.
func loadTable(r *Report) (head []string, rows [][]string) {
	head = []string{"phase", "replicas", "peak offered", "max sustained", "p95", "p99", "failed", "by status only"}
	for _, p := range r.Phases {
		rows = append(rows, []string{
			p.Name, replicasText(p), output.FormatRate(p.PeakOfferedRPS) + "/s", output.FormatRate(p.MaxSustainedRPS) + "/s",
			msText(p.Peak.P95Ms, p.Peak.Requests), msText(p.Peak.P99Ms, p.Peak.Requests), pct(p.Peak.ErrorRate), pct(p.Peak.StatusErrorRate),
		})
	}
	return head, rows
}

// replicasText is the replica count, or how it changed during the phase.
func replicasText(p *PhaseResult) string {
	if p.ReplicasEnd != 0 && p.ReplicasEnd != p.Replicas {
		return fmt.Sprintf("%d→%d", p.Replicas, p.ReplicasEnd)
	}
	return fmt.Sprint(p.Replicas)
}

// replicasPhrase is "1 replica", "2 replicas" or "1→3 replicas".
func replicasPhrase(p *PhaseResult) string {
	if p.Replicas == 1 && (p.ReplicasEnd == 0 || p.ReplicasEnd == 1) {
		return "1 replica"
	}
	return replicasText(p) + " replicas"
}

func resourceTable(r *Report) (head []string, rows [][]string) {
	head = []string{"phase", "CPU per replica (limit)", "busiest", "throttled", "host CPU", "LB CPU (limit)", "generator CPU"}
	for _, p := range r.Phases {
		f := p.Resources
		thr := "-"
		if f.Throttled != nil {
			thr = pct(*f.Throttled)
		}
		host := "-"
		if f.HostCPU != nil && f.HostCores != nil {
			host = fmt.Sprintf("%.2f of %.0f", *f.HostCPU, *f.HostCores)
		}
		rows = append(rows, []string{
			p.Name, coresOf(f.CPUPerReplica, f.CPULimit), cores(f.CPUBusiestReplica), thr, host, coresOf(f.LBCPU, f.LBCPULimit), cores(f.GeneratorCPU),
		})
	}
	return head, rows
}

// writeTable writes aligned columns; the first column is left-aligned,
// the others right-aligned.
func writeTable(w io.Writer, head []string, rows [][]string) {
	widths := make([]int, len(head))
	for i, h := range head {
		widths[i] = len([]rune(h))
	}
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], len([]rune(c)))
		}
	}
	line := func(cells []string) {
		var b strings.Builder
		b.WriteString("  ")
		for i, c := range cells {
			pad := strings.Repeat(" ", widths[i]-len([]rune(c)))
			if i == 0 {
				b.WriteString(c + pad)
			} else {
				b.WriteString("  " + pad + c)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	line(head)
	for _, r := range rows {
		line(r)
	}
}

// writeConsole prints the comparison, the knee, the conclusions and where
// to look next.
func writeConsole(w io.Writer, r *Report) {
	fmt.Fprintln(w, "Comparison (latency and failures at peak offered load; max sustained = good req/s held for 5 s)")
	h, rows := loadTable(r)
	writeTable(w, h, rows)
	fmt.Fprintln(w, "\nResources at peak offered load (cores, as the monitor measured them)")
	h, rows = resourceTable(r)
	writeTable(w, h, rows)
	fmt.Fprintln(w, "\nKnee")
	for _, p := range r.Phases {
		fmt.Fprintf(w, "  %-13s %s\n", p.Name, p.Headline)
	}
	if len(r.Conclusions) > 0 {
		fmt.Fprintln(w, "\nThe seed's story, checked")
		for _, c := range r.Conclusions {
			mark := "yes"
			if !c.Holds {
				mark = "NO "
			}
			fmt.Fprintf(w, "  [%s] %s\n        %s\n", mark, c.Claim, c.Evidence)
		}
	}
	fmt.Fprintf(w, "\nDashboard: %s", r.DashboardURL)
	if !r.Kept {
		fmt.Fprint(w, " (live while the lab runs; add --keep to explore it afterwards)")
	}
	fmt.Fprintln(w)
	if r.CompareURL != "" {
		fmt.Fprintf(w, "Compare overload and two replicas: %s\n", r.CompareURL)
	}
}

// writeReport writes report.json, report.html, and per phase its scenario
// file and its run report.
func writeReport(dir string, r *Report) error {
	if err := os.MkdirAll(filepath.Join(dir, "phases"), 0o755); err != nil {
		return fmt.Errorf("creating the report directory %s: %w", dir, err)
	}
	err := output.WriteAtomic(filepath.Join(dir, "report.json"), "lab report", func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	})
	if err != nil {
		return err
	}
	for _, p := range r.Phases {
		if err := os.WriteFile(filepath.Join(dir, "phases", p.Name+".yaml"), []byte(p.Scenario), 0o644); err != nil {
			return fmt.Errorf("writing the %s scenario: %w", p.Name, err)
		}
	}
	return report.WritePageFile(filepath.Join(dir, "report.html"), reportPage(r))
}

// reportPage is the lab's HTML report.
func reportPage(r *Report) report.Page {
	holds := 0
	for _, c := range r.Conclusions {
		if c.Holds {
			holds++
		}
	}
	badge := report.Badge{Text: "the seed's story reproduced", OK: true}
	if holds < len(r.Conclusions) {
		badge = report.Badge{Text: fmt.Sprintf("%d of %d findings did not hold", len(r.Conclusions)-holds, len(r.Conclusions))}
	}
	p := report.Page{
		Title: "brink lab: where the web app breaks, and why",
		Subtitle: fmt.Sprintf("%s · %s · %s mode · %.1f CPU / %s per replica, load balancer %.1f CPU / %s · %d-core host %s",
			r.Started.Format("2006-01-02 15:04 MST"), clock(r.Finished.Sub(r.Started)), r.Setup.Mode, r.Setup.ReplicaCPUs,
			formatMiB(r.Setup.ReplicaMemoryBytes), r.Setup.LBCPUs, formatMiB(r.Setup.LBMemoryBytes), r.Setup.HostCores, r.Setup.Host),
		Badge: badge,
	}
	for _, ph := range r.Phases {
		p.Figures = append(p.Figures, report.Figure{
			Label: ph.Name, Value: output.FormatRate(ph.MaxSustainedRPS) + "/s",
			Note: fmt.Sprintf("max sustained, %s; %s failed at peak", replicasPhrase(ph), pct(ph.Peak.ErrorRate)),
			Bad:  ph.Peak.ErrorRate >= 0.01,
		})
	}

	var concl strings.Builder
	concl.WriteString("<ul>")
	for _, c := range r.Conclusions {
		mark, class := "✔", "ok"
		if !c.Holds {
			mark, class = "✘", "bad"
		}
		fmt.Fprintf(&concl, `<li><span class="%s">%s</span> <strong>%s</strong><br><span class="note">%s</span></li>`,
			class, mark, template.HTMLEscapeString(c.Claim), template.HTMLEscapeString(c.Evidence))
	}
	concl.WriteString("</ul>")
	concl.WriteString(`<p class="note">The source experiment measured one instance at about 1,400 TPS with errors and two at 1,860 TPS without; ` +
		`the numbers here are this machine's, measured by brink.</p>`)
	p.Sections = append(p.Sections, report.Section{Title: "Findings", HTML: template.HTML(concl.String())})

	lh, lrows := loadTable(r)
	rh, rrows := resourceTable(r)
	p.Sections = append(p.Sections, report.Section{
		Title: "Comparison",
		Note: "Latency and failures over the seconds at peak offered load (exact, from merged histograms); max sustained is the best good throughput held for 5 s. " +
			"\"By status only\" is what a test that checks status codes, not bodies, would have reported. Resources are means over the same seconds.",
		Tables: []report.Table{textTable("Load", lh, lrows), textTable("Resources (cores)", rh, rrows)},
		Charts: []*chart.Chart{overlayChart(r)},
	})

	for _, ph := range r.Phases {
		var html strings.Builder
		fmt.Fprintf(&html, `<p><strong>%s</strong></p>`, template.HTMLEscapeString(ph.Headline))
		for _, e := range ph.Scaling {
			fmt.Fprintf(&html, `<p class="note">%s %s</p>`, clock(e.Time.Sub(ph.Start)), template.HTMLEscapeString(e.Message))
		}
		for _, n := range ph.Notes {
			fmt.Fprintf(&html, `<p class="note">first failure: %s</p>`, template.HTMLEscapeString(n))
		}
		fmt.Fprintf(&html, `<p class="note">Run <code>%s</code> in the hub (%s, while the lab runs); scenario: <a href="phases/%s.yaml">phases/%s.yaml</a>.</p>`,
			template.HTMLEscapeString(ph.RunID), template.HTMLEscapeString(ph.RunURL), template.HTMLEscapeString(ph.Name), template.HTMLEscapeString(ph.Name))
		p.Sections = append(p.Sections, report.Section{
			Title:  fmt.Sprintf("%s — %s", ph.Name, ph.Title),
			Note:   ph.Story,
			Charts: phaseCharts(ph),
			HTML:   template.HTML(html.String()),
		})
	}

	setup := [][]string{
		{"sample app", fmt.Sprintf("brink lab target --mode %s --cpu %gms (%s)", r.Setup.Mode, r.Setup.CPUCostMs, r.Setup.Images[1])},
		{"replica limits", fmt.Sprintf("%.1f CPU, %s (docker --cpus, --memory)", r.Setup.ReplicaCPUs, formatMiB(r.Setup.ReplicaMemoryBytes))},
		{"load balancer", fmt.Sprintf("HAProxy in cgroup %s/lb: %.1f CPU, %s", cgroupRootName, r.Setup.LBCPUs, formatMiB(r.Setup.LBMemoryBytes))},
		{"load generator", fmt.Sprintf("this brink process, at most %d core(s) (GOMAXPROCS)", r.Setup.GeneratorCores)},
		{"service URL", r.Setup.ServiceURL},
		{"calibration", r.Calibration.Text},
		{"host before load", hostBeforeText(r.HostBeforeLoad)},
		{"dashboard", r.DashboardURL},
	}
	p.Sections = append(p.Sections, report.Section{Title: "Set-up", Tables: []report.Table{textTable("", []string{"", ""}, setup)}})
	return p
}

func hostBeforeText(h *HostLoad) string {
	if h == nil {
		return "not measured"
	}
	return fmt.Sprintf("%.2f of %.0f cores in use with the stack idle (other work on this machine)", h.Used, h.Cores)
}

func textTable(caption string, head []string, rows [][]string) report.Table {
	t := report.Table{Caption: caption}
	for i, h := range head {
		t.Columns = append(t.Columns, report.Column{Title: h, Numeric: i > 0 && caption != ""})
	}
	for _, r := range rows {
		t.Rows = append(t.Rows, report.Cells(r...))
	}
	return t
}

// overlayChart puts every phase's good throughput on one relative time
// axis, as the hub's compare view does.
func overlayChart(r *Report) *chart.Chart {
	c := &chart.Chart{
		ID: "lab-overlay", Title: "Good throughput by phase (seconds since each phase started)",
		X: chart.XAxis{Label: "seconds", Time: true},
		Y: chart.YAxis{Label: "good req/s"},
	}
	for _, ph := range r.Phases {
		var pts []chart.Point
		for _, t := range ph.Timeline {
			pts = append(pts, chart.Point{X: float64(t.T), Y: float64(t.Requests - t.Failures)})
		}
		c.Series = append(c.Series, chart.Series{Name: ph.Name, Points: pts})
	}
	return c
}

// phaseCharts are a phase's load and its resources on the same time axis.
func phaseCharts(ph *PhaseResult) []*chart.Chart {
	start := ph.Start.Unix()
	var offered, good, failed, p95 []chart.Point
	for _, t := range ph.Timeline {
		x := float64(t.T)
		offered = append(offered, chart.Point{X: x, Y: t.TargetRate})
		good = append(good, chart.Point{X: x, Y: float64(t.Requests - t.Failures)})
		failed = append(failed, chart.Point{X: x, Y: float64(t.Failures)})
		y := math.NaN()
		if t.Requests > 0 {
			y = t.P95Ms
		}
		p95 = append(p95, chart.Point{X: x, Y: y})
	}
	loadChart := &chart.Chart{
		ID: "load-" + ph.Name, Title: "Load: offered, served and failed per second; p95 latency",
		X: chart.XAxis{Label: "seconds", Time: true}, Y: chart.YAxis{Label: "req/s"}, Y2: chart.YAxis{Label: "p95 ms"},
		Series: []chart.Series{
			{Name: "offered", Points: offered, Dashed: true, Color: "#444444"},
			{Name: "good", Points: good, Style: chart.Area, Color: "#009e73"},
			{Name: "failed", Points: failed, Color: "#c62828"},
			{Name: "p95", Points: p95, Axis: chart.Right, Color: "#e69f00"},
		},
	}
	if ph.Knee != nil {
		loadChart.Markers = append(loadChart.Markers, chart.Marker{Axis: chart.MarkerX, Value: float64(ph.Knee.Unix - start), Label: "knee"})
	}
	resChart := &chart.Chart{
		ID: "resources-" + ph.Name, Title: "Resources: CPU per replica against its limit, throttling, load balancer and host",
		X: chart.XAxis{Label: "seconds", Time: true}, Y: chart.YAxis{Label: "cores"}, Y2: chart.YAxis{Label: "throttled %", Min: 0, Max: 100},
	}
	limitShown := false
	for _, s := range ph.Series {
		var pts []chart.Point
		scale := 1.0
		if s.Name == analysis.TargetThrottled || s.Name == analysis.LBThrottled {
			scale = 100
		}
		for _, p := range s.Points {
			pts = append(pts, chart.Point{X: float64(p.T - start), Y: p.V * scale})
		}
		switch s.Name {
		case analysis.TargetCPU:
			resChart.Series = append(resChart.Series, chart.Series{Name: s.Entity + " CPU", Points: pts})
		case analysis.TargetThrottled:
			resChart.Series = append(resChart.Series, chart.Series{Name: s.Entity + " throttled", Points: pts, Axis: chart.Right, Dashed: true})
		case analysis.TargetCPULimit:
			if !limitShown && len(s.Points) > 0 {
				resChart.Markers = append(resChart.Markers, chart.Marker{Value: s.Points[0].V, Label: "replica limit", Color: "#c62828"})
				limitShown = true
			}
		case analysis.LBCPU:
			resChart.Series = append(resChart.Series, chart.Series{Name: "lb CPU", Points: pts})
		case analysis.HostCPU:
			resChart.Series = append(resChart.Series, chart.Series{Name: "host " + s.Entity + " CPU", Points: pts, Color: "#444444"})
		case analysis.GeneratorCPU:
			resChart.Series = append(resChart.Series, chart.Series{Name: "generator CPU", Points: pts, Dashed: true})
		}
	}
	return []*chart.Chart{loadChart, resChart}
}
