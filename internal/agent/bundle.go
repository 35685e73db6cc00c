package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/brinkhq/brink/internal/scenario"
)

// maxBundleBytes bounds what one run ships to each agent: the scenario
// and every file it reads.
const maxBundleBytes = 256 << 20

// Bundle is a scenario file with everything it reads, as shipped from
// the machine that starts a run to every agent: the data (feeds) and body
// files by the relative path the scenario uses, and the values of the
// {{env.NAME}} variables as the starting machine resolved them, so every
// agent runs exactly the plan that was checked before the start.
type Bundle struct {
	Filename string
	Text     []byte
	Files    map[string][]byte
	Env      map[string]string
}

// LoadBundle reads a scenario file, parses it (so a bad file fails here,
// before any agent is involved) and collects what it reads.
func LoadBundle(path string, getenv func(string) string) (*Bundle, *scenario.Plan, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read scenario file: %w", err)
	}
	rec := &envRecorder{getenv: getenv, seen: map[string]string{}}
	plan, err := scenario.ParseEnv(path, text, filepath.Dir(path), rec.lookup)
	if err != nil {
		return nil, nil, err
	}
	refs, err := referencedFiles(text)
	if err != nil {
		return nil, nil, err
	}
	b := &Bundle{Filename: filepath.Base(path), Text: text, Files: map[string][]byte{}, Env: rec.values()}
	size := int64(len(text))
	for _, ref := range refs {
		if filepath.IsAbs(ref) {
			return nil, nil, fmt.Errorf("%s refers to %s by an absolute path: agents receive the files a scenario reads by their path relative to the scenario file; refer to it relatively", path, ref)
		}
		full := filepath.Join(filepath.Dir(path), ref)
		fi, err := os.Stat(full)
		if errors.Is(err, fs.ErrNotExist) || (err == nil && !fi.Mode().IsRegular()) {
			// Not a file reference after all (the parser accepted the
			// scenario, so every file it reads exists).
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read %s for the agents: %w", full, err)
		}
		if size += fi.Size(); size > maxBundleBytes {
			return nil, nil, fmt.Errorf("%s and the files it reads are over %d MiB: too much to ship to every agent", path, maxBundleBytes>>20)
		}
		data, err := os.ReadFile(full)
		if err != nil {
			return nil, nil, fmt.Errorf("read %s for the agents: %w", full, err)
		}
		b.Files[filepath.ToSlash(filepath.Clean(ref))] = data
	}
	return b, plan, nil
}

// envRecorder remembers every environment variable the parser looked up.
type envRecorder struct {
	getenv func(string) string
	mu     sync.Mutex
	seen   map[string]string
}

func (r *envRecorder) lookup(name string) string {
	v := r.getenv(name)
	r.mu.Lock()
	r.seen[name] = v
	r.mu.Unlock()
	return v
}

func (r *envRecorder) values() map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]string{}
	for k, v := range r.seen {
		if v != "" {
			out[k] = v
		}
	}
	return out
}

// referencedFiles lists the paths a scenario may read: every feed's
// `file`, and every `body: "@path"` (a body of "@@..." is literal text).
func referencedFiles(text []byte) ([]string, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(text, &doc); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var walk func(n *yaml.Node, depth int)
	walk = func(n *yaml.Node, depth int) {
		if n == nil || depth > 64 {
			return
		}
		switch n.Kind {
		case yaml.DocumentNode, yaml.SequenceNode:
			for _, c := range n.Content {
				walk(c, depth+1)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				key, val := n.Content[i], n.Content[i+1]
				switch {
				case key.Value == "feeds" && depth == 1 && val.Kind == yaml.MappingNode:
					for j := 1; j < len(val.Content); j += 2 {
						if f := mappingValue(val.Content[j], "file"); f != "" {
							seen[f] = true
						}
					}
				case key.Value == "body" && val.Kind == yaml.ScalarNode &&
					strings.HasPrefix(val.Value, "@") && !strings.HasPrefix(val.Value, "@@"):
					seen[strings.TrimPrefix(val.Value, "@")] = true
				}
				walk(val, depth+1)
			}
		}
	}
	walk(&doc, 0)
	return slices.Sorted(maps.Keys(seen)), nil
}

func mappingValue(n *yaml.Node, key string) string {
	if n.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key && n.Content[i+1].Kind == yaml.ScalarNode {
			return n.Content[i+1].Value
		}
	}
	return ""
}

// Materialize writes the bundle's files under dir, placing the scenario
// deep enough that every relative path (including "../data.csv") lands
// inside dir, and parses the plan from there.
func (b *Bundle) Materialize(dir string) (*scenario.Plan, error) {
	depth := 0
	for name := range b.Files {
		if filepath.IsAbs(name) {
			return nil, fmt.Errorf("bundle file %q: absolute paths are not shipped", name)
		}
		up := 0
		for _, part := range strings.Split(filepath.ToSlash(filepath.Clean(name)), "/") {
			if part == ".." {
				up++
			}
		}
		depth = max(depth, up)
	}
	if depth > 32 {
		return nil, fmt.Errorf("bundle files reach %d directories above the scenario: too deep", depth)
	}
	base := dir
	for i := 0; i < depth; i++ {
		base = filepath.Join(base, "s")
	}
	for name, data := range b.Files {
		full := filepath.Join(base, filepath.FromSlash(name))
		if rel, err := filepath.Rel(dir, full); err != nil || strings.HasPrefix(rel, "..") {
			return nil, fmt.Errorf("bundle file %q lies outside the run's directory", name)
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return nil, fmt.Errorf("write bundle file: %w", err)
		}
		if err := os.WriteFile(full, data, 0o600); err != nil {
			return nil, fmt.Errorf("write bundle file: %w", err)
		}
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		return nil, fmt.Errorf("write bundle: %w", err)
	}
	env := func(name string) string { return b.Env[name] }
	return scenario.ParseEnv(b.Filename, b.Text, base, env)
}
