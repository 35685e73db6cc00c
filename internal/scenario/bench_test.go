package scenario

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

const benchScenario = `
vars: {base: "http://127.0.0.1:9"}
feeds: {users: {file: users.csv, mode: per-vu}}
scenarios:
  a:
    duration: 1s
    flows:
      - name: one
        weight: 3
        steps:
          - name: static
            url: "{{base}}/"
            headers: {Accept: application/json}
          - name: dynamic
            method: POST
            url: "{{base}}/u/{{users.name}}?t={{token}}"
            headers: {Authorization: "Bearer {{token}}"}
            body: '{"user":"{{users.name}}","password":"{{users.password}}"}'
            check:
              status: 200
              headers: {Content-Type: {contains: json}}
              json: {"data.items[3].id": 4, data.owner: "{{users.name}}"}
            extract: {token: {json: data.token}}
      - {name: two, weight: 1, steps: [{url: "{{base}}/two"}]}
`

func benchPlan(b *testing.B) (*Scenario, *VU) {
	dir := writeFiles(b, defaultData)
	p, err := ParseEnv("bench.yaml", []byte(benchScenario), dir, testEnv)
	if err != nil {
		b.Fatal(err)
	}
	s := p.Scenarios[0]
	vu := s.NewVU(0)
	vu.NextFlow()
	vu.vars[s.varSlots["token"]], vu.varSet[s.varSlots["token"]] = "T-123", true
	return s, vu
}

func BenchmarkBuildStatic(b *testing.B) {
	s, vu := benchPlan(b)
	st := s.Flows[0].Steps[0]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := st.Build(vu); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBuildDynamic(b *testing.B) {
	s, vu := benchPlan(b)
	st := s.Flows[0].Steps[1]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := st.Build(vu); err != nil {
			b.Fatal(err)
		}
	}
}

// jsonBody is a 10 kB response with the checked fields in the middle.
func jsonBody() []byte {
	type item struct {
		ID   int    `json:"id"`
		Name string `json:"name"`
	}
	items := make([]item, 100)
	for i := range items {
		items[i] = item{ID: i + 1, Name: strings.Repeat("x", 60)}
	}
	body, _ := json.Marshal(map[string]any{
		"meta": map[string]any{"pad": strings.Repeat("p", 2000)},
		"data": map[string]any{"items": items, "owner": "alice", "token": "T-9"},
	})
	return body
}

func BenchmarkEvaluateJSON(b *testing.B) {
	s, vu := benchPlan(b)
	st := s.Flows[0].Steps[1]
	resp := &Response{Status: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: jsonBody()}
	if msg := st.Evaluate(vu, resp); msg != "" {
		b.Fatal(msg)
	}
	b.SetBytes(int64(len(resp.Body)))
	b.ReportAllocs()
	for b.Loop() {
		if msg := st.Evaluate(vu, resp); msg != "" {
			b.Fatal(msg)
		}
	}
}

// BenchmarkEvaluateJSONDecode is the same checks done by decoding the body
// with encoding/json, as the reference the scanner is measured against.
func BenchmarkEvaluateJSONDecode(b *testing.B) {
	body := jsonBody()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var v struct {
			Data struct {
				Items []struct {
					ID float64 `json:"id"`
				} `json:"items"`
				Owner string `json:"owner"`
				Token string `json:"token"`
			} `json:"data"`
		}
		if err := json.NewDecoder(bytes.NewReader(body)).Decode(&v); err != nil || v.Data.Items[3].ID != 4 || v.Data.Owner != "alice" {
			b.Fatal(err)
		}
	}
}

func BenchmarkNextFlow(b *testing.B) {
	_, vu := benchPlan(b)
	b.ReportAllocs()
	for b.Loop() {
		vu.NextFlow()
	}
}
