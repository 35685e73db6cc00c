package scenario

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// jsonPath is a compiled dotted path with array indexes, such as
// data.items[0].id or [2].name. It is evaluated by scanning the raw JSON
// bytes: nothing is decoded except the strings compared against keys, so a
// large body costs one pass and no allocations for the parts skipped.
type jsonPath struct {
	raw   string
	elems []jsonPathElem
}

type jsonPathElem struct {
	key   string
	index int // >= 0 for an array index; -1 for an object key
}

func compileJSONPath(s string) (jsonPath, error) {
	p := jsonPath{raw: s}
	if s == "" {
		return p, fmt.Errorf("empty JSON path: use a dotted path such as data.items[0].id")
	}
	i := 0
	for i < len(s) {
		switch s[i] {
		case '[':
			end := strings.IndexByte(s[i:], ']')
			if end < 0 {
				return p, fmt.Errorf("JSON path %q: missing ']' after position %d", s, i+1)
			}
			n, err := strconv.Atoi(s[i+1 : i+end])
			if err != nil || n < 0 {
				return p, fmt.Errorf("JSON path %q: array index %q is not a non-negative integer", s, s[i+1:i+end])
			}
			p.elems = append(p.elems, jsonPathElem{index: n})
			i += end + 1
			if i < len(s) && s[i] == '.' {
				i++
				if i == len(s) {
					return p, fmt.Errorf("JSON path %q ends with '.'", s)
				}
			} else if i < len(s) && s[i] != '[' {
				return p, fmt.Errorf("JSON path %q: expected '.' or '[' after ']' at position %d", s, i+1)
			}
		case '.':
			return p, fmt.Errorf("JSON path %q: empty key at position %d", s, i+1)
		default:
			end := i
			for end < len(s) && s[end] != '.' && s[end] != '[' {
				end++
			}
			p.elems = append(p.elems, jsonPathElem{key: s[i:end], index: -1})
			i = end
			if i < len(s) && s[i] == '.' {
				i++
				if i == len(s) {
					return p, fmt.Errorf("JSON path %q ends with '.'", s)
				}
			}
		}
	}
	return p, nil
}

// errNotJSON reports a body that is not well-formed JSON where the path
// walked through it.
type jsonSyntaxError struct{ offset int }

func (e *jsonSyntaxError) Error() string {
	return fmt.Sprintf("body is not valid JSON (at byte %d)", e.offset)
}

// lookup returns the raw bytes of the value at the path, or found=false
// when a key or index is absent (or the value there is of another type).
func (p jsonPath) lookup(data []byte) (raw []byte, found bool, err error) {
	s := jsonScanner{data: data}
	s.ws()
	for _, el := range p.elems {
		if s.pos >= len(data) {
			return nil, false, &jsonSyntaxError{s.pos}
		}
		if el.index < 0 {
			if data[s.pos] != '{' {
				if err := s.skipValue(); err != nil {
					return nil, false, err
				}
				return nil, false, nil
			}
			ok, err := s.findKey(el.key)
			if err != nil || !ok {
				return nil, false, err
			}
		} else {
			if data[s.pos] != '[' {
				if err := s.skipValue(); err != nil {
					return nil, false, err
				}
				return nil, false, nil
			}
			ok, err := s.findIndex(el.index)
			if err != nil || !ok {
				return nil, false, err
			}
		}
	}
	start := s.pos
	if err := s.skipValue(); err != nil {
		return nil, false, err
	}
	return data[start:s.pos], true, nil
}

type jsonScanner struct {
	data  []byte
	pos   int
	depth int
}

// maxJSONDepth bounds nesting so hostile bodies cannot exhaust the stack.
const maxJSONDepth = 10000

func (s *jsonScanner) ws() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

func (s *jsonScanner) fail() error { return &jsonSyntaxError{s.pos} }

// findKey is positioned at '{'; it leaves pos at the value of key.
func (s *jsonScanner) findKey(key string) (bool, error) {
	s.pos++ // '{'
	s.ws()
	if s.pos < len(s.data) && s.data[s.pos] == '}' {
		s.pos++
		return false, nil
	}
	for {
		s.ws()
		if s.pos >= len(s.data) || s.data[s.pos] != '"' {
			return false, s.fail()
		}
		kstart := s.pos
		if err := s.skipString(); err != nil {
			return false, err
		}
		match := keyEquals(s.data[kstart:s.pos], key)
		s.ws()
		if s.pos >= len(s.data) || s.data[s.pos] != ':' {
			return false, s.fail()
		}
		s.pos++
		s.ws()
		if match {
			return true, nil
		}
		if err := s.skipValue(); err != nil {
			return false, err
		}
		s.ws()
		if s.pos >= len(s.data) {
			return false, s.fail()
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return false, nil
		default:
			return false, s.fail()
		}
	}
}

// keyEquals compares a quoted JSON string with key, decoding escapes only
// when there are any.
func keyEquals(quoted []byte, key string) bool {
	inner := quoted[1 : len(quoted)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner) == key
	}
	var k string
	if json.Unmarshal(quoted, &k) != nil {
		return false
	}
	return k == key
}

// findIndex is positioned at '['; it leaves pos at element n.
func (s *jsonScanner) findIndex(n int) (bool, error) {
	s.pos++ // '['
	s.ws()
	if s.pos < len(s.data) && s.data[s.pos] == ']' {
		s.pos++
		return false, nil
	}
	for i := 0; ; i++ {
		s.ws()
		if i == n {
			return s.pos < len(s.data), nil
		}
		if err := s.skipValue(); err != nil {
			return false, err
		}
		s.ws()
		if s.pos >= len(s.data) {
			return false, s.fail()
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return false, nil
		default:
			return false, s.fail()
		}
	}
}

func (s *jsonScanner) skipString() error {
	s.pos++ // opening quote
	for s.pos < len(s.data) {
		switch c := s.data[s.pos]; {
		case c == '\\':
			s.pos += 2
		case c == '"':
			s.pos++
			return nil
		case c < 0x20:
			return s.fail()
		default:
			s.pos++
		}
	}
	return s.fail()
}

// skipValue moves past one value of any kind.
func (s *jsonScanner) skipValue() error {
	s.ws()
	if s.pos >= len(s.data) {
		return s.fail()
	}
	switch c := s.data[s.pos]; c {
	case '"':
		return s.skipString()
	case '{', '[':
		return s.skipContainer()
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			start := s.pos
			for s.pos < len(s.data) && isNumberByte(s.data[s.pos]) {
				s.pos++
			}
			if !json.Valid(s.data[start:s.pos]) {
				s.pos = start
				return s.fail()
			}
			return nil
		}
		return s.fail()
	}
}

func isNumberByte(c byte) bool {
	return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

func (s *jsonScanner) literal(word string) error {
	if !bytes.HasPrefix(s.data[s.pos:], []byte(word)) {
		return s.fail()
	}
	s.pos += len(word)
	return nil
}

// skipContainer skips an object or array with an explicit depth counter
// (no recursion). Structure between brackets is checked loosely: strings
// are scanned exactly so that brackets inside them do not count.
func (s *jsonScanner) skipContainer() error {
	depth := 0
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case '{', '[':
			depth++
			if depth > maxJSONDepth {
				return s.fail()
			}
			s.pos++
		case '}', ']':
			depth--
			s.pos++
			if depth == 0 {
				return nil
			}
		case '"':
			if err := s.skipString(); err != nil {
				return err
			}
		default:
			s.pos++
		}
	}
	return s.fail()
}

// jsonText is the value as text: strings unquoted, everything else as it
// appears in the body.
func jsonText(raw []byte) string {
	if len(raw) >= 2 && raw[0] == '"' {
		inner := raw[1 : len(raw)-1]
		if bytes.IndexByte(inner, '\\') < 0 {
			return string(inner)
		}
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	}
	return string(raw)
}
