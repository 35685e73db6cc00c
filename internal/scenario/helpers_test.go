package scenario

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// testEnv is the environment every test sees: nothing from the real
// process leaks in.
func testEnv(name string) string {
	return map[string]string{"BRINK_TOKEN": "s3cret", "BASE_URL": "http://127.0.0.1:9"}[name]
}

// writeFiles creates files (name → content) in a fresh directory.
func writeFiles(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// defaultData are the data files the parse tests may reference.
var defaultData = map[string]string{
	"users.csv":    "name,password\nalice,a1\nbob,b2\ncarol,c3\n",
	"products.csv": "\xef\xbb\xbfsku,price\nA-1,10\nB-2,20\n",
	"body.json":    `{"raw":"{{not a template}}"}`,
	"bad.csv":      "name,name\nx,y\n",
	"ragged.csv":   "a,b\n1,2\n3\n",
	"header.csv":   "only,header\n",
	"empty.csv":    "",
	"badcol.csv":   "user name,x\n1,2\n",
}

func mustParse(t *testing.T, src string) *Plan {
	t.Helper()
	dir := writeFiles(t, defaultData)
	p, err := ParseEnv("s.yaml", []byte(src), dir, testEnv)
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, src)
	}
	return p
}

func writeFileIn(tb testing.TB, dir, name, content string) {
	tb.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		tb.Fatal(err)
	}
}

func jsonValid(b []byte) bool { return json.Valid(b) }
