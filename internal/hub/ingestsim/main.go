// Command ingestsim drives a brink hub the way a fleet does, for
// bench/hub.sh: N monitors remote-writing every container's and their
// host's series each second, and a load run reporting per-second results
// at a given request rate. It prints what it sent and how the hub's
// queries performed, as key=value lines.
//
//	ingestsim load    -url URL -monitors 20 -containers 100 -duration 2m -rps 10000
//	ingestsim compact -data DIR   (compacts a stopped hub's store and prints bytes per sample)
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/brinkhq/brink/internal/hubclient"
	"github.com/brinkhq/brink/internal/results"
	"github.com/brinkhq/brink/internal/store"
	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: ingestsim load|compact [flags]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "load":
		err = load(ctx, os.Args[2:])
	case "compact":
		err = compact(os.Args[2:])
	default:
		err = fmt.Errorf("unknown mode %q: use load or compact", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ingestsim:", err)
		os.Exit(1)
	}
}

// containerMetric is one per-container series and how its value moves.
type containerMetric struct {
	name string
	kind int // constant, idleCounter, floatCounter, intCounter, gauge, lastSeen
	base float64
}

const (
	constant = iota
	idleCounter
	floatCounter
	intCounter
	gauge
	lastSeen
)

// containerMetrics is the series set one container has in brink monitor's
// output (cAdvisor names): 41 series.
var containerMetrics = []containerMetric{
	{"container_spec_cpu_quota", constant, 50000}, {"container_spec_cpu_period", constant, 100000},
	{"container_spec_cpu_shares", constant, 1024}, {"container_spec_cpu_limit_cores", constant, 0.5},
	{"container_spec_memory_limit_bytes", constant, 268435456}, {"container_start_time_seconds", constant, 1.7e9},
	{"container_threads_max", constant, 4096}, {"container_memory_failcnt", idleCounter, 0},
	{"container_oom_events_total", idleCounter, 0}, {"container_fs_reads_total", idleCounter, 12},
	{"container_fs_writes_total", idleCounter, 3}, {"container_fs_reads_bytes_total", idleCounter, 49152},
	{"container_fs_writes_bytes_total", idleCounter, 12288}, {"container_network_receive_errors_total", idleCounter, 0},
	{"container_network_transmit_errors_total", idleCounter, 0}, {"container_network_receive_packets_dropped_total", idleCounter, 0},
	{"container_network_transmit_packets_dropped_total", idleCounter, 0}, {"container_memory_swap", idleCounter, 0},
	{"container_cpu_usage_seconds_total", floatCounter, 0.02}, {"container_cpu_user_seconds_total", floatCounter, 0.012},
	{"container_cpu_system_seconds_total", floatCounter, 0.008}, {"container_cpu_cfs_throttled_seconds_total", floatCounter, 0.001},
	{"container_cpu_cfs_periods_total", intCounter, 10}, {"container_cpu_cfs_throttled_periods_total", intCounter, 0.2},
	{"container_network_receive_bytes_total", intCounter, 1500}, {"container_network_transmit_bytes_total", intCounter, 3000},
	{"container_network_receive_packets_total", intCounter, 12}, {"container_network_transmit_packets_total", intCounter, 10},
	{"container_memory_usage_bytes", gauge, 60e6}, {"container_memory_working_set_bytes", gauge, 50e6},
	{"container_memory_rss", gauge, 40e6}, {"container_memory_cache", gauge, 10e6},
	{"container_memory_mapped_file", gauge, 2e6}, {"container_memory_max_usage_bytes", constant, 80e6},
	{"container_processes", gauge, 3}, {"container_threads", gauge, 12},
	{"container_pressure_cpu_waiting_seconds_total", floatCounter, 0.001}, {"container_pressure_cpu_stalled_seconds_total", floatCounter, 0.0005},
	{"container_pressure_memory_waiting_seconds_total", idleCounter, 0}, {"container_pressure_io_waiting_seconds_total", idleCounter, 0},
	{"container_last_seen", lastSeen, 0},
}

type simSeries struct {
	labels []prompb.Label
	metric containerMetric
	value  float64
	rate   float64 // per second, for counters and gauges' drift
	busy   bool    // under load: every counter and gauge moves each second
}

type monitor struct {
	host   string
	series []*simSeries
	rng    *rand.Rand
}

func newMonitor(i, containers, services int) *monitor {
	host := fmt.Sprintf("node-%02d", i+1)
	m := &monitor{host: host, rng: rand.New(rand.NewPCG(uint64(i), 42))}
	add := func(name string, cm containerMetric, busy float64, kv ...string) {
		ls := []prompb.Label{{Name: "__name__", Value: name}, {Name: "host", Value: host}}
		for j := 0; j < len(kv); j += 2 {
			ls = append(ls, prompb.Label{Name: kv[j], Value: kv[j+1]})
		}
		sort.Slice(ls, func(a, b int) bool { return ls[a].Name < ls[b].Name })
		m.series = append(m.series, &simSeries{labels: ls, metric: cm, value: cm.base, rate: cm.base * busy, busy: busy > 1})
	}
	for c := range containers {
		busy := 1.0
		if m.rng.IntN(10) == 0 {
			busy = 20 // one container in ten is under load; the rest idle
		}
		svc := fmt.Sprintf("svc-%02d", (i*containers+c)%services+1)
		id := fmt.Sprintf("%016x%048x", uint64(i)<<32|uint64(c), c)
		name := fmt.Sprintf("%s-%d-%d", svc, i, c)
		for _, cm := range containerMetrics {
			add(cm.name, cm, busy, "id", id, "name", name, "image", "registry.local/"+svc+":1.4.2", "container", name, "service", svc)
		}
	}
	// Host series: node_exporter's usual set for a 16-core host.
	for cpu := range 16 {
		for _, mode := range []string{"idle", "user", "system", "iowait", "irq", "softirq", "steal", "nice"} {
			rate := 0.01
			if mode == "idle" {
				rate = 0.7
			}
			add("node_cpu_seconds_total", containerMetric{"", floatCounter, rate}, 1, "cpu", fmt.Sprint(cpu), "mode", mode)
		}
	}
	for _, n := range []string{"MemTotal", "MemAvailable", "MemFree", "Buffers", "Cached", "SwapTotal", "SwapFree", "Active", "Inactive", "Dirty"} {
		add("node_memory_"+n+"_bytes", containerMetric{"", gauge, 32e9}, 1)
	}
	for _, dev := range []string{"eth0", "lo", "docker0"} {
		for _, n := range []string{"receive_bytes", "transmit_bytes", "receive_packets", "transmit_packets"} {
			add("node_network_"+n+"_total", containerMetric{"", intCounter, 100000}, 1, "device", dev)
		}
	}
	for _, n := range []string{"load1", "load5", "load15", "procs_running", "procs_blocked"} {
		add("node_"+n, containerMetric{"", gauge, 2}, 1)
	}
	return m
}

// tick advances every series by one second and encodes a write request.
// Busy containers move every counter and gauge each second; idle ones burn
// a little CPU (their CPU counters always move) and change the rest
// now and then, as idle containers do.
func (m *monitor) tick(ts int64) []byte {
	req := &prompb.WriteRequest{Timeseries: make([]prompb.TimeSeries, len(m.series))}
	for i, s := range m.series {
		moves := s.busy || m.rng.IntN(30) == 0
		switch s.metric.kind {
		case idleCounter:
			if m.rng.IntN(60) == 0 {
				s.value += math.Round(s.rate + 1)
			}
		case floatCounter:
			switch {
			case s.busy || s.metric.name == "container_cpu_usage_seconds_total" || s.metric.name == "":
				// cpuacct.usage and /proc/stat: nanosecond (or tick)
				// resolution, moving every second.
				s.value += s.rate * (0.8 + 0.4*m.rng.Float64())
				s.value = math.Round(s.value*1e9) / 1e9
			case m.rng.Float64() < s.rate/0.01:
				// cgroup v1 user/system time moves in 10 ms ticks: an idle
				// container's often stands still.
				s.value = math.Round((s.value+0.01)*100) / 100
			}
		case intCounter:
			if moves {
				s.value += math.Round(s.rate * (0.5 + m.rng.Float64()))
			}
		case gauge:
			if moves {
				s.value = math.Round(s.metric.base * (0.95 + 0.1*m.rng.Float64()))
			}
		case lastSeen:
			s.value = float64(ts / 1000)
		}
		req.Timeseries[i] = prompb.TimeSeries{Labels: s.labels, Samples: []prompb.Sample{{Timestamp: ts, Value: s.value}}}
	}
	raw, _ := req.Marshal()
	return snappy.Encode(nil, raw)
}

// secondAt makes one second of a run at rps requests per second over three
// request names, with a realistic latency spread.
func secondAt(t int64, rps int, rng *rand.Rand) *results.Second {
	s := results.NewSecond(t)
	s.VUs = 200
	names := []string{"home", "search", "checkout"}
	for i := range rps {
		st := s.Stats(names[i%3])
		st.Requests++
		st.BytesIn += 2048
		st.BytesOut += 180
		lat := int64(800 + rng.ExpFloat64()*1500)
		if rng.IntN(1000) == 0 {
			lat *= 40
		}
		st.Latency.Record(lat)
		st.TTFB.Record(lat * 3 / 4)
		if rng.IntN(2000) == 0 {
			st.Failures[results.HTTP5xx]++
		}
	}
	return s
}

func load(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	hubURL := fs.String("url", "http://127.0.0.1:9339", "hub URL")
	token := fs.String("token", "", "writer token")
	monitors := fs.Int("monitors", 20, "simulated monitors (hosts)")
	containers := fs.Int("containers", 100, "containers per monitor")
	services := fs.Int("services", 50, "services the containers belong to")
	duration := fs.Duration("duration", 2*time.Minute, "how long to ingest live")
	rps := fs.Int("rps", 10000, "request rate of the simulated run")
	history := fs.Duration("history", time.Hour, "run history to report before going live (for the 1 h query)")
	aligned := fs.Bool("aligned", false, "stamp samples with each tick's scheduled time instead of the time it ran")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *duration > time.Hour || *history > 24*time.Hour {
		return errors.New("duration is bounded to 1h and history to 24h")
	}
	client := &http.Client{Timeout: 30 * time.Second}
	rng := rand.New(rand.NewPCG(7, 7))

	// The run: history first (as fast as the hub takes it), then live.
	hc := hubclient.New(*hubURL, *token, hubclient.WithSource("bench"))
	start := time.Now().Add(-*history).Truncate(time.Second)
	run := hc.StartRun(ctx, hubclient.RunInfo{Name: "bench 10k rps", TargetService: "svc-01", Start: start})
	defer run.Close()
	histStart := time.Now()
	// A minute of distinct seconds, cycled: generating 36 million latencies
	// would cost the simulator more than the hub spends on them.
	var cycle []*results.Second
	for range 60 {
		cycle = append(cycle, secondAt(0, *rps, rng))
	}
	for t := start.Unix(); t < time.Now().Unix()-1; t++ {
		s := cycle[t%60]
		s.T = t
		run.Push(s)
	}
	for run.Status().Pending > 0 && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Printf("history_seconds=%d history_push_s=%.1f\n", int(history.Seconds()), time.Since(histStart).Seconds())

	mons := make([]*monitor, *monitors)
	seriesTotal := 0
	for i := range mons {
		mons[i] = newMonitor(i, *containers, *services)
		seriesTotal += len(mons[i].series)
	}
	fmt.Printf("series=%d samples_per_second=%d\n", seriesTotal, seriesTotal)
	liveCtx, cancel := context.WithTimeout(ctx, *duration)
	defer cancel()
	var sent, failed, bytesSent atomic.Int64
	var wg sync.WaitGroup
	for i, m := range mons {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Monitors are not in step: each ticks at its own phase.
			phase := time.Duration(i) * time.Second / time.Duration(len(mons))
			select {
			case <-liveCtx.Done():
				return
			case <-time.After(phase):
			}
			tk := time.NewTicker(time.Second)
			defer tk.Stop()
			scheduled := time.Now().Truncate(time.Millisecond)
			for {
				// The sampling time as a monitor takes it: the real clock at
				// each tick, with the scheduler's jitter; or, with -aligned,
				// the tick's scheduled time.
				stamp := time.Now()
				if *aligned {
					stamp = scheduled
					scheduled = scheduled.Add(time.Second)
				}
				body := m.tick(stamp.UnixMilli())
				req, _ := http.NewRequestWithContext(liveCtx, "POST", *hubURL+"/api/v1/write", strings.NewReader(string(body)))
				req.Header.Set("Content-Encoding", "snappy")
				req.Header.Set("Content-Type", "application/x-protobuf")
				if *token != "" {
					req.Header.Set("Authorization", "Bearer "+*token)
				}
				resp, err := client.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if err != nil || resp.StatusCode/100 != 2 {
					if liveCtx.Err() == nil {
						failed.Add(1)
					}
				} else {
					sent.Add(int64(len(m.series)))
					bytesSent.Add(int64(len(body)))
				}
				select {
				case <-liveCtx.Done():
					return
				case <-tk.C:
				}
			}
		}()
	}
	// The live run: one second of results each second.
	tk := time.NewTicker(time.Second)
	next := time.Now().Unix() - 1
	for done := false; !done; {
		select {
		case <-liveCtx.Done():
			done = true
		case <-tk.C:
			for ; next < time.Now().Unix(); next++ {
				run.Push(secondAt(next, *rps, rng))
			}
		}
	}
	tk.Stop()
	wg.Wait()
	fctx, fcancel := context.WithTimeout(ctx, 30*time.Second)
	defer fcancel()
	if err := run.Finish(fctx, hubclient.Finish{ThresholdsOK: true}); err != nil {
		return err
	}
	fmt.Printf("samples_sent=%d requests_failed=%d remote_write_bytes=%d\n", sent.Load(), failed.Load(), bytesSent.Load())

	// Queries the UI makes for one service: latency over the hour of the
	// run, and the service's containers over the same hour.
	end := time.Now()
	queries := map[string]string{
		"query_range_1h_service_latency_ms": `max by (quantile) (brink_latency_seconds{service="svc-01"})`,
		"query_range_1h_service_cpu_ms":     `sum(rate(container_cpu_usage_seconds_total{service="svc-01"}[5s]))`,
	}
	for _, key := range []string{"query_range_1h_service_latency_ms", "query_range_1h_service_cpu_ms"} {
		best := time.Duration(math.MaxInt64)
		points := 0
		for range 5 {
			took, n, err := queryRange(client, *hubURL, queries[key], end.Add(-time.Hour), end, time.Second)
			if err != nil {
				return err
			}
			best, points = min(best, took), n
		}
		fmt.Printf("%s=%.1f %s_points=%d\n", key, float64(best.Microseconds())/1000, strings.TrimSuffix(key, "_ms"), points)
	}
	return nil
}

func queryRange(c *http.Client, hubURL, q string, start, end time.Time, step time.Duration) (time.Duration, int, error) {
	v := url.Values{"query": {q}, "start": {fmt.Sprint(start.Unix())}, "end": {fmt.Sprint(end.Unix())}, "step": {step.String()}}
	t0 := time.Now()
	resp, err := c.Get(hubURL + "/api/v1/query_range?" + v.Encode())
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	var out struct {
		Data struct {
			Result []struct {
				Values [][2]any `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	err = json.NewDecoder(resp.Body).Decode(&out)
	took := time.Since(t0)
	if err != nil || resp.StatusCode != 200 {
		return 0, 0, fmt.Errorf("query_range %s: status %d: %v", q, resp.StatusCode, err)
	}
	n := 0
	for _, r := range out.Data.Result {
		n += len(r.Values)
	}
	return took, n, nil
}

// dirBytes sums the files in every block's subdirectory sub.
func dirBytes(dataDir, sub string) int64 {
	var total int64
	blocks, _ := filepath.Glob(filepath.Join(dataDir, "tsdb", "*", sub, "*"))
	for _, f := range blocks {
		if info, err := os.Stat(f); err == nil && !info.IsDir() {
			total += info.Size()
		}
	}
	return total
}

func compact(args []string) error {
	fs := flag.NewFlagSet("compact", flag.ContinueOnError)
	dir := fs.String("data", "", "the hub's --data directory (the hub must be stopped)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	db, err := store.OpenTSDB(store.Options{Dir: filepath.Join(*dir, "tsdb")})
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.CompactAll(); err != nil {
		return err
	}
	st := db.Stats()
	if st.BlockSamples == 0 {
		return errors.New("no samples in blocks after compaction")
	}
	fmt.Printf("block_samples=%d block_series=%d block_bytes=%d bytes_per_sample=%.3f\n",
		st.BlockSamples, st.BlockSeries, st.BlockBytes, float64(st.BlockBytes)/float64(st.BlockSamples))
	// A short bench writes few samples per series, so the index (labels
	// and postings, paid once per series and block) dominates. The chunks
	// are the per-sample cost; a 2-hour block at 1 s holds 7,200 samples
	// per series.
	chunkBytes := dirBytes(*dir, "chunks")
	indexBytes := st.BlockBytes - chunkBytes
	perSample := float64(chunkBytes) / float64(st.BlockSamples)
	perSeries := float64(indexBytes) / float64(st.BlockSeries)
	fmt.Printf("chunk_bytes_per_sample=%.3f index_bytes_per_series=%.0f bytes_per_sample_2h_block=%.3f\n",
		perSample, perSeries, perSample+perSeries/7200)
	return nil
}
