package cli

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/brinkhq/brink/internal/analysis"
	"github.com/brinkhq/brink/internal/target"
)

// The run's name and target service reach the hub's run record and the
// summary JSON: from the scenario file, and from --name and --service,
// which win over the file.
func TestRunNameAndServiceReachTheHub(t *testing.T) {
	hubURL := startTestHub(t)
	_, url := startRunTarget(t, target.Config{})
	dir := t.TempDir()
	file := filepath.Join(dir, "labels.yaml")
	os.WriteFile(file, []byte(`
vars: {svc: shop}
name: "{{svc}} smoke"
target_service: "/{{svc}}/web"
scenarios:
  a:
    vus: 2
    iterations: 20
    steps: [{url: "`+url+`/"}]
`), 0o644)
	tests := []struct {
		name                 string
		args                 []string
		wantName, wantTarget string
	}{
		{"from the file", []string{file}, "shop smoke", "/shop/web"},
		{"flags win over the file", []string{file, "--name", "web, 2 replicas", "--service", "web"}, "web, 2 replicas", "web"},
		{"quick mode", []string{"--url", url, "--iterations", "20", "--service", "api"}, url, "api"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(dir, tt.name+".json")
			args := append([]string{"run", "--hub", hubURL, "--out", "json=" + out}, tt.args...)
			r := runBrink(t, nil, "", args...)
			if r.code != ExitOK {
				t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			sum := readJSON(t, out)
			if sum["name"] != tt.wantName || sum["target_service"] != tt.wantTarget {
				t.Errorf("summary JSON: name %q, target_service %q; want %q, %q", sum["name"], sum["target_service"], tt.wantName, tt.wantTarget)
			}
			run, err := analysis.NewHub(hubURL).Run(context.Background(), sum["run"].(string))
			if err != nil {
				t.Fatal(err)
			}
			if run.Name != tt.wantName || run.TargetService != tt.wantTarget {
				t.Errorf("hub run %s: name %q, target_service %q; want %q, %q", run.ID, run.Name, run.TargetService, tt.wantName, tt.wantTarget)
			}
			if !strings.Contains(r.stdout, tt.wantName+": run finished") {
				t.Errorf("the summary does not show the run's name:\n%s", r.stdout)
			}
			// A run of about a second cannot have a knee: one line says so,
			// the run stands.
			if !strings.Contains(r.stdout, "saturation analysis: skipped: the run has ") {
				t.Errorf("no line explaining the missing analysis:\n%s", r.stdout)
			}
			if _, ok := sum["analysis"]; ok {
				t.Errorf("summary JSON has an analysis for a run that had none")
			}
		})
	}
}

func TestRunNameAndServiceFlagErrors(t *testing.T) {
	_, url := startRunTarget(t, target.Config{})
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"blank name", []string{"--name", " "}, "--name is blank"},
		{"blank service", []string{"--service", ""}, "--service is blank"},
		{"two-line name", []string{"--name", "a\nb"}, "--name \"a\\nb\": must be one line"},
		{"long service", []string{"--service", strings.Repeat("s", 1025)}, "--service is 1025 bytes long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runBrink(t, nil, "", append([]string{"run", "--url", url, "--iterations", "1"}, tt.args...)...)
			if r.code != ExitUsage || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("exit %d, want %d; stderr lacks %q:\n%s", r.code, ExitUsage, tt.want, r.stderr)
			}
		})
	}
}

// A run that ramps an open-model rate past a server of known capacity
// (200 requests/s whatever the machine's load) ends with the saturation
// analysis: the knee near 200 iterations/s, in the output and the JSON.
func TestRunAnalysisFindsTheKneeOfAKnownCapacity(t *testing.T) {
	if testing.Short() {
		t.Skip("ramps real load for about 20 s; skipped with -short")
	}
	const capacity = 200.0
	url := pacedServer(t, capacity)
	hubURL := startTestHub(t)
	out := filepath.Join(t.TempDir(), "ramp.json")
	r := runBrink(t, nil, "", "run", "--url", url, "--rate", "40/s", "--ramp", "12s:400", "--vus", "1500",
		"--hub", hubURL, "--service", "paced", "--name", "paced ramp", "--out", "json="+out)
	t.Log(r.stdout)
	if r.code != ExitOK {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"Saturation analysis", "max sustained throughput", "knee ", "iterations/s at t="} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q", want)
		}
	}
	var sum struct {
		TargetService    string                 `json:"target_service"`
		ScheduleJitterMs *struct{ P99 float64 } `json:"schedule_jitter_ms"`
		Analysis         *analysis.Result       `json:"analysis"`
		Timeline         []json.RawMessage      `json:"timeline"`
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	if sum.TargetService != "paced" || sum.ScheduleJitterMs == nil || len(sum.Timeline) == 0 {
		t.Fatalf("summary: target %q, schedule jitter %v, %d seconds", sum.TargetService, sum.ScheduleJitterMs, len(sum.Timeline))
	}
	res := sum.Analysis
	if res == nil || res.Knee == nil {
		t.Fatalf("no knee in the summary JSON's analysis: %+v", res)
	}
	if res.Model != "open" || res.Knee.OfferedUnit != "iterations/s" {
		t.Errorf("model %q, unit %q; want open, iterations/s", res.Model, res.Knee.OfferedUnit)
	}
	// Good throughput cannot pass the server's pace, however busy the
	// machine: that sign lies just above the capacity. The knee is the
	// earliest sign; latency, which counts from the scheduled send time,
	// may turn up a little before it on a busy machine.
	var throughput *analysis.Signal
	for i, sg := range res.Knee.Signals {
		if sg.Kind == analysis.SignalThroughput {
			throughput = &res.Knee.Signals[i]
		}
	}
	if throughput == nil || throughput.Offered < 0.95*capacity || throughput.Offered > 1.35*capacity {
		t.Errorf("throughput sign %+v, want it at %.0f iterations/s (−5%%, +35%%)", throughput, capacity)
	}
	if res.Knee.Offered < 0.6*capacity || res.Knee.Offered > 1.35*capacity {
		t.Errorf("knee at %.0f iterations/s, want %.0f (−40%%, +35%%)", res.Knee.Offered, capacity)
	}
	if res.MaxSustainedRPS < 0.85*capacity || res.MaxSustainedRPS > 1.1*capacity {
		t.Errorf("max sustained %.0f req/s, want about %.0f", res.MaxSustainedRPS, capacity)
	}
	// The generator's own CPU and schedule, sampled by the command each
	// second, were examined at the knee. (Whether it was late depends on
	// how busy the machine is, so that verdict is not asserted.)
	examined := map[analysis.Resource]bool{}
	for _, f := range res.Findings {
		examined[f.Resource] = true
	}
	if !examined[analysis.ResGeneratorCPU] || !examined[analysis.ResGeneratorJitter] {
		t.Errorf("the generator's series were not examined at the knee: %+v", res.Findings)
	}
}

// A hub that cannot be reached does not fail the run: the summary stands,
// and one line says why there is no analysis.
func TestRunAnalysisWithAnUnreachableHub(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hubURL := "http://" + ln.Addr().String()
	ln.Close()
	srv, url := startRunTarget(t, target.Config{})
	out := filepath.Join(t.TempDir(), "r.json")
	r := runBrink(t, nil, "", "run", "--url", url, "--iterations", "30", "--hub", hubURL, "--service", "web", "--out", "json="+out)
	if r.code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "saturation analysis: skipped: the hub at "+hubURL) {
		t.Errorf("no line explaining the missing analysis:\n%s", r.stdout)
	}
	if sum := readJSON(t, out); int64(sum["requests"].(float64)) != srv.Stats().Requests || sum["target_service"] != "web" {
		t.Errorf("summary: %v requests (target %d), target_service %v", sum["requests"], srv.Stats().Requests, sum["target_service"])
	}
}
