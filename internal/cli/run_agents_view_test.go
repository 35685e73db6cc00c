package cli

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	brinkv1 "github.com/brinkhq/brink/internal/gen/brink/v1"
	"github.com/brinkhq/brink/internal/hub/wire"
	"github.com/brinkhq/brink/internal/results"
)

// The golden files of this package are rewritten with -update; the flag
// is registered here unless another test file of the package already did.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files in testdata/")
	}
}

func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

func agentsGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if updating() {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output (go test -update rewrites it):\n%s", path, got)
	}
}

const viewStart = 1_800_000_000

// viewUpdates is a scripted run: two agents start, one is lost and comes
// back, one saturates.
func viewUpdates() []*brinkv1.RunUpdate {
	row := func(name, link string, state brinkv1.AgentState, vus, rps int64, cpu float64, produced, acked uint64, saturated bool) *brinkv1.AgentRow {
		r := &brinkv1.AgentRow{Name: name, Link: link, Hostname: "host-" + name, Status: &brinkv1.AgentStatus{
			State: state, Vus: vus, Requests: rps, Cpu: cpu, ProducedSequence: produced, AckedSequence: acked, Saturated: saturated}}
		if saturated {
			r.Status.SaturationReason = "CPU at 95% of 2 cores for 3s"
		}
		return r
	}
	sec := func(t int64, n int64) *brinkv1.Second {
		s := results.NewSecond(t)
		s.VUs = 20
		s.TargetRate = 100
		s.Iterations = n
		st := s.Stats("page")
		st.Requests = n
		for i := range n {
			st.Latency.Record(1000 + i*10)
		}
		return wire.SecondToProto(s, 0)
	}
	running, lost, done := brinkv1.AgentState_AGENT_STATE_RUNNING, brinkv1.AgentState_AGENT_STATE_RUNNING, brinkv1.AgentState_AGENT_STATE_DONE
	ev := func(ms int64, kind, agentName, msg string) *brinkv1.RunEvent {
		return &brinkv1.RunEvent{TimeMs: (viewStart)*1000 + ms, Kind: kind, Agent: agentName, Message: msg}
	}
	return []*brinkv1.RunUpdate{
		{State: "starting", Agents: []*brinkv1.AgentRow{
			row("gen-1", "connected", brinkv1.AgentState_AGENT_STATE_READY, 0, 0, 0, 0, 0, false),
			row("gen-2", "connected", brinkv1.AgentState_AGENT_STATE_READY, 0, 0, 0, 0, 0, false)}},
		{State: "running", StartUnixNs: viewStart * 1e9, Events: []*brinkv1.RunEvent{ev(0, "agents_started", "", "2 agents start together")},
			Seconds: []*brinkv1.Second{sec(viewStart, 100)}, Agents: []*brinkv1.AgentRow{
				row("gen-1", "connected", running, 10, 50, 0.2, 1, 1, false),
				row("gen-2", "connected", running, 10, 50, 0.3, 1, 1, false)}},
		{State: "running", Seconds: []*brinkv1.Second{sec(viewStart+1, 100)}},
		{State: "running", Events: []*brinkv1.RunEvent{ev(4000, "agent_lost", "gen-2", "agent gen-2 lost: no heartbeat for 2.5s")},
			Seconds: []*brinkv1.Second{sec(viewStart+2, 50)}, Agents: []*brinkv1.AgentRow{
				row("gen-1", "connected", running, 10, 50, 0.95, 3, 3, true),
				row("gen-2", "lost", lost, 10, 50, 0.3, 2, 2, false)}},
		{State: "running", Events: []*brinkv1.RunEvent{ev(9000, "agent_rejoined", "gen-2", "agent gen-2 rejoined")},
			Seconds: []*brinkv1.Second{sec(viewStart+3, 100)}, Agents: []*brinkv1.AgentRow{
				row("gen-1", "connected", running, 10, 50, 0.95, 4, 4, true),
				row("gen-2", "connected", running, 10, 50, 0.3, 8, 3, false)}},
		{State: "finished", Agents: []*brinkv1.AgentRow{
			row("gen-1", "done", done, 0, 0, 0.1, 5, 5, true),
			row("gen-2", "done", done, 0, 0, 0.1, 9, 9, false)}},
	}
}

func playView(terminal bool) []byte {
	var buf bytes.Buffer
	env := &Env{Stdout: &buf, IsTerminal: terminal}
	v := newAgentView(env, 4*time.Second, "shop.yaml")
	for _, u := range viewUpdates() {
		v.update(u)
	}
	v.done()
	return buf.Bytes()
}

func TestAgentViewPlain(t *testing.T) {
	agentsGolden(t, "agents_plain.golden", playView(false))
}

// TestAgentViewTerminal replays the terminal output on a simulated screen
// (cursor up, clear line, clear to the end) and checks that the block and
// the agent rows end up once each, in place.
func TestAgentViewTerminal(t *testing.T) {
	screen := renderScreen(t, playView(true))
	var text []string
	for _, l := range screen {
		text = append(text, strings.TrimRight(l, " "))
	}
	got := strings.Join(text, "\n")
	for _, want := range []string{
		"brink · shop.yaml · agents",
		"agents 2: 0 connected, 0 lost, 2 done, 1 saturated",
		"  gen-1        done      vus 0     rps 0      err 0.00% cpu  10%  SATURATED",
		"  gen-2        done      vus 0     rps 0      err 0.00% cpu  10%",
	} {
		if strings.Count(got, want) != 1 {
			t.Errorf("screen does not show %q once:\n%s", want, got)
		}
	}
	if strings.Count(got, "[") != 1 {
		t.Errorf("the progress bar is drawn more than once:\n%s", got)
	}
	for _, l := range screen {
		if len([]rune(l)) > 80 {
			t.Errorf("line wider than 80 columns: %q", l)
		}
	}
}

// renderScreen interprets the few escape sequences the view writes.
func renderScreen(t *testing.T, b []byte) []string {
	t.Helper()
	var lines []string
	row := 0
	s := string(b)
	ensure := func() {
		for len(lines) <= row {
			lines = append(lines, "")
		}
	}
	for len(s) > 0 {
		switch {
		case strings.HasPrefix(s, "\x1b["):
			end := strings.IndexAny(s[2:], "ABJK")
			if end < 0 {
				t.Fatalf("unknown escape in %q", s[:min(len(s), 10)])
			}
			arg, cmd := s[2:2+end], s[2+end]
			s = s[3+end:]
			switch cmd {
			case 'A':
				n, _ := strconv.Atoi(arg)
				row = max(0, row-n)
			case 'K':
				ensure()
				lines[row] = ""
			case 'J':
				lines = lines[:min(len(lines), row)]
			}
		case s[0] == '\r':
			s = s[1:]
		case s[0] == '\n':
			row++
			s = s[1:]
		default:
			i := strings.IndexAny(s, "\x1b\r\n")
			if i < 0 {
				i = len(s)
			}
			ensure()
			lines[row] += s[:i]
			s = s[i:]
		}
	}
	return lines
}
