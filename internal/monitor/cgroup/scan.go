package cgroup

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// ValidatePattern checks a cgroup pattern such as "/system.slice/*.service"
// or "/mesos/*" (path.Match syntax, rooted at the hierarchy's root).
func ValidatePattern(p string) error {
	if !strings.HasPrefix(p, "/") {
		return fmt.Errorf("cgroup pattern %q must start with / (e.g. /system.slice/*.service)", p)
	}
	if _, err := path.Match(p, "/"); err != nil {
		return fmt.Errorf("cgroup pattern %q: %w", p, err)
	}
	return nil
}

// Glob returns the cgroups of the primary hierarchy that match any of
// patterns, as sorted paths relative to the hierarchy root. It runs every
// tick, so it lists directories (whose entries carry their type) instead
// of stating every match.
func Glob(l Layout, patterns []string) ([]string, error) {
	root := l.Primary()
	seen := map[string]bool{}
	for _, p := range patterns {
		parentPattern, last := path.Split(path.Clean(p))
		parents, err := filepath.Glob(filepath.Join(root, filepath.FromSlash(parentPattern)))
		if err != nil {
			return nil, fmt.Errorf("cgroup pattern %q: %w", p, err)
		}
		for _, parent := range parents {
			entries, err := os.ReadDir(parent)
			if err != nil {
				continue
			}
			for _, e := range entries {
				if !e.IsDir() {
					continue
				}
				if ok, _ := path.Match(last, e.Name()); !ok {
					continue
				}
				rel, err := filepath.Rel(root, filepath.Join(parent, e.Name()))
				if err != nil {
					continue
				}
				seen["/"+filepath.ToSlash(rel)] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out, nil
}

// FindContainer looks for the cgroup of the container with the given full
// ID when its process's /proc/<pid>/cgroup cannot be used (a private
// cgroup namespace). It tries the places Docker's cgroupfs and systemd
// drivers use, then searches the primary hierarchy up to depth levels deep
// for a directory whose name contains the ID.
func FindContainer(l Layout, id string, depth int) (string, bool) {
	root := l.Primary()
	for _, p := range []string{"/docker/" + id, "/system.slice/docker-" + id + ".scope"} {
		if fi, err := os.Stat(filepath.Join(root, p)); err == nil && fi.IsDir() {
			return p, true
		}
	}
	var found string
	var walk func(dir string, level int) bool
	walk = func(dir string, level int) bool {
		if level > depth {
			return false
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			return false
		}
		for _, e := range entries {
			if !e.IsDir() {
				continue
			}
			sub := filepath.Join(dir, e.Name())
			if strings.Contains(e.Name(), id) {
				rel, _ := filepath.Rel(root, sub)
				found = "/" + filepath.ToSlash(rel)
				return true
			}
			if walk(sub, level+1) {
				return true
			}
		}
		return false
	}
	if walk(root, 1) {
		return found, true
	}
	return "", false
}
