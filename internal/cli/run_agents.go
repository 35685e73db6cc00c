package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/brinkhq/brink/internal/agent"
	"github.com/brinkhq/brink/internal/coord"
	"github.com/brinkhq/brink/internal/coord/share"
	brinkv1 "github.com/brinkhq/brink/internal/gen/brink/v1"
	"github.com/brinkhq/brink/internal/hub/wire"
	"github.com/brinkhq/brink/internal/output"
	"github.com/brinkhq/brink/internal/report"
	"github.com/brinkhq/brink/internal/results"
	"github.com/brinkhq/brink/internal/threshold"
)

// agentFlags are `brink run`'s flags for runs across the hub's agents.
type agentFlags struct {
	agents   int
	selector []string
	onLoss   string
	wait     time.Duration
}

func addAgentFlags(fl *pflag.FlagSet, af *agentFlags) {
	fl.IntVar(&af.agents, "agents", 0, "run across N of the hub's agents instead of this machine (needs --hub)")
	fl.StringSliceVar(&af.selector, "agent-selector", nil, "use agents with these labels, e.g. zone=eu (with --agents N, N of them; alone, all of them)")
	fl.StringVar(&af.onLoss, "on-agent-loss", coord.PolicyContinue, "when an agent is lost mid-run: continue, rebalance (move its load to the others) or abort")
	fl.DurationVar(&af.wait, "agents-wait", 30*time.Second, "how long to wait for enough connected, idle agents")
}

// distributed reports whether the run goes to agents; it refuses agent
// flags without --agents or --agent-selector.
func (af *agentFlags) distributed(fs *pflag.FlagSet) (bool, error) {
	on := fs.Changed("agents") || fs.Changed("agent-selector")
	if !on {
		for _, name := range []string{"on-agent-loss", "agents-wait"} {
			if fs.Changed(name) {
				return false, Usagef("--%s applies to runs across agents: add --agents N or --agent-selector k=v", name)
			}
		}
	}
	return on, nil
}

// hubWatchGiveUp is how long the CLI keeps trying to reach a hub that
// went away mid-run; the agents keep running meanwhile.
const hubWatchGiveUp = 5 * time.Minute

// runWithAgents is `brink run --hub URL --agents N`: the hub splits the
// plan over its agents, this command shows the merged live progress and
// per-agent rows, then the exact summary, judged like a local run.
func runWithAgents(ctx context.Context, env *Env, fs *pflag.FlagSet, f *runFlags, af *agentFlags, args []string) error {
	if f.hubURL == "" {
		return Usagef("--agents and --agent-selector need --hub URL: the hub the agents are linked to")
	}
	if af.agents < 0 || (af.agents == 0 && fs.Changed("agents")) {
		return Usagef("--agents %d: use 1 or more", af.agents)
	}
	switch af.onLoss {
	case coord.PolicyContinue, coord.PolicyRebalance, coord.PolicyAbort:
	default:
		return Usagef("--on-agent-loss %q: use continue, rebalance or abort", af.onLoss)
	}
	selector, err := parseLabels(af.selector)
	if err != nil {
		return err
	}
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
	var stepTimeout time.Duration
	if fs.Changed("timeout") {
		stepTimeout = f.timeout
	}
	host, _ := os.Hostname()
	req := &brinkv1.StartDistributedRunRequest{
		RunName: label, TargetService: plan.TargetService, Total: share.FromPlan(plan), Options: share.OptionsFromPlan(plan, stepTimeout),
		Agents: int32(af.agents), Selector: selector, OnAgentLoss: af.onLoss,
		WaitForAgentsMs: af.wait.Milliseconds(), Source: host, PlannedMs: plan.PlannedDuration().Milliseconds(),
		Thresholds: plan.Thresholds,
	}
	if len(args) > 0 {
		b, _, err := agent.LoadBundle(args[0], env.Getenv)
		if err != nil {
			return WithExit(ExitUsage, err, "the agents receive the scenario and the files it reads by their path relative to it")
		}
		req.ScenarioFilename, req.Scenario, req.Files, req.Env = b.Filename, string(b.Text), b.Files, b.Env
	} else {
		r, err := plan.Scenarios[0].Flows[0].Steps[0].Build(nil)
		if err != nil {
			return Usagef("%v", err)
		}
		req.Quick = &brinkv1.QuickPlan{Url: f.url, Method: r.Method, Headers: f.headers, Body: r.Body}
	}

	client := coord.NewClient(f.hubURL, env.Getenv(hubTokenEnv), nil)
	startCtx, cancelStart := context.WithTimeout(ctx, af.wait+30*time.Second)
	resp, err := client.Start(startCtx, req)
	cancelStart()
	if err != nil {
		return WithExit(ExitError, err, "")
	}
	fmt.Fprintf(env.Stderr, "run %s across %d agents (on agent loss: %s); live at %s/runs/%s\n",
		resp.RunId, len(resp.Agents), af.onLoss, strings.TrimRight(f.hubURL, "/"), resp.RunId)
	for i, row := range resp.Agents {
		fmt.Fprintf(env.Stderr, "  %s: %s\n", row.Name, describeShare(resp.Shares[i]))
	}

	stopSignals := watchAgentSignals(ctx, env, client, resp.RunId)
	defer stopSignals()
	view := newAgentView(env, plan.PlannedDuration(), label)
	if plan.PlannedDuration() == 0 {
		view.progress.SetPlannedIterations(plannedIterations(plan))
	}
	result, err := client.Watch(ctx, resp.RunId, coord.WatchOptions{
		GiveUpAfter: hubWatchGiveUp,
		OnLinkError: func(err error) { view.linkError(err) },
	}, view.update)
	view.done()
	if err != nil {
		return WithExit(ExitError, err, "the agents go on with the run; follow it in the hub's UI")
	}

	var summary results.Summary
	if err := json.Unmarshal(result.SummaryJson, &summary); err != nil {
		return WithExit(ExitError, fmt.Errorf("the hub's summary of run %s: %w", resp.RunId, err), "")
	}
	summary.Thresholds = threshold.Evaluate(thresholds, &summary)
	summary.ThresholdOK = threshold.AllOK(summary.Thresholds)

	fmt.Fprintln(env.Stdout)
	output.WriteSummaryTable(env.Stdout, &summary)
	writeAgentSummary(env.Stdout, result, view.lastRows(), af.onLoss)
	if late := summary.Requests - view.liveRequests(); late > 0 {
		fmt.Fprintf(env.Stdout, "note: %s requests reached the hub after their second was shown live (an agent's link was down); the summary has every one\n",
			output.FormatCount(late))
	}

	var writeErrs []error
	for _, p := range outs.json {
		writeErrs = append(writeErrs, output.WriteJSON(p, &summary))
	}
	for _, p := range outs.csv {
		writeErrs = append(writeErrs, output.WriteCSV(p, &summary))
	}
	for _, p := range outs.html {
		writeErrs = append(writeErrs, report.WriteRunHTML(p, &summary))
	}
	if result.Aborted {
		return WithExit(ExitAborted, fmt.Errorf("run aborted: %s; the results above cover what ran until then", result.AbortReason), "")
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

// describeShare says in a few words what an agent runs.
func describeShare(s *brinkv1.Share) string {
	if len(s.GetExecutors()) == 0 {
		return "no load (the plan has less load than there are agents)"
	}
	var parts []string
	for _, x := range s.Executors {
		var p string
		switch x.Kind {
		case "constant-vus":
			p = fmt.Sprintf("%d VUs", x.Vus)
		case "ramping-vus":
			p = fmt.Sprintf("ramp from %d VUs to %s", x.StartVus, joinFloats(x.StageTargets))
		case "constant-arrival-rate":
			p = fmt.Sprintf("%s iterations per %s (pool %d)", exactFloat(x.Rate), unitName(x.TimeUnitNs), max(x.MaxVus, x.PreAllocatedVus))
		case "ramping-arrival-rate":
			p = fmt.Sprintf("rate from %s to %s per %s (pool %d)", exactFloat(x.StartRate), joinFloats(x.StageTargets),
				unitName(x.TimeUnitNs), max(x.MaxVus, x.PreAllocatedVus))
		}
		if x.Iterations > 0 {
			p += fmt.Sprintf(", %d iterations", x.Iterations)
		}
		parts = append(parts, fmt.Sprintf("scenario %d: %s", x.Scenario+1, p))
	}
	return strings.Join(parts, "; ")
}

func joinFloats(v []float64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = exactFloat(x)
	}
	return strings.Join(parts, "→")
}

// exactFloat shows a share's figure as split, e.g. 3.34.
func exactFloat(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }

func unitName(ns int64) string {
	if ns <= 0 || time.Duration(ns) == time.Second {
		return "s"
	}
	return time.Duration(ns).String()
}

// watchAgentSignals turns the first signal into a graceful stop on every
// agent and the second into an abort.
func watchAgentSignals(ctx context.Context, env *Env, client *coord.Client, runID string) (stop func()) {
	if env.Signals == nil {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		for n := 0; ; n++ {
			select {
			case <-done:
				return
			case <-env.Signals:
			}
			abort := n > 0
			if abort {
				fmt.Fprintln(env.Stderr, "\naborting on every agent")
			} else {
				fmt.Fprintln(env.Stderr, "\nstopping on every agent: no new requests, in-flight ones finish (Ctrl-C again to abort)")
			}
			stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
			if err := client.Stop(stopCtx, runID, abort, "stopped from the command line"); err != nil {
				fmt.Fprintf(env.Stderr, "warning: %v\n", err)
			}
			cancel()
			if abort {
				return
			}
		}
	}()
	return func() { close(done) }
}

// agentView is the live display: the merged progress block (or line) and,
// below it, one row per agent and the run's recent events.
type agentView struct {
	mu       sync.Mutex
	w        io.Writer
	terminal bool
	progress *output.Progress
	startNs  int64
	rows     []*brinkv1.AgentRow
	events   []string
	drawn    int               // lines of agent rows under the progress block
	requests int64             // requests in the seconds shown live
	shown    map[string]string // plain mode: each agent's last printed state
	finished bool
}

// maxAgentRows bounds the agent rows drawn on a terminal.
const maxAgentRows = 12

func newAgentView(env *Env, planned time.Duration, label string) *agentView {
	return &agentView{w: env.Stdout, terminal: env.IsTerminal, shown: map[string]string{},
		progress: output.NewProgress(env.Stdout, env.IsTerminal, planned, label+" · agents")}
}

func (v *agentView) update(u *brinkv1.RunUpdate) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if u.StartUnixNs != 0 {
		v.startNs = u.StartUnixNs
	}
	if len(u.Agents) > 0 {
		v.rows = u.Agents
	}
	for _, e := range u.Events {
		line := fmt.Sprintf("%s %s", time.UnixMilli(e.TimeMs).Format("15:04:05"), e.Message)
		if v.terminal {
			v.events = append(v.events, line)
			if len(v.events) > 3 {
				v.events = v.events[len(v.events)-3:]
			}
		} else {
			who := ""
			if e.Agent != "" {
				who = " agent=" + e.Agent
			}
			fmt.Fprintf(v.w, "event kind=%s%s %s\n", e.Kind, who, e.Message)
		}
	}
	for _, p := range u.Seconds {
		s, err := wire.SecondFromProto(p)
		if err != nil {
			continue
		}
		start := time.Unix(0, v.startNs)
		if v.startNs == 0 {
			start = time.Unix(s.T, 0)
		}
		v.requests += s.Total().Requests
		v.beforeProgress()
		v.progress.Second(s, time.Unix(s.T+1, 0).Sub(start))
		v.afterProgress()
	}
	if len(u.Seconds) == 0 && (len(u.Agents) > 0 || len(u.Events) > 0) {
		v.beforeProgress()
		v.afterProgress()
	}
}

func (v *agentView) linkError(err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	msg := "hub unreachable, retrying (the agents keep running): " + err.Error()
	if v.terminal {
		v.events = append(v.events, time.Now().Format("15:04:05")+" "+msg)
		if len(v.events) > 3 {
			v.events = v.events[len(v.events)-3:]
		}
		v.beforeProgress()
		v.afterProgress()
		return
	}
	fmt.Fprintf(v.w, "event kind=hub_unreachable %s\n", msg)
}

// beforeProgress moves the cursor back over the agent rows, to where the
// progress block ends.
func (v *agentView) beforeProgress() {
	if v.terminal && v.drawn > 0 {
		fmt.Fprintf(v.w, "\x1b[%dA", v.drawn)
		v.drawn = 0
	}
}

// afterProgress draws the agent rows under the progress block.
func (v *agentView) afterProgress() {
	if v.terminal {
		var b strings.Builder
		lines := v.terminalRows()
		for _, l := range lines {
			b.WriteString("\r\x1b[2K")
			b.WriteString(l)
			b.WriteByte('\n')
		}
		b.WriteString("\x1b[J")
		io.WriteString(v.w, b.String())
		v.drawn = len(lines)
		return
	}
	v.plainRows()
}

func (v *agentView) terminalRows() []string {
	var out []string
	counts := map[string]int{}
	saturated := 0
	for _, r := range v.rows {
		counts[r.Link]++
		if r.Status.GetSaturated() {
			saturated++
		}
	}
	out = append(out, fmt.Sprintf("agents %d: %d connected, %d lost, %d done, %d saturated", len(v.rows),
		counts[coord.LinkConnected], counts[coord.LinkLost], counts[coord.LinkDone], saturated))
	for i, r := range v.rows {
		if i == maxAgentRows {
			out = append(out, fmt.Sprintf("  … and %d more agents", len(v.rows)-maxAgentRows))
			break
		}
		out = append(out, fitLine(agentRowText(r)))
	}
	for _, e := range v.events {
		out = append(out, fitLine("  "+e))
	}
	return out
}

func fitLine(s string) string {
	r := []rune(s)
	if len(r) <= output.TerminalWidth {
		return s
	}
	return string(r[:output.TerminalWidth-1]) + "…"
}

func agentRowText(r *brinkv1.AgentRow) string {
	st := r.Status
	state := strings.TrimPrefix(strings.ToLower(st.GetState().String()), "agent_state_")
	if r.Link == coord.LinkLost {
		state = fmt.Sprintf("lost %s", (time.Duration(r.SilentMs) * time.Millisecond).Round(100*time.Millisecond))
	}
	text := fmt.Sprintf("  %-12s %-9s vus %-5s rps %-6s err %-5s cpu %3.0f%%", r.Name, state,
		output.FormatCount(st.GetVus()), output.FormatCount(st.GetRequests()),
		output.FormatPercent(failureShare(st.GetFailures(), st.GetRequests())), st.GetCpu()*100)
	if pending := st.GetProducedSequence() - min(st.GetAckedSequence(), st.GetProducedSequence()); pending > 1 {
		text += fmt.Sprintf("  %ds buffered", pending)
	}
	if st.GetSaturated() {
		text += "  SATURATED"
	}
	return text
}

func failureShare(failures, requests int64) float64 {
	if requests == 0 {
		return 0
	}
	return float64(failures) / float64(requests)
}

// plainRows prints one line per agent whose state changed, and one line
// of counts per second.
func (v *agentView) plainRows() {
	counts := map[string]int{}
	saturated := 0
	for _, r := range v.rows {
		counts[r.Link]++
		if r.Status.GetSaturated() {
			saturated++
		}
		sig := fmt.Sprintf("link=%s state=%s saturated=%v", r.Link,
			strings.TrimPrefix(strings.ToLower(r.Status.GetState().String()), "agent_state_"), r.Status.GetSaturated())
		if v.shown[r.Name] != sig {
			v.shown[r.Name] = sig
			fmt.Fprintf(v.w, "agent name=%s %s cpu=%.0f%% vus=%d rps=%d\n", r.Name, sig, r.Status.GetCpu()*100,
				r.Status.GetVus(), r.Status.GetRequests())
		}
	}
}

func (v *agentView) done() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.finished {
		return
	}
	v.finished = true
	v.beforeProgress()
	v.progress.Done()
	v.afterProgress()
}

func (v *agentView) liveRequests() int64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.requests
}

func (v *agentView) lastRows() []*brinkv1.AgentRow {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.rows
}

// writeAgentSummary prints how the agents did: the start skew, lost and
// saturated agents (generator limits, not the target's), completeness.
func writeAgentSummary(w io.Writer, r *brinkv1.RunResult, rows []*brinkv1.AgentRow, policy string) {
	fmt.Fprintf(w, "\nagents (%d, on agent loss: %s)\n", len(rows), policy)
	for _, row := range rows {
		st := row.Status
		line := fmt.Sprintf("  %-14s %-20s %-9s %4d seconds  cpu %3.0f%%", row.Name, row.Hostname, row.Link,
			st.GetProducedSequence(), st.GetCpu()*100)
		if st.GetSaturated() {
			line += "  saturated: " + st.GetSaturationReason()
		}
		fmt.Fprintln(w, line)
	}
	if r.StartSkewNs > 0 {
		fmt.Fprintf(w, "start skew: %s between the first and the last agent's first iteration (clocks synchronized to within %s)\n",
			output.FormatMs(float64(r.StartSkewNs)/1e6), output.FormatMs(float64(r.ClockUncertaintyNs)/1e6))
	}
	if len(r.SaturatedAgents) > 0 {
		fmt.Fprintf(w, "warning: generator saturation on %s: those agents could not produce their share, so the results understate the load the target was offered; add agents or lower the load per agent\n",
			strings.Join(r.SaturatedAgents, ", "))
	}
	if len(r.LostAgents) > 0 {
		fmt.Fprintf(w, "warning: agents lost during the run: %s\n", strings.Join(r.LostAgents, ", "))
	}
	if !r.Complete {
		fmt.Fprintln(w, "warning: the hub misses seconds that agents produced (an agent was lost before delivering them); the results cover what the hub holds")
	}
}
