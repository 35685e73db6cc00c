package scenario

import (
	"fmt"
	"strings"
)

// template is a string with {{...}} references, compiled once at parse
// time. Global vars and environment variables are substituted during
// compilation; only extracted variables and feed columns remain for run
// time, so a template without them is a constant.
type template struct {
	raw  string
	segs []segment
	lit  string // the whole value when static
}

type segKind uint8

const (
	segLiteral segKind = iota
	segVar             // a variable extracted at run time (slot in VU.vars)
	segFeed            // a column of a data feed
)

type segment struct {
	kind   segKind
	lit    string
	name   string // variable name or feed.column, for messages
	slot   int    // segVar: index into VU.vars
	feed   int    // segFeed: index into plan.feeds
	column int    // segFeed: column index
}

func (t *template) static() bool { return len(t.segs) == 0 }

// render appends the template's value for vu to dst.
func (t *template) render(dst []byte, vu *VU) ([]byte, error) {
	if t.static() {
		return append(dst, t.lit...), nil
	}
	for i := range t.segs {
		s := &t.segs[i]
		switch s.kind {
		case segLiteral:
			dst = append(dst, s.lit...)
		case segVar:
			if !vu.varSet[s.slot] {
				return dst, fmt.Errorf("variable %q has no value yet: the step that extracts it has not run (or its extraction failed) in this VU", s.name)
			}
			dst = append(dst, vu.vars[s.slot]...)
		case segFeed:
			dst = append(dst, vu.feedValue(s.feed, s.column)...)
		}
	}
	return dst, nil
}

// renderString is render into a new string.
func (t *template) renderString(vu *VU) (string, error) {
	if t.static() {
		return t.lit, nil
	}
	if len(t.segs) == 1 {
		// A lone reference ("{{token}}") is its value: no copy.
		switch s := &t.segs[0]; s.kind {
		case segVar:
			if vu.varSet[s.slot] {
				return vu.vars[s.slot], nil
			}
		case segFeed:
			return vu.feedValue(s.feed, s.column), nil
		}
	}
	b, err := t.render(make([]byte, 0, len(t.raw)+32), vu)
	return string(b), err
}

// templateRef is one {{...}} reference found while scanning.
type templateRef struct {
	offset int    // byte offset of "{{" in the raw string
	expr   string // trimmed content
}

// scanTemplate splits raw into literals and references. It returns the
// byte offset of a malformed reference with a message.
func scanTemplate(raw string) (lits []string, refs []templateRef, badOffset int, msg string) {
	rest, base := raw, 0
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			lits = append(lits, rest)
			return lits, refs, -1, ""
		}
		j := strings.Index(rest[i+2:], "}}")
		if j < 0 {
			return nil, nil, base + i, "unterminated {{: close it with }}"
		}
		expr := strings.TrimSpace(rest[i+2 : i+2+j])
		if expr == "" {
			return nil, nil, base + i, "empty {{ }}: put a variable name inside, e.g. {{token}}"
		}
		if m := checkRefSyntax(expr); m != "" {
			return nil, nil, base + i, m
		}
		lits = append(lits, rest[:i])
		refs = append(refs, templateRef{offset: base + i, expr: expr})
		adv := i + 2 + j + 2
		rest, base = rest[adv:], base+adv
	}
}

// checkRefSyntax accepts "name" and "source.name" where each part is made
// of letters, digits, '_' and '-' and the first part starts with a letter
// or '_'.
func checkRefSyntax(expr string) string {
	head, tail, dotted := strings.Cut(expr, ".")
	if !isIdent(head) || (dotted && !isColumnName(tail)) {
		return fmt.Sprintf("invalid reference {{%s}}: use {{name}}, {{feed.column}} or {{env.NAME}} (letters, digits, _ and -)", expr)
	}
	return ""
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		letter := c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		if !letter && (i == 0 || !(c == '-' || (c >= '0' && c <= '9'))) {
			return false
		}
	}
	return true
}

func isColumnName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c == '_' || c == '-' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
			return false
		}
	}
	return true
}

// simplify merges adjacent literals and makes an all-literal template
// static.
func (t *template) simplify() {
	var out []segment
	for _, s := range t.segs {
		if s.kind == segLiteral {
			if s.lit == "" {
				continue
			}
			if n := len(out); n > 0 && out[n-1].kind == segLiteral {
				out[n-1].lit += s.lit
				continue
			}
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		t.segs, t.lit = nil, ""
		return
	}
	if len(out) == 1 && out[0].kind == segLiteral {
		t.segs, t.lit = nil, out[0].lit
		return
	}
	t.segs = out
}
