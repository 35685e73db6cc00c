package scenario

import (
	"errors"
	"net/http"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the parser. It must never panic or
// hang; it must return either a *Error or a plan whose runtime works:
// every step builds (or says which variable is missing) and evaluates a
// response made of the same bytes.
func FuzzParse(f *testing.F) {
	for _, tt := range errorCases {
		if tt.name != "alias bomb" { // slow by design; mutating it wastes the fuzzer's time
			f.Add([]byte(tt.src))
		}
	}
	f.Add([]byte(`
vars: {base: "http://127.0.0.1:9"}
feeds: {users: {file: users.csv, mode: per-vu, order: random}}
options: {timeout: 2s, headers: {X-A: b}}
thresholds: [p95<200ms]
scenarios:
  a:
    executor: ramping-arrival-rate
    start_rate: 1/s
    stages: [{target: 10, duration: 1s}]
    flows:
      - name: f
        weight: 2
        steps:
          - {url: "{{base}}/{{users.name}}", think: uniform(1ms, 2ms), check: {status: [2xx, 404], json: {"a[0].b": 1}}, extract: {t: {json: a}}}
          - {url: "{{base}}/{{t}}", check: {headers: {X: {regex: "a+"}}, body_contains: "{{t}}"}, extract: {h: {header: X, regex: "(.)"}}}
`))
	dir := f.TempDir()
	for name, content := range defaultData {
		writeFileIn(f, dir, name, content)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		p, err := ParseEnv("f.yaml", src, dir, testEnv)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not a *Error: %v", err, err)
			}
			if pe.Msg == "" || pe.Line < 0 || pe.Column < 0 {
				t.Fatalf("malformed error %+v", pe)
			}
			_ = pe.Error()
			return
		}
		budget := 200
		resp := &Response{Status: 200, Header: http.Header{"X": {string(src)}}, Body: src}
		for _, s := range p.Scenarios {
			vu := s.NewVU(1)
			for range 3 {
				fl := vu.NextFlow()
				for _, st := range fl.Steps {
					if budget--; budget < 0 {
						return
					}
					r, err := st.Build(vu)
					if err == nil && (r.URL == "" || r.Method == "") {
						t.Fatalf("step %q built an empty request %+v", st.Name, r)
					}
					st.Evaluate(vu, resp)
					st.Think.Sample(vu.Rand())
				}
			}
		}
	})
}

// FuzzJSONPath checks the raw-bytes JSON scanner: it must not panic on
// any body, and what it finds must be a complete JSON value.
func FuzzJSONPath(f *testing.F) {
	f.Add("a.b[0]", []byte(`{"a":{"b":[1,2]}}`))
	f.Add("[1]", []byte(`[{"x":"}"},"\"]"]`))
	f.Add("x", []byte(`{"x":[[[[[]]]]]}`))
	f.Fuzz(func(t *testing.T, path string, body []byte) {
		p, err := compileJSONPath(path)
		if err != nil {
			return
		}
		raw, found, err := p.lookup(body)
		if found && (err != nil || len(raw) == 0) {
			t.Fatalf("found %q with err %v", raw, err)
		}
		if found && (raw[0] == '"' || raw[0] == 't' || raw[0] == 'f' || raw[0] == 'n' || raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9')) {
			if !jsonValid(raw) {
				t.Fatalf("lookup %q returned invalid scalar %q", path, raw)
			}
		}
		_ = jsonText(raw)
	})
}
