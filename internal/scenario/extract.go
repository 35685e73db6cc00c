package scenario

import (
	"fmt"
	"regexp"
)

type extractSource uint8

const (
	fromJSON extractSource = iota
	fromHeader
	fromBody
)

// extract stores a value from a response into a VU variable.
type extract struct {
	name   string
	slot   int
	source extractSource
	path   jsonPath       // fromJSON
	header string         // fromHeader (canonical)
	re     *regexp.Regexp // fromBody (required), fromHeader (optional)
}

// value returns the value to store, or a failure description.
func (x *extract) value(r *Response) (string, string) {
	switch x.source {
	case fromJSON:
		raw, found, err := x.path.lookup(r.Body)
		if err != nil {
			return "", fmt.Sprintf("extract %s: json %s: %v", x.name, x.path.raw, err)
		}
		if !found {
			return "", fmt.Sprintf("extract %s: json %s missing", x.name, x.path.raw)
		}
		return jsonText(raw), ""
	case fromHeader:
		values := r.Header.Values(x.header)
		if len(values) == 0 {
			return "", fmt.Sprintf("extract %s: header %s missing", x.name, x.header)
		}
		if x.re == nil {
			return values[0], ""
		}
		for _, v := range values {
			if m := x.re.FindStringSubmatch(v); m != nil {
				return regexGroup(m), ""
			}
		}
		return "", fmt.Sprintf("extract %s: header %s does not match /%s/", x.name, x.header, x.re)
	default:
		m := x.re.FindSubmatch(r.Body)
		if m == nil {
			return "", fmt.Sprintf("extract %s: body does not match /%s/", x.name, x.re)
		}
		if len(m) > 1 {
			return string(m[1]), ""
		}
		return string(m[0]), ""
	}
}

// regexGroup is the first capture group when the expression has one, else
// the whole match.
func regexGroup(m []string) string {
	if len(m) > 1 {
		return m[1]
	}
	return m[0]
}
