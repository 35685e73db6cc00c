// Package threshold parses and judges pass/fail criteria such as
// `p95<200ms`, `error_rate<1%`, `rps>500` or `p95{name=login}<300ms`
// against a run's results.Summary.
//
// Grammar (spaces are allowed between tokens):
//
//	threshold = metric [ "{" key "=" value { "," key "=" value } "}" ] op limit
//	metric    = "p50" | "p90" | "p95" | "p99" | "p99.9" | "min" | "mean" | "max"
//	          | "ttfb_" (any of the latency metrics above)
//	          | "error_rate" | "rps" | "requests" | "failures" | "dropped" | "iterations"
//	key       = "name" (a request name) | "kind" (a failure kind, failures only)
//	op        = "<" | "<=" | ">" | ">=" | "=="
//	limit     = number [ unit ]
//
// Latency limits take a duration unit (us, µs, ms, s, m); a bare number
// means milliseconds. error_rate takes a percentage ("1%") or a fraction
// ("0.01"). rps takes a number with an optional "/s". The counts take
// plain integers.
package threshold

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/brinkhq/brink/internal/results"
)

// Kind is the family of a metric; it decides units and formatting.
type Kind uint8

// Metric kinds.
const (
	Latency Kind = iota // milliseconds
	Ratio               // a fraction 0..1, shown as a percentage
	Rate                // per second
	Count               // a plain count
)

// Threshold is one parsed criterion. Limit is in the metric's canonical
// unit: milliseconds for latencies, a fraction for error_rate, requests per
// second for rps, a count otherwise.
type Threshold struct {
	Expr   string  // the expression as written, trimmed
	Metric string  // canonical metric name, e.g. "p95", "ttfb_p99", "error_rate"
	Op     string  // one of < <= > >= ==
	Limit  float64 // canonical unit, see above
	Name   string  // request-name scope; "" means all requests
	Kind   Kind
	// FailureKind scopes a failures threshold to one failure kind ("" = all).
	FailureKind string
}

// ParseError is a threshold that could not be parsed. Column is 1-based and
// counts characters (not bytes) in Expr, so callers that know where the
// expression sits in a file can point at the exact spot.
type ParseError struct {
	Expr   string
	Column int
	Msg    string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("threshold %q: column %d: %s", e.Expr, e.Column, e.Msg)
}

// metricKinds maps every metric name the parser accepts to its kind.
var metricKinds = func() map[string]Kind {
	m := map[string]Kind{
		"error_rate": Ratio,
		"rps":        Rate,
		"requests":   Count,
		"failures":   Count,
		"dropped":    Count,
		"iterations": Count,
	}
	for _, l := range latencyMetrics {
		m[l] = Latency
		m["ttfb_"+l] = Latency
	}
	return m
}()

var latencyMetrics = []string{"p50", "p90", "p95", "p99", "p99.9", "min", "mean", "max"}

// runWide metrics belong to the run, not to a request name.
var runWide = map[string]bool{"dropped": true, "iterations": true}

var ops = []string{"<=", ">=", "==", "<", ">"} // longest first

// Parse parses one threshold expression.
func Parse(expr string) (Threshold, error) {
	p := parser{src: expr}
	t, err := p.parse()
	if err != nil {
		return Threshold{}, err
	}
	t.Expr = strings.TrimSpace(expr)
	return t, nil
}

// ParseAll parses several expressions, stopping at the first error.
func ParseAll(exprs []string) ([]Threshold, error) {
	ts := make([]Threshold, 0, len(exprs))
	for _, e := range exprs {
		t, err := Parse(e)
		if err != nil {
			return nil, err
		}
		ts = append(ts, t)
	}
	return ts, nil
}

type parser struct {
	src string
	pos int // byte offset
}

func (p *parser) errAt(pos int, format string, args ...any) error {
	return &ParseError{Expr: p.src, Column: utf8.RuneCountInString(p.src[:pos]) + 1, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) skipSpace() {
	for p.pos < len(p.src) && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t') {
		p.pos++
	}
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func (p *parser) parse() (Threshold, error) {
	var t Threshold
	for i, r := range p.src {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(p.src[i:]); size == 1 {
				return t, p.errAt(i, "invalid UTF-8")
			}
		}
	}
	p.skipSpace()
	start := p.pos
	for p.pos < len(p.src) && isIdentByte(p.src[p.pos]) {
		p.pos++
	}
	name := strings.ToLower(p.src[start:p.pos])
	if name == "" {
		return t, p.errAt(start, "expected a metric (p50, p90, p95, p99, p99.9, min, mean, max, error_rate, rps, requests, failures, dropped, iterations)")
	}
	kind, ok := metricKinds[name]
	if !ok {
		return t, p.errAt(start, "unknown metric %q (want p50, p90, p95, p99, p99.9, min, mean, max, ttfb_p95 and the like, error_rate, rps, requests, failures, dropped or iterations)", name)
	}
	t.Metric, t.Kind = name, kind
	p.skipSpace()
	if p.pos < len(p.src) && p.src[p.pos] == '{' {
		if err := p.parseScope(&t); err != nil {
			return t, err
		}
		p.skipSpace()
	}
	opStart := p.pos
	for _, op := range ops {
		if strings.HasPrefix(p.src[p.pos:], op) {
			t.Op = op
			p.pos += len(op)
			break
		}
	}
	if t.Op == "" {
		if p.pos < len(p.src) && p.src[p.pos] == '=' {
			return t, p.errAt(opStart, "use == for equality")
		}
		return t, p.errAt(opStart, "expected a comparison (<, <=, >, >=, ==) after %q", t.Metric)
	}
	p.skipSpace()
	limit, err := p.parseLimit(t.Kind)
	if err != nil {
		return t, err
	}
	t.Limit = limit
	p.skipSpace()
	if p.pos != len(p.src) {
		return t, p.errAt(p.pos, "unexpected %q after the limit", p.src[p.pos:])
	}
	return t, nil
}

// parseScope reads `{name=login, kind=timeout}`; values may be quoted with
// double quotes when they contain ',', '}' or spaces.
func (p *parser) parseScope(t *Threshold) error {
	open := p.pos
	p.pos++ // '{'
	for {
		p.skipSpace()
		if p.pos >= len(p.src) {
			return p.errAt(open, "unclosed '{'")
		}
		if p.src[p.pos] == '}' {
			if t.Name == "" && t.FailureKind == "" {
				return p.errAt(p.pos, "empty scope: write {name=REQUEST} or leave the braces out")
			}
			p.pos++
			return nil
		}
		keyStart := p.pos
		for p.pos < len(p.src) && isIdentByte(p.src[p.pos]) {
			p.pos++
		}
		key := p.src[keyStart:p.pos]
		if key != "name" && key != "kind" {
			return p.errAt(keyStart, "unknown scope key %q (want name or kind)", key)
		}
		p.skipSpace()
		if p.pos >= len(p.src) || p.src[p.pos] != '=' {
			return p.errAt(p.pos, "expected '=' after %q", key)
		}
		p.pos++
		p.skipSpace()
		valStart := p.pos
		val, err := p.parseScopeValue()
		if err != nil {
			return err
		}
		if val == "" {
			return p.errAt(valStart, "empty value for %q", key)
		}
		switch key {
		case "name":
			if runWide[t.Metric] {
				return p.errAt(keyStart, "%s counts the whole run; it cannot be scoped to a request name", t.Metric)
			}
			if t.Name != "" {
				return p.errAt(keyStart, "name given twice")
			}
			t.Name = val
		case "kind":
			if t.Metric != "failures" {
				return p.errAt(keyStart, "kind scopes only the failures metric")
			}
			if _, err := results.ParseFailureKind(val); err != nil {
				return p.errAt(valStart, "%v", err)
			}
			if t.FailureKind != "" {
				return p.errAt(keyStart, "kind given twice")
			}
			t.FailureKind = val
		}
		p.skipSpace()
		if p.pos < len(p.src) && p.src[p.pos] == ',' {
			p.pos++
			continue
		}
		if p.pos < len(p.src) && p.src[p.pos] == '}' {
			continue
		}
		if p.pos >= len(p.src) {
			return p.errAt(open, "unclosed '{'")
		}
		return p.errAt(p.pos, "expected ',' or '}' in the scope")
	}
}

func (p *parser) parseScopeValue() (string, error) {
	if p.pos < len(p.src) && p.src[p.pos] == '"' {
		start := p.pos
		p.pos++
		var b strings.Builder
		for p.pos < len(p.src) {
			c := p.src[p.pos]
			switch {
			case c == '\\' && p.pos+1 < len(p.src):
				b.WriteByte(p.src[p.pos+1])
				p.pos += 2
			case c == '"':
				p.pos++
				return b.String(), nil
			default:
				b.WriteByte(c)
				p.pos++
			}
		}
		return "", p.errAt(start, "unterminated quoted value")
	}
	start := p.pos
	for p.pos < len(p.src) && !strings.ContainsRune(",} \t", rune(p.src[p.pos])) {
		p.pos++
	}
	return p.src[start:p.pos], nil
}

func (p *parser) parseLimit(kind Kind) (float64, error) {
	numStart := p.pos
	for p.pos < len(p.src) && (p.src[p.pos] >= '0' && p.src[p.pos] <= '9' || p.src[p.pos] == '.' || p.src[p.pos] == '_') {
		p.pos++
	}
	if numStart == p.pos {
		if p.pos < len(p.src) && p.src[p.pos] == '-' {
			return 0, p.errAt(numStart, "limits cannot be negative")
		}
		return 0, p.errAt(numStart, "expected a number")
	}
	v, err := strconv.ParseFloat(p.src[numStart:p.pos], 64)
	if err != nil {
		return 0, p.errAt(numStart, "%q is not a number", p.src[numStart:p.pos])
	}
	p.skipSpace()
	unitStart := p.pos
	for p.pos < len(p.src) && p.src[p.pos] != ' ' && p.src[p.pos] != '\t' {
		p.pos++
	}
	unit := p.src[unitStart:p.pos]
	switch kind {
	case Latency:
		f, ok := latencyUnits[unit]
		if !ok {
			return 0, p.errAt(unitStart, "unknown duration unit %q (want us, ms, s or m)", unit)
		}
		return v * f, nil
	case Ratio:
		switch unit {
		case "%":
			v /= 100
		case "":
		default:
			return 0, p.errAt(unitStart, "error_rate takes a percentage like 1%% or a fraction like 0.01, not %q", unit)
		}
		if v > 1 {
			return 0, p.errAt(numStart, "error_rate cannot exceed 100%%")
		}
		return v, nil
	case Rate:
		if unit != "" && unit != "/s" {
			return 0, p.errAt(unitStart, "rps takes a number of requests per second, optionally followed by /s, not %q", unit)
		}
		return v, nil
	default:
		if unit != "" {
			return 0, p.errAt(unitStart, "a count takes no unit, not %q", unit)
		}
		if v != float64(int64(v)) {
			return 0, p.errAt(numStart, "a count must be a whole number")
		}
		return v, nil
	}
}

// latencyUnits converts a unit to milliseconds.
var latencyUnits = map[string]float64{
	"": 1, "us": 0.001, "µs": 0.001, "ms": 1, "s": 1000, "m": 60_000,
}

// String is the canonical form of t (metric, scope, op and limit with unit).
func (t Threshold) String() string {
	var b strings.Builder
	b.WriteString(t.Metric)
	if t.Name != "" || t.FailureKind != "" {
		b.WriteByte('{')
		sep := ""
		if t.Name != "" {
			b.WriteString("name=" + quoteScope(t.Name))
			sep = ","
		}
		if t.FailureKind != "" {
			b.WriteString(sep + "kind=" + t.FailureKind)
		}
		b.WriteByte('}')
	}
	b.WriteString(t.Op)
	b.WriteString(FormatValue(t.Kind, t.Limit))
	return b.String()
}

func quoteScope(v string) string {
	if strings.ContainsAny(v, ",} \t\"\\") {
		// Only \" and \\ are escapes inside a quoted scope value.
		return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`
	}
	return v
}

// FormatValue renders a value of the given kind in its natural unit with at
// most three decimals: "212.437ms", "1.5s", "0.53%", "512.3/s", "12".
func FormatValue(kind Kind, v float64) string {
	switch kind {
	case Latency:
		switch {
		case v >= 1000:
			return decimals3(v/1000) + "s"
		case v < 1 && v > 0:
			return decimals3(v*1000) + "µs"
		default:
			return decimals3(v) + "ms"
		}
	case Ratio:
		return decimals3(v*100) + "%"
	case Rate:
		return decimals3(v) + "/s"
	default:
		return decimals3(v)
	}
}

// decimals3 formats v with up to three decimals, dropping trailing zeros,
// so that float noise (0.3*1000 = 300.00000000000006) never shows.
func decimals3(v float64) string {
	s := strconv.FormatFloat(v, 'f', 3, 64)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}
