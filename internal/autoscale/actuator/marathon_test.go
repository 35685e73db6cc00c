package actuator

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeMarathon replays the documented responses in testdata/marathon.
type fakeMarathon struct {
	t          *testing.T
	mu         sync.Mutex
	calls      []string // "METHOD path body"
	lockedPuts int      // answer 409 to this many writes
	deployPoll int      // GET /v2/deployments lists the deployment this many times
	status     int      // if set, every request answers this status
	auth       string   // last Authorization header
}

func (f *fakeMarathon) fixture(name string) []byte {
	b, err := os.ReadFile(filepath.Join("testdata", "marathon", name))
	if err != nil {
		f.t.Fatal(err)
	}
	return b
}

func (f *fakeMarathon) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	f.calls = append(f.calls, strings.TrimSpace(r.Method+" "+r.URL.RequestURI()+" "+string(body)))
	f.auth = r.Header.Get("Authorization")
	w.Header().Set("Content-Type", "application/json")
	if f.status != 0 {
		w.WriteHeader(f.status)
		io.WriteString(w, `{"message":"Unauthorized"}`)
		return
	}
	switch {
	case r.Method == "GET" && r.URL.Path == "/v2/apps/shop/web":
		w.Write(f.fixture("app.json"))
	case r.Method == "GET" && r.URL.Path == "/v2/apps/shop/web/tasks":
		w.Write(f.fixture("tasks.json"))
	case r.Method == "GET" && r.URL.Path == "/v2/deployments":
		if f.deployPoll > 0 {
			f.deployPoll--
			w.Write(f.fixture("deployments.json"))
			return
		}
		io.WriteString(w, "[]")
	case (r.Method == "PUT" && r.URL.Path == "/v2/apps/shop/web") ||
		(r.Method == "DELETE" && strings.HasPrefix(r.URL.Path, "/v2/apps/shop/web/tasks/")):
		if f.lockedPuts > 0 {
			f.lockedPuts--
			w.WriteHeader(http.StatusConflict)
			w.Write(f.fixture("locked.json"))
			return
		}
		w.Write(f.fixture("deployment.json"))
	default:
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"message":"App '/nope' does not exist"}`)
	}
}

func newFakeMarathon(t *testing.T) (*fakeMarathon, *httptest.Server) {
	f := &fakeMarathon{t: t}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func TestMarathonReplicas(t *testing.T) {
	_, srv := newFakeMarathon(t)
	for _, tt := range []struct {
		portIndex int
		wantAddr  string
	}{{0, "127.0.0.1:31000"}, {1, "127.0.0.1:31001"}} {
		m, err := NewMarathon("web", MarathonConfig{URL: srv.URL, App: "/shop/web", PortIndex: tt.portIndex}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		reps, err := m.Replicas(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(reps) != 3 {
			t.Fatalf("replicas: %+v", reps)
		}
		want := []struct {
			id      string
			state   ReplicaState
			healthy bool
		}{
			{"shop_web.eb76c51f-4b4a-11e4-ae49-56847afe9799", Running, true},
			{"shop_web.ef0ec3dd-4b4a-11e4-ae49-56847afe9799", Starting, false},
			{"shop_web.f1a2b3c4-4b4a-11e4-ae49-56847afe9799", Terminating, false},
		}
		for i, w := range want {
			r := reps[i]
			if r.ID != w.id || r.Name != w.id || r.State != w.state || r.Healthy == nil || *r.Healthy != w.healthy {
				t.Errorf("replica %d = %+v (healthy %v), want %+v", i, r, r.Healthy, w)
			}
		}
		if reps[0].Addr != tt.wantAddr {
			t.Errorf("port_index %d: addr %s, want %s", tt.portIndex, reps[0].Addr, tt.wantAddr)
		}
	}
}

func TestMarathonScale(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name       string
		locked     int
		polls      int
		wait       time.Duration
		status     int
		call       func(*Marathon) error
		wantCalls  []string
		wantErr    string
		wantErrIs  error
		wantHeader string
	}{
		{name: "scale", call: func(m *Marathon) error { return m.SetReplicas(ctx, 5) },
			wantCalls: []string{`PUT /v2/apps/shop/web {"instances":5}`}},
		{name: "409 waits for the deployment, then retries", locked: 1, polls: 2,
			call: func(m *Marathon) error { return m.SetReplicas(ctx, 2) },
			wantCalls: []string{`PUT /v2/apps/shop/web {"instances":2}`, "GET /v2/deployments", "GET /v2/deployments",
				"GET /v2/deployments", `PUT /v2/apps/shop/web {"instances":2}`}},
		{name: "409 for too long", locked: 1000, polls: 1000, wait: 300 * time.Millisecond,
			call:      func(m *Marathon) error { return m.SetReplicas(ctx, 2) },
			wantErrIs: ErrDeploymentInProgress, wantErr: "97c136bf-5a28-4821-9d94-480d9fbb01c8"},
		{name: "remove kills with scale=true", call: func(m *Marathon) error {
			return m.Remove(ctx, []Replica{{ID: "shop_web.eb76c51f-4b4a-11e4-ae49-56847afe9799"}})
		}, wantCalls: []string{"DELETE /v2/apps/shop/web/tasks/shop_web.eb76c51f-4b4a-11e4-ae49-56847afe9799?scale=true"}},
		{name: "unauthorized", status: 401, call: func(m *Marathon) error { return m.SetReplicas(ctx, 2) },
			wantErr: "HTTP 401: Unauthorized (check the token in token_env)"},
		{name: "token sent", call: func(m *Marathon) error { return m.SetReplicas(ctx, 1) },
			wantCalls: []string{`PUT /v2/apps/shop/web {"instances":1}`}, wantHeader: "token=s3cret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, srv := newFakeMarathon(t)
			f.lockedPuts, f.deployPoll, f.status = tt.locked, tt.polls, tt.status
			cfg := MarathonConfig{URL: srv.URL, App: "/shop/web", DeploymentWait: tt.wait}
			if tt.wantHeader != "" {
				cfg.TokenEnv = "MARATHON_TOKEN"
			}
			m, err := NewMarathon("web", cfg, nil, func(k string) string {
				if k == "MARATHON_TOKEN" {
					return "s3cret"
				}
				return ""
			})
			if err != nil {
				t.Fatal(err)
			}
			m.pollEvery = 10 * time.Millisecond
			err = tt.call(m)
			if tt.wantErr == "" && tt.wantErrIs == nil {
				if err != nil {
					t.Fatal(err)
				}
			} else {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q in it", err, tt.wantErr)
				}
				if tt.wantErrIs != nil && !errors.Is(err, tt.wantErrIs) {
					t.Fatalf("error %v is not %v", err, tt.wantErrIs)
				}
			}
			if tt.wantCalls != nil && strings.Join(f.calls, "\n") != strings.Join(tt.wantCalls, "\n") {
				t.Fatalf("calls:\n%s\nwant:\n%s", strings.Join(f.calls, "\n"), strings.Join(tt.wantCalls, "\n"))
			}
			if tt.wantHeader != "" && f.auth != tt.wantHeader {
				t.Fatalf("Authorization %q, want %q", f.auth, tt.wantHeader)
			}
		})
	}
}

func TestMarathonConfig(t *testing.T) {
	for _, tt := range []struct {
		cfg  MarathonConfig
		want string
	}{
		{MarathonConfig{URL: "marathon:8080", App: "/a"}, "must be an http(s) URL"},
		{MarathonConfig{URL: "http://m:8080", App: "a"}, "absolute app id"},
		{MarathonConfig{URL: "http://m:8080", App: "/a", PortIndex: -1}, "port_index"},
		{MarathonConfig{URL: "http://m:8080", App: "/a", TokenEnv: "EMPTY"}, "EMPTY (token_env) is empty"},
	} {
		_, err := NewMarathon("web", tt.cfg, nil, func(string) string { return "" })
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: error %v, want %q", tt.cfg, err, tt.want)
		}
	}
}
