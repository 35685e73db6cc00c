package hub

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
)

// tokens is the set of accepted writer tokens; empty means writers need
// none. It is swapped whole on reload.
type tokens struct {
	set atomic.Pointer[[]string]
}

// readTokenFiles reads one token per non-empty line from each file.
func readTokenFiles(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read token file: %w", err)
		}
		n := 0
		for line := range strings.SplitSeq(string(b), "\n") {
			if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "#") {
				out = append(out, t)
				n++
			}
		}
		if n == 0 {
			return nil, fmt.Errorf("token file %s holds no token: put one token per line", p)
		}
	}
	return out, nil
}

func (t *tokens) required() bool {
	s := t.set.Load()
	return s != nil && len(*s) > 0
}

// allowed checks the request's bearer token in constant time per token.
func (t *tokens) allowed(r *http.Request) bool {
	s := t.set.Load()
	if s == nil || len(*s) == 0 {
		return true
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	match := 0
	for _, want := range *s {
		match |= subtle.ConstantTimeCompare([]byte(got), []byte(want))
	}
	return match == 1
}

// requireToken answers 401 to writers without a valid token.
func (h *Hub) requireToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !h.tokens.allowed(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="brink hub"`)
			writeError(w, http.StatusUnauthorized, "unauthorized",
				"a valid token is required: send 'Authorization: Bearer <token>' with the token from the hub's --token-file")
			return
		}
		next.ServeHTTP(w, r)
	})
}
