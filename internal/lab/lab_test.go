package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/brinkhq/brink/internal/analysis"
	"github.com/brinkhq/brink/internal/autoscale"
	"github.com/brinkhq/brink/internal/results"
	"github.com/brinkhq/brink/internal/scenario"
	"github.com/brinkhq/brink/internal/target"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/lab -run %s -update)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (rerun with -update if intended):\n%s", path, got)
	}
}

func TestPortsFrom(t *testing.T) {
	p := PortsFrom(18080)
	if p.LB != 18080 || p.Hub != 18081 || p.Monitor != 18082 {
		t.Fatalf("ports %+v", p)
	}
	if len(p.Replicas) != MaxReplicas || p.Replicas[0] != 18091 || p.Replicas[MaxReplicas-1] != 18080+portSpan {
		t.Fatalf("replica ports %v, want %d from 18091 to %d", p.Replicas, MaxReplicas, 18080+portSpan)
	}
	seen := map[int]bool{}
	for _, np := range p.All() {
		if seen[np.Port] {
			t.Fatalf("port %d listed twice in %v", np.Port, p.All())
		}
		seen[np.Port] = true
	}
}

func TestConfigValidate(t *testing.T) {
	phases := DefaultPhases()
	tests := []struct {
		name   string
		modify func(*Config)
		want   string
	}{
		{"defaults", func(*Config) {}, ""},
		{"well mode", func(c *Config) { c.Mode = target.ModeWell }, ""},
		{"unknown mode", func(c *Config) { c.Mode = "fast" }, `mode "fast"`},
		{"cost too small", func(c *Config) { c.CPUCost = time.Microsecond }, "CPU cost"},
		{"cost too large", func(c *Config) { c.CPUCost = time.Second }, "CPU cost"},
		{"service with a space", func(c *Config) { c.Service = "my web" }, "lower-case letters"},
		{"service upper case", func(c *Config) { c.Service = "Web" }, "lower-case letters"},
		{"service named like the load balancer", func(c *Config) { c.Service = LBService }, "load balancer's name"},
		{"port base too low", func(c *Config) { c.PortBase = 80 }, "port base 80"},
		{"ports beyond 65535", func(c *Config) { c.PortBase = 65530 }, "within 1024..65535"},
		{"no generator core", func(c *Config) { c.GeneratorCores = -1 }, "generator cores"},
		{"known phases", func(c *Config) { c.Phases = []string{"normal", "overload"} }, ""},
		{"unknown phase", func(c *Config) { c.Phases = []string{"spike"} }, `phase "spike"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.modify(&c)
			err := c.Validate(phases)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// fakeCgroupFS lays out controller directories with the files the kernel
// would show, so that limit groups can be created in a temporary directory.
func fakeCgroupFS(t *testing.T, v2, combined bool) string {
	t.Helper()
	root := t.TempDir()
	write := func(p, s string) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if v2 {
		write(filepath.Join(root, "cgroup.controllers"), "cpuset cpu io memory pids\n")
		write(filepath.Join(root, "cgroup.subtree_control"), "memory\n")
		// The kernel creates these in every new group; a fake one must
		// already hold them for the writes below it.
		write(filepath.Join(root, cgroupRootName, "cgroup.subtree_control"), "")
		write(filepath.Join(root, cgroupRootName, "l1", "cgroup.subtree_control"), "")
		return root
	}
	if combined {
		if err := os.MkdirAll(filepath.Join(root, "cpu,cpuacct"), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, l := range []string{"cpu", "cpuacct"} {
			if err := os.Symlink("cpu,cpuacct", filepath.Join(root, l)); err != nil {
				t.Fatal(err)
			}
		}
	} else {
		for _, c := range []string{"cpu", "cpuacct"} {
			if err := os.MkdirAll(filepath.Join(root, c), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.MkdirAll(filepath.Join(root, "memory"), 0o755); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestLimitGroup(t *testing.T) {
	tests := []struct {
		name           string
		v2, combined   bool
		wantHierarchys int
		// files written (relative to root), with their content
		want map[string]string
	}{
		{"cgroup v1, separate cpu and cpuacct", false, false, 3, map[string]string{
			"cpu/brink-lab/cpu.shares":                     "65536",
			"cpu/brink-lab/l1/lb/cpu.cfs_quota_us":         "50000",
			"cpu/brink-lab/l1/lb/cpu.cfs_period_us":        "100000",
			"memory/brink-lab/l1/lb/memory.limit_in_bytes": "134217728",
			"cpu/brink-lab/l1/lb/cgroup.procs":             "4242",
			"cpuacct/brink-lab/l1/lb/cgroup.procs":         "4242",
			"memory/brink-lab/l1/lb/cgroup.procs":          "4242",
		}},
		{"cgroup v1, combined cpu,cpuacct", false, true, 2, map[string]string{
			"cpu,cpuacct/brink-lab/cpu.shares":             "65536",
			"cpu,cpuacct/brink-lab/l1/lb/cpu.cfs_quota_us": "50000",
			"memory/brink-lab/l1/lb/memory.limit_in_bytes": "134217728",
			"cpu,cpuacct/brink-lab/l1/lb/cgroup.procs":     "4242",
		}},
		{"cgroup v2", true, false, 1, map[string]string{
			"cgroup.subtree_control":              "+cpu",
			"brink-lab/cgroup.subtree_control":    "+cpu +memory",
			"brink-lab/l1/cgroup.subtree_control": "+cpu +memory",
			"brink-lab/cpu.weight":                "6400",
			"brink-lab/l1/lb/cpu.max":             "50000 100000",
			"brink-lab/l1/lb/memory.max":          "134217728",
			"brink-lab/l1/lb/cgroup.procs":        "4242",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := fakeCgroupFS(t, tt.v2, tt.combined)
			layout, err := detectCgroups(root)
			if err != nil {
				t.Fatal(err)
			}
			if layout.v2 != tt.v2 || len(layout.dirs) != tt.wantHierarchys {
				t.Fatalf("layout %+v, want v2=%v with %d hierarchies", layout, tt.v2, tt.wantHierarchys)
			}
			if !tt.v2 {
				// The v1 limit files exist once the kernel made the group.
				for _, d := range layout.dirs {
					dir := filepath.Join(d, cgroupRootName, "l1", "lb")
					if err := os.MkdirAll(dir, 0o755); err != nil {
						t.Fatal(err)
					}
					if strings.HasPrefix(filepath.Base(d), "cpu") {
						if err := os.WriteFile(filepath.Join(d, cgroupRootName, "cpu.shares"), []byte("1024"), 0o644); err != nil {
							t.Fatal(err)
						}
					}
					for _, f := range []string{"cpu.cfs_quota_us", "memory.limit_in_bytes"} {
						if strings.HasPrefix(f, "cpu") == strings.HasPrefix(filepath.Base(d), "cpu") {
							if err := os.WriteFile(filepath.Join(dir, f), []byte("-1"), 0o644); err != nil {
								t.Fatal(err)
							}
						}
					}
				}
			}
			g, err := layout.createLimitGroup("l1", "lb", 0.5, 128<<20)
			if err != nil {
				t.Fatal(err)
			}
			if err := g.add(4242); err != nil {
				t.Fatal(err)
			}
			for rel, want := range tt.want {
				got, err := os.ReadFile(filepath.Join(root, rel))
				if err != nil {
					t.Errorf("%s: %v", rel, err)
					continue
				}
				if string(got) != want {
					t.Errorf("%s = %q, want %q", rel, got, want)
				}
			}
			dirs := layout.instanceCgroupDirs("l1")
			if len(dirs) != 2*tt.wantHierarchys {
				t.Fatalf("lab cgroup dirs %v: want brink-lab/l1/lb and brink-lab/l1 in each of %d hierarchies", dirs, tt.wantHierarchys)
			}
			for i := 0; i < len(dirs); i += 2 {
				if filepath.Base(dirs[i]) != "lb" || filepath.Base(dirs[i+1]) != "l1" {
					t.Fatalf("lab cgroup dirs %v are not children first", dirs)
				}
			}
			if ids := layout.instanceIDs(); !slices.Equal(ids, []string{"l1"}) {
				t.Fatalf("labs in the cgroups: %v, want [l1]", ids)
			}
		})
	}
}

func TestLabCgroupDirsEveryHierarchy(t *testing.T) {
	root := fakeCgroupFS(t, false, false)
	// Docker puts a container's parents (brink-lab/web) in every hierarchy,
	// pids included; a file that is no hierarchy is ignored.
	for _, d := range []string{"pids", "cpu"} {
		if err := os.MkdirAll(filepath.Join(root, d, cgroupRootName, "l1", webCgroup, "0123abcd"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Another lab's group is not this lab's.
	if err := os.MkdirAll(filepath.Join(root, "cpu", cgroupRootName, "l2", lbCgroup), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"pids/cgroup.procs", "cpu/cgroup.procs", "cpuacct/cgroup.procs", "memory/cgroup.procs", "cgroup.note"} {
		if err := os.WriteFile(filepath.Join(root, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	layout, err := detectCgroups(root)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range layout.instanceCgroupDirs("l1") {
		rel, _ := filepath.Rel(root, d)
		got = append(got, rel)
	}
	want := []string{
		"cpu/brink-lab/l1/web/0123abcd", "cpu/brink-lab/l1/web", "cpu/brink-lab/l1",
		"pids/brink-lab/l1/web/0123abcd", "pids/brink-lab/l1/web", "pids/brink-lab/l1",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("lab cgroup dirs\n got %v\nwant %v (children first, every hierarchy)", got, want)
	}
	if ids := layout.instanceIDs(); !slices.Equal(ids, []string{"l1", "l2"}) {
		t.Fatalf("labs in the cgroups: %v, want [l1 l2]", ids)
	}
}

func TestOwnCgroupsAndMoveBack(t *testing.T) {
	tests := []struct {
		name     string
		v2       bool
		combined bool
		proc     string
		want     map[string]string // hierarchy base name → path
	}{
		{"v1 separate", false, false, "12:pids:/user.slice\n5:cpu:/ci/job\n4:cpuacct:/ci/job\n3:memory:/ci\n0::/user.slice\n",
			map[string]string{"cpu": "/ci/job", "cpuacct": "/ci/job", "memory": "/ci"}},
		{"v1 combined", false, true, "5:cpu,cpuacct:/ci/job\n3:memory:/\n", map[string]string{"cpu,cpuacct": "/ci/job", "memory": "/"}},
		{"v2", true, false, "0::/ci/job\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := fakeCgroupFS(t, tt.v2, tt.combined)
			layout, err := detectCgroups(root)
			if err != nil {
				t.Fatal(err)
			}
			own := layout.ownCgroups([]byte(tt.proc))
			if tt.v2 {
				if own[root] != "/ci/job" || len(own) != 1 {
					t.Fatalf("own cgroups %v", own)
				}
			} else {
				got := map[string]string{}
				for h, p := range own {
					got[filepath.Base(h)] = p
				}
				if len(got) != len(tt.want) {
					t.Fatalf("own cgroups %v, want %v", got, tt.want)
				}
				for k, v := range tt.want {
					if got[k] != v {
						t.Fatalf("own cgroups %v, want %v", got, tt.want)
					}
				}
			}
			for h, p := range own {
				if err := os.MkdirAll(filepath.Join(h, p), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if err := layout.moveTo(4242, own); err != nil {
				t.Fatal(err)
			}
			for h, p := range own {
				b, err := os.ReadFile(filepath.Join(h, p, "cgroup.procs"))
				if err != nil || string(b) != "4242" {
					t.Fatalf("%s: %q, %v: the process was not moved back", filepath.Join(h, p), b, err)
				}
			}
		})
	}
}

func TestDetectCgroupsMissing(t *testing.T) {
	_, err := detectCgroups(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), `controller "cpu" is not mounted`) {
		t.Fatalf("error %v, want one naming the missing cpu controller", err)
	}
}

func TestCheckStatic(t *testing.T) {
	notELF := filepath.Join(t.TempDir(), "script")
	if err := os.WriteFile(notELF, []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := checkStatic(notELF); err == nil || errors.Is(err, ErrDynamicBinary) {
		t.Fatalf("a shell script: error %v, want a read error", err)
	}
	// Debian's shell is linked against the C library.
	if err := checkStatic("/bin/sh"); !errors.Is(err, ErrDynamicBinary) {
		t.Fatalf("/bin/sh: error %v, want ErrDynamicBinary", err)
	}
}

func TestLoadShapes(t *testing.T) {
	tests := []struct {
		name      string
		shape     LoadShape
		start     float64
		peak      float64
		duration  time.Duration
		stages    int
		lastStage float64
	}{
		{"steady", steady(175, 30*time.Second), 175, 175, 30 * time.Second, 1, 175},
		{"overload ramp", overloadRamp(450, 90*time.Second), 135, 720, 90 * time.Second, 2, 720},
		{"quick overload ramp", overloadRamp(450, 25*time.Second), 135, 720, 25 * time.Second, 2, 720},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.shape
			if s.StartRate != tt.start || s.Peak() != tt.peak || s.Duration() != tt.duration || len(s.Stages) != tt.stages ||
				s.Stages[len(s.Stages)-1].Target != tt.lastStage {
				t.Fatalf("shape %+v: want start %v, peak %v, duration %s, %d stages ending at %v", s, tt.start, tt.peak, tt.duration, tt.stages, tt.lastStage)
			}
		})
	}
	// The overload holds its peak for the last third.
	r := overloadRamp(100, 90*time.Second)
	if r.Stages[0].Duration != 60*time.Second || r.Stages[1].Duration != 30*time.Second {
		t.Fatalf("ramp stages %+v: want 60 s of ramp and 30 s at the peak", r.Stages)
	}
}

func TestSelectPhases(t *testing.T) {
	all := DefaultPhases()
	names := func(ps []Phase) string {
		var n []string
		for _, p := range ps {
			n = append(n, p.Name)
		}
		return strings.Join(n, ",")
	}
	tests := []struct {
		name  string
		only  []string
		quick bool
		want  string
	}{
		{"full", nil, false, "normal,overload,two-replicas,autoscale"},
		{"quick", nil, true, "normal,overload,two-replicas,autoscale"},
		{"chosen, in the lab's order", []string{"two-replicas", "normal"}, false, "normal,two-replicas"},
		{"chosen in quick mode", []string{"autoscale"}, true, "autoscale"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := names(selectPhases(all, tt.only, tt.quick)); got != tt.want {
				t.Fatalf("phases %s, want %s", got, tt.want)
			}
		})
	}
}

func TestScenarioYAML(t *testing.T) {
	text := scenarioYAML("overload", "http://127.0.0.1:18080/", overloadRamp(450, 90*time.Second), requestTimeout)
	golden(t, "overload.yaml", []byte(text))
	plan, err := scenario.Parse("overload.yaml", []byte(text), "")
	if err != nil {
		t.Fatalf("the generated scenario does not parse: %v\n%s", err, text)
	}
	sc := plan.Scenarios[0]
	e := sc.Executor
	if e.Kind != scenario.RampingArrivalRate || e.StartRate != 135 || e.PeakRatePerSecond() != 720 || e.MaxVUs != 720*4 {
		t.Fatalf("executor %+v: want ramping-arrival-rate from 135/s to 720/s with 2880 VUs at most", e)
	}
	if plan.Options.Timeout != requestTimeout || plan.PlannedDuration() != 90*time.Second {
		t.Fatalf("timeout %s, duration %s", plan.Options.Timeout, plan.PlannedDuration())
	}
	// The body check is what catches the seed mode's 200 error pages.
	step := sc.Flows[0].Steps[0]
	good := scenario.Response{Status: 200, Body: []byte(target.HelloText + "\n")}
	page := scenario.Response{Status: 200, Body: []byte(target.ErrorPage)}
	vu := sc.NewVU(1)
	if msg := step.Evaluate(vu, &good); msg != "" {
		t.Fatalf("a hello answer failed the check: %s", msg)
	}
	if msg := step.Evaluate(vu, &page); msg == "" {
		t.Fatal("a 200 error page passed the check")
	}
}

func TestPolicyYAML(t *testing.T) {
	cfg := DefaultConfig()
	cfg.StateDir = "/tmp/brink-lab"
	s := &Stack{cfg: cfg, dir: "/tmp/brink-lab/20231114-221320-4242", img: images{Brink: "brink-lab/brink:abc", Target: "brink-lab/target:abc"},
		state: State{ID: "20231114-221320-4242", OwnerPID: 4242, Started: time.Unix(1700000000, 0)}, cgroupParents: true}
	text := policyYAML(s, 450)
	golden(t, "autoscale.yaml", []byte(text))
	p, err := autoscale.ParsePolicy("autoscale.yaml", []byte(text))
	if err != nil {
		t.Fatalf("the generated policy does not parse: %v\n%s", err, text)
	}
	svc := p.Service("web")
	if svc == nil || svc.Min != 1 || svc.Max != autoscaleMax || svc.Actuator.Kind != "docker" || svc.LB == nil || svc.LB.Backend != "web" {
		t.Fatalf("policy service %+v", svc)
	}
	if d := svc.Actuator.Docker; d.Image != "brink-lab/target:abc" || d.CPUs != 0.5 || d.Labels[LabelLab] != "20231114-221320-4242" || d.Labels[labelPID] != "4242" {
		t.Fatalf("docker actuator %+v: want the lab's image, limits and label", d)
	}
	// Autoscaled replicas sit beside the lab's own, in its weighted cgroup,
	// and queue at HAProxy rather than inside the one-at-a-time app.
	if d := svc.Actuator.Docker; d.CgroupParent != "/brink-lab/20231114-221320-4242/web" {
		t.Errorf("docker actuator cgroup_parent %q, want the lab's web group", d.CgroupParent)
	}
	if svc.LB.ServerMaxConn != autoscaleServerMaxConn {
		t.Errorf("lb server_maxconn %d, want %d", svc.LB.ServerMaxConn, autoscaleServerMaxConn)
	}
}

func second(t0 int64, rate float64, ok, checkFailed, timeouts int64, latency time.Duration) *results.Second {
	s := results.NewSecond(t0)
	s.TargetRate = rate
	st := s.Stats("home")
	st.Requests = ok + checkFailed + timeouts
	st.Failures[results.CheckFailed] = checkFailed
	st.Failures[results.Timeout] = timeouts
	for i := int64(0); i < st.Requests; i++ {
		st.Latency.RecordDuration(latency)
	}
	return s
}

func ptr(v float64) *float64 { return &v }

func TestProgressLine(t *testing.T) {
	view := &resourceView{Containers: []containerView{
		{Name: "brink-lab-web-2", Service: "web", CPU: ptr(0.31), CPULimit: ptr(0.5)},
		{Name: "brink-lab-web-1", Service: "web", CPU: ptr(0.5), CPULimit: ptr(0.5), Throttled: ptr(0.92)},
		{Name: "lb", Service: "lb", CPU: ptr(0.04), CPULimit: ptr(0.5)},
		{Name: "brink-lab-hub", Service: "brink-lab-hub", CPU: ptr(0.02)},
	}}
	view.Host.CPUs, view.Host.CPUUsed = 2, ptr(1.62)
	tests := []struct {
		name string
		sec  *results.Second
		view *resourceView
		want string
	}{
		{"no monitor yet", second(100, 300, 300, 0, 0, 2*time.Millisecond), nil,
			"  overload     0:12/1:30  offered    300/s  ok    300/s  failed   0.0%  p95 2.00ms"},
		{"overloaded, with the monitor's view", second(100, 720, 455, 240, 5, 600*time.Millisecond), view,
			"  overload     0:12/1:30  offered    720/s  ok    455/s  failed  35.0% (240 200s failed the body check)  p95 600ms" +
				"  | cpu 0.50/0.50 thr 92% 0.31/0.50  lb 0.04  host 1.6/2"},
		{"an idle second", second(100, 0, 0, 0, 0, 0), nil,
			"  overload     0:12/1:30  offered    0.0/s  ok    0.0/s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := progressLine("overload", 12*time.Second, 90*time.Second, tt.sec, tt.view, "web")
			if got != tt.want {
				t.Fatalf("line\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestPeakWindow(t *testing.T) {
	start := time.Unix(1000, 0)
	w := newPeakWindow(700)
	w.add(second(1000, 700, 10, 0, 0, time.Millisecond), start)         // warm-up second: left out
	w.add(second(1003, 500, 500, 0, 0, time.Millisecond), start)        // below 90 % of the peak
	w.add(second(1004, 640, 400, 200, 40, 500*time.Millisecond), start) // 640 ≥ 630
	w.add(second(1005, 700, 400, 300, 0, 600*time.Millisecond), start)
	f := w.figures()
	if f.FromUnix != 1004 || f.ToUnix != 1005 || f.Seconds != 2 || f.Requests != 1340 {
		t.Fatalf("window %+v: want seconds 1004..1005 with 1340 requests", f)
	}
	if f.GoodRPS != 400 || f.ErrorRate != 540.0/1340 || f.StatusErrorRate != 40.0/1340 {
		t.Fatalf("figures %+v: want 400 good/s, 540 failed and 40 of them by status", f)
	}
	if f.P95Ms < 599 || f.P95Ms > 601 {
		t.Fatalf("p95 %v ms, want 600 from the merged histograms", f.P95Ms)
	}
}

func TestCalibrate(t *testing.T) {
	cfg := DefaultConfig()
	tests := []struct {
		name     string
		cpu      *float64
		rps      float64
		measured bool
		capacity float64
	}{
		{"measured", ptr(0.2), 160, true, 400},            // 1.25 ms per request
		{"no CPU figures", nil, 160, false, 500},          // nominal: 0.5 / 1 ms
		{"implausibly cheap", ptr(0.05), 160, false, 500}, // 0.31 ms < the configured 1 ms
		{"implausibly dear", ptr(0.5), 50, false, 500},    // 10 ms
		{"no good requests", ptr(0.2), 0, false, 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &PhaseResult{Peak: PeakFigures{GoodRPS: tt.rps}, Resources: ResourceFigures{Replicas: 1, CPUPerReplica: tt.cpu}}
			c := calibrate(cfg, r)
			if c.Measured != tt.measured || c.CapacityRPS < tt.capacity-0.01 || c.CapacityRPS > tt.capacity+0.01 {
				t.Fatalf("calibration %+v: want measured=%v, capacity %v", c, tt.measured, tt.capacity)
			}
		})
	}
}

func TestStatusErrorRate(t *testing.T) {
	if got := statusErrorRate(1000, 300, map[string]int64{"check_failed": 250, "timeout": 50}); got != 0.05 {
		t.Fatalf("status error rate %v, want 0.05: failed body checks are 200s", got)
	}
	if got := statusErrorRate(0, 0, nil); got != 0 {
		t.Fatalf("no requests: %v", got)
	}
}

// sampleReport is a lab report with fixed figures, shaped like a real run.
func sampleReport() *Report {
	t0 := time.Date(2026, 11, 24, 19, 0, 0, 0, time.UTC)
	phase := func(name string, replicas, end int, offset int, maxRPS, errRate, statusRate, thr float64, knee *analysis.Knee, limit string) *PhaseResult {
		start := t0.Add(time.Duration(offset) * time.Second)
		p := &PhaseResult{
			Name: name, Title: name + " title", Story: "what " + name + " shows", Replicas: replicas, ReplicasEnd: end,
			RunID: "r-" + name, RunURL: "http://127.0.0.1:18081/runs/r-" + name,
			Start: start, End: start.Add(30 * time.Second), PeakOfferedRPS: 720,
			MaxSustainedRPS: maxRPS, Requests: 10000, Failures: int64(errRate * 10000), ErrorRate: errRate, StatusErrorRate: statusRate,
			CheckFailures: int64((errRate - statusRate) * 10000), TargetErrorPages: int64((errRate - statusRate) * 10000),
			Peak:      PeakFigures{Seconds: 10, Requests: 7000, GoodRPS: maxRPS, ErrorRate: errRate, StatusErrorRate: statusRate, P95Ms: 600, P99Ms: 650},
			Resources: ResourceFigures{Replicas: replicas, CPUPerReplica: ptr(0.49), CPUBusiestReplica: ptr(0.5), CPULimit: ptr(0.5), Throttled: ptr(thr), HostCPU: ptr(1.7), HostCores: ptr(2), LBCPU: ptr(0.06), LBCPULimit: ptr(0.5), GeneratorCPU: ptr(0.05)},
			Knee:      knee, Limit: &analysis.Limit{Resource: analysis.ResTargetCPU, Text: limit},
			Headline: "headline of " + name + " <b>",
			Timeline: []results.TimelinePoint{
				{T: 0, Unix: start.Unix(), TargetRate: 200, Requests: 200, RPS: 200, P95Ms: 3},
				{T: 1, Unix: start.Unix() + 1, TargetRate: 720, Requests: 720, RPS: 720, Failures: int64(errRate * 720), P95Ms: 600},
			},
			Series: []analysis.Series{
				{Name: analysis.TargetCPU, Entity: "brink-lab-web-1", Points: []analysis.Point{{T: start.Unix(), V: 0.2}, {T: start.Unix() + 1, V: 0.5}}},
				{Name: analysis.TargetCPULimit, Entity: "brink-lab-web-1", Points: []analysis.Point{{T: start.Unix(), V: 0.5}}},
				{Name: analysis.TargetThrottled, Entity: "brink-lab-web-1", Points: []analysis.Point{{T: start.Unix() + 1, V: thr}}},
			},
		}
		return p
	}
	over := phase("overload", 1, 1, 40, 455, 0.35, 0.002, 0.9,
		&analysis.Knee{Unix: t0.Add(52 * time.Second).Unix(), T: 12, Offered: 470, OfferedUnit: "iterations/s", Throughput: 455, Cause: analysis.SignalErrors},
		"target brink-lab-web-1 CPU at 0.50 of 0.50 cores")
	r := &Report{
		BrinkVersion: "test", Started: t0, Finished: t0.Add(4 * time.Minute), Quick: true,
		Setup: Setup{Mode: target.ModeSeed, Service: "web", CPUCostMs: 1, ReplicaCPUs: 0.5, ReplicaMemoryBytes: 256 << 20,
			LBCPUs: 0.5, LBMemoryBytes: 128 << 20, GeneratorCores: 1, HostCores: 2, Host: "vm", ServiceURL: "http://127.0.0.1:18080/",
			Images: []string{"brink-lab/brink:abc", "brink-lab/target:abc"}},
		Calibration:    Calibration{CapacityRPS: 450, CPUPerRequestMs: 1.11, Measured: true, Text: "measured 1.11 ms of CPU per request"},
		HostBeforeLoad: &HostLoad{Used: 0.1, Cores: 2},
		Phases: []*PhaseResult{
			phase("normal", 1, 1, 0, 158, 0, 0, 0, nil, "no limit"),
			over,
			phase("two-replicas", 2, 2, 80, 712, 0.001, 0.001, 0.1, nil, "none"),
			phase("autoscale", 1, 2, 120, 690, 0.02, 0.001, 0.3, nil, "none"),
		},
		DashboardURL: "http://127.0.0.1:18081/", CompareURL: "http://127.0.0.1:18081/compare?a=r-overload&b=r-two-replicas",
	}
	as := r.Phases[3]
	as.Scaling = []ScalingEvent{
		{Time: as.Start.Add(1 * time.Second), Kind: autoscale.KindReplicaServing, Message: "web: replica brink-lab-web-1 serving"},
		{Time: as.Start.Add(9 * time.Second), Kind: autoscale.KindScaleOut, Message: "web: fast path: rps/replica 410 over 3s > target 315 → 1→2", From: 1, To: 2},
		{Time: as.Start.Add(10 * time.Second), Kind: autoscale.KindReplicaServing, Message: "web: replica brink-lab-web-auto-1 serving"},
	}
	as.Timeline[1].Failures = 0 // the first failures come after the new replica served
	as.Timeline = append(as.Timeline, results.TimelinePoint{T: 12, Unix: as.Start.Unix() + 12, TargetRate: 720, Requests: 720, Failures: 30})
	r.Conclusions = conclusions(Config{Mode: target.ModeSeed}, r)
	return r
}

func TestConclusions(t *testing.T) {
	r := sampleReport()
	if len(r.Conclusions) != 4 {
		t.Fatalf("conclusions %+v: want overload, two replicas, body checks and autoscale", r.Conclusions)
	}
	for _, c := range r.Conclusions {
		if !c.Holds {
			t.Errorf("%q does not hold: %s", c.Claim, c.Evidence)
		}
	}
	tests := []struct {
		name   string
		modify func(r *Report)
		fails  []int // indexes of the conclusions that must not hold
	}{
		{"an overload without throttling", func(r *Report) { r.Phase("overload").Resources.Throttled = ptr(0.05) }, []int{0}},
		{"an overload that neither failed nor plateaued", func(r *Report) {
			o := r.Phase("overload")
			o.Peak.ErrorRate, o.Knee = 0, &analysis.Knee{Cause: analysis.SignalLatency, Signals: []analysis.Signal{{Kind: analysis.SignalLatency}}}
			o.MaxSustainedRPS = 0.95 * o.PeakOfferedRPS
			r.Phase("two-replicas").Peak.ErrorRate = 0
		}, []int{0, 3}}, // the autoscaled ramp's 2% is then worse than one replica alone
		{"an overload without failures that plateaued", func(r *Report) {
			o := r.Phase("overload")
			o.Peak.ErrorRate, o.Knee = 0, &analysis.Knee{Cause: analysis.SignalLatency, Signals: []analysis.Signal{{Kind: analysis.SignalLatency}}}
			r.Phase("two-replicas").Peak.ErrorRate = 0
		}, []int{3}}, // max sustained 455 of 720 offered; the autoscaled 2% is worse than none
		{"two replicas no faster", func(r *Report) { r.Phase("two-replicas").MaxSustainedRPS = 400 }, []int{1}},
		{"two replicas failing more", func(r *Report) { r.Phase("two-replicas").Peak.ErrorRate = 0.5 }, []int{1}},
		{"no 200 error pages", func(r *Report) { o := r.Phase("overload"); o.CheckFailures, o.StatusErrorRate = 0, o.ErrorRate }, []int{2}},
		{"failures before the new replica served", func(r *Report) {
			as := r.Phase("autoscale")
			as.Timeline[1].Failures = 100
		}, []int{3}},
		{"no scale-out", func(r *Report) { r.Phase("autoscale").Scaling = r.Phase("autoscale").Scaling[:1] }, []int{3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := sampleReport()
			tt.modify(r)
			cs := conclusions(Config{Mode: target.ModeSeed}, r)
			for i, c := range cs {
				if c.Holds == slices.Contains(tt.fails, i) {
					t.Errorf("conclusion %d (%q) holds=%v: %s", i, c.Claim, c.Holds, c.Evidence)
				}
			}
		})
	}
	// In well mode the app fails honestly: no body-check conclusion.
	r = sampleReport()
	if cs := conclusions(Config{Mode: target.ModeWell}, r); len(cs) != 3 {
		t.Fatalf("well mode: %d conclusions, want 3", len(cs))
	}
}

func TestConsoleGolden(t *testing.T) {
	var b bytes.Buffer
	writeConsole(&b, sampleReport())
	golden(t, "console.txt", b.Bytes())
}

func TestReportFiles(t *testing.T) {
	r := sampleReport()
	dir := filepath.Join(t.TempDir(), "report")
	if err := writeReport(dir, r); err != nil {
		t.Fatal(err)
	}
	html, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"455/s", "712/s", "35%", "0.49/0.50", "r-overload", "headline of overload &lt;b&gt;",
		"1→2", "fast path: rps/replica 410", "the seed&#39;s story reproduced", "<svg"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	if strings.Contains(string(html), "<b>") {
		t.Error("report.html carries an unescaped headline")
	}
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Phases) != 4 || back.Phase("two-replicas").MaxSustainedRPS != 712 || back.Phase("overload").Peak.ErrorRate != 0.35 ||
		*back.Phase("overload").Resources.Throttled != 0.9 || len(back.Conclusions) != 4 {
		t.Fatalf("report.json round trip lost figures: %+v", back)
	}
	for _, p := range r.Phases {
		if _, err := os.Stat(filepath.Join(dir, "phases", p.Name+".yaml")); err != nil {
			t.Errorf("phase scenario: %v", err)
		}
	}
}

func TestCheckPrereqsListsEveryProblem(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := busy.Addr().(*net.TCPAddr).Port
	ports := Ports{LB: port, Hub: freePort(t), Monitor: freePort(t)}
	_, _, err = checkPrereqs(context.Background(), checks{
		euid: 1000, cgroupRoot: t.TempDir(), haproxy: "brink-test-no-such-haproxy", exe: "/bin/sh", ports: ports,
		docker: func(context.Context) (*engine, error) {
			return nil, errors.New("dockerd is not reachable at unix:///nowhere.sock: connection refused")
		},
	})
	var pe *PrereqError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v, want a PrereqError", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"needs root", "sudo",
		`controller "cpu" is not mounted`,
		"dockerd is not reachable", "run " + SetupCommand + " (it installs Docker",
		"HAProxy is not installed", "run " + SetupCommand + " (or apt-get install haproxy)",
		"/bin/sh is dynamically linked", "make build",
		"port 127.0.0.1:" + strconv.Itoa(port) + " (load balancer) is in use", "--port-base",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("the message lacks %q:\n%s", want, msg)
		}
	}
	if len(pe.Problems) != 6 {
		t.Errorf("%d problems, want 6:\n%s", len(pe.Problems), msg)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestHAProxyVersionRe(t *testing.T) {
	tests := []struct {
		out          string
		major, minor string
	}{
		{"HAProxy version 2.6.12-1+deb12u1 2023/12/16 - https://haproxy.org/", "2", "6"},
		{"HA-Proxy version 1.8.19-1+deb10u3 2020/08/01", "1", "8"},
		{"HAProxy version 3.0.5-1 2024/09/19", "3", "0"},
	}
	for _, tt := range tests {
		m := haproxyVersionRe.FindStringSubmatch(tt.out)
		if m == nil || m[1] != tt.major || m[2] != tt.minor {
			t.Errorf("%q: match %v, want %s.%s", tt.out, m, tt.major, tt.minor)
		}
	}
}

func TestStateRoundTrip(t *testing.T) {
	dir := t.TempDir()
	st := State{ID: "l1", OwnerPID: os.Getpid(), Kept: true, Started: time.Unix(1700000000, 0).UTC(), Ports: PortsFrom(18080), Service: "web", HAProxyPID: 4242}
	if err := st.write(dir); err != nil {
		t.Fatal(err)
	}
	back, err := readState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if back.OwnerPID != st.OwnerPID || !back.Kept || !back.Started.Equal(st.Started) || back.Ports.Hub != 18081 || back.HAProxyPID != 4242 {
		t.Fatalf("state %+v, want %+v", back, st)
	}
	if _, err := readState(t.TempDir()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("no state: error %v, want ErrNotExist", err)
	}
	if !processAlive(os.Getpid()) || processAlive(0) || processAlive(1<<22+7) {
		t.Fatal("processAlive is wrong about this process, pid 0 or an impossible pid")
	}
	if haproxyRunning(os.Getpid()) {
		t.Fatal("this test process passed for HAProxy")
	}
}
