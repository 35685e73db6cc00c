package scenario

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/brinkhq/brink/internal/target"
)

// TestExamples loads every example scenario and runs each of its flows
// against the real sample target: every check in the examples must hold
// against brink-target in its normal mode.
func TestExamples(t *testing.T) {
	srv, err := target.New(target.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	env := func(name string) string {
		return map[string]string{"BRINK_API_TOKEN": "example-token"}[name]
	}
	files, err := filepath.Glob("../../examples/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples found: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			if _, err := LoadEnv(file, env); err != nil {
				t.Fatalf("as written: %v", err)
			}
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			// Aim the example at the test's target instead of 127.0.0.1:8080.
			local := strings.ReplaceAll(string(src), "http://127.0.0.1:8080", ts.URL)
			p, err := ParseEnv(file, []byte(local), filepath.Dir(file), env)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range p.Scenarios {
				vu := s.NewVU(0)
				seen := map[*Flow]bool{}
				// Enough iterations that every weighted flow runs (the
				// rarest has a tenth of the weight in these files).
				for i := 0; i < 200 && len(seen) < len(s.Flows); i++ {
					fl := vu.NextFlow()
					seen[fl] = true
					for _, st := range fl.Steps {
						r, err := st.Build(vu)
						if err != nil {
							t.Fatalf("scenario %s step %s: %v", s.Name, st.Name, err)
						}
						if got := st.Evaluate(vu, send(t, r)); got != "" {
							t.Errorf("scenario %s step %s (%s %s): %s", s.Name, st.Name, r.Method, r.URL, got)
						}
					}
				}
				if len(seen) != len(s.Flows) {
					t.Errorf("scenario %s: only %d of %d flows ran", s.Name, len(seen), len(s.Flows))
				}
			}
		})
	}
}
