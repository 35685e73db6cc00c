package scenario

import (
	"fmt"
	"net/http"
)

// Build makes the request of this step for vu: templates are filled from
// the VU's extracted variables and feed rows. A Static step returns the
// same cached request every time; it must not be modified.
func (st *Step) Build(vu *VU) (*Request, error) {
	if st.static {
		return st.cached, nil
	}
	url, err := st.url.renderString(vu)
	if err != nil {
		return nil, fmt.Errorf("step %q: url: %w", st.Name, err)
	}
	req := &Request{Method: st.Method, URL: url, Header: make(http.Header, len(st.headers)), Body: st.fixed}
	for _, h := range st.headers {
		v, err := h.value.renderString(vu)
		if err != nil {
			return nil, fmt.Errorf("step %q: header %s: %w", st.Name, h.name, err)
		}
		req.Header[h.name] = []string{v}
	}
	if st.body != nil {
		b, err := st.body.render(nil, vu)
		if err != nil {
			return nil, fmt.Errorf("step %q: body: %w", st.Name, err)
		}
		req.Body = b
	}
	return req, nil
}

// Evaluate runs the step's checks in order, then its extractions into the
// VU's variables. It returns "" when everything held, else a short
// description of the first failure; after a failed check nothing is
// extracted.
func (st *Step) Evaluate(vu *VU, r *Response) string {
	for _, c := range st.checks {
		if msg := c.eval(vu, r); msg != "" {
			return msg
		}
	}
	for i := range st.extracts {
		x := &st.extracts[i]
		v, msg := x.value(r)
		if msg != "" {
			return msg
		}
		vu.vars[x.slot] = v
		vu.varSet[x.slot] = true
	}
	return ""
}

// prepare decides whether the step is static and caches its request.
func (st *Step) prepare() {
	st.static = st.url.static() && (st.body == nil || st.body.static())
	for _, h := range st.headers {
		st.static = st.static && h.value.static()
	}
	for _, c := range st.checks {
		switch c.(type) {
		case *headerCheck:
			st.needsHeaders = true
		case *bodyCheck, *bodyRegexCheck, *jsonCheck:
			st.needsBody = true
		}
	}
	for _, x := range st.extracts {
		if x.source == fromHeader {
			st.needsHeaders = true
		} else {
			st.needsBody = true
		}
	}
	if st.static {
		req := &Request{Method: st.Method, URL: st.url.lit, Header: make(http.Header, len(st.headers)), Body: st.fixed}
		for _, h := range st.headers {
			req.Header[h.name] = []string{h.value.lit}
		}
		if st.body != nil {
			req.Body = []byte(st.body.lit)
		}
		st.cached = req
	}
}
