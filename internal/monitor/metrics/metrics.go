// Package metrics is the monitor's sample model and its encodings.
//
// A collector describes each metric once (a Family), builds each labelled
// series once (a Series, with its text form precomputed) and then, every
// tick, only appends (series, value) pairs to a Batch. Rendering the
// Prometheus text format or a remote-write request from a Batch therefore
// copies bytes that already exist instead of formatting labels again, which
// is what keeps a 100-container /metrics page cheap.
package metrics

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Type is a metric family's Prometheus type.
type Type uint8

// The types the monitor exposes.
const (
	Gauge Type = iota
	Counter
)

func (t Type) String() string {
	if t == Counter {
		return "counter"
	}
	return "gauge"
}

// Family is one metric name with its help text and type.
type Family struct {
	Name string
	Help string
	Type Type
	id   int
}

// Registry assigns each family its place in a Batch. Families are rendered
// in registration order.
type Registry struct {
	families []*Family
	byName   map[string]*Family
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{byName: map[string]*Family{}}
}

// Family registers a metric family, or returns the one already registered
// under name. It panics when name is not a valid metric name or when the
// same name is registered with a different type: both are programming
// errors in a collector, caught by every test that constructs it.
func (r *Registry) Family(name, help string, t Type) *Family {
	if f, ok := r.byName[name]; ok {
		if f.Type != t {
			panic(fmt.Sprintf("metrics: family %s registered as %s and as %s", name, f.Type, t))
		}
		return f
	}
	if !ValidMetricName(name) {
		panic(fmt.Sprintf("metrics: invalid metric name %q", name))
	}
	f := &Family{Name: name, Help: help, Type: t, id: len(r.families)}
	r.families = append(r.families, f)
	r.byName[name] = f
	return f
}

// Families returns the registered families in order.
func (r *Registry) Families() []*Family { return r.families }

// Label is one label pair.
type Label struct {
	Name, Value string
}

// LabelSet is a set of labels shared by many series, typically the identity
// of one container or of the host. Its text form is computed once.
type LabelSet struct {
	labels []Label
	text   string
}

// NewLabelSet builds a label set. Labels with an empty value are dropped
// (Prometheus treats an empty label as absent); names must be valid label
// names and unique.
func NewLabelSet(labels ...Label) (*LabelSet, error) {
	ls := make([]Label, 0, len(labels))
	for _, l := range labels {
		if l.Value == "" {
			continue
		}
		if !ValidLabelName(l.Name) {
			return nil, fmt.Errorf("invalid label name %q", l.Name)
		}
		ls = append(ls, l)
	}
	slices.SortFunc(ls, func(a, b Label) int { return strings.Compare(a.Name, b.Name) })
	for i := 1; i < len(ls); i++ {
		if ls[i].Name == ls[i-1].Name {
			return nil, fmt.Errorf("duplicate label name %q", ls[i].Name)
		}
	}
	return &LabelSet{labels: ls, text: string(appendLabels(nil, ls))}, nil
}

// Labels returns the labels sorted by name. The caller must not modify them.
func (s *LabelSet) Labels() []Label { return s.labels }

// Get returns the value of the label name, or "".
func (s *LabelSet) Get(name string) string {
	for _, l := range s.labels {
		if l.Name == name {
			return l.Value
		}
	}
	return ""
}

// Series is one labelled time series: a family, the owner's label set and
// the labels that tell this series apart from the owner's other series of
// the same family (a CPU mode, a network interface).
type Series struct {
	family *Family
	base   *LabelSet
	extra  []Label
	// text is `name{labels}` ready for the text format.
	text string
	// remote is the series' labels for remote write, built on first use.
	remote []remoteLabel
}

// NewSeries builds a series. extra label names must be valid and must not
// repeat a name in base; a violation is a programming error and panics.
func NewSeries(f *Family, base *LabelSet, extra ...Label) *Series {
	ex := make([]Label, 0, len(extra))
	for _, l := range extra {
		if !ValidLabelName(l.Name) {
			panic(fmt.Sprintf("metrics: invalid label name %q on %s", l.Name, f.Name))
		}
		if base != nil && base.Get(l.Name) != "" {
			panic(fmt.Sprintf("metrics: label %q of %s repeats an owner label", l.Name, f.Name))
		}
		if l.Value != "" {
			ex = append(ex, l)
		}
	}
	slices.SortFunc(ex, func(a, b Label) int { return strings.Compare(a.Name, b.Name) })
	var b strings.Builder
	b.WriteString(f.Name)
	baseText := ""
	if base != nil {
		baseText = base.text
	}
	if baseText != "" || len(ex) > 0 {
		b.WriteByte('{')
		b.WriteString(baseText)
		if baseText != "" && len(ex) > 0 {
			b.WriteByte(',')
		}
		b.Write(appendLabels(nil, ex))
		b.WriteByte('}')
	}
	return &Series{family: f, base: base, extra: ex, text: b.String()}
}

// Family returns the series' family.
func (s *Series) Family() *Family { return s.family }

// Owner returns the label set the series was built on.
func (s *Series) Owner() *LabelSet { return s.base }

// Extra returns the series' own labels beyond its owner's.
func (s *Series) Extra() []Label { return s.extra }

// Sample is one value of one series.
type Sample struct {
	Series *Series
	Value  float64
}

// Batch is one tick's samples, grouped by family. A Batch is reused from
// tick to tick: Reset keeps its memory.
type Batch struct {
	reg      *Registry
	time     time.Time
	byFamily [][]Sample
	n        int
}

// NewBatch returns an empty batch for the families of reg.
func NewBatch(reg *Registry) *Batch {
	return &Batch{reg: reg}
}

// Reset empties the batch and stamps it with the sampling time t.
func (b *Batch) Reset(t time.Time) {
	for i := range b.byFamily {
		b.byFamily[i] = b.byFamily[i][:0]
	}
	b.time = t
	b.n = 0
}

// Time is the batch's sampling time.
func (b *Batch) Time() time.Time { return b.time }

// Len is the number of samples in the batch.
func (b *Batch) Len() int { return b.n }

// Add appends one sample.
func (b *Batch) Add(s *Series, v float64) {
	id := s.family.id
	if id >= len(b.byFamily) {
		b.byFamily = append(b.byFamily, make([][]Sample, id+1-len(b.byFamily))...)
	}
	b.byFamily[id] = append(b.byFamily[id], Sample{Series: s, Value: v})
	b.n++
}

// Samples returns the samples of family f in the order they were added.
func (b *Batch) Samples(f *Family) []Sample {
	if f.id >= len(b.byFamily) {
		return nil
	}
	return b.byFamily[f.id]
}

// Each calls fn for every sample, family by family in registration order.
func (b *Batch) Each(fn func(Sample)) {
	for _, samples := range b.byFamily {
		for _, s := range samples {
			fn(s)
		}
	}
}

// ValidMetricName reports whether s matches [a-zA-Z_:][a-zA-Z0-9_:]*.
func ValidMetricName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9' {
			continue
		}
		return false
	}
	return true
}

// ValidLabelName reports whether s matches [a-zA-Z_][a-zA-Z0-9_]* and does
// not start with "__", which Prometheus reserves.
func ValidLabelName(s string) bool {
	if s == "" || strings.HasPrefix(s, "__") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9' {
			continue
		}
		return false
	}
	return true
}

// SanitizeLabelName turns an arbitrary key (a Docker label such as
// com.docker.compose.service) into a valid label name the way cAdvisor
// does: every character outside [a-zA-Z0-9_] becomes '_'.
func SanitizeLabelName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			b[i] = '_'
		}
	}
	if len(b) > 0 && b[0] >= '0' && b[0] <= '9' {
		return "_" + string(b)
	}
	return string(b)
}
