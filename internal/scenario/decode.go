package scenario

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// decoder walks a yaml.Node tree so that every value keeps its position.
// It records the first error and keeps walking harmlessly; callers check
// d.err at the points where continuing would be meaningless.
type decoder struct {
	file    string
	baseDir string
	getenv  func(string) string
	lines   []string
	budget  int // nodes left to visit; aliases must not expand without bound
	err     *Error
}

// maxNodes bounds the nodes visited (aliases included).
const maxNodes = 100_000

func (d *decoder) failed() bool { return d.err != nil }

func (d *decoder) fail(n *yaml.Node, field, format string, args ...any) {
	line, col := 0, 0
	if n != nil {
		line, col = n.Line, n.Column
	}
	d.failAt(line, col, field, format, args...)
}

func (d *decoder) failAt(line, col int, field, format string, args ...any) {
	if d.err != nil {
		return
	}
	d.err = &Error{File: d.file, Line: line, Column: col, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// resolve follows aliases and charges the visit to the budget.
func (d *decoder) resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 64; i++ {
		n = n.Alias
	}
	d.budget--
	if d.budget == 0 {
		d.fail(n, "", "the document is too large (aliases expand to more than %d values)", maxNodes)
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// kindName describes a node for "expected X, got Y" messages.
func kindName(n *yaml.Node) string {
	switch {
	case n == nil || isNull(n):
		return "nothing"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Tag == "!!int" || n.Tag == "!!float":
		return "the number " + n.Value
	case n.Tag == "!!bool":
		return "the boolean " + n.Value
	default:
		return strconv.Quote(clip(n.Value))
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// fields is a decoded mapping: keys in file order with their nodes.
type fields struct {
	node *yaml.Node
	path string
	keys []string
	key  map[string]*yaml.Node
	val  map[string]*yaml.Node
}

func (f *fields) has(k string) bool { return f.val[k] != nil }

// get returns the value node for k (nil when absent).
func (f *fields) get(k string) *yaml.Node { return f.val[k] }

// mapping decodes n as a mapping. With allowed != nil, other keys are
// errors with a suggestion. A null node is an empty mapping.
func (d *decoder) mapping(n *yaml.Node, path string, allowed []string, what string) *fields {
	n = d.resolve(n)
	f := &fields{node: n, path: path, key: map[string]*yaml.Node{}, val: map[string]*yaml.Node{}}
	if isNull(n) || d.failed() {
		return f
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "expected %s (key: value lines), got %s", what, kindName(n))
		return f
	}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := d.resolve(n.Content[i]), n.Content[i+1]
		if d.failed() {
			return f
		}
		if k.Kind != yaml.ScalarNode {
			d.fail(k, path, "keys must be plain names, got %s", kindName(k))
			return f
		}
		if k.Tag == "!!merge" {
			merges = append(merges, v)
			continue
		}
		if prev := f.key[k.Value]; prev != nil {
			d.fail(k, join(path, k.Value), "duplicate key (first set at line %d)", prev.Line)
			return f
		}
		if allowed != nil && !slices.Contains(allowed, k.Value) {
			hint := ""
			if n.Style&yaml.FlowStyle != 0 && strings.HasSuffix(k.Value, ")") {
				// {think: uniform(1s, 3s)} splits at the comma.
				hint = `; inside { }, quote values that contain a comma: think: "uniform(1s, 3s)"`
			}
			d.fail(k, join(path, k.Value), "unknown key %q%s; allowed here: %s%s",
				k.Value, didYouMean(k.Value, allowed), strings.Join(allowed, ", "), hint)
			return f
		}
		f.keys = append(f.keys, k.Value)
		f.key[k.Value], f.val[k.Value] = k, v
	}
	// YAML merge keys (<<: *defaults) fill in what the mapping leaves out.
	for _, m := range merges {
		m = d.resolve(m)
		srcs := []*yaml.Node{m}
		if m != nil && m.Kind == yaml.SequenceNode {
			srcs = m.Content
		}
		for _, s := range srcs {
			sub := d.mapping(s, path, allowed, what)
			if d.failed() {
				return f
			}
			for _, k := range sub.keys {
				if f.val[k] == nil {
					f.keys = append(f.keys, k)
					f.key[k], f.val[k] = sub.key[k], sub.val[k]
				}
			}
		}
	}
	return f
}

// sequence decodes n as a list; a single non-list value is a list of one
// when single is true.
func (d *decoder) sequence(n *yaml.Node, path, what string, single bool) []*yaml.Node {
	n = d.resolve(n)
	if d.failed() || isNull(n) {
		return nil
	}
	if n.Kind == yaml.SequenceNode {
		out := make([]*yaml.Node, len(n.Content))
		for i, c := range n.Content {
			out[i] = d.resolve(c)
		}
		return out
	}
	if single {
		return []*yaml.Node{n}
	}
	d.fail(n, path, "expected a list of %s (lines starting with '- '), got %s", what, kindName(n))
	return nil
}

// scalar returns a scalar's text. Numbers and booleans are accepted as
// their text.
func (d *decoder) scalar(n *yaml.Node, path, what string) (string, bool) {
	n = d.resolve(n)
	if d.failed() {
		return "", false
	}
	if n == nil || n.Kind != yaml.ScalarNode || isNull(n) {
		d.fail(n, path, "expected %s, got %s", what, kindName(n))
		return "", false
	}
	return n.Value, true
}

func (d *decoder) str(n *yaml.Node, path string) string {
	s, _ := d.scalar(n, path, "a string")
	return s
}

func (d *decoder) intVal(n *yaml.Node, path string, minimum int64) int64 {
	n = d.resolve(n)
	if d.failed() {
		return 0
	}
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		d.fail(n, path, "expected a whole number, got %s", kindName(n))
		return 0
	}
	v, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64)
	if err != nil {
		d.fail(n, path, "expected a whole number, got %s", kindName(n))
		return 0
	}
	if v < minimum {
		d.fail(n, path, "must be at least %d, got %d", minimum, v)
		return 0
	}
	return v
}

// intField is intVal limited to int range with a sane upper bound.
func (d *decoder) intField(n *yaml.Node, path string, minimum int64) int {
	v := d.intVal(n, path, minimum)
	const limit = 10_000_000
	if v > limit {
		d.fail(n, path, "must be at most %d, got %d", limit, v)
		return 0
	}
	return int(v)
}

func (d *decoder) number(n *yaml.Node, path string) float64 {
	n = d.resolve(n)
	if d.failed() {
		return 0
	}
	if n == nil || n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
		d.fail(n, path, "expected a number, got %s", kindName(n))
		return 0
	}
	v, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		d.fail(n, path, "expected a finite number, got %s", kindName(n))
		return 0
	}
	return v
}

func (d *decoder) boolVal(n *yaml.Node, path string) bool {
	n = d.resolve(n)
	if d.failed() {
		return false
	}
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		d.fail(n, path, "expected true or false, got %s", kindName(n))
		return false
	}
	v, err := strconv.ParseBool(n.Value)
	if err != nil {
		// YAML 1.1 spellings (yes/no/on/off) reach here only if tagged !!bool explicitly.
		d.fail(n, path, "expected true or false, got %s", kindName(n))
	}
	return v
}

// maxDuration bounds durations so arithmetic on them cannot overflow.
const maxDuration = 1000 * time.Hour

func (d *decoder) duration(n *yaml.Node, path string) time.Duration {
	n = d.resolve(n)
	if d.failed() {
		return 0
	}
	if n == nil || n.Kind != yaml.ScalarNode || isNull(n) {
		d.fail(n, path, "expected a duration like 500ms, 2s or 1m30s, got %s", kindName(n))
		return 0
	}
	if n.Tag == "!!int" || n.Tag == "!!float" {
		if n.Value == "0" {
			return 0
		}
		d.fail(n, path, "%s has no unit: write it as a duration like %ss or %sms", n.Value, n.Value, n.Value)
		return 0
	}
	v, err := parseDuration(n.Value)
	if err != nil {
		d.fail(n, path, "%v", err)
		return 0
	}
	if v > maxDuration {
		d.fail(n, path, "%s is longer than the limit of %s", n.Value, shortDuration(maxDuration))
		return 0
	}
	return v
}

// positiveDuration is duration with 0 rejected.
func (d *decoder) positiveDuration(n *yaml.Node, path string) time.Duration {
	v := d.duration(n, path)
	if !d.failed() && v <= 0 {
		d.fail(n, path, "must be greater than 0")
	}
	return v
}

// rate reads 100, 2.5, "100/s", "6000/m" or "10/5s". It returns the number
// and the unit written with it (0 when none was written).
func (d *decoder) rate(n *yaml.Node, path string) (float64, time.Duration) {
	n = d.resolve(n)
	if d.failed() {
		return 0, 0
	}
	if n != nil && n.Kind == yaml.ScalarNode && (n.Tag == "!!int" || n.Tag == "!!float") {
		v := d.number(n, path)
		if !d.failed() && v < 0 {
			d.fail(n, path, "a rate cannot be negative")
		}
		return v, 0
	}
	s, ok := d.scalar(n, path, `a rate like 100, "100/s" or "6000/m"`)
	if !ok {
		return 0, 0
	}
	v, unit, err := parseRate(s)
	if err != nil {
		d.fail(n, path, "%v", err)
	}
	return v, unit
}

// parseRate reads "100", "100/s", "6000/m", "1/h" or "10/5s".
func parseRate(s string) (float64, time.Duration, error) {
	num, unitText, hasUnit := strings.Cut(strings.TrimSpace(s), "/")
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0, 0, fmt.Errorf(`expected a rate like 100, "100/s" or "6000/m", got %q`, s)
	}
	if !hasUnit {
		return v, 0, nil
	}
	var unit time.Duration
	switch u := strings.TrimSpace(unitText); u {
	case "s":
		unit = time.Second
	case "m":
		unit = time.Minute
	case "h":
		unit = time.Hour
	default:
		unit, err = parseDuration(u)
		if err != nil || unit <= 0 || unit > maxDuration {
			return 0, 0, fmt.Errorf(`rate %q: the unit after '/' must be s, m, h or a duration like 10s`, s)
		}
	}
	return v, unit, nil
}

// position of byte offset off within scalar n's value, for errors inside
// strings (a bad {{reference}}).
func (d *decoder) position(n *yaml.Node, off int) (line, col int) {
	if n == nil {
		return 0, 0
	}
	v := n.Value
	off = min(max(off, 0), len(v))
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		before := v[:off]
		nl := strings.Count(before, "\n")
		line = n.Line + 1 + nl
		lineStart := strings.LastIndexByte(before, '\n') + 1
		// The block's indentation (stripped from every line of the value)
		// is that of its first non-blank line.
		indent := 0
		for i := n.Line; i < len(d.lines); i++ {
			if src := d.lines[i]; strings.TrimSpace(src) != "" {
				indent = len(src) - len(strings.TrimLeft(src, " "))
				break
			}
		}
		return line, indent + 1 + utf8.RuneCountInString(before[lineStart:])
	}
	col = n.Column + utf8.RuneCountInString(v[:off])
	if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
		col++
	}
	return n.Line, col
}

// shortDuration formats d without zero trailing units: 1m, not 1m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
