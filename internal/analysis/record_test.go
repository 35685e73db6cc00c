package analysis

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/brinkhq/brink/internal/load"
	"github.com/brinkhq/brink/internal/monitor/cgroup"
	"github.com/brinkhq/brink/internal/results"
	"github.com/brinkhq/brink/internal/scenario"
)

var record = flag.Bool("record", false, "re-record the runs in testdata/recorded against real dockerd, brink-target and the load engine")

// recordCase is one real run to record: a brink-target container with its
// limits, and an arrival-rate ramp from this process. Target containers get
// a large CPU share so that other work on a shared machine does not starve
// them below their own limit: the recordings are about that limit.
type recordCase struct {
	name       string
	targetArgs []string // brink-target flags
	docker     []string // docker run limits
	startRate  float64
	ramp       string
	maxVUs     int
	// scenario, when set, is a scenario file (URL replaced) used instead
	// of the quick ramp, for checks on the response body.
	scenario string
	// generatorQuota puts this process (the load generator) into a cgroup
	// with this CPU quota (cores) for the run; 0 leaves it alone.
	generatorQuota float64
}

var recordCases = []recordCase{
	{
		// The seed's container: half a core. Each request burns 1 ms of
		// CPU, so the target's CPU limit is reached near 500 req/s.
		name:       "target-cpu-limit",
		targetArgs: []string{"--cpu", "1ms"},
		docker:     []string{"--cpus", "0.5", "--memory", "256m", "--cpu-shares", "8192"},
		startRate:  50, ramp: "40s:1000,5s:1000", maxVUs: 2000,
	},
	{
		// A cheap target with the whole machine, and a generator held to
		// a fifth of a core: the generator saturates long before the target.
		name:       "generator-saturated",
		targetArgs: nil,
		docker:     []string{"--cpu-shares", "8192"},
		startRate:  500, ramp: "40s:20000,5s:20000", maxVUs: 2000,
		generatorQuota: 0.2,
	},
	{
		// The seed's web app: one request at a time on half a core. Under
		// overload it still answers 200, with an error page that only the
		// body check catches: errors begin and good throughput collapses.
		name:       "seed-error-pages",
		targetArgs: []string{"--mode", "seed", "--cpu", "2ms"},
		docker:     []string{"--cpus", "0.5", "--memory", "256m", "--cpu-shares", "8192"},
		scenario: `
scenarios:
  home:
    executor: ramping-arrival-rate
    start_rate: 20
    stages: [{target: 500, duration: 40s}, {target: 500, duration: 5s}]
    pre_allocated_vus: 50
    max_vus: 1000
    steps:
      - name: home
        url: "URL"
        timeout: 5s
        check:
          status: 200
          body_contains: "Hello from brink-target"
`,
	},
}

func TestRecordRuns(t *testing.T) {
	if !*record {
		t.Skip("recorded runs are kept in testdata/recorded; re-record them with: go test ./internal/analysis -run TestRecordRuns -record (needs dockerd)")
	}
	image := buildTargetImage(t)
	only := os.Getenv("BRINK_RECORD_ONLY")
	for _, rc := range recordCases {
		if only != "" && only != rc.name {
			continue
		}
		t.Run(rc.name, func(t *testing.T) {
			rec := recordRun(t, image, rc)
			path := filepath.Join("testdata", "recorded", rc.name+".json")
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := WriteRecording(path, rec); err != nil {
				t.Fatal(err)
			}
			res := Analyze(rec.Input(), DefaultOptions())
			t.Logf("%s: %s", rc.name, res.Headline())
		})
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// buildTargetImage builds brink-target as a static binary into a FROM
// scratch image (no image can be pulled here).
func buildTargetImage(t *testing.T) string {
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "brink-target"), "github.com/brinkhq/brink/cmd/brink-target")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building brink-target: %v\n%s", err, out)
	}
	df := "FROM scratch\nCOPY brink-target /brink-target\nENTRYPOINT [\"/brink-target\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	const image = "brink-target:analysis-record"
	run(t, "docker", "build", "-q", "-t", image, dir)
	return image
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func recordRun(t *testing.T, image string, rc recordCase) *Recording {
	port := freePort(t)
	const container = "web-1"
	exec.Command("docker", "rm", "-f", container).Run()
	args := append([]string{"run", "-d", "--name", container, "--network", "host", "--label", "brink.service=web"}, rc.docker...)
	args = append(args, image, "--listen", fmt.Sprintf("127.0.0.1:%d", port))
	args = append(args, rc.targetArgs...)
	id := run(t, "docker", args...)
	t.Cleanup(func() { exec.Command("docker", "rm", "-f", container).Run() })
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	waitHTTP(t, url)

	layout, err := cgroup.Detect("/sys")
	if err != nil {
		t.Fatal(err)
	}
	reader, err := cgroup.Open(layout, cgroup.SamePaths("/docker/"+id))
	if err != nil {
		t.Fatalf("opening the container's cgroup: %v", err)
	}
	defer reader.Close()

	if rc.generatorQuota > 0 {
		limitSelf(t, rc.generatorQuota)
	}
	gen := NewGeneratorSampler()

	var plan *scenario.Plan
	if rc.scenario != "" {
		plan, err = scenario.Parse(rc.name+".yaml", []byte(strings.ReplaceAll(rc.scenario, "URL", url)), t.TempDir())
	} else {
		plan, err = scenario.Quick(scenario.QuickOptions{URL: url, Rate: rc.startRate, Ramp: rc.ramp, VUs: rc.maxVUs, Timeout: 5 * time.Second})
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	engine, err := load.New(ctx, plan)
	if err != nil {
		t.Fatal(err)
	}
	rs := &resourceRecorder{reader: reader, entity: container, host: "node-1"}
	samplerCtx, stopSampler := context.WithCancel(ctx)
	samplerDone := make(chan struct{})
	go func() {
		defer close(samplerDone)
		rs.run(samplerCtx)
	}()
	var secs []*results.Second
	collected := make(chan struct{})
	go func() {
		defer close(collected)
		for s := range engine.Seconds() {
			gen.Sample(s.T)
			secs = append(secs, s)
		}
	}()
	info := engine.Run(ctx)
	<-collected
	stopSampler()
	<-samplerDone

	acc := results.NewAccumulator(info.Start)
	for _, s := range secs {
		acc.Add(s)
	}
	acc.SetEnd(info.End)
	sum := acc.Summary()
	sum.Name = rc.name
	sum.Aborted = info.Aborted
	rec := &Recording{Summary: &sum, TargetService: "web", Resources: append(rs.series(), gen.Series()...)}
	if info.Jitter != nil && info.Jitter.Count() > 0 {
		rec.GeneratorJitterP99Ms = results.Ms(info.Jitter.Quantile(0.99))
	}
	return rec
}

func waitHTTP(t *testing.T, url string) {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if out, err := exec.Command("curl", "-fsS", "-o", "/dev/null", url).CombinedOutput(); err == nil {
			return
		} else if time.Now().Add(200 * time.Millisecond).After(deadline) {
			t.Fatalf("target at %s did not answer: %s", url, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// limitSelf moves this process into a new cgroup v1 CPU cgroup with the
// given quota, and back to the root when the test ends.
func limitSelf(t *testing.T, cores float64) {
	dir := filepath.Join("/sys/fs/cgroup/cpu", fmt.Sprintf("brink-analysis-record-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatalf("creating a cgroup for the generator: %v", err)
	}
	write := func(file, v string) {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(v), 0o644); err != nil {
			t.Fatalf("%s/%s: %v", dir, file, err)
		}
	}
	write("cpu.cfs_period_us", "100000")
	write("cpu.cfs_quota_us", strconv.Itoa(int(cores*100000)))
	write("cgroup.procs", strconv.Itoa(os.Getpid()))
	t.Cleanup(func() {
		if err := os.WriteFile("/sys/fs/cgroup/cpu/cgroup.procs", []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
			t.Errorf("moving back to the root cgroup: %v", err)
		}
		if err := os.Remove(dir); err != nil {
			t.Errorf("removing %s: %v", dir, err)
		}
	})
}

// resourceRecorder samples a container's cgroup and the host's CPU at
// every wall-clock second, as brink monitor does.
type resourceRecorder struct {
	reader       *cgroup.Reader
	entity, host string

	mu                                    sync.Mutex
	cpu, limit, throttled, memory, memLim Series
	hostCPU, hostCores                    Series
}

func (r *resourceRecorder) run(ctx context.Context) {
	r.cpu = Series{Name: TargetCPU, Entity: r.entity}
	r.limit = Series{Name: TargetCPULimit, Entity: r.entity}
	r.throttled = Series{Name: TargetThrottled, Entity: r.entity}
	r.memory = Series{Name: TargetMemory, Entity: r.entity}
	r.memLim = Series{Name: TargetMemoryLimit, Entity: r.entity}
	r.hostCPU = Series{Name: HostCPU, Entity: r.host}
	r.hostCores = Series{Name: HostCores, Entity: r.host}
	var prev cgroup.Stats
	var buf cgroup.Buffer
	prevBusy, prevOK := hostBusy()
	havePrev := r.reader.Read(&prev, &buf) == nil
	for {
		next := time.Now().Truncate(time.Second).Add(time.Second)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(next) + 20*time.Millisecond):
		}
		sec := next.Unix() - 1
		var st cgroup.Stats
		if err := r.reader.Read(&st, &buf); err != nil {
			continue
		}
		busy, cpus, ok := hostBusyCores()
		r.mu.Lock()
		if havePrev {
			r.cpu.Points = append(r.cpu.Points, Point{sec, float64(st.CPUUsageNs-prev.CPUUsageNs) / 1e9})
			if p := st.CFSPeriods - prev.CFSPeriods; p > 0 {
				r.throttled.Points = append(r.throttled.Points, Point{sec, float64(st.CFSThrottledPeriods-prev.CFSThrottledPeriods) / float64(p)})
			}
		}
		if st.CPUQuotaUs > 0 && st.CPUPeriodUs > 0 {
			r.limit.Points = append(r.limit.Points, Point{sec, float64(st.CPUQuotaUs) / float64(st.CPUPeriodUs)})
		}
		r.memory.Points = append(r.memory.Points, Point{sec, float64(st.MemWorkingSet)})
		if st.MemLimit > 0 {
			r.memLim.Points = append(r.memLim.Points, Point{sec, float64(st.MemLimit)})
		}
		if ok && prevOK {
			r.hostCPU.Points = append(r.hostCPU.Points, Point{sec, (busy - prevBusy)})
			r.hostCores.Points = append(r.hostCores.Points, Point{sec, cpus})
		}
		r.mu.Unlock()
		prev, havePrev = st, true
		prevBusy, prevOK = busy, ok
	}
}

func (r *resourceRecorder) series() []Series {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Series
	for _, s := range []Series{r.cpu, r.limit, r.throttled, r.memory, r.memLim, r.hostCPU, r.hostCores} {
		if len(s.Points) > 0 {
			out = append(out, s)
		}
	}
	return out
}

// hostBusy is the host's busy CPU time in seconds (every mode but idle
// and iowait), from /proc/stat.
func hostBusy() (float64, bool) {
	b, _, ok := hostBusyCores()
	return b, ok
}

func hostBusyCores() (busy, cpus float64, ok bool) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		switch {
		case fields[0] == "cpu":
			for i, v := range fields[1:] {
				n, err := strconv.ParseFloat(v, 64)
				if err != nil {
					return 0, 0, false
				}
				if i != 3 && i != 4 && i < 8 { // idle, iowait; guest time is already in user
					busy += n / 100
				}
			}
			ok = true
		case strings.HasPrefix(fields[0], "cpu"):
			cpus++
		}
	}
	return busy, cpus, ok
}
