package hub

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	brinkv1 "github.com/brinkhq/brink/internal/gen/brink/v1"
	"github.com/brinkhq/brink/internal/gen/brink/v1/brinkv1connect"
	"github.com/brinkhq/brink/internal/hub/runs"
	"github.com/brinkhq/brink/internal/hub/wire"
	"github.com/brinkhq/brink/internal/results"
)

func TestRunsAPI(t *testing.T) {
	th := startHub(t, Options{TokenFile: writeTokenFile(t, "tk")})
	auth := connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", "Bearer tk")
			return next(ctx, req)
		}
	})
	rpc := brinkv1connect.NewRunServiceClient(http.DefaultClient, th.url, connect.WithInterceptors(auth))
	ctx := context.Background()
	start := time.Now().Add(-time.Minute).Truncate(time.Second)
	for i, r := range []struct{ id, name, svc string }{
		{"r-1", "checkout 1 instance", "web"}, {"r-2", "checkout 2 instances", "web"}, {"r-3", "search soak", "search"},
	} {
		if _, err := rpc.StartRun(ctx, connect.NewRequest(&brinkv1.StartRunRequest{RunId: r.id, Source: "laptop", Name: r.name,
			TargetService: r.svc, StartUnixMs: start.Add(time.Duration(i) * time.Second).UnixMilli()})); err != nil {
			t.Fatal(err)
		}
		s := results.NewSecond(start.Unix())
		s.Stats("home").Requests = 10
		s.Stats("home").Latency.Record(1500)
		if _, err := rpc.PushSeconds(ctx, connect.NewRequest(&brinkv1.PushSecondsRequest{RunId: r.id, Source: "laptop",
			Seconds: []*brinkv1.Second{wire.SecondToProto(s, 1)}})); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := rpc.FinishRun(ctx, connect.NewRequest(&brinkv1.FinishRunRequest{RunId: "r-1", Source: "laptop", ThresholdsOk: true})); err != nil {
		t.Fatal(err)
	}
	_, err := rpc.PushSeconds(ctx, connect.NewRequest(&brinkv1.PushSecondsRequest{RunId: "nope", Source: "laptop"}))
	if connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("push to an unknown run: %v", err)
	}
	_, err = rpc.StartRun(ctx, connect.NewRequest(&brinkv1.StartRunRequest{RunId: "../x", Source: "laptop"}))
	if connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("bad id: %v", err)
	}

	type list struct {
		Runs []runs.View `json:"runs"`
		More bool        `json:"more"`
	}
	tests := []struct {
		query string
		want  []string
		more  bool
	}{
		{"", []string{"r-3", "r-2", "r-1"}, false},
		{"?q=CHECKOUT", []string{"r-2", "r-1"}, false},
		{"?service=search", []string{"r-3"}, false},
		{"?status=finished", []string{"r-1"}, false},
		{"?limit=1", []string{"r-3"}, true},
		{"?before=" + unixArg(start.Add(1500*time.Millisecond)), []string{"r-2", "r-1"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			var got list
			getJSON(t, th.url+"/api/v1/runs"+tt.query, &got)
			var ids []string
			for _, r := range got.Runs {
				ids = append(ids, r.ID)
			}
			if strings.Join(ids, ",") != strings.Join(tt.want, ",") || got.More != tt.more {
				t.Fatalf("runs%s = %v more=%v, want %v more=%v", tt.query, ids, got.More, tt.want, tt.more)
			}
		})
	}
	var one runs.View
	getJSON(t, th.url+"/api/v1/runs/r-1", &one)
	if one.Status != runs.StatusFinished || one.Totals.Requests != 10 || one.ByName["home"].Requests != 10 {
		t.Fatalf("run r-1 %+v", one)
	}
	for path, code := range map[string]int{
		"/api/v1/runs/nope":                   http.StatusNotFound,
		"/api/v1/runs/r-1/latency?q=2":        http.StatusBadRequest,
		"/api/v1/runs?limit=-1":               http.StatusBadRequest,
		"/api/v1/events?from=yesterday":       http.StatusBadRequest,
		"/api/v1/containers?group=planet":     http.StatusBadRequest,
		"/api/v1/hosts?lookback=0s":           http.StatusBadRequest,
		"/api/v1/nothing":                     http.StatusNotFound,
		"/api/v1/export?query=up&format=xlsx": http.StatusBadRequest,
	} {
		resp, err := http.Get(th.url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != code {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, code)
		}
	}
	var evs struct {
		Events []struct {
			Kind string `json:"kind"`
			Run  string `json:"run"`
		} `json:"events"`
	}
	getJSON(t, th.url+"/api/v1/events?run=r-1", &evs)
	if len(evs.Events) != 2 || evs.Events[0].Kind != "run_finished" || evs.Events[1].Kind != "run_started" {
		t.Fatalf("events of r-1: %+v", evs)
	}
	// The live stream's figures come from the newest stored second.
	tk := th.tick()
	if len(tk.Runs) != 3 || tk.Runs[0].ID != "r-1" || tk.Runs[0].RPS != 10 || tk.Runs[0].LastSecondMs != (start.Unix()+1)*1000 {
		t.Fatalf("tick %+v", tk)
	}
}
