package agent

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/brinkhq/brink/internal/results"
)

func second(t int64, requests int64) *results.Second {
	s := results.NewSecond(t)
	s.Stats("page").Requests = requests
	return s
}

// TestMerger: seconds of several engines are emitted once per wall-clock
// second, in order, only when every running engine has passed them.
func TestMerger(t *testing.T) {
	type step struct {
		op     string // add, sec, done
		engine int
		t      int64
		n      int64
	}
	tests := []struct {
		name  string
		steps []step
		want  map[int64]int64 // emitted second -> requests
		order []int64
		ended bool
	}{
		{
			name: "two engines merge",
			steps: []step{
				{op: "add", engine: 0, t: 99}, {op: "add", engine: 1, t: 99},
				{op: "sec", engine: 0, t: 100, n: 3}, {op: "sec", engine: 0, t: 101, n: 4},
				{op: "sec", engine: 1, t: 100, n: 5},
				{op: "done", engine: 0}, {op: "done", engine: 1},
			},
			want: map[int64]int64{100: 8, 101: 4}, order: []int64{100, 101}, ended: true,
		},
		{
			name: "a slow engine holds seconds back",
			steps: []step{
				{op: "add", engine: 0, t: 99}, {op: "add", engine: 1, t: 99},
				{op: "sec", engine: 0, t: 100, n: 1}, {op: "sec", engine: 0, t: 101, n: 1},
			},
			want: map[int64]int64{}, order: nil,
		},
		{
			name: "an engine added later does not hold older seconds",
			steps: []step{
				{op: "add", engine: 0, t: 99},
				{op: "sec", engine: 0, t: 100, n: 2},
				{op: "add", engine: 1, t: 100},
				{op: "sec", engine: 0, t: 101, n: 2}, {op: "sec", engine: 1, t: 101, n: 7},
			},
			want: map[int64]int64{100: 2, 101: 9}, order: []int64{100, 101},
		},
		{
			name: "a late second joins the next one, never resent",
			steps: []step{
				{op: "add", engine: 0, t: 99}, {op: "add", engine: 1, t: 99},
				{op: "sec", engine: 0, t: 100, n: 1}, {op: "sec", engine: 1, t: 101, n: 1},
				{op: "sec", engine: 0, t: 102, n: 1},
				{op: "sec", engine: 1, t: 100, n: 5}, // arrives after 100 was emitted
				{op: "done", engine: 0}, {op: "done", engine: 1},
			},
			want: map[int64]int64{100: 1, 101: 1, 102: 1 + 5}, order: []int64{100, 101, 102}, ended: true,
		},
		{
			name:  "no engine at all ends at once",
			steps: []step{{op: "release"}},
			want:  map[int64]int64{}, ended: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := map[int64]int64{}
			var order []int64
			ended := false
			m := newMerger(func(s *results.Second) {
				got[s.T] += s.Total().Requests
				order = append(order, s.T)
			}, func() { ended = true })
			ids := map[int]int{}
			for _, st := range tc.steps {
				switch st.op {
				case "add":
					ids[st.engine] = m.add(st.t)
				case "sec":
					m.second(ids[st.engine], second(st.t, st.n))
				case "done":
					m.done(ids[st.engine])
				case "release":
					m.hold()
					m.release()
				}
			}
			if !maps.Equal(got, tc.want) || !slices.Equal(order, tc.order) || ended != tc.ended {
				t.Errorf("emitted %v in order %v, ended %v; want %v, %v, %v", got, order, ended, tc.want, tc.order, tc.ended)
			}
		})
	}
}

func TestClockEstimatorTrustsTheShortestRoundTrip(t *testing.T) {
	var c clockEstimator
	if c.offset() != 0 {
		t.Fatal("offset before any sample")
	}
	base := time.Unix(1_800_000_000, 0)
	// The hub's clock is 40 ms ahead. A slow round trip (its answer late by
	// 300 ms on the way back) misleads; the fast one does not.
	c.add(base, base.Add(310*time.Millisecond), base.Add(40*time.Millisecond+5*time.Millisecond).UnixNano())
	c.add(base.Add(time.Second), base.Add(time.Second+2*time.Millisecond), base.Add(time.Second+41*time.Millisecond).UnixNano())
	if got := time.Duration(c.offset()); got != 40*time.Millisecond {
		t.Errorf("offset %s, want 40ms", got)
	}
}

func TestBundle(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "tests")
	for name, content := range map[string]string{
		"tests/users.csv":  "name\nann\nbob\n",
		"shared/body.json": `{"x":1}`,
		"tests/s.yaml": `feeds:
  users: {file: users.csv}
scenarios:
  main:
    vus: 1
    duration: 1s
    steps:
      - name: post
        method: POST
        url: "{{env.BASE}}/{{users.name}}"
        body: "@../shared/body.json"
      - name: literal
        url: "{{env.BASE}}/x"
        body: "@@not a file"
`,
	} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	getenv := func(name string) string {
		if name == "BASE" {
			return "http://127.0.0.1:1"
		}
		return ""
	}
	b, _, err := LoadBundle(filepath.Join(sub, "s.yaml"), getenv)
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(b.Files)); !slices.Equal(got, []string{"../shared/body.json", "users.csv"}) {
		t.Errorf("files %v", got)
	}
	if !maps.Equal(b.Env, map[string]string{"BASE": "http://127.0.0.1:1"}) {
		t.Errorf("env %v", b.Env)
	}
	// Elsewhere, with none of the files and no environment, the bundle
	// parses to the same plan.
	plan, err := b.Materialize(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	vu := plan.Scenarios[0].NewVU(0)
	vu.NextFlow()
	r, err := plan.Scenarios[0].Flows[0].Steps[0].Build(vu)
	if err != nil || string(r.Body) != `{"x":1}` || r.URL != "http://127.0.0.1:1/ann" {
		t.Errorf("request %+v, %v", r, err)
	}

	// An absolute path cannot travel.
	abs := filepath.Join(dir, "abs.yaml")
	text := strings.Replace(`scenarios:
  main:
    vus: 1
    duration: 1s
    steps:
      - {name: p, method: POST, url: "http://127.0.0.1:1/", body: "@BODY"}
`, "BODY", filepath.Join(dir, "shared", "body.json"), 1)
	if err := os.WriteFile(abs, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadBundle(abs, getenv); err == nil || !strings.Contains(err.Error(), "absolute path") {
		t.Errorf("absolute path: %v", err)
	}
}
