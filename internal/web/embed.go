// Package web serves the hub's web UI. The TypeScript UI in web/ is built
// by `make build` into internal/web/dist, which is embedded here; a binary
// built without it still runs and says so on every UI page.
package web

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed all:dist
var dist embed.FS

// NotBuilt is the answer for UI pages when the UI was not built.
const NotBuilt = "the web UI was not built: run make build\n"

// Handler serves the embedded UI build.
func Handler() http.Handler {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		// dist is part of the binary; fs.Sub fails only for an invalid name.
		panic(err)
	}
	return HandlerFS(sub)
}

// HandlerFS serves a UI build from root: files as they are, and index.html
// for any other path so that the UI's own routes (/runs/<id>?from=...) can
// be bookmarked and reloaded.
func HandlerFS(root fs.FS) http.Handler {
	files := http.FileServerFS(root)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		index, err := fs.ReadFile(root, "index.html")
		if err != nil {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(NotBuilt))
			return
		}
		name := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
		if name != "" && name != "index.html" {
			if st, err := fs.Stat(root, name); err == nil && !st.IsDir() {
				if strings.HasPrefix(name, "assets/") {
					// Vite puts a content hash in asset names: cache them for good.
					w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
				}
				files.ServeHTTP(w, r)
				return
			}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(index)
	})
}

// Built reports whether the binary holds a UI build.
func Built() bool {
	_, err := fs.Stat(dist, "dist/index.html")
	return err == nil
}
