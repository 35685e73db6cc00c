package scenario

import (
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestFeeds(t *testing.T) {
	tests := []struct {
		name string
		feed string
		// rows[vu] lists the names the VU sees in its first iterations; VUs
		// take turns one iteration at a time.
		rows [][]string
	}{
		{
			name: "shared sequential hands rows out in file order across VUs",
			feed: "{file: users.csv}",
			rows: [][]string{{"alice", "carol", "bob"}, {"bob", "alice", "carol"}},
		},
		{
			name: "per-vu sequential: each VU starts at its own row and wraps",
			feed: "{file: users.csv, mode: per-vu, order: sequential}",
			rows: [][]string{{"alice", "bob", "carol", "alice"}, {"bob", "carol", "alice", "bob"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParse(t, "feeds:\n  users: "+tt.feed+"\nscenarios:\n  a:\n    duration: 1s\n    steps: [{url: \"http://127.0.0.1:9/{{users.name}}/{{users.name}}?p={{users.password}}\"}]")
			s := p.Scenarios[0]
			st := s.Flows[0].Steps[0]
			if st.Static() {
				t.Fatal("a step with feed columns is Static")
			}
			vus := make([]*VU, len(tt.rows))
			for i := range vus {
				vus[i] = s.NewVU(i)
			}
			got := make([][]string, len(vus))
			for it := range len(tt.rows[0]) {
				for i, vu := range vus {
					vu.NextFlow()
					r, err := st.Build(vu)
					if err != nil {
						t.Fatal(err)
					}
					path := strings.TrimPrefix(r.URL, "http://127.0.0.1:9/")
					name, rest, _ := strings.Cut(path, "/")
					again, pass, _ := strings.Cut(rest, "?p=")
					// One iteration sees one row: every reference agrees.
					if again != name || pass != map[string]string{"alice": "a1", "bob": "b2", "carol": "c3"}[name] {
						t.Fatalf("iteration %d VU %d: inconsistent row in %s", it, i, r.URL)
					}
					got[i] = append(got[i], name)
				}
			}
			for i := range got {
				if strings.Join(got[i], ",") != strings.Join(tt.rows[i], ",") {
					t.Errorf("VU %d saw %v, want %v", i, got[i], tt.rows[i])
				}
			}
		})
	}
}

func TestRandomFeedCoversRows(t *testing.T) {
	for _, mode := range []string{"shared", "per-vu"} {
		p := mustParse(t, "feeds:\n  p: {file: products.csv, order: random, mode: "+mode+"}\nscenarios:\n  a:\n    duration: 1s\n    steps: [{url: \"http://127.0.0.1:9/{{p.sku}}\"}]")
		s := p.Scenarios[0]
		vu := s.NewVU(0)
		seen := map[string]int{}
		for range 1000 {
			vu.NextFlow()
			r, err := s.Flows[0].Steps[0].Build(vu)
			if err != nil {
				t.Fatal(err)
			}
			seen[r.URL]++
		}
		// Two rows (the BOM of a spreadsheet export is stripped from "sku").
		a, b := seen["http://127.0.0.1:9/A-1"], seen["http://127.0.0.1:9/B-2"]
		if a+b != 1000 || a < 400 || b < 400 {
			t.Errorf("%s random: %v", mode, seen)
		}
	}
}

func TestExtractedVariables(t *testing.T) {
	p := mustParse(t, `
scenarios:
  a:
    duration: 1s
    steps:
      - name: login
        method: POST
        url: http://127.0.0.1:9/login
        extract:
          token: {json: auth.token}
          sid: {header: Set-Cookie, regex: "sid=([^;]+)"}
          csrf: {regex: 'name="csrf" value="(\w+)"'}
          whole: {regex: 'v\d+'}
          server: {header: server}
      - name: use
        url: "http://127.0.0.1:9/x?t={{token}}&s={{ sid }}"
        headers: {X-CSRF: "{{csrf}}", X-V: "{{whole}}/{{server}}"}
`)
	s := p.Scenarios[0]
	login, use := s.Flows[0].Steps[0], s.Flows[0].Steps[1]
	vu := s.NewVU(0)
	if _, err := use.Build(vu); err == nil || !strings.Contains(err.Error(), `variable "token" has no value yet`) {
		t.Fatalf("Build before extraction: err = %v", err)
	}
	resp := &Response{
		Status: 200,
		Header: http.Header{"Set-Cookie": {"theme=dark", "sid=abc123; Path=/"}, "Server": {"brink-target"}},
		Body:   []byte(`{"auth":{"token":"T-1"}} <input name="csrf" value="k9"> v42`),
	}
	if msg := login.Evaluate(vu, resp); msg != "" {
		t.Fatalf("Evaluate: %s", msg)
	}
	r, err := use.Build(vu)
	if err != nil {
		t.Fatal(err)
	}
	if r.URL != "http://127.0.0.1:9/x?t=T-1&s=abc123" || r.Header.Get("X-Csrf") != "k9" || r.Header.Get("X-V") != "v42/brink-target" {
		t.Errorf("built %s %v", r.URL, r.Header)
	}
	if v, ok := vu.Var("token"); !ok || v != "T-1" {
		t.Errorf("Var(token) = %q, %v", v, ok)
	}
	// Another VU has its own variables.
	if _, err := use.Build(s.NewVU(1)); err == nil {
		t.Error("a fresh VU sees another VU's variables")
	}
}

func TestExtractionFailures(t *testing.T) {
	p := mustParse(t, `
scenarios:
  a:
    duration: 1s
    steps:
      - {name: j, url: "http://127.0.0.1:9/", extract: {v: {json: data.id}}}
      - {name: h, url: "http://127.0.0.1:9/", extract: {v: {header: X-Id}}}
      - {name: hr, url: "http://127.0.0.1:9/", extract: {v: {header: X-Id, regex: "id=(\\d+)"}}}
      - {name: b, url: "http://127.0.0.1:9/", extract: {v: {regex: "id=(\\d+)"}}}
`)
	steps := p.Scenarios[0].Flows[0].Steps
	vu := p.Scenarios[0].NewVU(0)
	tests := []struct {
		step int
		resp Response
		want string
	}{
		{0, Response{Body: []byte(`{"data":{}}`)}, "extract v: json data.id missing"},
		{0, Response{Body: []byte(`<html>`)}, "extract v: json data.id: body is not valid JSON (at byte 0)"},
		{1, Response{Header: http.Header{}}, "extract v: header X-Id missing"},
		{2, Response{Header: http.Header{"X-Id": {"none"}}}, `extract v: header X-Id does not match /id=(\d+)/`},
		{3, Response{Body: []byte("nothing")}, `extract v: body does not match /id=(\d+)/`},
		{3, Response{Body: []byte("id=7")}, ""},
	}
	for _, tt := range tests {
		if got := steps[tt.step].Evaluate(vu, &tt.resp); got != tt.want {
			t.Errorf("step %s: Evaluate = %q, want %q", steps[tt.step].Name, got, tt.want)
		}
	}
	if v, _ := vu.Var("v"); v != "7" {
		t.Errorf("v = %q after the successful extraction", v)
	}
}

func TestChecks(t *testing.T) {
	p := mustParse(t, `
vars: {user: alice}
feeds: {users: {file: users.csv}}
scenarios:
  a:
    duration: 1s
    steps:
      - {name: code, url: "http://127.0.0.1:9/", check: {status: 201}}
      - {name: list, url: "http://127.0.0.1:9/", check: {status: [200, 3xx, 404]}}
      - {name: class, url: "http://127.0.0.1:9/", check: {status: 2xx}}
      - {name: h-eq, url: "http://127.0.0.1:9/", check: {headers: {content-type: application/json}}}
      - {name: h-contains, url: "http://127.0.0.1:9/", check: {headers: {Content-Type: {contains: json}}}}
      - {name: h-regex, url: "http://127.0.0.1:9/", check: {headers: {Set-Cookie: {regex: "^sid="}}}}
      - {name: h-exists, url: "http://127.0.0.1:9/", check: {headers: {X-Id: {exists: true}}}}
      - {name: h-absent, url: "http://127.0.0.1:9/", check: {headers: {X-Debug: {exists: false}}}}
      - {name: body, url: "http://127.0.0.1:9/", check: {body_contains: ["hello", "{{user}}"]}}
      - {name: body-not, url: "http://127.0.0.1:9/", check: {body_not_contains: error}}
      - {name: body-re, url: "http://127.0.0.1:9/", check: {body_regex: "count=\\d+"}}
      - {name: j-num, url: "http://127.0.0.1:9/", check: {json: {"items[1].n": 3}}}
      - {name: j-str, url: "http://127.0.0.1:9/", check: {json: {user.name: "{{users.name}}"}}}
      - {name: j-bool, url: "http://127.0.0.1:9/", check: {json: {ok: true}}}
      - {name: j-exists, url: "http://127.0.0.1:9/", check: {json: {"items[0]": {exists: true}, missing: {exists: false}}}}
      - {name: j-regex, url: "http://127.0.0.1:9/", check: {json: {user.email: {regex: "@example\\.com$"}}}}
      - {name: j-null, url: "http://127.0.0.1:9/", check: {json: {gone: null}}}
`)
	steps := map[string]*Step{}
	for _, st := range p.Scenarios[0].Flows[0].Steps {
		steps[st.Name] = st
	}
	vu := p.Scenarios[0].NewVU(0)
	vu.NextFlow() // the shared users feed gives this VU "alice"
	jsonBody := []byte(`{"ok":true,"gone":null,"items":[{"n":1},{"n":3.0}],"user":{"name":"alice","email":"a@example.com"}}`)
	tests := []struct {
		step string
		resp Response
		want string
	}{
		{"code", Response{Status: 201}, ""},
		{"code", Response{Status: 200}, "status 200, want 201"},
		{"list", Response{Status: 404}, ""},
		{"list", Response{Status: 302}, ""},
		{"list", Response{Status: 500}, "status 500, want 200 or 3xx or 404"},
		{"class", Response{Status: 204}, ""},
		{"class", Response{Status: 503}, "status 503, want 2xx"},
		{"h-eq", Response{Header: http.Header{"Content-Type": {"application/json"}}}, ""},
		{"h-eq", Response{Header: http.Header{"Content-Type": {"text/html"}}}, `header Content-Type is "text/html", want "application/json"`},
		{"h-eq", Response{Header: http.Header{}}, "header Content-Type missing"},
		{"h-contains", Response{Header: http.Header{"Content-Type": {"application/json; charset=utf-8"}}}, ""},
		{"h-contains", Response{Header: http.Header{"Content-Type": {"text/plain"}}}, `header Content-Type is "text/plain", does not contain "json"`},
		{"h-regex", Response{Header: http.Header{"Set-Cookie": {"a=1", "sid=2"}}}, ""},
		{"h-regex", Response{Header: http.Header{"Set-Cookie": {"a=1"}}}, `header Set-Cookie is "a=1", does not match /^sid=/`},
		{"h-exists", Response{Header: http.Header{"X-Id": {""}}}, ""},
		{"h-exists", Response{Header: http.Header{}}, "header X-Id missing"},
		{"h-absent", Response{Header: http.Header{}}, ""},
		{"h-absent", Response{Header: http.Header{"X-Debug": {"1"}}}, "header X-Debug present (1), want absent"},
		{"body", Response{Body: []byte("hello alice")}, ""},
		{"body", Response{Body: []byte("hello bob")}, `body does not contain "alice"`},
		{"body", Response{Body: []byte("alice")}, `body does not contain "hello"`},
		{"body-not", Response{Body: []byte("fine")}, ""},
		{"body-not", Response{Body: []byte("internal error")}, `body contains "error"`},
		{"body-re", Response{Body: []byte("count=12")}, ""},
		{"body-re", Response{Body: []byte("count=")}, `body does not match /count=\d+/`},
		{"j-num", Response{Body: jsonBody}, ""},
		{"j-num", Response{Body: []byte(`{"items":[{},{"n":"3"}]}`)}, `json items[1].n is "3", want 3`},
		{"j-num", Response{Body: []byte(`{"items":[{}]}`)}, "json items[1].n missing"},
		{"j-str", Response{Body: jsonBody}, ""},
		{"j-str", Response{Body: []byte(`{"user":{"name":"bob"}}`)}, `json user.name is "bob", want alice`},
		{"j-bool", Response{Body: jsonBody}, ""},
		{"j-bool", Response{Body: []byte(`{"ok":false}`)}, "json ok is false, want true"},
		{"j-exists", Response{Body: jsonBody}, ""},
		{"j-exists", Response{Body: []byte(`{"items":[]}`)}, "json items[0] missing"},
		{"j-exists", Response{Body: []byte(`{"items":[1],"missing":0}`)}, "json missing present (0), want absent"},
		{"j-regex", Response{Body: jsonBody}, ""},
		{"j-regex", Response{Body: []byte(`{"user":{"email":"a@example.org"}}`)}, `json user.email is "a@example.org", does not match /@example\.com$/`},
		{"j-null", Response{Body: jsonBody}, ""},
		{"j-null", Response{Body: []byte(`not json`)}, "json gone: body is not valid JSON (at byte 0)"},
	}
	for _, tt := range tests {
		if got := steps[tt.step].Evaluate(vu, &tt.resp); got != tt.want {
			t.Errorf("%s on %+v: got %q, want %q", tt.step, tt.resp, got, tt.want)
		}
	}
}

func TestExpectsStatus(t *testing.T) {
	p := mustParse(t, `
scenarios:
  a:
    duration: 1s
    steps:
      - {url: "http://127.0.0.1:9/", check: {status: [404, 5xx]}}
      - {url: "http://127.0.0.1:9/", check: {body_contains: x}}
`)
	withStatus, without := p.Scenarios[0].Flows[0].Steps[0], p.Scenarios[0].Flows[0].Steps[1]
	for code, want := range map[int]bool{404: true, 503: true, 400: false, 200: false} {
		if got := withStatus.ExpectsStatus(code); got != want {
			t.Errorf("ExpectsStatus(%d) = %v, want %v", code, got, want)
		}
	}
	if without.ExpectsStatus(404) || without.ExpectsStatus(200) {
		t.Error("a step without a status check expects a status")
	}
}

func TestChecksStopBeforeExtraction(t *testing.T) {
	p := mustParse(t, `
scenarios:
  a:
    duration: 1s
    steps: [{url: "http://127.0.0.1:9/", check: {status: 200}, extract: {id: {json: id}}}]
`)
	st := p.Scenarios[0].Flows[0].Steps[0]
	vu := p.Scenarios[0].NewVU(0)
	if got := st.Evaluate(vu, &Response{Status: 500, Body: []byte(`{"id":1}`)}); got != "status 500, want 200" {
		t.Errorf("Evaluate = %q", got)
	}
	if _, ok := vu.Var("id"); ok {
		t.Error("a value was extracted from a response whose checks failed")
	}
}

func TestJSONPath(t *testing.T) {
	body := `  {"a": {"b": [10, {"c": "x\"y"}, [1, [2, 3]]], "e\u0073c": "ok"},
	          "n": -1.5e3, "t": true, "arr": [], "obj": {}, "s": "br]ace}"}`
	tests := []struct {
		path  string
		raw   string
		found bool
		err   string
	}{
		{"a.b[0]", "10", true, ""},
		{"a.b[1].c", `"x\"y"`, true, ""},
		{"a.b[2][1][0]", "2", true, ""},
		{"a.b[2][1]", "[2, 3]", true, ""},
		{"a.esc", `"ok"`, true, ""},
		{"n", "-1.5e3", true, ""},
		{"t", "true", true, ""},
		{"s", `"br]ace}"`, true, ""},
		{"arr[0]", "", false, ""},
		{"obj.k", "", false, ""},
		{"a.b[9]", "", false, ""},
		{"a.missing", "", false, ""},
		{"n.x", "", false, ""},
		{"t[0]", "", false, ""},
		{"a", `{"b": [10, {"c": "x\"y"}, [1, [2, 3]]], "e\u0073c": "ok"}`, true, ""},
	}
	for _, tt := range tests {
		p, err := compileJSONPath(tt.path)
		if err != nil {
			t.Fatalf("compile %q: %v", tt.path, err)
		}
		raw, found, err := p.lookup([]byte(body))
		if string(raw) != tt.raw || found != tt.found || (err != nil) != (tt.err != "") {
			t.Errorf("%s: got %q found=%v err=%v, want %q found=%v", tt.path, raw, found, err, tt.raw, tt.found)
		}
	}
	root, _ := compileJSONPath("[1].id")
	if raw, found, _ := root.lookup([]byte(`[{"id":1},{"id":2}]`)); !found || string(raw) != "2" {
		t.Errorf("[1].id on a root array: %q %v", raw, found)
	}
	// The scan stops at the value it looks for; a path that is not there
	// walks the whole body and so meets any syntax error.
	for _, bad := range []string{``, `{"a":`, `{"a" 1}`, `{"a":1,`, `{"a":tru}`, `{"a":"x`, `{"b":[1,2`, `{"b":01}`, "{\"b\":\"\x01\"}", `{"a":1 "b":2}`, `{1:2}`} {
		p, _ := compileJSONPath("zz")
		if _, found, err := p.lookup([]byte(bad)); err == nil || found {
			t.Errorf("lookup zz in %q: found=%v err=%v, want a syntax error", bad, found, err)
		}
	}
}

func TestJSONPathCompileErrors(t *testing.T) {
	tests := map[string]string{
		"":      "empty JSON path: use a dotted path such as data.items[0].id",
		"a.":    `JSON path "a." ends with '.'`,
		"a..b":  `JSON path "a..b": empty key at position 3`,
		"a[x]":  `JSON path "a[x]": array index "x" is not a non-negative integer`,
		"a[-1]": `JSON path "a[-1]": array index "-1" is not a non-negative integer`,
		"a[1":   `JSON path "a[1": missing ']' after position 2`,
		"a[1]b": `JSON path "a[1]b": expected '.' or '[' after ']' at position 5`,
		"a[0].": `JSON path "a[0]." ends with '.'`,
		".a":    `JSON path ".a": empty key at position 1`,
	}
	for path, want := range tests {
		if _, err := compileJSONPath(path); err == nil || err.Error() != want {
			t.Errorf("compile %q: err = %v, want %q", path, err, want)
		}
	}
}

func TestThinkSample(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		think    Think
		lo, hi   time.Duration
		meanWant time.Duration
	}{
		{Think{}, 0, 0, 0},
		{Think{Kind: ThinkConstant, Duration: 250 * time.Millisecond}, 250 * time.Millisecond, 250 * time.Millisecond, 250 * time.Millisecond},
		{Think{Kind: ThinkUniform, Min: time.Second, Max: 3 * time.Second}, time.Second, 3 * time.Second, 2 * time.Second},
		{Think{Kind: ThinkExponential, Mean: 100 * time.Millisecond}, 0, ExponentialCap * 100 * time.Millisecond, 100 * time.Millisecond},
	}
	for _, tt := range tests {
		const n = 20000
		var sum time.Duration
		for range n {
			d := tt.think.Sample(r)
			if d < tt.lo || d > tt.hi {
				t.Fatalf("%v: sample %v outside [%v, %v]", tt.think, d, tt.lo, tt.hi)
			}
			sum += d
		}
		mean := sum / n
		if diff := mean - tt.meanWant; diff < -tt.meanWant/20 || diff > tt.meanWant/20 {
			t.Errorf("%v: mean %v, want %v±5%%", tt.think, mean, tt.meanWant)
		}
	}
}

func TestParseThink(t *testing.T) {
	tests := []struct {
		in   string
		want Think
		err  string
	}{
		{"500ms", Think{Kind: ThinkConstant, Duration: 500 * time.Millisecond}, ""},
		{"constant(2s)", Think{Kind: ThinkConstant, Duration: 2 * time.Second}, ""},
		{"uniform(1s, 3s)", Think{Kind: ThinkUniform, Min: time.Second, Max: 3 * time.Second}, ""},
		{" exponential( 2s ) ", Think{Kind: ThinkExponential, Mean: 2 * time.Second}, ""},
		{"0", Think{}, ""},
		{"exponential(0s)", Think{}, ""},
		{"2", Think{}, `expected a duration (500ms), uniform(MIN, MAX) or exponential(MEAN), got "2"`},
		{"uniform(3s, 1s)", Think{}, "uniform(3s, 1s): the maximum is below the minimum"},
		{"uniform(1s)", Think{}, "uniform takes two durations, e.g. uniform(1s, 3s)"},
		{"exponential(1s, 2s)", Think{}, "exponential takes one duration (the mean), e.g. exponential(2s)"},
		{"constant(1s, 2s)", Think{}, "constant takes one duration, e.g. constant(500ms)"},
		{"unifrom(1s, 2s)", Think{}, `unknown distribution "unifrom" (did you mean "uniform"?); use constant, uniform or exponential`},
		{"uniform(1s, 2s", Think{}, `missing ')' in "uniform(1s, 2s"`},
		{"uniform(1s, x)", Think{}, `argument 2 of uniform: expected a duration like 500ms, 2s or 1m30s, got "x"`},
		{"-1s", Think{}, `expected a duration (500ms), uniform(MIN, MAX) or exponential(MEAN), got "-1s"`},
	}
	for _, tt := range tests {
		got, err := parseThink(tt.in)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("parseThink(%q): err = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("parseThink(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseRate(t *testing.T) {
	tests := []struct {
		in   string
		v    float64
		unit time.Duration
		err  bool
	}{
		{"100", 100, 0, false},
		{"100/s", 100, time.Second, false},
		{"6000/m", 6000, time.Minute, false},
		{"2/h", 2, time.Hour, false},
		{"10/5s", 10, 5 * time.Second, false},
		{"2.5/s", 2.5, time.Second, false},
		{"x/s", 0, 0, true},
		{"10/parsec", 0, 0, true},
		{"-1/s", 0, 0, true},
		{"10/0s", 0, 0, true},
		{"NaN", 0, 0, true},
	}
	for _, tt := range tests {
		v, unit, err := parseRate(tt.in)
		if (err != nil) != tt.err || v != tt.v || unit != tt.unit {
			t.Errorf("parseRate(%q) = %v, %v, %v", tt.in, v, unit, err)
		}
	}
}

func TestSuggest(t *testing.T) {
	keys := []string{"duration", "iterations", "executor", "vus", "max_vus"}
	tests := map[string]string{"duraton": "duration", "iteration": "iterations", "vu": "vus", "Executor": "executor", "zzz": "", "maxvus": "max_vus", "vsu": "vus", "duratoin": "duration", "exceutor": "executor"}
	for in, want := range tests {
		if got := suggest(in, keys); got != want {
			t.Errorf("suggest(%q) = %q, want %q", in, got, want)
		}
	}
}
