package hub

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	brinkv1 "github.com/brinkhq/brink/internal/gen/brink/v1"
	"github.com/brinkhq/brink/internal/gen/brink/v1/brinkv1connect"
	"github.com/brinkhq/brink/internal/hub/wire"
	"github.com/brinkhq/brink/internal/results"
	"github.com/brinkhq/brink/internal/store"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// childDirEnv makes the test binary run a hub instead of tests: the kill
// test starts it as a separate process so that it can kill -9 it.
const childDirEnv = "BRINK_HUB_TEST_CHILD_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(childDirEnv); dir != "" {
		os.Exit(runChildHub(dir))
	}
	os.Exit(m.Run())
}

func runChildHub(dir string) int {
	h, err := New(Options{DataDir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := os.WriteFile(filepath.Join(dir, "addr.tmp"), []byte(ln.Addr().String()), 0o644); err != nil {
		return 1
	}
	if err := os.Rename(filepath.Join(dir, "addr.tmp"), filepath.Join(dir, "addr")); err != nil {
		return 1
	}
	// Serves until killed; a test that forgets it is stopped by this bound.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := h.Run(ctx, ln); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func TestKill9LosesNothingAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills a hub process; runs without -short")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childDirEnv+"="+dir)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var addr string
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if b, err := os.ReadFile(filepath.Join(dir, "addr")); err == nil {
			addr = string(b)
			break
		}
	}
	if addr == "" {
		t.Fatal("child hub did not start within 60s")
	}
	url := "http://" + addr

	// Writers: remote-write batches of 100 series, one new timestamp per
	// batch, and a run reporter pushing one second per call. Each records
	// what the hub acknowledged.
	const seriesPerBatch = 100
	base := time.Now().Add(-time.Hour).Truncate(time.Second).UnixMilli()
	var (
		mu           sync.Mutex
		ackedBatches []int64 // timestamps of acknowledged remote-write batches
		ackedSeconds []int64 // unix seconds of acknowledged run pushes
		ackedReqs    int64
	)
	ctx, stopWriters := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		client := &http.Client{Timeout: 10 * time.Second}
		for i := int64(0); i < 100_000 && ctx.Err() == nil; i++ {
			ts := base + i*10
			batch := make([]prompb.TimeSeries, seriesPerBatch)
			for s := range seriesPerBatch {
				batch[s] = series("kill_test", []string{"s", fmt.Sprint(s)}, prompb.Sample{Timestamp: ts, Value: float64(i)})
			}
			req, _ := http.NewRequestWithContext(ctx, "POST", url+"/api/v1/write", strings.NewReader(string(encodeWrite(t, batch))))
			req.Header.Set("Content-Encoding", "snappy")
			resp, err := client.Do(req)
			if err != nil {
				return // the hub is gone
			}
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				mu.Lock()
				ackedBatches = append(ackedBatches, ts)
				mu.Unlock()
			}
		}
	}()
	go func() {
		defer wg.Done()
		rpc := brinkv1connect.NewRunServiceClient(&http.Client{Timeout: 10 * time.Second}, url)
		if _, err := rpc.StartRun(ctx, connect.NewRequest(&brinkv1.StartRunRequest{RunId: "killed", Source: "a"})); err != nil {
			return
		}
		first := time.Now().Add(-time.Hour).Unix()
		for i := int64(0); i < 100_000 && ctx.Err() == nil; i++ {
			s := results.NewSecond(first + i)
			s.Stats("x").Requests = 7
			s.Stats("x").Latency.Record(100 + i)
			_, err := rpc.PushSeconds(ctx, connect.NewRequest(&brinkv1.PushSecondsRequest{RunId: "killed", Source: "a",
				Seconds: []*brinkv1.Second{wire.SecondToProto(s, uint64(i+1))}}))
			if err != nil {
				return
			}
			mu.Lock()
			ackedSeconds = append(ackedSeconds, s.T)
			ackedReqs += 7
			mu.Unlock()
		}
	}()
	// Kill mid-ingest, once a good amount has been acknowledged.
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		n, m := len(ackedBatches), len(ackedSeconds)
		mu.Unlock()
		if n >= 200 && m >= 50 {
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	stopWriters()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(ackedBatches) < 200 || len(ackedSeconds) < 50 {
		t.Fatalf("too little was acknowledged before the kill: %d batches, %d seconds", len(ackedBatches), len(ackedSeconds))
	}
	t.Logf("killed after %d acknowledged batches (%d samples) and %d run seconds", len(ackedBatches), len(ackedBatches)*seriesPerBatch, len(ackedSeconds))

	// Reopen the store as the restarted hub would, and count.
	db, err := store.OpenTSDB(store.Options{Dir: filepath.Join(dir, "tsdb")})
	if err != nil {
		t.Fatal(err)
	}
	present := map[string]map[int64]bool{}
	q, err := db.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	set := q.Select(context.Background(), false, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", "kill_test"))
	var it chunkenc.Iterator
	for set.Next() {
		s := set.At()
		m := map[int64]bool{}
		it = s.Iterator(it)
		for it.Next() != chunkenc.ValNone {
			ts, _ := it.At()
			m[ts] = true
		}
		present[s.Labels().Get("s")] = m
	}
	q.Close()
	db.Close()
	missing := 0
	for s := range seriesPerBatch {
		for _, ts := range ackedBatches {
			if !present[fmt.Sprint(s)][ts] {
				missing++
			}
		}
	}
	if missing > 0 {
		t.Fatalf("%d acknowledged samples of %d are missing after kill -9", missing, len(ackedBatches)*seriesPerBatch)
	}

	// The whole hub restarts with the run intact.
	h, err := New(Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	v, err := h.Runs().Get("killed")
	if err != nil {
		t.Fatal(err)
	}
	if v.Totals.Requests < ackedReqs || v.Status != "running" {
		t.Fatalf("run after kill -9: %d requests, %s; %d were acknowledged", v.Totals.Requests, v.Status, ackedReqs)
	}
	t.Logf("run after restart: %d requests held, %d acknowledged", v.Totals.Requests, ackedReqs)
}
