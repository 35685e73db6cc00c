package scenario

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestQuick(t *testing.T) {
	const u = "http://127.0.0.1:9/x"
	tests := []struct {
		name string
		o    QuickOptions
		want ExecutorConfig
	}{
		{"defaults: one VU for 10s", QuickOptions{URL: u},
			ExecutorConfig{Kind: ConstantVUs, VUs: 1, Duration: 10 * time.Second, GracefulStop: DefaultGracefulStop, TimeUnit: time.Second}},
		{"--vus --duration", QuickOptions{URL: u, VUs: 50, Duration: time.Minute},
			ExecutorConfig{Kind: ConstantVUs, VUs: 50, Duration: time.Minute, GracefulStop: DefaultGracefulStop, TimeUnit: time.Second}},
		{"--iterations alone has no duration", QuickOptions{URL: u, VUs: 4, Iterations: 1000},
			ExecutorConfig{Kind: ConstantVUs, VUs: 4, Iterations: 1000, GracefulStop: DefaultGracefulStop, TimeUnit: time.Second}},
		{"--rate", QuickOptions{URL: u, Rate: 500, Duration: 30 * time.Second},
			ExecutorConfig{Kind: ConstantArrivalRate, Rate: 500, Duration: 30 * time.Second, GracefulStop: DefaultGracefulStop, TimeUnit: time.Second, PreAllocatedVUs: 50, MaxVUs: 1000}},
		{"--rate with --vus caps the pool", QuickOptions{URL: u, Rate: 500, VUs: 20},
			ExecutorConfig{Kind: ConstantArrivalRate, Rate: 500, Duration: 10 * time.Second, GracefulStop: DefaultGracefulStop, TimeUnit: time.Second, PreAllocatedVUs: 20, MaxVUs: 20}},
		{"--rate --iterations runs just long enough", QuickOptions{URL: u, Rate: 40, Iterations: 100},
			ExecutorConfig{Kind: ConstantArrivalRate, Rate: 40, Iterations: 100, Duration: 3 * time.Second, GracefulStop: DefaultGracefulStop, TimeUnit: time.Second, PreAllocatedVUs: 10, MaxVUs: 100}},
		{"--ramp", QuickOptions{URL: u, Ramp: "30s:50,1m:50,10s:0"},
			ExecutorConfig{Kind: RampingVUs, GracefulStop: DefaultGracefulStop, TimeUnit: time.Second,
				Stages: []Stage{{50, 30 * time.Second}, {50, time.Minute}, {0, 10 * time.Second}}}},
		{"--ramp --vus starts there", QuickOptions{URL: u, VUs: 5, Ramp: "10s:20"},
			ExecutorConfig{Kind: RampingVUs, StartVUs: 5, GracefulStop: DefaultGracefulStop, TimeUnit: time.Second, Stages: []Stage{{20, 10 * time.Second}}}},
		{"--ramp --rate ramps the arrival rate", QuickOptions{URL: u, Rate: 100, Ramp: "1m:2000, 30s:0"},
			ExecutorConfig{Kind: RampingArrivalRate, StartRate: 100, GracefulStop: DefaultGracefulStop, TimeUnit: time.Second,
				Stages: []Stage{{2000, time.Minute}, {0, 30 * time.Second}}, PreAllocatedVUs: 200, MaxVUs: 4000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Quick(tt.o)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Scenarios[0].Executor; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("executor\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestQuickRequest(t *testing.T) {
	p, err := Quick(QuickOptions{
		URL: "http://127.0.0.1:9/api", Body: []byte(`{"a":1}`), Timeout: 3 * time.Second,
		Headers:    []string{"Content-Type: application/json", "X-Tag: a", "x-tag: b", "Authorization:  Bearer {{not-a-template}}"},
		Thresholds: []string{"p99<1s", "error_rate<0.5%"},
	})
	if err != nil {
		t.Fatal(err)
	}
	s := p.Scenarios[0]
	st := s.Flows[0].Steps[0]
	if !st.Static() || st.NeedsEvaluate() || st.Timeout != 3*time.Second || st.Name != "POST http://127.0.0.1:9/api" {
		t.Errorf("step: static=%v evaluate=%v timeout=%v name=%q", st.Static(), st.NeedsEvaluate(), st.Timeout, st.Name)
	}
	r, err := st.Build(s.NewVU(0))
	if err != nil {
		t.Fatal(err)
	}
	wantHeader := http.Header{"Content-Type": {"application/json"}, "X-Tag": {"a, b"}, "Authorization": {"Bearer {{not-a-template}}"}}
	if r.Method != "POST" || r.URL != "http://127.0.0.1:9/api" || string(r.Body) != `{"a":1}` || !reflect.DeepEqual(r.Header, wantHeader) {
		t.Errorf("request %+v", r)
	}
	if want := []string{"p99<1s", "error_rate<0.5%"}; !reflect.DeepEqual(p.Thresholds, want) {
		t.Errorf("thresholds %q", p.Thresholds)
	}
	if p.PlannedDuration() != DefaultQuickDuration {
		t.Errorf("PlannedDuration = %v", p.PlannedDuration())
	}
	if m := s.NewVU(0).NextFlow(); m != s.Flows[0] {
		t.Error("NextFlow did not return the only flow")
	}
}

func TestQuickErrors(t *testing.T) {
	const u = "http://127.0.0.1:9/"
	tests := []struct {
		o    QuickOptions
		want string
	}{
		{QuickOptions{}, `--url: URL "" must start with http:// or https://`},
		{QuickOptions{URL: "127.0.0.1:9"}, `--url: URL "127.0.0.1:9" must start with http:// or https://`},
		{QuickOptions{URL: "http://"}, `--url: URL "http://" has no host`},
		{QuickOptions{URL: u, Method: "G T"}, `--method: "G T" is not a valid HTTP method`},
		{QuickOptions{URL: u, Headers: []string{"NoColon"}}, `--header "NoColon": expected "Name: value"`},
		{QuickOptions{URL: u, Headers: []string{"Bad Name: x"}}, `--header "Bad Name: x": expected "Name: value"`},
		{QuickOptions{URL: u, Thresholds: []string{"p95<"}}, `--threshold "p95<": `},
		{QuickOptions{URL: u, VUs: -1}, "--vus: must not be negative"},
		{QuickOptions{URL: u, Rate: -5}, "--rate: must be a positive number"},
		{QuickOptions{URL: u, Duration: -time.Second}, "--duration: must not be negative"},
		{QuickOptions{URL: u, Iterations: -1}, "--iterations: must not be negative"},
		{QuickOptions{URL: u, Timeout: -time.Second}, "--timeout: must not be negative"},
		{QuickOptions{URL: u, Ramp: "10s:5", Duration: time.Minute}, "--duration and --ramp conflict: the ramp's stages set the length of the run"},
		{QuickOptions{URL: u, Ramp: "10s"}, `--ramp: stage 1 "10s": expected DURATION:TARGET, e.g. 30s:50`},
		{QuickOptions{URL: u, Ramp: "10:5"}, `--ramp: stage 1 "10:5": expected a duration like 500ms, 2s or 1m30s, got "10"`},
		{QuickOptions{URL: u, Ramp: "10s:5,5s:x"}, `--ramp: stage 2 "5s:x": the target "x" is not a non-negative number`},
		{QuickOptions{URL: u, Ramp: "0s:5"}, "--ramp: the stages add up to no time: give at least one a duration"},
		{QuickOptions{URL: u, Ramp: "10s:2.5"}, "--ramp: 2.5 VUs is not a whole number (add --rate to ramp an arrival rate instead)"},
	}
	for _, tt := range tests {
		_, err := Quick(tt.o)
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("Quick(%+v): err = %v, want %q", tt.o, err, tt.want)
		}
	}
}
