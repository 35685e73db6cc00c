package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func TestHandler(t *testing.T) {
	built := fstest.MapFS{
		"index.html":         {Data: []byte("<html>brink</html>")},
		"assets/app-abc1.js": {Data: []byte("console.log(1)")},
	}
	tests := []struct {
		name, path string
		fs         fstest.MapFS
		code       int
		body       string
	}{
		{"not built", "/", fstest.MapFS{".keep": {}}, http.StatusServiceUnavailable, "run make build"},
		{"index", "/", built, http.StatusOK, "<html>brink</html>"},
		{"asset", "/assets/app-abc1.js", built, http.StatusOK, "console.log(1)"},
		{"client route", "/runs/r-1", built, http.StatusOK, "<html>brink</html>"},
		{"traversal stays inside", "/../../etc/passwd", built, http.StatusOK, "<html>brink</html>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			HandlerFS(tt.fs).ServeHTTP(rec, httptest.NewRequest("GET", tt.path, nil))
			if rec.Code != tt.code || !strings.Contains(rec.Body.String(), tt.body) {
				t.Fatalf("%s: %d %q", tt.path, rec.Code, rec.Body.String())
			}
		})
	}
	// The embedded build answers one way or the other, never an error page.
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusOK && rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("embedded UI: %d", rec.Code)
	}
}
