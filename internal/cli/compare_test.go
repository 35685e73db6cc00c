package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/brinkhq/brink/internal/hubclient"
	"github.com/brinkhq/brink/internal/results"
)

// recordedRuns are real runs recorded by the analysis package's tests.
var recordedRuns = filepath.Join("..", "analysis", "testdata", "recorded")

func TestCompareFiles(t *testing.T) {
	a := filepath.Join(recordedRuns, "target-cpu-limit.json")
	b := filepath.Join(recordedRuns, "generator-saturated.json")
	html := filepath.Join(t.TempDir(), "cmp.html")
	code, stdout, stderr := runCLI(t, "compare", a, b, "--label", "cpu-limited", "--label", "generator-limited", "--html", html)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"cpu-limited", "vs cpu-limited", "max sustained throughput", "p95 latency", "error rate",
		"CPU per replica", "host CPU", "the load generator, not the target", "HTML report: " + html} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if data, err := os.ReadFile(html); err != nil || !strings.Contains(string(data), "generator-limited") {
		t.Errorf("HTML report: %v", err)
	}

	code, stdout, _ = runCLI(t, "compare", a, b, "--json")
	var c struct {
		Runs []struct {
			Label string `json:"label"`
		} `json:"runs"`
		Metrics []struct {
			Key    string     `json:"key"`
			Values []*float64 `json:"values"`
		} `json:"metrics"`
	}
	if code != ExitOK || json.Unmarshal([]byte(stdout), &c) != nil || len(c.Runs) != 2 || len(c.Metrics) == 0 {
		t.Fatalf("--json: exit %d, %q", code, stdout)
	}
}

func TestCompareErrors(t *testing.T) {
	a := filepath.Join(recordedRuns, "target-cpu-limit.json")
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"compare", a}, ExitUsage, "at least two runs"},
		{[]string{"compare", a, "nope.json"}, ExitUsage, "no such file"},
		{[]string{"compare", a, a, "--label", "x"}, ExitUsage, "one per run"},
		{[]string{"compare", a, "r-unknown", "--hub", "http://127.0.0.1:1"}, ExitError, "is `brink hub` running there?"},
	}
	for _, tc := range cases {
		code, _, stderr := runCLI(t, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d with %q", tc.args, code, stderr, tc.code, tc.want)
		}
	}
}

// TestCompareHubRuns compares two runs stored in a real hub by id.
func TestCompareHubRuns(t *testing.T) {
	hubURL := startTestHub(t)
	ctx := context.Background()
	c := hubclient.New(hubURL, "")
	push := func(name string, perSecond int64, failures int64) string {
		start := time.Now().Truncate(time.Second).Add(-30 * time.Second)
		run := c.StartRun(ctx, hubclient.RunInfo{Name: name, TargetService: "web", Start: start})
		defer run.Close()
		acc := results.NewAccumulator(start)
		for i := range 10 {
			s := results.NewSecond(start.Unix() + int64(i))
			s.VUs = 5
			st := s.Stats("home")
			st.Requests = perSecond
			st.Failures[results.Timeout] = failures
			for range perSecond {
				st.Latency.Record(3000)
			}
			run.Push(s)
			acc.Add(s)
		}
		acc.SetEnd(start.Add(10 * time.Second))
		sum := acc.Summary()
		if err := run.Finish(ctx, hubclient.Finish{End: start.Add(10 * time.Second), Summary: &sum}); err != nil {
			t.Fatal(err)
		}
		return run.ID()
	}
	one := push("1 instance", 1400, 70)
	two := push("2 instances", 1860, 0)
	code, stdout, stderr := runCLI(t, "compare", "--hub", hubURL, one, two)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"1 instance", "2 instances", "1,330", "1,860", "+530 (+39.8%)", "5.00%", "−5.00 pp"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	code, _, stderr = runCLI(t, "compare", "--hub", hubURL, one, "r-unknown")
	if code != ExitUsage || !strings.Contains(stderr, "/api/v1/runs") {
		t.Errorf("unknown run id: exit %d, %s", code, stderr)
	}
}
