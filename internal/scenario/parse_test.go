package scenario

import (
	"net/http"
	"reflect"
	"testing"
	"time"
)

func TestExecutors(t *testing.T) {
	const steps = "\n    steps: [{url: http://127.0.0.1:9/}]"
	tests := []struct {
		name string
		src  string
		want ExecutorConfig
	}{
		{
			name: "constant-vus is the default executor",
			src:  "scenarios:\n  a:\n    vus: 5\n    duration: 1m30s",
			want: ExecutorConfig{Kind: ConstantVUs, VUs: 5, Duration: 90 * time.Second, GracefulStop: DefaultGracefulStop, TimeUnit: time.Second},
		},
		{
			name: "constant-vus with iterations only and one VU by default",
			src:  "scenarios:\n  a:\n    executor: constant-vus\n    iterations: 100\n    graceful_stop: 5s\n    start_time: 10s",
			want: ExecutorConfig{Kind: ConstantVUs, VUs: 1, Iterations: 100, GracefulStop: 5 * time.Second, StartTime: 10 * time.Second, TimeUnit: time.Second},
		},
		{
			name: "ramping-vus",
			src:  "scenarios:\n  a:\n    executor: ramping-vus\n    start_vus: 2\n    stages:\n      - {target: 50, duration: 30s}\n      - {target: 50, duration: 1m}\n      - {target: 0, duration: 10s}",
			want: ExecutorConfig{Kind: RampingVUs, StartVUs: 2, GracefulStop: DefaultGracefulStop, TimeUnit: time.Second,
				Stages: []Stage{{50, 30 * time.Second}, {50, time.Minute}, {0, 10 * time.Second}}},
		},
		{
			name: "constant-arrival-rate with a per-second rate and default pool",
			src:  "scenarios:\n  a:\n    executor: constant-arrival-rate\n    rate: 100/s\n    duration: 30s",
			want: ExecutorConfig{Kind: ConstantArrivalRate, Rate: 100, TimeUnit: time.Second, Duration: 30 * time.Second,
				GracefulStop: DefaultGracefulStop, PreAllocatedVUs: 10, MaxVUs: 200},
		},
		{
			name: "a per-minute rate keeps its unit",
			src:  "scenarios:\n  a:\n    executor: constant-arrival-rate\n    rate: 6000/m\n    duration: 30s\n    pre_allocated_vus: 20\n    max_vus: 50",
			want: ExecutorConfig{Kind: ConstantArrivalRate, Rate: 6000, TimeUnit: time.Minute, Duration: 30 * time.Second,
				GracefulStop: DefaultGracefulStop, PreAllocatedVUs: 20, MaxVUs: 50},
		},
		{
			name: "a plain rate with time_unit",
			src:  "scenarios:\n  a:\n    executor: constant-arrival-rate\n    rate: 5\n    time_unit: 10s\n    duration: 1m\n    max_vus: 3",
			want: ExecutorConfig{Kind: ConstantArrivalRate, Rate: 5, TimeUnit: 10 * time.Second, Duration: time.Minute,
				GracefulStop: DefaultGracefulStop, PreAllocatedVUs: 3, MaxVUs: 3},
		},
		{
			name: "a large rate sizes the pool from the peak",
			src:  "scenarios:\n  a:\n    executor: constant-arrival-rate\n    rate: 10000\n    duration: 30s\n    pre_allocated_vus: 1500",
			want: ExecutorConfig{Kind: ConstantArrivalRate, Rate: 10000, TimeUnit: time.Second, Duration: 30 * time.Second,
				GracefulStop: DefaultGracefulStop, PreAllocatedVUs: 1500, MaxVUs: 20000},
		},
		{
			name: "ramping-arrival-rate with rate targets in their own unit",
			src:  "scenarios:\n  a:\n    executor: ramping-arrival-rate\n    start_rate: 10/s\n    stages:\n      - {target: 200, duration: 1m}\n      - {target: \"50/s\", duration: 30s}",
			want: ExecutorConfig{Kind: RampingArrivalRate, StartRate: 10, TimeUnit: time.Second, GracefulStop: DefaultGracefulStop,
				Stages: []Stage{{200, time.Minute}, {50, 30 * time.Second}}, PreAllocatedVUs: 20, MaxVUs: 400},
		},
		{
			name: "iterations cap an arrival-rate run",
			src:  "scenarios:\n  a:\n    executor: constant-arrival-rate\n    rate: 10\n    duration: 1m\n    iterations: 5",
			want: ExecutorConfig{Kind: ConstantArrivalRate, Rate: 10, TimeUnit: time.Second, Duration: time.Minute, Iterations: 5,
				GracefulStop: DefaultGracefulStop, PreAllocatedVUs: 10, MaxVUs: 100},
		},
		{
			name: "zero graceful stop",
			src:  "scenarios:\n  a:\n    vus: 1\n    duration: 1s\n    graceful_stop: 0",
			want: ExecutorConfig{Kind: ConstantVUs, VUs: 1, Duration: time.Second, TimeUnit: time.Second},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParse(t, tt.src+steps)
			if got := p.Scenarios[0].Executor; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("executor\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestPlannedDuration(t *testing.T) {
	p := mustParse(t, `
scenarios:
  warm:
    vus: 1
    duration: 10s
    steps: [{url: http://127.0.0.1:9/}]
  ramp:
    executor: ramping-vus
    start_time: 5s
    stages: [{target: 10, duration: 20s}, {target: 0, duration: 5s}]
    steps: [{url: http://127.0.0.1:9/}]
`)
	if got, want := p.PlannedDuration(), 30*time.Second; got != want {
		t.Errorf("PlannedDuration = %v, want %v", got, want)
	}
}

func TestOptionsAndVars(t *testing.T) {
	p := mustParse(t, `
vars:
  host: 127.0.0.1:9
  base: "http://{{host}}"
  token: "{{env.BRINK_TOKEN}}"
options:
  timeout: 5s
  insecure: true
  http2: true
  max_conns_per_host: 8
  headers:
    authorization: "Bearer {{token}}"
    X-Run: brink
thresholds:
  - p95<200ms
  - error_rate<1%
scenarios:
  a:
    vus: 1
    duration: 1s
    steps:
      - name: home
        url: "{{base}}/"
      - name: slow
        url: "{{base}}/slow"
        timeout: 20s
        headers: {x-run: override}
`)
	want := Options{Insecure: true, HTTP2: true, Timeout: 5 * time.Second, MaxConnsPerHost: 8,
		Headers: map[string]string{"Authorization": "Bearer s3cret", "X-Run": "brink"}}
	if !reflect.DeepEqual(p.Options, want) {
		t.Errorf("options\n got %+v\nwant %+v", p.Options, want)
	}
	if want := []string{"p95<200ms", "error_rate<1%"}; !reflect.DeepEqual(p.Thresholds, want) {
		t.Errorf("thresholds = %q, want %q", p.Thresholds, want)
	}
	steps := p.Scenarios[0].Flows[0].Steps
	vu := p.Scenarios[0].NewVU(0)
	tests := []struct {
		step    *Step
		url     string
		header  http.Header
		timeout time.Duration
	}{
		{steps[0], "http://127.0.0.1:9/", http.Header{}, 5 * time.Second},
		{steps[1], "http://127.0.0.1:9/slow", http.Header{"X-Run": {"override"}}, 20 * time.Second},
	}
	for _, tt := range tests {
		if !tt.step.Static() {
			t.Errorf("step %s: Static() = false; globals and env are constant", tt.step.Name)
		}
		r, err := tt.step.Build(vu)
		if err != nil {
			t.Fatal(err)
		}
		if r.URL != tt.url || !reflect.DeepEqual(r.Header, tt.header) || tt.step.Timeout != tt.timeout {
			t.Errorf("step %s: got %s %v timeout %v, want %s %v timeout %v", tt.step.Name, r.URL, r.Header, tt.step.Timeout, tt.url, tt.header, tt.timeout)
		}
	}
}

// name and target_service label the run; they may use vars and the
// environment, and are absent ("") when not written.
func TestRunLabels(t *testing.T) {
	const steps = "scenarios:\n  a:\n    duration: 1s\n    steps: [{url: \"http://127.0.0.1:9/\"}]\n"
	tests := []struct {
		name, src            string
		wantName, wantTarget string
	}{
		{"absent", steps, "", ""},
		{"plain", "name: checkout at 2 replicas\ntarget_service: /shop/web\n" + steps, "checkout at 2 replicas", "/shop/web"},
		{"from vars and env", "vars: {svc: web}\nname: \"{{svc}} with {{env.BRINK_TOKEN}}\"\ntarget_service: \"{{svc}}\"\n" + steps, "web with s3cret", "web"},
		{"number as text, trimmed", "name: \" 2026 \"\ntarget_service: 42\n" + steps, "2026", "42"},
		{"after scenarios", steps + "target_service: api\n", "", "api"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParse(t, tt.src)
			if p.Name != tt.wantName || p.TargetService != tt.wantTarget {
				t.Errorf("name %q target %q, want %q %q", p.Name, p.TargetService, tt.wantName, tt.wantTarget)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	p := mustParse(t, "scenarios:\n  a:\n    duration: 1s\n    steps: [{url: \"http://127.0.0.1:9/x\"}]")
	st := p.Scenarios[0].Flows[0].Steps[0]
	if st.Name != "GET http://127.0.0.1:9/x" || st.Method != "GET" || st.Timeout != DefaultTimeout {
		t.Errorf("step defaults: name %q method %q timeout %v", st.Name, st.Method, st.Timeout)
	}
	if p.Options.Timeout != DefaultTimeout || p.Options.Headers != nil {
		t.Errorf("option defaults: %+v", p.Options)
	}
	if f := p.Scenarios[0].Flows[0]; f.Name != "a" || f.Weight != 1 {
		t.Errorf("steps shorthand flow: %+v", f)
	}
}

func TestBodies(t *testing.T) {
	p := mustParse(t, `
vars: {user: alice}
scenarios:
  a:
    duration: 1s
    steps:
      - {name: inline, method: post, url: "http://127.0.0.1:9/", body: '{"user":"{{user}}"}'}
      - {name: file, method: PUT, url: "http://127.0.0.1:9/", body: "@body.json"}
      - {name: at, method: POST, url: "http://127.0.0.1:9/", body: "@@home"}
      - name: block
        method: POST
        url: http://127.0.0.1:9/
        body: |
          {"user": "{{user}}",
           "n": 1}
`)
	want := []struct{ method, body string }{
		{"POST", `{"user":"alice"}`},
		{"PUT", `{"raw":"{{not a template}}"}`},
		{"POST", "@home"},
		{"POST", "{\"user\": \"alice\",\n \"n\": 1}\n"},
	}
	vu := p.Scenarios[0].NewVU(0)
	for i, st := range p.Scenarios[0].Flows[0].Steps {
		r, err := st.Build(vu)
		if err != nil {
			t.Fatal(err)
		}
		if r.Method != want[i].method || string(r.Body) != want[i].body || !st.Static() {
			t.Errorf("step %s: %s %q static=%v, want %s %q static", st.Name, r.Method, r.Body, st.Static(), want[i].method, want[i].body)
		}
	}
}

func TestThinkTimes(t *testing.T) {
	p := mustParse(t, `
scenarios:
  a:
    duration: 1s
    think: uniform(1s, 3s)
    steps:
      - {url: "http://127.0.0.1:9/", think: 500ms}
      - {url: "http://127.0.0.1:9/", think: "constant(2s)"}
      - {url: "http://127.0.0.1:9/", think: exponential(1s)}
      - {url: "http://127.0.0.1:9/", think: 0}
`)
	s := p.Scenarios[0]
	if want := (Think{Kind: ThinkUniform, Min: time.Second, Max: 3 * time.Second}); s.Think != want {
		t.Errorf("iteration think = %+v, want %+v", s.Think, want)
	}
	want := []Think{
		{Kind: ThinkConstant, Duration: 500 * time.Millisecond},
		{Kind: ThinkConstant, Duration: 2 * time.Second},
		{Kind: ThinkExponential, Mean: time.Second},
		{},
	}
	for i, st := range s.Flows[0].Steps {
		if st.Think != want[i] {
			t.Errorf("step %d think = %+v, want %+v", i, st.Think, want[i])
		}
	}
}

func TestWeightedFlows(t *testing.T) {
	p := mustParse(t, `
scenarios:
  shop:
    duration: 1s
    flows:
      - {name: browse, weight: 7, steps: [{url: "http://127.0.0.1:9/"}]}
      - {name: buy, weight: 2.5, steps: [{url: "http://127.0.0.1:9/buy"}]}
      - {name: admin, weight: 0.5, steps: [{url: "http://127.0.0.1:9/admin"}]}
`)
	s := p.Scenarios[0]
	vu := s.NewVU(3)
	const n = 100_000
	counts := map[string]int{}
	for range n {
		counts[vu.NextFlow().Name]++
	}
	for name, share := range map[string]float64{"browse": 0.7, "buy": 0.25, "admin": 0.05} {
		got := float64(counts[name]) / n
		// 100k draws: the standard error is below 0.0015 for every share.
		if got < share-0.01 || got > share+0.01 {
			t.Errorf("flow %s chosen %.4f of the time, want %.2f±0.01", name, got, share)
		}
	}
}

func TestMergeKeysAndAliases(t *testing.T) {
	p := mustParse(t, `
scenarios:
  a: &base
    vus: 3
    duration: 10s
    steps: &steps [{url: "http://127.0.0.1:9/"}]
  b:
    <<: *base
    vus: 7
`)
	if len(p.Scenarios) != 2 {
		t.Fatalf("%d scenarios", len(p.Scenarios))
	}
	b := p.Scenarios[1]
	if b.Name != "b" || b.Executor.VUs != 7 || b.Executor.Duration != 10*time.Second || len(b.Flows[0].Steps) != 1 {
		t.Errorf("merged scenario: %+v", b.Executor)
	}
}

func TestSeveralScenarios(t *testing.T) {
	p := mustParse(t, `
scenarios:
  readers: {vus: 10, duration: 1m, steps: [{url: "http://127.0.0.1:9/read"}]}
  writers: {executor: constant-arrival-rate, rate: 5, duration: 1m, steps: [{method: POST, url: "http://127.0.0.1:9/write"}]}
`)
	var names []string
	for _, s := range p.Scenarios {
		names = append(names, s.Name+"/"+s.Executor.Kind)
	}
	if want := []string{"readers/constant-vus", "writers/constant-arrival-rate"}; !reflect.DeepEqual(names, want) {
		t.Errorf("scenarios = %v, want %v (in file order)", names, want)
	}
}

func TestStaticAndNeeds(t *testing.T) {
	p := mustParse(t, `
feeds: {users: {file: users.csv}}
scenarios:
  a:
    duration: 1s
    steps:
      - name: plain
        url: http://127.0.0.1:9/
      - name: status-only
        url: http://127.0.0.1:9/
        check: {status: 200}
      - name: headers
        url: http://127.0.0.1:9/
        check: {headers: {Content-Type: {contains: json}}}
        extract: {tok: {json: token}}
      - name: dynamic
        url: "http://127.0.0.1:9/u/{{users.name}}?t={{tok}}"
        check: {body_contains: ok}
      - name: header-extract
        url: http://127.0.0.1:9/
        extract: {sid: {header: Set-Cookie}}
`)
	want := []struct {
		static, headers, body, evaluate bool
	}{
		{true, false, false, false},
		{true, false, false, true},
		{true, true, true, true},
		{false, false, true, true},
		{true, true, false, true},
	}
	for i, st := range p.Scenarios[0].Flows[0].Steps {
		got := struct{ static, headers, body, evaluate bool }{st.Static(), st.NeedsHeaders(), st.NeedsBody(), st.NeedsEvaluate()}
		if got != want[i] {
			t.Errorf("step %s: static/headers/body/evaluate = %v, want %v", st.Name, got, want[i])
		}
	}
}

func TestLoadResolvesRelativeToFile(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"sub/s.yaml":         "feeds: {u: {file: data/users.csv}}\nscenarios:\n  a:\n    duration: 1s\n    steps: [{url: \"http://127.0.0.1:9/{{u.name}}\", method: POST, body: \"@data/b.txt\"}]\n",
		"sub/data/users.csv": "name\nzed\n",
		"sub/data/b.txt":     "payload",
	})
	p, err := LoadEnv(dir+"/sub/s.yaml", testEnv)
	if err != nil {
		t.Fatal(err)
	}
	s := p.Scenarios[0]
	vu := s.NewVU(0)
	vu.NextFlow()
	r, err := s.Flows[0].Steps[0].Build(vu)
	if err != nil {
		t.Fatal(err)
	}
	if r.URL != "http://127.0.0.1:9/zed" || string(r.Body) != "payload" {
		t.Errorf("got %s %q", r.URL, r.Body)
	}
	if _, err := LoadEnv(dir+"/missing.yaml", testEnv); err == nil {
		t.Error("LoadEnv of a missing file succeeded")
	}
}
