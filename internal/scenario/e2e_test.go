package scenario

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// shopServer is a small real HTTP service with a login that hands out a
// token and a session cookie, and pages that require them.
type shopServer struct {
	mu     sync.Mutex
	tokens map[string]string // token → user
	dead   bool              // answers 200 with an error page, like a wedged app
}

func (s *shopServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/login":
		var in struct{ User, Password string }
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&in) != nil {
			http.Error(w, "bad login request", http.StatusBadRequest)
			return
		}
		if in.Password != in.User[:1]+"1" && in.Password != in.User[:1]+"2" && in.Password != in.User[:1]+"3" {
			http.Error(w, `{"error":"wrong password"}`, http.StatusUnauthorized)
			return
		}
		token := fmt.Sprintf("tok-%s-%d", in.User, len(s.tokens))
		s.mu.Lock()
		s.tokens[token] = in.User
		s.mu.Unlock()
		http.SetCookie(w, &http.Cookie{Name: "sid", Value: "S" + in.User, Path: "/"})
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"ok":true,"session":{"token":%q,"roles":["user","buyer"]},"items":[{"id":11},{"id":42}]}`, token)
	case "/profile":
		s.mu.Lock()
		user := s.tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
		dead := s.dead
		s.mu.Unlock()
		c, err := r.Cookie("sid")
		if user == "" || err != nil || c.Value != "S"+user {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if dead {
			io.WriteString(w, "<h1>Internal error: database unavailable</h1>")
			return
		}
		fmt.Fprintf(w, "<h1>Hello %s</h1><p>item=%s</p>", user, r.URL.Query().Get("item"))
	default:
		http.NotFound(w, r)
	}
}

const shopScenario = `
vars:
  base: "{{env.BASE_URL}}"
feeds:
  users: {file: users.csv, mode: per-vu}
options:
  headers: {User-Agent: brink-test}
scenarios:
  shop:
    vus: 2
    duration: 1s
    steps:
      - name: login
        method: POST
        url: "{{base}}/login"
        headers: {Content-Type: application/json}
        body: '{"user":"{{users.name}}","password":"{{users.password}}"}'
        check:
          status: 200
          headers: {Content-Type: {contains: json}}
          json:
            ok: true
            session.roles[1]: buyer
            items[1].id: 42
        extract:
          token: {json: session.token}
          sid: {header: Set-Cookie, regex: "sid=([^;]+)"}
          item: {regex: '"id":(\d+)\}\]'}
      - name: profile
        url: "{{base}}/profile?item={{item}}"
        headers:
          Authorization: "Bearer {{token}}"
          Cookie: "sid={{sid}}"
        check:
          status: 2xx
          body_contains: ["Hello {{users.name}}", "item=42"]
          body_not_contains: error
`

// send performs a built request with net/http and returns what Evaluate
// needs.
func send(t *testing.T, r *Request) *Response {
	t.Helper()
	req, err := http.NewRequest(r.Method, r.URL, bytes.NewReader(r.Body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = r.Header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

func TestEndToEndChecksAndExtraction(t *testing.T) {
	srv := &shopServer{tokens: map[string]string{}}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	env := func(name string) string {
		if name == "BASE_URL" {
			return ts.URL
		}
		return ""
	}
	dir := writeFiles(t, defaultData)
	p, err := ParseEnv("shop.yaml", []byte(shopScenario), dir, env)
	if err != nil {
		t.Fatal(err)
	}
	s := p.Scenarios[0]
	// iteration runs one flow for vu and returns each step's verdict.
	iteration := func(vu *VU) []string {
		var verdicts []string
		for _, st := range vu.NextFlow().Steps {
			r, err := st.Build(vu)
			if err != nil {
				t.Fatal(err)
			}
			verdicts = append(verdicts, st.Evaluate(vu, send(t, r)))
		}
		return verdicts
	}
	vus := []*VU{s.NewVU(0), s.NewVU(1), s.NewVU(2)}
	for round := range 2 {
		for i, vu := range vus {
			if got := iteration(vu); got[0] != "" || got[1] != "" {
				t.Errorf("round %d VU %d: verdicts %q, want all checks passing", round, i, got)
			}
		}
	}
	// Each per-VU cursor moved on a row per iteration; VU 0 is now on bob.
	if tok, _ := vus[0].Var("token"); !strings.HasPrefix(tok, "tok-bob-") {
		t.Errorf("VU 0 token after two iterations = %q, want bob's", tok)
	}

	// The service answers 200 while it is broken: only the body check sees it.
	srv.mu.Lock()
	srv.dead = true
	srv.mu.Unlock()
	got := iteration(vus[1])
	if got[0] != "" || !strings.HasPrefix(got[1], `body does not contain "Hello `) {
		t.Errorf("dead service: verdicts %q, want the body check to fail", got)
	}

	// A stale token makes the profile page refuse: the status check says so.
	vus[2].NextFlow()
	vus[2].vars[s.varSlots["token"]] = "stale"
	r, err := s.Flows[0].Steps[1].Build(vus[2])
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Flows[0].Steps[1].Evaluate(vus[2], send(t, r)); got != "status 401, want 2xx" {
		t.Errorf("stale token: %q", got)
	}
}
