package scenario

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// check is one assertion on a response. eval returns "" when it holds, else
// a short description of what was wrong.
type check interface {
	eval(vu *VU, r *Response) string
}

// statusCheck accepts exact codes and classes (2 for 2xx, ...).
type statusCheck struct {
	codes   []int
	classes []int
	want    string // as written, for messages
}

func (c *statusCheck) accepts(code int) bool {
	for _, x := range c.codes {
		if x == code {
			return true
		}
	}
	for _, cl := range c.classes {
		if code/100 == cl {
			return true
		}
	}
	return false
}

func (c *statusCheck) eval(_ *VU, r *Response) string {
	if c.accepts(r.Status) {
		return ""
	}
	return fmt.Sprintf("status %d, want %s", r.Status, c.want)
}

type matchOp uint8

const (
	opEquals matchOp = iota
	opContains
	opRegex
	opExists
	opAbsent
)

// headerCheck tests a response header. With several values (Set-Cookie),
// equals/contains/regex hold when any value matches.
type headerCheck struct {
	name  string // canonical
	op    matchOp
	value *template      // equals, contains
	re    *regexp.Regexp // regex
}

func (c *headerCheck) eval(vu *VU, r *Response) string {
	values := r.Header.Values(c.name)
	switch c.op {
	case opExists:
		if len(values) == 0 {
			return fmt.Sprintf("header %s missing", c.name)
		}
		return ""
	case opAbsent:
		if len(values) > 0 {
			return fmt.Sprintf("header %s present (%s), want absent", c.name, clip(values[0]))
		}
		return ""
	}
	if len(values) == 0 {
		return fmt.Sprintf("header %s missing", c.name)
	}
	var want string
	if c.value != nil {
		var err error
		if want, err = c.value.renderString(vu); err != nil {
			return fmt.Sprintf("header %s: %v", c.name, err)
		}
	}
	for _, v := range values {
		switch c.op {
		case opEquals:
			if v == want {
				return ""
			}
		case opContains:
			if strings.Contains(v, want) {
				return ""
			}
		case opRegex:
			if c.re.MatchString(v) {
				return ""
			}
		}
	}
	switch c.op {
	case opEquals:
		return fmt.Sprintf("header %s is %q, want %q", c.name, clip(values[0]), clip(want))
	case opContains:
		return fmt.Sprintf("header %s is %q, does not contain %q", c.name, clip(values[0]), clip(want))
	default:
		return fmt.Sprintf("header %s is %q, does not match /%s/", c.name, clip(values[0]), c.re)
	}
}

// bodyCheck tests for a substring in the body (or its absence).
type bodyCheck struct {
	value *template
	not   bool
}

func (c *bodyCheck) eval(vu *VU, r *Response) string {
	want, err := c.value.renderString(vu)
	if err != nil {
		return "body check: " + err.Error()
	}
	has := bytes.Contains(r.Body, []byte(want))
	switch {
	case !c.not && !has:
		return fmt.Sprintf("body does not contain %q", clip(want))
	case c.not && has:
		return fmt.Sprintf("body contains %q", clip(want))
	}
	return ""
}

// bodyRegexCheck tests the body against a regular expression.
type bodyRegexCheck struct{ re *regexp.Regexp }

func (c *bodyRegexCheck) eval(_ *VU, r *Response) string {
	if c.re.Match(r.Body) {
		return ""
	}
	return fmt.Sprintf("body does not match /%s/", c.re)
}

// jsonCheck tests the value at a JSON path.
type jsonCheck struct {
	path  jsonPath
	op    matchOp // opEquals, opExists, opAbsent, opRegex
	value *template
	// want is the type the expectation was written as. A YAML number
	// expects a JSON number of equal value (3 matches 3.0, not "3"); true,
	// false and null expect that JSON literal; a string (which may come
	// from a template) matches a JSON string with that text, or a number
	// or literal written that way.
	want jsonWant
	re   *regexp.Regexp
}

func (c *jsonCheck) eval(vu *VU, r *Response) string {
	raw, found, err := c.path.lookup(r.Body)
	if err != nil {
		return fmt.Sprintf("json %s: %v", c.path.raw, err)
	}
	switch c.op {
	case opExists:
		if !found {
			return fmt.Sprintf("json %s missing", c.path.raw)
		}
		return ""
	case opAbsent:
		if found {
			return fmt.Sprintf("json %s present (%s), want absent", c.path.raw, clip(string(raw)))
		}
		return ""
	}
	if !found {
		return fmt.Sprintf("json %s missing", c.path.raw)
	}
	got := jsonText(raw)
	if c.op == opRegex {
		if c.re.MatchString(got) {
			return ""
		}
		return fmt.Sprintf("json %s is %s, does not match /%s/", c.path.raw, clip(string(raw)), c.re)
	}
	want, err := c.value.renderString(vu)
	if err != nil {
		return fmt.Sprintf("json %s: %v", c.path.raw, err)
	}
	switch c.want {
	case wantNumber:
		g, err1 := strconv.ParseFloat(string(raw), 64)
		w, err2 := strconv.ParseFloat(want, 64)
		if err1 == nil && err2 == nil && g == w {
			return ""
		}
	case wantLiteral:
		if string(raw) == want {
			return ""
		}
	default:
		if got == want && raw[0] != '{' && raw[0] != '[' {
			return ""
		}
	}
	return fmt.Sprintf("json %s is %s, want %s", c.path.raw, clip(string(raw)), clip(want))
}

type jsonWant uint8

const (
	wantText jsonWant = iota
	wantNumber
	wantLiteral
)

// clip shortens a value for a failure message.
func clip(s string) string {
	const limit = 64
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
