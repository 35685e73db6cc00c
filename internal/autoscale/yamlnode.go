package autoscale

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// PolicyError is a mistake in a policy file, with its position.
type PolicyError struct {
	File         string
	Line, Column int
	Msg          string
}

func (e *PolicyError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
}

// parser holds the file name for positions.
type parser struct{ file string }

func (p *parser) errAt(n *yaml.Node, format string, args ...any) error {
	e := &PolicyError{File: p.file, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	return e
}

// mapping checks that n is a mapping whose keys are all in allowed and
// returns its entries by key (key node, value node).
func (p *parser) mapping(n *yaml.Node, what string, allowed ...string) (map[string][2]*yaml.Node, []string, error) {
	if n.Kind != yaml.MappingNode {
		return nil, nil, p.errAt(n, "%s must be a mapping (key: value lines), not %s", what, kindName(n))
	}
	out := map[string][2]*yaml.Node{}
	var order []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if allowed != nil && !contains(allowed, k.Value) {
			return nil, nil, p.errAt(k, "unknown key %q in %s (allowed: %s)", k.Value, what, strings.Join(allowed, ", "))
		}
		if _, dup := out[k.Value]; dup {
			return nil, nil, p.errAt(k, "key %q appears twice in %s", k.Value, what)
		}
		out[k.Value] = [2]*yaml.Node{k, v}
		order = append(order, k.Value)
	}
	return out, order, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.ScalarNode:
		return "a single value"
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.AliasNode:
		return "an alias"
	}
	return "empty"
}

var yamlLineRE = regexp.MustCompile(`^line (\d+): `)

// decodeStrict decodes n into out (a pointer to a struct with yaml tags),
// refusing keys the struct does not have, and reports errors at their
// position in the file.
func (p *parser) decodeStrict(n *yaml.Node, out any, what string) error {
	if err := p.checkKeys(n, reflect.TypeOf(out).Elem(), what); err != nil {
		return err
	}
	if err := n.Decode(out); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) && len(te.Errors) > 0 {
			msg := te.Errors[0]
			line := 0
			if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
				line, _ = strconv.Atoi(m[1])
				msg = strings.TrimPrefix(msg, m[0])
			}
			if line > 0 {
				return &PolicyError{File: p.file, Line: line, Column: columnOfLine(n, line), Msg: what + ": " + msg}
			}
		}
		return p.errAt(n, "%s: %v", what, err)
	}
	return nil
}

// columnOfLine finds the column of the last node of n's tree on line (the
// value, when a line holds "key: value"), for errors that the YAML library
// reports by line only.
func columnOfLine(n *yaml.Node, line int) int {
	col := 0
	if n.Line == line {
		col = n.Column
	}
	for _, c := range n.Content {
		if cc := columnOfLine(c, line); cc > 0 {
			col = cc
		}
	}
	return col
}

// checkKeys walks n along the struct type t and reports the first mapping
// key that has no field.
func (p *parser) checkKeys(n *yaml.Node, t reflect.Type, what string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return nil // Decode reports the type mismatch
		}
		fields := map[string]reflect.Type{}
		var names []string
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if tag == "" || tag == "-" {
				continue
			}
			fields[tag] = f.Type
			names = append(names, tag)
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			ft, ok := fields[k.Value]
			if !ok {
				return p.errAt(k, "unknown key %q in %s (allowed: %s)", k.Value, what, strings.Join(names, ", "))
			}
			if err := p.checkKeys(n.Content[i+1], ft, what); err != nil {
				return err
			}
		}
	case reflect.Slice:
		if n.Kind == yaml.SequenceNode {
			for _, c := range n.Content {
				if err := p.checkKeys(c, t.Elem(), what); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
