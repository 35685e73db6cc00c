package monitor_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/brinkhq/brink/internal/monitor"
	"github.com/brinkhq/brink/internal/monitor/docker"
	"github.com/brinkhq/brink/internal/monitor/internal/testenv"
	"github.com/brinkhq/brink/internal/monitor/naming"
	"github.com/moby/moby/api/types/container"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// recordedEngine serves containers decoded from `docker inspect` output
// recorded on a real engine (testdata/*/docker/*.json), in place of the
// Docker watcher.
type recordedEngine struct{ containers []*docker.Container }

func (e *recordedEngine) Version() uint64 { return 1 }
func (e *recordedEngine) Containers(dst []*docker.Container) []*docker.Container {
	return append(dst, e.containers...)
}

func loadRecorded(t *testing.T, dir string, exports naming.Exports) *recordedEngine {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no recorded inspect responses in %s", dir)
	}
	e := &recordedEngine{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var in container.InspectResponse
		if err := json.Unmarshal(b, &in); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		c := docker.FromInspect(in, exports.WantedEnv)
		if c == nil {
			t.Fatalf("%s: not a running container", f)
		}
		e.containers = append(e.containers, c)
	}
	return e
}

// fixtureMonitor builds a monitor over the fixture tree at root (proc/,
// sys/, docker/) with the host collectors whose output is fixed by files.
func fixtureMonitor(t *testing.T, root string) *monitor.Monitor {
	t.Helper()
	exports := naming.DefaultExports()
	m, err := monitor.New(monitor.Config{
		Interval:       time.Second,
		ProcFS:         filepath.Join(root, "proc"),
		SysFS:          filepath.Join(root, "sys"),
		RootFS:         "/",
		Hostname:       "node-1",
		Collectors:     []string{"cpu", "diskstats", "loadavg", "meminfo", "netdev", "pressure"},
		CgroupPatterns: monitor.DefaultCgroupPatterns,
		Exports:        exports,
		NetworkExclude: regexp.MustCompile(`^lo$`),
		Engine:         loadRecorded(t, filepath.Join(root, "docker"), exports),
		Version:        "test",
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func get(t *testing.T, h http.Handler, path string) []byte {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	if rec.Code != 200 {
		t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
	}
	return rec.Body.Bytes()
}

// withoutSelf drops the monitor's own metrics (durations, lag), which
// differ from run to run.
func withoutSelf(page []byte) []byte {
	var out bytes.Buffer
	for _, line := range strings.SplitAfter(string(page), "\n") {
		if strings.Contains(line, "brink_monitor_") {
			continue
		}
		out.WriteString(line)
	}
	return out.Bytes()
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run go test -update after checking the change):\n%s", path, diff(string(want), string(got)))
	}
}

// diff shows the first differing lines.
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 10; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want: %s\n  got:  %s\n", i+1, wl, gl)
			shown++
		}
	}
	return b.String()
}

// The cgroup v2 fixture tree holds a Marathon app in a Docker container
// (Mesos' Docker containerizer: mesos-<id> name, MARATHON_APP_ID in its
// environment, host network), a Compose service with its own network
// namespace, a Marathon app started by the Mesos containerizer (a raw
// /mesos/<id> cgroup whose process environment names it), and systemd
// services. Its /metrics and /api/v1/containers are golden files.
func TestGoldenCgroupV2(t *testing.T) {
	root := filepath.Join("testdata", "v2")
	m := fixtureMonitor(t, root)
	m.Collect(context.Background(), time.UnixMilli(1795550000000), 0)
	h := m.Handler()
	page := get(t, h, "/metrics")
	golden(t, filepath.Join(root, "metrics.golden"), withoutSelf(page))

	problems, err := promlint.New(bytes.NewReader(page)).Lint()
	if err != nil {
		t.Fatalf("promlint cannot parse /metrics: %v", err)
	}
	// promlint is what `promtool check metrics` runs; the test with the
	// real promtool follows.
	for _, p := range problems {
		if !testenv.InheritedLint(p.Metric, p.Text) {
			t.Errorf("promlint: %s: %s", p.Metric, p.Text)
		}
	}

	var resp map[string]any
	if err := json.Unmarshal(get(t, h, "/api/v1/containers"), &resp); err != nil {
		t.Fatal(err)
	}
	data := resp["data"].(map[string]any)
	delete(data, "monitor")
	pretty, _ := json.MarshalIndent(resp, "", "  ")
	golden(t, filepath.Join(root, "containers.golden.json"), append(pretty, '\n'))

	for _, secret := range []string{"hunter2", "DB_PASSWORD", "PORT0"} {
		if bytes.Contains(page, []byte(secret)) || bytes.Contains(pretty, []byte(secret)) {
			t.Errorf("%s is not allow-listed but appears in the output", secret)
		}
	}
}

// promtool itself, built from the module proxy, accepts the page.
func TestPromtoolCheckMetrics(t *testing.T) {
	promtool := testenv.Promtool(t)
	m := fixtureMonitor(t, filepath.Join("testdata", "v2"))
	m.Collect(context.Background(), time.UnixMilli(1795550000000), 0)
	testenv.CheckMetrics(t, promtool, get(t, m.Handler(), "/metrics"))
}

// copyTree copies a fixture tree, symlinks included, so a test can change
// files between ticks.
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case fi.IsDir():
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func rewrite(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%s does not contain %q", path, old)
	}
	if err := os.WriteFile(path, bytes.Replace(b, []byte(old), []byte(new), 1), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Rates in /api/v1/containers are exact over the last interval, and every
// series (limits included) is there on every tick.
func TestRatesAndSteadyTicks(t *testing.T) {
	root := copyTree(t, filepath.Join("testdata", "v2"))
	m := fixtureMonitor(t, root)
	t0 := time.UnixMilli(1795550000000)
	m.Collect(context.Background(), t0, 0)
	first := withoutSelf(get(t, m.Handler(), "/metrics"))

	const marathon = "system.slice/docker-8095f48dc2d146aa05a20e2e797e313c47eb14070a21260d15c5f7630f06fa44.scope"
	cg := filepath.Join(root, "sys", "fs", "cgroup", marathon, "cpu.stat")
	rewrite(t, cg, "usage_usec 30250000", "usage_usec 30750000") // +0.5 s of CPU
	rewrite(t, cg, "nr_periods 6000", "nr_periods 6010")
	rewrite(t, cg, "nr_throttled 4100", "nr_throttled 4105")
	rewrite(t, filepath.Join(root, "proc", "4343", "net", "dev"), "eth0:  125000", "eth0:  126000")
	rewrite(t, filepath.Join(root, "proc", "stat"), "cpu0 73251 229 18129", "cpu0 73301 229 18179") // +0.5 s user, +0.5 s system
	m.Collect(context.Background(), t0.Add(time.Second), 0)

	var resp struct {
		Data struct {
			Host struct {
				CPUUsedCores *float64 `json:"cpu_used_cores"`
			} `json:"host"`
			Containers []struct {
				Name       string   `json:"name"`
				CPUCores   *float64 `json:"cpu_cores"`
				Throttled  *float64 `json:"cpu_throttled_ratio"`
				LimitCores *float64 `json:"cpu_limit_cores"`
				RxPerSec   *float64 `json:"network_receive_bytes_per_second"`
				TxPerSec   *float64 `json:"network_transmit_bytes_per_second"`
			} `json:"containers"`
		} `json:"data"`
	}
	if err := json.Unmarshal(get(t, m.Handler(), "/api/v1/containers"), &resp); err != nil {
		t.Fatal(err)
	}
	if c := resp.Data.Host.CPUUsedCores; c == nil || *c != 1 {
		t.Errorf("host cpu_used_cores = %v, want 1", c)
	}
	checked := 0
	for _, c := range resp.Data.Containers {
		switch c.Name {
		case "mesos-0d7c2a4b-1234-4cde-9f00-aabbccddeeff-S0.9b8f3c1e-2d4a-4f6b-8c7d-0e1f2a3b4c5d":
			checked++
			if c.CPUCores == nil || *c.CPUCores != 0.5 || c.Throttled == nil || *c.Throttled != 0.5 || c.LimitCores == nil || *c.LimitCores != 0.5 {
				t.Errorf("%s: cpu_cores %v, throttled %v, limit %v; want 0.5 each", c.Name, c.CPUCores, c.Throttled, c.LimitCores)
			}
			if c.RxPerSec != nil {
				t.Errorf("%s shares the host's network: rate must be null", c.Name)
			}
		case "shop-cart-1":
			checked++
			if c.RxPerSec == nil || *c.RxPerSec != 1000 || c.TxPerSec == nil || *c.TxPerSec != 0 {
				t.Errorf("%s: rx %v tx %v bytes/s, want 1000 and 0", c.Name, c.RxPerSec, c.TxPerSec)
			}
			if c.CPUCores == nil || *c.CPUCores != 0 {
				t.Errorf("%s: cpu_cores %v, want 0", c.Name, c.CPUCores)
			}
		}
	}
	if checked != 2 {
		t.Fatalf("containers missing from the JSON: %+v", resp.Data.Containers)
	}

	// Ticks after the first report the same series (limits are kept
	// between their re-reads).
	for i := 2; i <= 12; i++ {
		m.Collect(context.Background(), t0.Add(time.Duration(i)*time.Second), 0)
		if got, want := seriesOf(withoutSelf(get(t, m.Handler(), "/metrics"))), seriesOf(first); got != want {
			t.Fatalf("tick %d reports different series than the first:\n%s", i, diff(want, got))
		}
	}
}

// seriesOf returns a page's lines without values and timestamps.
func seriesOf(page []byte) string {
	var b strings.Builder
	for _, line := range strings.Split(string(page), "\n") {
		if i := strings.LastIndex(line, "} "); i >= 0 && !strings.HasPrefix(line, "#") {
			line = line[:i+1]
		} else if !strings.HasPrefix(line, "#") {
			line, _, _ = strings.Cut(line, " ")
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

// /metrics is served gzip-compressed to scrapers that ask for it, with the
// same content.
func TestMetricsGzip(t *testing.T) {
	m := fixtureMonitor(t, filepath.Join("testdata", "v2"))
	for i := range 4 { // the ring of snapshots is reused: render into old buffers too
		m.Collect(context.Background(), time.UnixMilli(1795550000000+int64(i)*1000), 0)
		plain := get(t, m.Handler(), "/metrics")
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/metrics", nil)
		req.Header.Set("Accept-Encoding", "gzip")
		m.Handler().ServeHTTP(rec, req)
		if rec.Header().Get("Content-Encoding") != "gzip" {
			t.Fatalf("tick %d: no gzip answer to Accept-Encoding: gzip", i)
		}
		zr, err := gzip.NewReader(rec.Body)
		if err != nil {
			t.Fatal(err)
		}
		unzipped, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(unzipped, plain) {
			t.Fatalf("tick %d: gzip body differs from the plain one", i)
		}
		if !bytes.Contains(plain, []byte(fmt.Sprintf(" %d\n", 1795550000000+int64(i)*1000))) {
			t.Fatalf("tick %d: page does not carry the tick's timestamp", i)
		}
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/metrics", nil)
	req.Header.Set("Accept-Encoding", "gzip;q=0, identity")
	m.Handler().ServeHTTP(rec, req)
	if rec.Header().Get("Content-Encoding") != "" {
		t.Error("gzip sent although refused with q=0")
	}
}
