package monitor_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/brinkhq/brink/internal/monitor"
	"github.com/brinkhq/brink/internal/monitor/cgroup"
	"github.com/brinkhq/brink/internal/monitor/internal/testenv"
	"github.com/brinkhq/brink/internal/monitor/naming"
	"github.com/brinkhq/brink/internal/remotewrite"
	"github.com/golang/snappy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/prompb"
)

// running is a monitor running in the test process against the real
// /proc, /sys and a Docker engine.
type running struct {
	m    *monitor.Monitor
	base string
}

func startMonitor(t *testing.T, cfg monitor.Config) *running {
	t.Helper()
	if cfg.Interval == 0 {
		cfg.Interval = time.Second
	}
	if cfg.ProcFS == "" {
		cfg.ProcFS, cfg.SysFS, cfg.RootFS = "/proc", "/sys", "/"
	}
	switch cfg.DockerHost {
	case "":
		cfg.DockerHost = "unix:///var/run/docker.sock"
	case "none":
		cfg.DockerHost = ""
	}
	if cfg.Collectors == nil {
		cfg.Collectors = []string{"cpu", "meminfo", "netdev", "process"}
	}
	cfg.Listen = "127.0.0.1:0"
	cfg.Hostname = "e2e"
	cfg.Exports = naming.DefaultExports()
	if cfg.NetworkExclude == nil {
		cfg.NetworkExclude = regexp.MustCompile(`^lo$`)
	}
	cfg.Version = "test"
	m, err := monitor.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("monitor.Run: %v", err)
		}
	})
	select {
	case <-m.Listening():
	case err := <-done:
		t.Fatalf("monitor stopped: %v", err)
	}
	r := &running{m: m, base: "http://" + m.Addr().String()}
	waitFor(t, "the first tick", 30*time.Second, func() bool { _, err := r.scrapeErr(); return err == nil })
	return r
}

// page is one parsed /metrics page.
type page map[string]*dto.MetricFamily

func (r *running) scrapeErr() (page, error) {
	resp, err := http.Get(r.base + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		return nil, fmt.Errorf("%s: %s", resp.Status, b)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	return page(fams), err
}

func (r *running) scrape(t *testing.T) page {
	t.Helper()
	p, err := r.scrapeErr()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// sample is one value with its sampling time.
type sample struct {
	v  float64
	ts time.Time
}

// get returns the sample of family name whose labels include all of want.
func (p page) get(name string, want map[string]string) (sample, bool) {
	f := p[name]
	if f == nil {
		return sample{}, false
	}
	for _, m := range f.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			if labels[k] != v {
				match = false
			}
		}
		if !match {
			continue
		}
		var v float64
		switch {
		case m.Counter != nil:
			v = m.Counter.GetValue()
		case m.Gauge != nil:
			v = m.Gauge.GetValue()
		case m.Untyped != nil:
			v = m.Untyped.GetValue()
		}
		return sample{v: v, ts: time.UnixMilli(m.GetTimestampMs())}, true
	}
	return sample{}, false
}

func (p page) must(t *testing.T, name string, want map[string]string) sample {
	t.Helper()
	s, ok := p.get(name, want)
	if !ok {
		t.Fatalf("%s%v not in /metrics", name, want)
	}
	return s
}

func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(start)
}

// weightedParent creates a top-level cgroup with the highest CPU weight
// for a test container, so that the CPU it is allowed by its own limit is
// not taken by whatever else runs on the machine (other test suites): the
// test measures the monitor, not the machine's load. It returns the
// --cgroup-parent value.
func weightedParent(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("brinktest-%d", os.Getpid())
	l, err := cgroup.Detect("/sys")
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	if l.Version == cgroup.V2 {
		dir := filepath.Join(l.Unified, name)
		os.Mkdir(dir, 0o755)
		if err := os.WriteFile(filepath.Join(dir, "cpu.weight"), []byte("10000"), 0o644); err != nil {
			t.Logf("cannot raise the test cgroup's cpu.weight (%v); the measurement may suffer from other load", err)
		}
		dirs = append(dirs, dir)
	} else {
		dir := filepath.Join(l.CPU, name)
		os.Mkdir(dir, 0o755)
		if err := os.WriteFile(filepath.Join(dir, "cpu.shares"), []byte("262144"), 0o644); err != nil {
			t.Logf("cannot raise the test cgroup's cpu.shares (%v); the measurement may suffer from other load", err)
		}
	}
	t.Cleanup(func() {
		// Docker creates the parent in every hierarchy and leaves it.
		all, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", name))
		for _, d := range append(all, dirs...) {
			os.Remove(d)
		}
	})
	return "/" + name
}

// A container limited to --cpus 0.5 that burns CPU: the rate of
// container_cpu_usage_seconds_total over the monitor's own sample
// timestamps is 0.5 cores within 3 %, its throttled periods grow and its
// quota reads 50000.
func TestDockerCPUAccuracy(t *testing.T) {
	testenv.RequireDocker(t)
	img := testenv.BuildWorkload(t, "")
	name := fmt.Sprintf("brink-e2e-cpu-%d", os.Getpid())
	testenv.Run(t, "", "--name", name, "--cgroup-parent", weightedParent(t), "--cpus", "0.5", img, "cpu", "-max", "3m")
	r := startMonitor(t, monitor.Config{})
	sel := map[string]string{"name": name}
	waitFor(t, "the burner in /metrics", 30*time.Second, func() bool {
		_, ok := r.scrape(t).get("container_cpu_usage_seconds_total", sel)
		return ok
	})
	time.Sleep(3 * time.Second) // let the burner reach its steady state
	p0 := r.scrape(t)
	time.Sleep(15 * time.Second)
	p1 := r.scrape(t)
	u0, u1 := p0.must(t, "container_cpu_usage_seconds_total", sel), p1.must(t, "container_cpu_usage_seconds_total", sel)
	cores := (u1.v - u0.v) / u1.ts.Sub(u0.ts).Seconds()
	t.Logf("burner with --cpus 0.5: %.4f cores over %s (sample timestamps)", cores, u1.ts.Sub(u0.ts))
	if math.Abs(cores-0.5)/0.5 > 0.03 {
		t.Errorf("rate of container_cpu_usage_seconds_total = %.4f cores, want 0.5 ± 3%%", cores)
	}
	th0, th1 := p0.must(t, "container_cpu_cfs_throttled_periods_total", sel), p1.must(t, "container_cpu_cfs_throttled_periods_total", sel)
	per0, per1 := p0.must(t, "container_cpu_cfs_periods_total", sel), p1.must(t, "container_cpu_cfs_periods_total", sel)
	if th1.v <= th0.v {
		t.Errorf("throttled periods did not grow: %v → %v", th0.v, th1.v)
	}
	t.Logf("throttled in %.0f of %.0f periods", th1.v-th0.v, per1.v-per0.v)
	if q := p1.must(t, "container_spec_cpu_quota", sel).v; q != 50000 {
		t.Errorf("container_spec_cpu_quota = %v, want 50000", q)
	}
	if q := p1.must(t, "container_spec_cpu_period", sel).v; q != 100000 {
		t.Errorf("container_spec_cpu_period = %v, want 100000", q)
	}
	if c := p1.must(t, "container_spec_cpu_limit_cores", sel).v; c != 0.5 {
		t.Errorf("container_spec_cpu_limit_cores = %v, want 0.5", c)
	}
	// Samples are taken on the 1 s schedule (plus a little lag): the rate
	// never backs off.
	if d := u1.ts.Sub(u0.ts); (d - d.Round(time.Second)).Abs() > 250*time.Millisecond {
		t.Errorf("samples %s apart, want a whole number of 1 s intervals (give or take the tick lag)", d)
	}

	// The JSON view's per-interval rate agrees.
	var resp struct {
		Data struct {
			Containers []struct {
				Name          string   `json:"name"`
				CPUCores      *float64 `json:"cpu_cores"`
				CPULimitCores *float64 `json:"cpu_limit_cores"`
				Throttled     *float64 `json:"cpu_throttled_ratio"`
			} `json:"containers"`
		} `json:"data"`
	}
	getJSON(t, r.base+"/api/v1/containers", &resp)
	found := false
	for _, c := range resp.Data.Containers {
		if c.Name != name {
			continue
		}
		found = true
		if c.CPUCores == nil || math.Abs(*c.CPUCores-0.5) > 0.1 || c.CPULimitCores == nil || *c.CPULimitCores != 0.5 || c.Throttled == nil {
			t.Errorf("/api/v1/containers: cpu_cores %v, cpu_limit_cores %v, throttled %v", ptr(c.CPUCores), ptr(c.CPULimitCores), ptr(c.Throttled))
		}
	}
	if !found {
		t.Errorf("%s not in /api/v1/containers", name)
	}
}

func ptr(p *float64) string {
	if p == nil {
		return "null"
	}
	return strconv.FormatFloat(*p, 'g', 6, 64)
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// A container that touches 100 MiB under a 256 MiB limit: its working set
// is within 5 % of what the cgroup itself says and of the docker stats
// formula (usage minus inactive file pages).
func TestDockerMemoryAccuracy(t *testing.T) {
	testenv.RequireDocker(t)
	img := testenv.BuildWorkload(t, "")
	name := fmt.Sprintf("brink-e2e-mem-%d", os.Getpid())
	id := testenv.Run(t, "", "--name", name, "--memory", "256m", img, "mem", "-mib", "100", "-max", "3m")
	waitFor(t, "the memory to be touched", time.Minute, func() bool {
		out, _ := testenv.DockerErr("", "logs", id)
		return strings.Contains(out, "touched 100 MiB")
	})
	r := startMonitor(t, monitor.Config{})
	sel := map[string]string{"name": name}
	var p page
	waitFor(t, "the container in /metrics", 30*time.Second, func() bool {
		p = r.scrape(t)
		_, ok := p.get("container_memory_working_set_bytes", sel)
		return ok
	})
	ws := p.must(t, "container_memory_working_set_bytes", sel).v

	// The cgroup's own numbers, read now.
	cgPath := p.mustLabel(t, "container_memory_working_set_bytes", sel, "id")
	own := cgroupWorkingSet(t, cgPath)

	// docker stats' formula on the engine's stats API.
	cli, err := client.New(client.WithHost("unix:///var/run/docker.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	res, err := cli.ContainerStats(context.Background(), id, client.ContainerStatsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var st container.StatsResponse
	err = json.NewDecoder(res.Body).Decode(&st)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	inactive, ok := st.MemoryStats.Stats["total_inactive_file"] // cgroup v1
	if !ok {
		inactive = st.MemoryStats.Stats["inactive_file"] // cgroup v2
	}
	dockerStats := float64(st.MemoryStats.Usage)
	if float64(inactive) < dockerStats {
		dockerStats -= float64(inactive)
	}
	t.Logf("working set: monitor %.0f, cgroup %.0f, docker stats %.0f bytes", ws, own, dockerStats)
	for what, ref := range map[string]float64{"the cgroup's own numbers": own, "docker stats": dockerStats} {
		if math.Abs(ws-ref)/ref > 0.05 {
			t.Errorf("working set %.0f is not within 5%% of %s (%.0f)", ws, what, ref)
		}
	}
	if ws < 100<<20 {
		t.Errorf("working set %.0f is below the 100 MiB the workload touched", ws)
	}
	if l := p.must(t, "container_spec_memory_limit_bytes", sel).v; l != 256<<20 {
		t.Errorf("container_spec_memory_limit_bytes = %v, want %d", l, 256<<20)
	}
	if rss := p.must(t, "container_memory_rss", sel).v; rss < 100<<20 {
		t.Errorf("container_memory_rss = %v, want at least 100 MiB", rss)
	}
}

func (p page) mustLabel(t *testing.T, name string, want map[string]string, label string) string {
	t.Helper()
	for _, m := range p[name].GetMetric() {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			match = match && labels[k] == v
		}
		if match {
			return labels[label]
		}
	}
	t.Fatalf("%s%v has no label %s", name, want, label)
	return ""
}

// cgroupWorkingSet reads usage minus inactive file pages straight from the
// cgroup's files.
func cgroupWorkingSet(t *testing.T, cg string) float64 {
	t.Helper()
	l, err := cgroup.Detect("/sys")
	if err != nil {
		t.Fatal(err)
	}
	usageFile, statFile, inactiveKey := filepath.Join(l.Memory, cg, "memory.usage_in_bytes"), filepath.Join(l.Memory, cg, "memory.stat"), "total_inactive_file"
	if l.Version == cgroup.V2 {
		usageFile, statFile, inactiveKey = filepath.Join(l.Unified, cg, "memory.current"), filepath.Join(l.Unified, cg, "memory.stat"), "inactive_file"
	}
	b, err := os.ReadFile(usageFile)
	if err != nil {
		t.Fatal(err)
	}
	usage, _ := strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
	b, err = os.ReadFile(statFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && k == inactiveKey {
			inactive, _ := strconv.ParseFloat(v, 64)
			if inactive < usage {
				return usage - inactive
			}
			return 0
		}
	}
	t.Fatalf("%s has no %s", statFile, inactiveKey)
	return 0
}

// rwReceiver decodes remote writes and keeps every sample per series.
type rwReceiver struct {
	mu     sync.Mutex
	series map[string][]prompb.Sample // key: name + sorted labels
}

func (rr *rwReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	raw, err := snappy.Decode(nil, body)
	if err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	var wr prompb.WriteRequest
	if err := wr.Unmarshal(raw); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	rr.mu.Lock()
	defer rr.mu.Unlock()
	for _, ts := range wr.Timeseries {
		var b strings.Builder
		for _, l := range ts.Labels {
			b.WriteString(l.Name + "=" + l.Value + ",")
		}
		rr.series[b.String()] = append(rr.series[b.String()], ts.Samples...)
	}
	w.WriteHeader(204)
}

// samples returns the samples of every series whose key contains all of parts.
func (rr *rwReceiver) samples(parts ...string) []prompb.Sample {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	var out []prompb.Sample
	for k, s := range rr.series {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(k, p)
		}
		if ok {
			out = append(out, s...)
		}
	}
	return out
}

// Containers started while the monitor runs appear within one interval
// (plus the engine's event latency), removed ones stop being exported but
// stay in the remote-write history, names follow the service rules, and no
// cgroup file descriptor leaks.
func TestDockerLifecycle(t *testing.T) {
	testenv.RequireDocker(t)
	img := testenv.BuildWorkload(t, "")
	rcv := &rwReceiver{series: map[string][]prompb.Sample{}}
	srv := newLocalServer(t, rcv)
	r := startMonitor(t, monitor.Config{RemoteWrite: &remotewrite.Config{URL: srv + "/api/v1/write", BufferDir: t.TempDir()}})

	prefix := fmt.Sprintf("brink-e2e-life-%d", os.Getpid())
	// A Mesos Docker containerizer name: mesos-<container id>, unique per run.
	mesosName := fmt.Sprintf("mesos-%08x-2d4a-4f6b-8c7d-0e1f2a3b4c5d", os.Getpid())
	type started struct {
		name, id, service string
	}
	var all []started
	for i := range 3 {
		name := fmt.Sprintf("%s-%d", prefix, i)
		all = append(all, started{name: name, service: name})
	}
	all = append(all, started{name: prefix + "-svc", service: "checkout"})
	all = append(all, started{name: mesosName, service: "/e2e/web"})
	for i := range all {
		args := []string{"--name", all[i].name}
		switch all[i].service {
		case "checkout":
			args = append(args, "--label", "brink.service=checkout")
		case "/e2e/web":
			args = append(args, "-e", "MARATHON_APP_ID=/e2e/web", "-e", "MESOS_TASK_ID=e2e_web.1")
		}
		args = append(args, img, "idle", "-max", "3m")
		startedAt := time.Now()
		all[i].id = testenv.Run(t, "", args...)
		took := waitFor(t, all[i].name+" in /metrics", 30*time.Second, func() bool {
			_, ok := r.scrape(t).get("container_cpu_usage_seconds_total", map[string]string{"name": all[i].name})
			return ok
		})
		p := r.scrape(t)
		sel := map[string]string{"name": all[i].name}
		first, begun := p.must(t, "container_cpu_usage_seconds_total", sel).ts, p.must(t, "container_start_time_seconds", sel).v
		t.Logf("%s: first sample %.3f s after the container started; seen %s after docker run returned (%s after it was called)",
			all[i].name, float64(first.UnixMilli())/1000-begun, took, time.Since(startedAt).Round(time.Millisecond))
		// One interval, plus the engine's event delivery and the inspect
		// call on a machine shared with other test suites.
		if took > 3*time.Second {
			t.Errorf("%s took %s to appear, want within one 1 s interval (+2 s for the engine and machine load)", all[i].name, took)
		}
	}
	var ids []string
	for _, c := range all {
		ids = append(ids, c.id)
	}
	if n := cgroupFDs(t, ids); n == 0 {
		t.Fatal("no open cgroup files found for the test's containers: the leak check below would prove nothing")
	}
	p := r.scrape(t)
	for _, c := range all {
		got := p.mustLabel(t, "container_cpu_usage_seconds_total", map[string]string{"name": c.name}, "service")
		if got != c.service {
			t.Errorf("%s: service = %q, want %q", c.name, got, c.service)
		}
		if mode := p.mustLabel(t, "container_network_mode", map[string]string{"name": c.name}, "mode"); mode != "host" {
			t.Errorf("%s: network mode %q, want host (started with --network host)", c.name, mode)
		}
		if _, ok := p.get("container_network_receive_bytes_total", map[string]string{"name": c.name}); ok {
			t.Errorf("%s: host-network container reports the host's network counters", c.name)
		}
	}
	if env := p.mustLabel(t, "container_cpu_usage_seconds_total", map[string]string{"service": "/e2e/web"}, "container_env_MESOS_TASK_ID"); env != "e2e_web.1" {
		t.Errorf("container_env_MESOS_TASK_ID = %q", env)
	}

	for _, c := range all {
		stopped := time.Now()
		testenv.Docker(t, "", "rm", "-f", c.id)
		took := waitFor(t, c.name+" to leave /metrics", 30*time.Second, func() bool {
			_, ok := r.scrape(t).get("container_cpu_usage_seconds_total", map[string]string{"name": c.name})
			return !ok
		})
		t.Logf("%s left /metrics %s after docker rm returned (%s in all)", c.name, took, time.Since(stopped).Round(time.Millisecond))
		if took > 3*time.Second {
			t.Errorf("%s still exported %s after removal, want within one 1 s interval (+2 s for the engine and machine load)", c.name, took)
		}
	}
	// History: the receiver holds the removed containers' samples.
	waitFor(t, "remote write to catch up", 30*time.Second, func() bool {
		return len(rcv.samples("__name__=container_cpu_usage_seconds_total,", "name="+all[0].name+",")) > 0
	})
	// Every cgroup file opened for them is closed again.
	waitFor(t, "the removed containers' cgroup files to be closed", 10*time.Second, func() bool { return cgroupFDs(t, ids) == 0 })
}

// cgroupFDs counts this process's open files in the cgroups of the given
// containers (other containers on the machine come and go meanwhile).
func cgroupFDs(t *testing.T, ids []string) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err != nil || !strings.HasPrefix(target, "/sys/fs/cgroup/") {
			continue
		}
		for _, id := range ids {
			if strings.Contains(target, id) {
				n++
			}
		}
	}
	return n
}

func newLocalServer(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := &http.Server{Handler: h}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// dockerd restarted while the monitor runs: the monitor keeps collecting
// the containers it knows (their cgroups do not need the engine), marks the
// engine as disconnected, reconnects when it is back and follows new
// containers again. The test runs its own engine so that the machine's
// shared one is never restarted.
func TestDockerdRestart(t *testing.T) {
	d := testenv.StartDaemon(t)
	img := testenv.BuildWorkload(t, d.Host)
	r := startMonitor(t, monitor.Config{DockerHost: d.Host})
	testenv.Run(t, d.Host, "--name", "before-restart", img, "idle", "-max", "5m")
	before := map[string]string{"name": "before-restart"}
	waitFor(t, "the first container", 30*time.Second, func() bool {
		_, ok := r.scrape(t).get("container_cpu_usage_seconds_total", before)
		return ok
	})
	if p := r.scrape(t); !strings.HasPrefix(p.mustLabel(t, "container_cpu_usage_seconds_total", before, "id"), d.CgroupParent+"/") {
		t.Errorf("cgroup id does not use the engine's cgroup parent %s", d.CgroupParent)
	}

	d.Stop()
	waitFor(t, "the monitor to notice the engine is gone", 30*time.Second, func() bool {
		s, ok := r.scrape(t).get("brink_monitor_docker_connected", nil)
		return ok && s.v == 0
	})
	// Still collecting: the container keeps running (live restore) and its
	// samples keep advancing.
	s0 := r.scrape(t).must(t, "container_last_seen", before)
	waitFor(t, "samples while the engine is down", 10*time.Second, func() bool {
		s, ok := r.scrape(t).get("container_last_seen", before)
		return ok && s.ts.After(s0.ts)
	})

	d.Start()
	waitFor(t, "the monitor to reconnect", 60*time.Second, func() bool {
		s, ok := r.scrape(t).get("brink_monitor_docker_connected", nil)
		return ok && s.v == 1
	})
	if c := r.scrape(t).must(t, "brink_monitor_docker_connects_total", nil).v; c < 2 {
		t.Errorf("brink_monitor_docker_connects_total = %v, want 2 after a reconnection", c)
	}
	testenv.Run(t, d.Host, "--name", "after-restart", img, "idle", "-max", "5m")
	waitFor(t, "a container started after the restart", 30*time.Second, func() bool {
		_, ok := r.scrape(t).get("container_cpu_usage_seconds_total", map[string]string{"name": "after-restart"})
		return ok
	})
	if _, ok := r.scrape(t).get("container_cpu_usage_seconds_total", before); !ok {
		t.Error("the container that ran through the restart is no longer reported")
	}
}
