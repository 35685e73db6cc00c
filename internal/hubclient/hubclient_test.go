package hubclient_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/brinkhq/brink/internal/histogram"
	"github.com/brinkhq/brink/internal/hub"
	"github.com/brinkhq/brink/internal/hub/runs"
	"github.com/brinkhq/brink/internal/hubclient"
	"github.com/brinkhq/brink/internal/results"
)

// serveHub runs a real hub on addr ("127.0.0.1:0" for any port) and
// returns its address and a function that stops it.
func serveHub(t *testing.T, addr, dataDir, tokenFile string) (string, func()) {
	t.Helper()
	h, err := hub.New(hub.Options{DataDir: dataDir, TokenFile: tokenFile})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx, ln) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("hub: %v", err)
		}
	}
	t.Cleanup(stop)
	return ln.Addr().String(), stop
}

func makeSecond(t int64, n int64) *results.Second {
	s := results.NewSecond(t)
	s.VUs = 20
	for i := range n {
		name := []string{"home", "cart"}[i%2]
		st := s.Stats(name)
		st.Requests++
		st.Latency.Record(200 + (i*37+t)%9000)
		if i%25 == 0 {
			st.Failures[results.HTTP5xx]++
		}
	}
	return s
}

func getData(t *testing.T, url string, out any) {
	t.Helper()
	if found := getDataIfFound(t, url, out); !found {
		t.Fatalf("GET %s: 404", url)
	}
}

// getDataIfFound is getData that reports a 404 (a run the client is still
// registering in the background) instead of failing.
func getDataIfFound(t *testing.T, url string, out any) bool {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusNotFound {
		return false
	}
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if resp.StatusCode != 200 || json.Unmarshal(b, &env) != nil || json.Unmarshal(env.Data, out) != nil {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return true
}

func TestReportRunLive(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("tok\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr, _ := serveHub(t, "127.0.0.1:0", t.TempDir(), tokenFile)
	url := "http://" + addr
	c := hubclient.New(url, "tok", hubclient.WithSource("laptop"))
	start := time.Now().Add(-30 * time.Second).Truncate(time.Second)
	run := c.StartRun(context.Background(), hubclient.RunInfo{Name: "checkout", TargetService: "web", Scenario: "GET /", Start: start})
	defer run.Close()
	all := histogram.New()
	var requests int64
	acc := results.NewAccumulator(start)
	for i := range int64(20) {
		s := makeSecond(start.Unix()+i, 100+i)
		for _, st := range s.ByName {
			all.Merge(st.Latency)
			requests += st.Requests
		}
		acc.Add(s)
		run.Push(s)
	}
	// Live: the run shows up while it is still running.
	deadline := time.Now().Add(30 * time.Second)
	var v runs.View
	for time.Now().Before(deadline) {
		// StartRun registers the run in the background: not found yet is
		// not an error.
		if getDataIfFound(t, url+"/api/v1/runs/"+run.ID(), &v) && v.Totals.Requests == requests {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if v.Status != runs.StatusRunning || v.Totals.Requests != requests || v.TargetService != "web" {
		t.Fatalf("live run %+v, want %d requests", v, requests)
	}
	sum := acc.Summary()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run.Finish(ctx, hubclient.Finish{ThresholdsOK: true, Summary: &sum}); err != nil {
		t.Fatal(err)
	}
	getData(t, url+"/api/v1/runs/"+run.ID(), &v)
	if v.Status != runs.StatusFinished || v.ThresholdsOK == nil || !*v.ThresholdsOK || len(v.Summary) == 0 || !*v.Sources[0].Complete {
		t.Fatalf("finished run %+v", v)
	}
	var lat runs.Latency
	getData(t, url+"/api/v1/runs/"+run.ID()+"/latency?q=0.5,0.99,1", &lat)
	if lat.Count != all.Count() || lat.Quantiles[1].Us != all.Quantile(0.99) || lat.Quantiles[2].Us != all.Max() || lat.Seconds != 20 {
		t.Fatalf("latency %+v, want count %d p99 %d", lat, all.Count(), all.Quantile(0.99))
	}
	var q struct {
		Result []struct {
			Value [2]any `json:"value"`
		} `json:"result"`
	}
	getData(t, fmt.Sprintf("%s/api/v1/query?query=sum(brink_requests_total{run=%q,service=%q})&time=%d", url, run.ID(), "web", start.Unix()+20), &q)
	if len(q.Result) != 1 || q.Result[0].Value[1] != fmt.Sprint(requests) {
		t.Fatalf("brink_requests_total: %+v, want %d", q, requests)
	}
	if st := run.Status(); st.Delivered != 20 || st.Pending != 0 || st.LastError != nil {
		t.Fatalf("status %+v", st)
	}
}

func TestHubDownBuffersAndResends(t *testing.T) {
	// Reserve an address, then free it: nothing listens there yet.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := hubclient.New("http://"+addr, "", hubclient.WithSource("laptop"))
	start := time.Now().Add(-time.Minute).Truncate(time.Second)
	run := c.StartRun(context.Background(), hubclient.RunInfo{Name: "offline", Start: start})
	defer run.Close()
	var requests int64
	for i := range int64(10) {
		s := makeSecond(start.Unix()+i, 50)
		requests += s.Total().Requests
		run.Push(s)
	}
	deadline := time.Now().Add(30 * time.Second)
	for run.Status().LastError == nil && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if st := run.Status(); st.LastError == nil || st.Pending != 10 {
		t.Fatalf("with the hub down: %+v", st)
	}
	dataDir := t.TempDir()
	serveHub(t, addr, dataDir, "")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := run.Finish(ctx, hubclient.Finish{}); err != nil {
		t.Fatal(err)
	}
	var v runs.View
	getData(t, "http://"+addr+"/api/v1/runs/"+run.ID(), &v)
	if v.Totals.Requests != requests || v.Status != runs.StatusFinished {
		t.Fatalf("after the hub came up: %+v, want %d requests", v, requests)
	}
}

func TestFinishGivesUpWithoutHub(t *testing.T) {
	c := hubclient.New("http://127.0.0.1:1", "")
	run := c.StartRun(context.Background(), hubclient.RunInfo{Name: "nowhere"})
	defer run.Close()
	run.Push(makeSecond(time.Now().Unix(), 10))
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	err := run.Finish(ctx, hubclient.Finish{})
	if err == nil {
		t.Fatal("Finish reported success without a hub")
	}
	t.Logf("as the user sees it: %v", err)
}
