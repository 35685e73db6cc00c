// Command loadbench measures brink's load engine side by side with wrk on
// this machine and prints the figures docs/benchmarks.md records:
//
//   - requests per generator CPU-second at 50 connections, brink vs wrk
//     (target pinned to core 1, generator to core 0, plain keep-alive GET);
//   - 10,000 concurrent VUs: peak RSS and how fast they all start;
//   - constant-arrival-rate at 10,000/s: achieved rate and send-time jitter;
//   - a target that stalls for 1 s: what the open and the closed model report.
//
// Every measurement checks brink's request count against the target's own.
// Run it through bench/load.sh.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

type config struct {
	brink, target, wrk string
	rounds             int
	throughputFor      time.Duration
	arrivalFor         time.Duration
	arrivalRate        int
	manyVUs            int
	manyVUsFor         time.Duration
	soakFor            time.Duration
	only               string
	work               string
	realtime           bool // run generator and target with a real-time scheduling policy
}

// pinned is the command line that runs argv on one core, with a real-time
// scheduling policy when c.realtime.
func (c config) pinned(core int, argv ...string) []string {
	cmd := []string{"taskset", "-c", fmt.Sprint(core)}
	if c.realtime {
		cmd = append([]string{"chrt", "--fifo", "10"}, cmd...)
	}
	return append(cmd, argv...)
}

func main() {
	var c config
	flag.StringVar(&c.brink, "brink", "bin/brink", "brink binary")
	flag.StringVar(&c.target, "target", "bin/brink-target", "brink-target binary")
	flag.StringVar(&c.wrk, "wrk", "wrk", "wrk binary")
	flag.IntVar(&c.rounds, "rounds", 3, "throughput rounds (brink and wrk alternate; medians are compared)")
	flag.DurationVar(&c.throughputFor, "throughput-duration", 5*time.Second, "length of each throughput run")
	flag.DurationVar(&c.arrivalFor, "arrival-duration", 30*time.Second, "length of the arrival-rate run")
	flag.IntVar(&c.arrivalRate, "arrival-rate", 10000, "arrival rate per second")
	flag.IntVar(&c.manyVUs, "vus", 10000, "VUs for the concurrency run")
	flag.DurationVar(&c.manyVUsFor, "vus-duration", 10*time.Second, "length of the concurrency run")
	flag.DurationVar(&c.soakFor, "soak-duration", 60*time.Second, "length of the memory soak run (0 skips it)")
	flag.StringVar(&c.only, "only", "", "comma-separated steps to run (throughput, vus, arrival, stall, soak); empty runs all")
	flag.Parse()
	work, err := os.MkdirTemp("", "brink-loadbench-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(work)
	c.work = work

	fmt.Printf("machine: %d CPUs, load average before: %s\n", runtime.NumCPU(), loadavg())
	var rows []row
	steps := []benchStep{{"throughput", throughput}, {"vus", manyVUs}, {"arrival", arrival}, {"stall", stall}, {"soak", soak}}
	selected, err := selectSteps(steps, c.only)
	if err != nil {
		fail(err)
	}
	for _, step := range selected {
		r, err := step.run(c)
		if err != nil {
			fail(err)
		}
		rows = append(rows, r...)
	}
	fmt.Printf("load average after: %s (other processes on this machine add noise to every figure)\n", loadavg())
	fmt.Println()
	fmt.Println("| measure | brink | reference | goal | result |")
	fmt.Println("|---|---|---|---|---|")
	for _, r := range rows {
		fmt.Printf("| %s | %s | %s | %s | %s |\n", r.measure, r.brink, r.reference, r.goal, r.result)
	}
}

type benchStep struct {
	name string
	run  func(config) ([]row, error)
}

// selectSteps keeps the steps named in only (comma-separated), in their
// usual order; an empty list keeps them all.
func selectSteps(steps []benchStep, only string) ([]benchStep, error) {
	if strings.TrimSpace(only) == "" {
		return steps, nil
	}
	want := map[string]bool{}
	for _, name := range strings.Split(only, ",") {
		name = strings.TrimSpace(name)
		if !slices.ContainsFunc(steps, func(s benchStep) bool { return s.name == name }) {
			return nil, fmt.Errorf("-only: no step named %q (steps: throughput, vus, arrival, stall, soak)", name)
		}
		want[name] = true
	}
	var kept []benchStep
	for _, s := range steps {
		if want[s.name] {
			kept = append(kept, s)
		}
	}
	return kept, nil
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "loadbench:", err)
	os.Exit(1)
}

type row struct{ measure, brink, reference, goal, result string }

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

// target is a running brink-target pinned to core 1.
type target struct {
	cmd  *exec.Cmd
	addr string
}

func startTarget(c config, args ...string) (*target, error) {
	argv := c.pinned(1, append([]string{c.target, "--listen", "127.0.0.1:0"}, args...)...)
	cmd := exec.Command(argv[0], argv[1:]...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", c.target, err)
	}
	lines := bufio.NewScanner(stderr)
	addrRe := regexp.MustCompile(`listening on http://(\S+)`)
	found := make(chan string, 1)
	go func() {
		for lines.Scan() {
			if m := addrRe.FindStringSubmatch(lines.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case addr := <-found:
		return &target{cmd: cmd, addr: addr}, nil
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		return nil, errors.New("brink-target did not start within 10s")
	}
}

func (t *target) url() string { return "http://" + t.addr + "/" }

func (t *target) requests() (int64, error) {
	resp, err := http.Get("http://" + t.addr + "/stats")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var st struct {
		Requests int64 `json:"requests"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return 0, err
	}
	return st.Requests, nil
}

func (t *target) stop() {
	t.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { t.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.cmd.Process.Kill()
		<-done
	}
}

// measured is one generator run: its CPU time, peak RSS and output.
type measured struct {
	cpu    time.Duration
	maxRSS int64 // KiB
	stdout string
	wall   time.Duration
}

// runPinned runs a generator on core 0 and measures its CPU from the
// kernel's rusage of the process.
func runPinned(c config, limit time.Duration, name string, args ...string) (measured, error) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	argv := c.pinned(0, append([]string{name}, args...)...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var out strings.Builder
	cmd.Stdout = &out
	cmd.Stderr = io.Discard
	start := time.Now()
	err := cmd.Run()
	m := measured{stdout: out.String(), wall: time.Since(start)}
	if cmd.ProcessState != nil {
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		m.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		m.maxRSS = ru.Maxrss
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return m, fmt.Errorf("%s: %w", name, err)
	}
	if err != nil && exit.ExitCode() != 0 {
		return m, fmt.Errorf("%s %s exited with %d:\n%s", name, strings.Join(args, " "), exit.ExitCode(), m.stdout)
	}
	return m, nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func throughput(c config) ([]row, error) {
	t, err := startTarget(c)
	if err != nil {
		return nil, err
	}
	defer t.stop()
	secs := fmt.Sprintf("%ds", int(c.throughputFor.Seconds()))
	var brinkRate, wrkRate, brinkRPS, wrkRPS []float64
	var brinkRSS, wrkRSS int64
	for i := 0; i < c.rounds; i++ {
		for _, tool := range []string{"wrk", "brink"} {
			before, err := t.requests()
			if err != nil {
				return nil, err
			}
			var m measured
			if tool == "wrk" {
				m, err = runPinned(c, time.Minute, c.wrk, "-t1", "-c50", "-d"+secs, t.url())
			} else {
				m, err = runPinned(c, time.Minute, c.brink, "run", "--url", t.url(), "--vus", "50", "--duration", secs,
					"--out", "json="+filepath.Join(c.work, "throughput.json"))
			}
			if err != nil {
				return nil, err
			}
			after, err := t.requests()
			if err != nil {
				return nil, err
			}
			n := float64(after - before)
			perCPU := n / m.cpu.Seconds()
			fmt.Printf("throughput round %d %-5s %9.0f requests  %6.2f CPU-s  %8.0f req/CPU-s  %8.0f req/s  RSS %d MiB\n",
				i+1, tool, n, m.cpu.Seconds(), perCPU, n/c.throughputFor.Seconds(), m.maxRSS/1024)
			if tool == "wrk" {
				wrkRate, wrkRPS, wrkRSS = append(wrkRate, perCPU), append(wrkRPS, n/c.throughputFor.Seconds()), max(wrkRSS, m.maxRSS)
				continue
			}
			brinkRate, brinkRPS, brinkRSS = append(brinkRate, perCPU), append(brinkRPS, n/c.throughputFor.Seconds()), max(brinkRSS, m.maxRSS)
			var sum struct{ Requests int64 }
			if err := readJSON(filepath.Join(c.work, "throughput.json"), &sum); err != nil {
				return nil, err
			}
			if sum.Requests != after-before {
				return nil, fmt.Errorf("brink counted %d requests, the target %d", sum.Requests, after-before)
			}
		}
	}
	ratio := median(brinkRate) / median(wrkRate)
	return []row{
		{"requests per generator CPU-second, 50 connections (median of " + fmt.Sprint(c.rounds) + ")",
			fmt.Sprintf("%.0f", median(brinkRate)), fmt.Sprintf("wrk %.0f", median(wrkRate)), "≥ 0.9× wrk",
			fmt.Sprintf("%.2f× — %s", ratio, verdict(ratio >= 0.9))},
		{"achieved requests/s (target on one core)", fmt.Sprintf("%.0f", median(brinkRPS)), fmt.Sprintf("wrk %.0f", median(wrkRPS)), "", ""},
		{"generator RSS", fmt.Sprintf("%d MiB", brinkRSS/1024), fmt.Sprintf("wrk %d MiB", wrkRSS/1024), "", ""},
	}, nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

var (
	engineRe   = regexp.MustCompile(`engine: ([\d,]+) VUs started \(the last after (\S+)\); the last first request went out after (\S+)`)
	scheduleRe = regexp.MustCompile(`schedule: ([\d,]+) iterations started late by p50 (\S+), p99 (\S+), max (\S+)`)
)

func parseDur(s string) time.Duration {
	if s == "0" {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return -1
	}
	return d
}

func manyVUs(c config) ([]row, error) {
	t, err := startTarget(c)
	if err != nil {
		return nil, err
	}
	defer t.stop()
	before, err := t.requests()
	if err != nil {
		return nil, err
	}
	dialCost, err := connectCost(t.addr)
	if err != nil {
		return nil, err
	}
	out := filepath.Join(c.work, "vus.json")
	m, err := runPinned(c, 2*time.Minute, c.brink, "run", "--url", t.url(), "--vus", fmt.Sprint(c.manyVUs),
		"--duration", fmt.Sprintf("%ds", int(c.manyVUsFor.Seconds())), "--out", "json="+out)
	if err != nil {
		return nil, err
	}
	after, err := t.requests()
	if err != nil {
		return nil, err
	}
	var sum struct {
		Requests       int64
		MaxVUs         int `json:"max_vus"`
		Failures       int64
		FailuresByKind map[string]int64 `json:"failures_by_kind"`
	}
	if err := readJSON(out, &sum); err != nil {
		return nil, err
	}
	e := engineRe.FindStringSubmatch(m.stdout)
	if e == nil {
		return nil, fmt.Errorf("no engine line in brink's output:\n%s", m.stdout)
	}
	created, firstReq := parseDur(e[2]), parseDur(e[3])
	fmt.Printf("%d VUs: peak RSS %d MiB, last VU started after %v, last first request after %v, %d requests (target %d), %d failures, peak VUs %d\n",
		c.manyVUs, m.maxRSS/1024, created, firstReq, sum.Requests, after-before, sum.Failures, sum.MaxVUs)
	rssMB := float64(m.maxRSS) * 1024 / 1e6
	perVU := float64(m.maxRSS) * 1024 / float64(c.manyVUs) / 1000
	return []row{
		{fmt.Sprintf("%d VUs: peak RSS", c.manyVUs), fmt.Sprintf("%.0f MB (%.1f KB per VU)", rssMB, perVU), "k6: ~270 KB per VU", "≤ 320 MB",
			verdict(rssMB <= 320)},
		{fmt.Sprintf("%d VUs: all started (running their first iteration)", c.manyVUs), created.Round(time.Millisecond).String(), "", "≤ 1 s",
			verdict(created >= 0 && created <= time.Second && sum.MaxVUs == c.manyVUs)},
		{fmt.Sprintf("%d VUs: all connected (the last first request sent)", c.manyVUs), firstReq.Round(time.Millisecond).String(),
			fmt.Sprintf("one loopback connect costs %v here", dialCost), "", ""},
		countRow(fmt.Sprintf("%d VUs", c.manyVUs), sum.Requests, after-before, sum.FailuresByKind),
	}, nil
}

// connectCost is the mean time of one loopback TCP connect to addr from
// this process, for context: every VU opens one connection.
func connectCost(addr string) (time.Duration, error) {
	const n = 1000
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	start := time.Now()
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return 0, err
		}
		conns = append(conns, c)
	}
	return (time.Since(start) / n).Round(time.Microsecond), nil
}

// arrival measures the open model's schedule at the normal priority and,
// when allowed (root), again with generator and target under a real-time
// scheduling policy (chrt --fifo): on a machine shared with other busy
// processes, the difference is how much of the jitter is the machine's
// (waiting for a core) rather than brink's. The kernel caps real-time tasks
// at 95% of a core, and brink needs a fraction of one at this rate.
func arrival(c config) ([]row, error) {
	rows, err := arrivalAt(c, "")
	if err != nil || os.Geteuid() != 0 {
		return rows, err
	}
	if _, err := exec.LookPath("chrt"); err != nil {
		return rows, nil
	}
	c.realtime = true
	more, err := arrivalAt(c, " (real-time priority)")
	return append(rows, more...), err
}

func arrivalAt(c config, label string) ([]row, error) {
	t, err := startTarget(c)
	if err != nil {
		return nil, err
	}
	defer t.stop()
	before, err := t.requests()
	if err != nil {
		return nil, err
	}
	out := filepath.Join(c.work, "arrival.json")
	// A pool of at most 0.2 s worth of iterations: a hiccup of this shared
	// machine then shows as dropped iterations instead of thousands of new
	// connections at once (the default pool allows 2 s worth).
	pool := max(c.arrivalRate/5, 10)
	m, err := runPinned(c, 3*time.Minute, c.brink, "run", "--url", t.url(), "--rate", fmt.Sprintf("%d/s", c.arrivalRate),
		"--vus", fmt.Sprint(pool), "--duration", fmt.Sprintf("%ds", int(c.arrivalFor.Seconds())), "--out", "json="+out)
	if err != nil {
		return nil, err
	}
	after, err := t.requests()
	if err != nil {
		return nil, err
	}
	var sum struct {
		Requests       int64
		Dropped        int64
		FailuresByKind map[string]int64 `json:"failures_by_kind"`
		Timeline       []struct {
			Requests int64
		}
	}
	if err := readJSON(out, &sum); err != nil {
		return nil, err
	}
	s := scheduleRe.FindStringSubmatch(m.stdout)
	if s == nil {
		return nil, fmt.Errorf("no schedule line in brink's output:\n%s", m.stdout)
	}
	p50, p99, jmax := parseDur(s[2]), parseDur(s[3]), parseDur(s[4])
	planned := float64(c.arrivalRate) * c.arrivalFor.Seconds()
	achieved := float64(sum.Requests) / c.arrivalFor.Seconds()
	// Whole seconds only: the first and last are partial (wall-clock aligned).
	minSec, maxSec := int64(1<<62), int64(0)
	for _, p := range sum.Timeline[1 : len(sum.Timeline)-1] {
		minSec, maxSec = min(minSec, p.Requests), max(maxSec, p.Requests)
	}
	dev := max(float64(maxSec)/float64(c.arrivalRate)-1, 1-float64(minSec)/float64(c.arrivalRate))
	fmt.Printf("arrival%s %d/s for %v: %d requests of %.0f planned (target %d), %d dropped, full seconds %d..%d, jitter p50 %v p99 %v max %v, generator CPU %.1f s\n",
		label, c.arrivalRate, c.arrivalFor, sum.Requests, planned, after-before, sum.Dropped, minSec, maxSec, p50, p99, jmax, m.cpu.Seconds())
	rateOK := abs(achieved/float64(c.arrivalRate)-1) <= 0.01
	return []row{
		{fmt.Sprintf("constant-arrival-rate %d/s for %v%s: achieved rate", c.arrivalRate, c.arrivalFor, label),
			fmt.Sprintf("%.1f/s (%+.2f%%), %d dropped; whole seconds within ±%.2f%%", achieved, (achieved/float64(c.arrivalRate)-1)*100, sum.Dropped, dev*100),
			"", "±1%", verdict(rateOK)},
		{"send-time jitter (actual − scheduled send)" + label, fmt.Sprintf("p50 %v, p99 %v, max %v", p50, p99, jmax), "", "p99 < 1 ms",
			verdict(p99 >= 0 && p99 < time.Millisecond)},
		countRow("arrival rate"+label, sum.Requests, after-before, sum.FailuresByKind),
	}, nil
}

// countRow compares brink's request count with the target's. Failed
// connection attempts count as failed requests but never reach the target,
// so they are shown beside a mismatch.
func countRow(what string, brink, target int64, failures map[string]int64) row {
	r := row{measure: what + ": requests counted by brink vs by the target", brink: fmt.Sprint(brink),
		reference: fmt.Sprintf("target %d", target), goal: "equal"}
	r.result = verdict(brink == target)
	if len(failures) > 0 {
		r.brink += fmt.Sprintf(" (failures: %v)", failures)
	}
	return r
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

func stall(c config) ([]row, error) {
	type result struct {
		p50, p99, max float64
		requests      int64
	}
	run := func(model ...string) (result, error) {
		t, err := startTarget(c, "--stall-at", "3s", "--stall-for", "1s")
		if err != nil {
			return result{}, err
		}
		defer t.stop()
		out := filepath.Join(c.work, "stall.json")
		args := append([]string{"run", "--url", t.url(), "--duration", "8s", "--out", "json=" + out}, model...)
		if _, err := runPinned(c, time.Minute, c.brink, args...); err != nil {
			return result{}, err
		}
		var sum struct {
			Requests  int64
			LatencyMs struct{ P50, P99, Max float64 } `json:"latency_ms"`
		}
		if err := readJSON(out, &sum); err != nil {
			return result{}, err
		}
		return result{sum.LatencyMs.P50, sum.LatencyMs.P99, sum.LatencyMs.Max, sum.Requests}, nil
	}
	open, err := run("--rate", "1000/s", "--vus", "2000")
	if err != nil {
		return nil, err
	}
	closed, err := run("--vus", "50")
	if err != nil {
		return nil, err
	}
	fmt.Printf("stall 1s: open model p50 %.2fms p99 %.1fms max %.0fms (%d requests); closed model p50 %.2fms p99 %.2fms max %.0fms (%d requests)\n",
		open.p50, open.p99, open.max, open.requests, closed.p50, closed.p99, closed.max, closed.requests)
	// 1 s of 8 stalls: ~12.5% of scheduled iterations wait up to 1 s, so the
	// open p99 sits near the stall; closed VUs wait once each, so its p99 stays low.
	return []row{
		{"target stalls 1 s: open model (1000/s, 8 s)", fmt.Sprintf("p99 %.0f ms, max %.0f ms", open.p99, open.max), "wrk2: p99 shows the stall", "p99 shows the stall",
			verdict(open.p99 >= 500)},
		{"target stalls 1 s: closed model (50 VUs, 8 s)", fmt.Sprintf("p99 %.2f ms, max %.0f ms", closed.p99, closed.max), "wrk: p99 hides it, max shows it", "max shows it, p99 does not",
			verdict(closed.max >= 900 && closed.p99 < 500)},
	}, nil
}

// soak runs 200 VUs with several request names and samples brink's RSS:
// per-second histograms are swapped and reset, so memory must stay flat.
func soak(c config) ([]row, error) {
	if c.soakFor <= 0 {
		return nil, nil
	}
	t, err := startTarget(c)
	if err != nil {
		return nil, err
	}
	defer t.stop()
	scenarioFile := filepath.Join(c.work, "soak.yaml")
	spec := fmt.Sprintf(`scenarios:
  soak:
    vus: 200
    duration: %ds
    steps:
      - {name: home, url: "%s"}
      - {name: items, url: "%sitems"}
      - {name: cart, url: "%scart", check: {status: 200}}
`, int(c.soakFor.Seconds()), t.url(), t.url(), t.url())
	if err := os.WriteFile(scenarioFile, []byte(spec), 0o644); err != nil {
		return nil, err
	}
	argv := c.pinned(0, c.brink, "run", scenarioFile)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var samples []int64 // KiB
	tick := time.NewTicker(c.soakFor / 12)
	defer tick.Stop()
	deadline := time.After(c.soakFor + 2*time.Minute)
wait:
	for {
		select {
		case err := <-done:
			if err != nil {
				return nil, fmt.Errorf("soak run: %w", err)
			}
			break wait
		case <-tick.C:
			if kb := rssKiB(cmd.Process.Pid, "RssAnon:"); kb > 0 {
				samples = append(samples, kb)
			}
		case <-deadline:
			cmd.Process.Kill()
			return nil, errors.New("soak run did not finish")
		}
	}
	if len(samples) < 4 {
		return nil, fmt.Errorf("only %d RSS samples", len(samples))
	}
	// Flat: the peak of the second half is no higher than that of the first
	// (after the first sample, taken while warming up), give or take 15%.
	half := len(samples) / 2
	early, late := slices.Max(samples[1:half]), slices.Max(samples[half:])
	growth := float64(late-early) / float64(early)
	fmt.Printf("soak %v, 200 VUs, 3 request names: anonymous RSS samples (MiB) %v\n", c.soakFor, mib(samples))
	return []row{{fmt.Sprintf("anonymous memory (RssAnon) over a %v run (200 VUs, 3 names)", c.soakFor),
		fmt.Sprintf("peak %d MiB in the first half, %d MiB in the second (%+.1f%%)", early/1024, late/1024, growth*100), "", "flat",
		verdict(growth <= 0.15)}}, nil
}

// rssKiB reads one of the memory fields of /proc/PID/status. RssAnon is
// the process's own memory; VmRSS also counts the pages of its binary.
func rssKiB(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == field {
			var kb int64
			fmt.Sscan(f[1], &kb)
			return kb
		}
	}
	return 0
}

func mib(kib []int64) []int64 {
	out := make([]int64, len(kib))
	for i, k := range kib {
		out[i] = k / 1024
	}
	return out
}
