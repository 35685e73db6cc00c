package autoscale

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	promparser "github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"

	"github.com/brinkhq/brink/internal/autoscale/actuator"
)

// Policy is an autoscaling policy file: how often to decide and, per
// service, the replica bounds, the targets and how fast to move.
type Policy struct {
	Path     string        // file it was read from ("" when parsed from memory)
	Interval time.Duration // decision interval; default 5s
	// HAProxy is the load balancer whose Runtime API the autoscaler drives;
	// nil when no service has an lb section.
	HAProxy  *HAProxyConfig
	Services []*ServicePolicy
}

// HAProxyConfig locates HAProxy's admin Runtime API socket.
type HAProxyConfig struct {
	Socket string `yaml:"socket"` // path, or host:port for a TCP socket
}

// ServicePolicy is one service's policy.
type ServicePolicy struct {
	Name      string
	Min, Max  int
	Tolerance float64       // |value/target - 1| within it: no change (default 0.1)
	Window    time.Duration // rate/averaging window of built-in targets (default 15s)
	Targets   []Target
	ScaleUp   Behavior
	ScaleDown Behavior
	Fast      FastPath
	Actuator  actuator.Spec
	LB        *LBConfig // nil: no load balancer to keep in step
}

// Behavior limits one direction of scaling, as the Kubernetes HPA's
// behavior field does.
type Behavior struct {
	// Stabilization: the highest (scale-down) or lowest (scale-up)
	// recommendation over this window is used, which damps flapping.
	Stabilization time.Duration
	// FromMeasurements makes Stabilization span the measurements behind
	// the recommendations rather than the recommendations' own times
	// (stabilization_from: measurements, brink's default for scale-down).
	// A recommendation made at t averages the service's Window up to t;
	// it counts while its oldest sample is within Stabilization, so the
	// recommendations of the last Stabilization − Window count. A burst
	// still holds the replicas for Stabilization after it (the last
	// recommendation whose average includes it is made up to Window
	// later), but the averaging no longer adds to the window: after a drop
	// the replicas are back within Stabilization, not Stabilization plus
	// Window. The HPA counts from its recommendations (false).
	FromMeasurements bool
	// Select picks among Policies: "max" (the largest change allowed),
	// "min" (the smallest) or "disabled" (never scale in this direction).
	Select   string
	Policies []StepPolicy
}

// StepPolicy allows at most Pods replicas, or Percent of the replicas at
// the start of the period, to be added (removed) per Period.
type StepPolicy struct {
	Pods    int
	Percent int
	Period  time.Duration
}

func (s StepPolicy) String() string {
	if s.Pods > 0 {
		return fmt.Sprintf("%d pods per %s", s.Pods, s.Period)
	}
	return fmt.Sprintf("%d%% per %s", s.Percent, s.Period)
}

// FastPath reacts to a sharp load step between two decisions: every Every
// the targets are evaluated over the short Window, and when one is at
// Ratio × its target or more, a scale-up is decided at once, without the
// scale-up stabilisation window. Step limits and max still apply.
type FastPath struct {
	Enabled bool
	Ratio   float64       // default 1.3
	Window  time.Duration // default 3s
	Every   time.Duration // default 1s
}

// LBConfig ties a service to its frontend and backend in the load balancer
// and says how replicas join and leave it.
type LBConfig struct {
	Frontend      string        // frontend whose request counter gives RPS; default: the service name
	Backend       string        // backend holding the replicas; default: the service name
	HealthPath    string        // replicas are added after GET HealthPath answers 2xx; default /
	HealthTimeout time.Duration // per probe; default 1s
	StartTimeout  time.Duration // a replica not healthy by then is reported; default 60s
	DrainTimeout  time.Duration // wait for sessions to end before removal; default 30s
	// ServerMaxConn caps each replica's concurrent requests at the load
	// balancer; the rest wait in its queue and go to the first free
	// replica, so a new replica takes queued work at once and an overloaded
	// one is not drowned. 0 for no cap.
	ServerMaxConn int
}

// TargetKind is what a target measures.
type TargetKind int

// Target kinds.
const (
	CPU     TargetKind = iota // CPU use as a fraction of the containers' limit
	RPS                       // requests per second per replica
	Latency                   // p95 latency in seconds
	PromQL                    // any PromQL expression
)

// Target is one metric with the value it should stay at.
type Target struct {
	Kind  TargetKind
	Value float64 // CPU: fraction of limit; RPS: req/s per replica; Latency: seconds; PromQL: number
	// FromRun (RPS only): Value is the per-replica capacity a find-limit run
	// measured, times Utilisation; resolved when the autoscaler starts.
	FromRun     string
	Utilisation float64
	// PromQL only.
	Query      string
	FastQuery  string // the same over a short window, for the fast path; "" = Query
	PerReplica bool   // the query gives a total: divide it by the replica count
	Line, Col  int    // position in the policy file
}

// Name is the target's short name in events and reasons.
func (t Target) Name() string {
	switch t.Kind {
	case CPU:
		return "cpu"
	case RPS:
		return "rps/replica"
	case Latency:
		return "p95"
	}
	q := t.Query
	if len(q) > 40 {
		q = q[:37] + "..."
	}
	return q
}

// Format renders a value of this target's kind.
func (t Target) Format(v float64) string {
	switch t.Kind {
	case CPU:
		return strconv.FormatFloat(v, 'f', 2, 64) + " of limit"
	case Latency:
		return (time.Duration(v * float64(time.Second))).Round(time.Millisecond).String()
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// Service returns the policy of the named service, or nil.
func (p *Policy) Service(name string) *ServicePolicy {
	for _, s := range p.Services {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Defaults of brink's own policy. The HPA-default policy is in HPADefault.
const (
	DefaultInterval  = 5 * time.Second
	DefaultTolerance = 0.1
	DefaultWindow    = 15 * time.Second
)

func defaultScaleUp() Behavior {
	return Behavior{Select: "max", Policies: []StepPolicy{
		{Pods: 4, Period: 15 * time.Second}, {Percent: 100, Period: 15 * time.Second},
	}}
}

func defaultScaleDown() Behavior {
	return Behavior{Stabilization: 60 * time.Second, FromMeasurements: true, Select: "max", Policies: []StepPolicy{
		{Percent: 100, Period: 15 * time.Second},
	}}
}

func defaultFastPath() FastPath {
	return FastPath{Enabled: true, Ratio: 1.3, Window: 3 * time.Second, Every: time.Second}
}

// LoadPolicy reads and checks a policy file.
func LoadPolicy(path string) (*Policy, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read autoscale policy: %w", err)
	}
	p, err := ParsePolicy(path, b)
	if err != nil {
		return nil, err
	}
	p.Path = path
	return p, nil
}

// ParsePolicy parses a policy; file names positions in errors.
func ParsePolicy(file string, data []byte) (*Policy, error) {
	ps := &parser{file: file}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		return nil, &PolicyError{File: file, Msg: "empty policy: it needs at least a services: mapping"}
	} else if err != nil {
		return nil, &PolicyError{File: file, Msg: "not valid YAML: " + err.Error()}
	}
	if len(doc.Content) == 0 {
		return nil, &PolicyError{File: file, Msg: "empty policy: it needs at least a services: mapping"}
	}
	root := doc.Content[0]
	top, _, err := ps.mapping(root, "the policy", "interval", "haproxy", "services")
	if err != nil {
		return nil, err
	}
	p := &Policy{Interval: DefaultInterval}
	if kv, ok := top["interval"]; ok {
		if p.Interval, err = ps.duration(kv[1], "interval", time.Second, time.Hour); err != nil {
			return nil, err
		}
	}
	if kv, ok := top["haproxy"]; ok {
		p.HAProxy = &HAProxyConfig{}
		if err := ps.decodeStrict(kv[1], p.HAProxy, "haproxy"); err != nil {
			return nil, err
		}
		if p.HAProxy.Socket == "" {
			return nil, ps.errAt(kv[1], "haproxy: socket is required (the admin stats socket, e.g. /run/brink/haproxy.sock)")
		}
	}
	kv, ok := top["services"]
	if !ok {
		return nil, ps.errAt(root, "services: is required: one entry per service to autoscale")
	}
	svcs, order, err := ps.mapping(kv[1], "services")
	if err != nil {
		return nil, err
	}
	if len(order) == 0 {
		return nil, ps.errAt(kv[1], "services: is empty")
	}
	for _, name := range order {
		s, err := ps.service(name, svcs[name][0], svcs[name][1])
		if err != nil {
			return nil, err
		}
		if s.LB != nil && p.HAProxy == nil {
			return nil, ps.errAt(svcs[name][0], "service %q has an lb: section but the policy has no haproxy: socket", name)
		}
		p.Services = append(p.Services, s)
	}
	return p, nil
}

func (ps *parser) duration(n *yaml.Node, what string, min, max time.Duration) (time.Duration, error) {
	if n.Kind != yaml.ScalarNode {
		return 0, ps.errAt(n, "%s must be a duration such as 15s", what)
	}
	d, err := time.ParseDuration(n.Value)
	if err != nil {
		if secs, ferr := strconv.ParseFloat(n.Value, 64); ferr == nil {
			d = time.Duration(secs * float64(time.Second))
		} else {
			return 0, ps.errAt(n, "%s: %q is not a duration (write e.g. 15s, 500ms, 5m)", what, n.Value)
		}
	}
	if d < min || d > max {
		return 0, ps.errAt(n, "%s %s is out of range [%s, %s]", what, d, min, max)
	}
	return d, nil
}

func (ps *parser) number(n *yaml.Node, what string, min, max float64, minOpen bool) (float64, error) {
	if n.Kind != yaml.ScalarNode {
		return 0, ps.errAt(n, "%s must be a number", what)
	}
	v, err := strconv.ParseFloat(strings.TrimSuffix(n.Value, "%"), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, ps.errAt(n, "%s: %q is not a number", what, n.Value)
	}
	if strings.HasSuffix(n.Value, "%") {
		v /= 100
	}
	if v < min || v > max || (minOpen && v == min) {
		lo := "["
		if minOpen {
			lo = "("
		}
		return 0, ps.errAt(n, "%s %v is out of range %s%v, %v]", what, v, lo, min, max)
	}
	return v, nil
}

func (ps *parser) integer(n *yaml.Node, what string, min, max int) (int, error) {
	if n.Kind != yaml.ScalarNode {
		return 0, ps.errAt(n, "%s must be a whole number", what)
	}
	v, err := strconv.Atoi(n.Value)
	if err != nil {
		return 0, ps.errAt(n, "%s: %q is not a whole number", what, n.Value)
	}
	if v < min || v > max {
		return 0, ps.errAt(n, "%s %d is out of range [%d, %d]", what, v, min, max)
	}
	return v, nil
}

func (ps *parser) boolean(n *yaml.Node, what string) (bool, error) {
	var b bool
	if n.Kind != yaml.ScalarNode || n.Decode(&b) != nil {
		return false, ps.errAt(n, "%s must be true or false", what)
	}
	return b, nil
}

func (ps *parser) service(name string, key, n *yaml.Node) (*ServicePolicy, error) {
	if err := validServiceName(name); err != nil {
		return nil, ps.errAt(key, "%v", err)
	}
	what := fmt.Sprintf("service %q", name)
	m, _, err := ps.mapping(n, what, "min", "max", "tolerance", "window", "targets",
		"scale_up", "scale_down", "fast_path", "actuator", "lb")
	if err != nil {
		return nil, err
	}
	s := &ServicePolicy{Name: name, Min: 1, Tolerance: DefaultTolerance, Window: DefaultWindow,
		ScaleUp: defaultScaleUp(), ScaleDown: defaultScaleDown(), Fast: defaultFastPath()}
	if kv, ok := m["min"]; ok {
		if s.Min, err = ps.integer(kv[1], what+": min", 1, 10000); err != nil {
			return nil, err
		}
	}
	kv, ok := m["max"]
	if !ok {
		return nil, ps.errAt(key, "%s: max is required (the most replicas the autoscaler may run)", what)
	}
	if s.Max, err = ps.integer(kv[1], what+": max", 1, 10000); err != nil {
		return nil, err
	}
	if s.Max < s.Min {
		return nil, ps.errAt(kv[1], "%s: max %d is below min %d", what, s.Max, s.Min)
	}
	if kv, ok := m["tolerance"]; ok {
		if s.Tolerance, err = ps.number(kv[1], what+": tolerance", 0, 0.99, false); err != nil {
			return nil, err
		}
	}
	if kv, ok := m["window"]; ok {
		if s.Window, err = ps.duration(kv[1], what+": window", 2*time.Second, time.Hour); err != nil {
			return nil, err
		}
	}
	kv, ok = m["targets"]
	if !ok {
		return nil, ps.errAt(key, "%s: targets is required: at least one of cpu, rps_per_replica, p95, promql", what)
	}
	if s.Targets, err = ps.targets(kv[1], what); err != nil {
		return nil, err
	}
	if kv, ok := m["scale_up"]; ok {
		if s.ScaleUp, err = ps.behavior(kv[1], what+": scale_up", s.ScaleUp); err != nil {
			return nil, err
		}
	}
	if kv, ok := m["scale_down"]; ok {
		if s.ScaleDown, err = ps.behavior(kv[1], what+": scale_down", s.ScaleDown); err != nil {
			return nil, err
		}
	}
	if kv, ok := m["fast_path"]; ok {
		if s.Fast, err = ps.fastPath(kv[1], what+": fast_path"); err != nil {
			return nil, err
		}
	}
	kv, ok = m["actuator"]
	if !ok {
		return nil, ps.errAt(key, "%s: actuator is required: one of %s", what, strings.Join(actuator.Kinds(), ", "))
	}
	if s.Actuator, err = ps.actuator(kv[1], name, what); err != nil {
		return nil, err
	}
	if kv, ok := m["lb"]; ok {
		if s.LB, err = ps.lbConfig(kv[1], name, what); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func validServiceName(name string) error {
	if name == "" {
		return errors.New("a service name must not be empty")
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./", r)) {
			return fmt.Errorf("service name %q: only letters, digits and - _ . / are allowed", name)
		}
	}
	return nil
}

func (ps *parser) targets(n *yaml.Node, what string) ([]Target, error) {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		return nil, ps.errAt(n, "%s: targets must be a non-empty list, e.g. \"- cpu: 0.7\"", what)
	}
	var out []Target
	for _, item := range n.Content {
		m, order, err := ps.mapping(item, what+": target", "cpu", "rps_per_replica", "p95", "promql", "target", "per_replica", "fast_query")
		if err != nil {
			return nil, err
		}
		var kinds []string
		for _, k := range order {
			if k == "cpu" || k == "rps_per_replica" || k == "p95" || k == "promql" {
				kinds = append(kinds, k)
			}
		}
		if len(kinds) != 1 {
			return nil, ps.errAt(item, "%s: each target has exactly one of cpu, rps_per_replica, p95, promql (found %d)", what, len(kinds))
		}
		t := Target{Line: item.Line, Col: item.Column}
		v := m[kinds[0]][1]
		if kinds[0] != "promql" {
			for _, extra := range []string{"target", "per_replica", "fast_query"} {
				if kv, ok := m[extra]; ok {
					return nil, ps.errAt(kv[0], "%s: %s belongs to promql targets only", what, extra)
				}
			}
		}
		switch kinds[0] {
		case "cpu":
			t.Kind = CPU
			if t.Value, err = ps.number(v, what+": cpu (fraction of the CPU limit)", 0, 1, true); err != nil {
				return nil, err
			}
		case "rps_per_replica":
			t.Kind = RPS
			if v.Kind == yaml.MappingNode {
				mm, _, err := ps.mapping(v, what+": rps_per_replica", "capacity", "utilisation")
				if err != nil {
					return nil, err
				}
				c, ok := mm["capacity"]
				if !ok || !strings.HasPrefix(c[1].Value, "from-run ") || strings.TrimSpace(strings.TrimPrefix(c[1].Value, "from-run ")) == "" {
					at := v
					if ok {
						at = c[1]
					}
					return nil, ps.errAt(at, "%s: rps_per_replica: capacity must be \"from-run RUN_ID\" (a find-limit run)", what)
				}
				t.FromRun = strings.TrimSpace(strings.TrimPrefix(c[1].Value, "from-run "))
				t.Utilisation = 0.7
				if u, ok := mm["utilisation"]; ok {
					if t.Utilisation, err = ps.number(u[1], what+": utilisation", 0, 1, true); err != nil {
						return nil, err
					}
				}
			} else if t.Value, err = ps.number(v, what+": rps_per_replica", 0, 1e9, true); err != nil {
				return nil, err
			}
		case "p95":
			t.Kind = Latency
			d, err := ps.duration(v, what+": p95", time.Microsecond, time.Minute)
			if err != nil {
				return nil, err
			}
			t.Value = d.Seconds()
		case "promql":
			t.Kind = PromQL
			if v.Kind != yaml.ScalarNode || strings.TrimSpace(v.Value) == "" {
				return nil, ps.errAt(v, "%s: promql must be an expression", what)
			}
			t.Query = v.Value
			if err := ps.checkPromQL(v, what); err != nil {
				return nil, err
			}
			tv, ok := m["target"]
			if !ok {
				return nil, ps.errAt(item, "%s: a promql target needs target: (the value to keep the expression at)", what)
			}
			if t.Value, err = ps.number(tv[1], what+": target", 0, math.MaxFloat64, true); err != nil {
				return nil, err
			}
			if pr, ok := m["per_replica"]; ok {
				if t.PerReplica, err = ps.boolean(pr[1], what+": per_replica"); err != nil {
					return nil, err
				}
			}
			if fq, ok := m["fast_query"]; ok {
				t.FastQuery = fq[1].Value
				if err := ps.checkPromQL(fq[1], what+": fast_query"); err != nil {
					return nil, err
				}
			}
		}
		out = append(out, t)
	}
	return out, nil
}

func (ps *parser) checkPromQL(n *yaml.Node, what string) error {
	_, err := promparser.NewParser(promparser.Options{}).ParseExpr(n.Value)
	if err == nil {
		return nil
	}
	var perrs promparser.ParseErrors
	if errors.As(err, &perrs) && len(perrs) > 0 && n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) == 0 && !strings.Contains(n.Value, "\n") {
		// A one-line expression: point at the offending character.
		col := n.Column + int(perrs[0].PositionRange.Start)
		if n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle) != 0 {
			col++
		}
		return &PolicyError{File: ps.file, Line: n.Line, Column: col, Msg: fmt.Sprintf("%s: PromQL: %s", what, perrs[0].Err)}
	}
	return ps.errAt(n, "%s: PromQL: %v", what, err)
}

func (ps *parser) behavior(n *yaml.Node, what string, b Behavior) (Behavior, error) {
	m, _, err := ps.mapping(n, what, "stabilization", "stabilization_from", "select", "policies")
	if err != nil {
		return b, err
	}
	if kv, ok := m["stabilization"]; ok {
		if b.Stabilization, err = ps.duration(kv[1], what+": stabilization", 0, time.Hour); err != nil {
			return b, err
		}
	}
	if kv, ok := m["stabilization_from"]; ok {
		switch kv[1].Value {
		case "measurements":
			b.FromMeasurements = true
		case "decisions":
			b.FromMeasurements = false
		default:
			return b, ps.errAt(kv[1], "%s: stabilization_from %q must be measurements (the window spans the samples behind the recommendations) or decisions (as the HPA: the recommendations' own times)", what, kv[1].Value)
		}
	}
	if kv, ok := m["select"]; ok {
		switch kv[1].Value {
		case "max", "min", "disabled":
			b.Select = kv[1].Value
		default:
			return b, ps.errAt(kv[1], "%s: select %q must be max, min or disabled", what, kv[1].Value)
		}
	}
	if kv, ok := m["policies"]; ok {
		if kv[1].Kind != yaml.SequenceNode || len(kv[1].Content) == 0 {
			return b, ps.errAt(kv[1], "%s: policies must be a non-empty list such as \"- {pods: 4, period: 15s}\"", what)
		}
		b.Policies = nil
		for _, item := range kv[1].Content {
			pm, _, err := ps.mapping(item, what+": policy", "pods", "percent", "period")
			if err != nil {
				return b, err
			}
			var sp StepPolicy
			_, hasPods := pm["pods"]
			_, hasPct := pm["percent"]
			if hasPods == hasPct {
				return b, ps.errAt(item, "%s: a policy has exactly one of pods or percent", what)
			}
			if hasPods {
				if sp.Pods, err = ps.integer(pm["pods"][1], what+": pods", 1, 10000); err != nil {
					return b, err
				}
			} else if sp.Percent, err = ps.integer(pm["percent"][1], what+": percent", 1, 10000); err != nil {
				return b, err
			}
			per, ok := pm["period"]
			if !ok {
				return b, ps.errAt(item, "%s: a policy needs a period (e.g. 15s)", what)
			}
			if sp.Period, err = ps.duration(per[1], what+": period", time.Second, 30*time.Minute); err != nil {
				return b, err
			}
			b.Policies = append(b.Policies, sp)
		}
	}
	return b, nil
}

func (ps *parser) fastPath(n *yaml.Node, what string) (FastPath, error) {
	f := defaultFastPath()
	if n.Kind == yaml.ScalarNode {
		on, err := ps.boolean(n, what)
		f.Enabled = on
		return f, err
	}
	m, _, err := ps.mapping(n, what, "ratio", "window", "every")
	if err != nil {
		return f, err
	}
	if kv, ok := m["ratio"]; ok {
		if f.Ratio, err = ps.number(kv[1], what+": ratio", 1, 100, true); err != nil {
			return f, err
		}
	}
	if kv, ok := m["window"]; ok {
		if f.Window, err = ps.duration(kv[1], what+": window", 2*time.Second, 5*time.Minute); err != nil {
			return f, err
		}
	}
	if kv, ok := m["every"]; ok {
		if f.Every, err = ps.duration(kv[1], what+": every", 100*time.Millisecond, time.Minute); err != nil {
			return f, err
		}
	}
	return f, nil
}

func (ps *parser) actuator(n *yaml.Node, service, what string) (actuator.Spec, error) {
	m, order, err := ps.mapping(n, what+": actuator", actuator.Kinds()...)
	if err != nil {
		return actuator.Spec{}, err
	}
	if len(order) != 1 {
		return actuator.Spec{}, ps.errAt(n, "%s: actuator names exactly one of %s", what, strings.Join(actuator.Kinds(), ", "))
	}
	kind := order[0]
	spec, cfg, err := actuator.NewConfig(kind)
	if err != nil {
		return spec, ps.errAt(m[kind][0], "%v", err)
	}
	body := m[kind][1]
	if err := ps.decodeStrict(body, cfg, what+": actuator "+kind); err != nil {
		return spec, err
	}
	var verr error
	switch c := cfg.(type) {
	case *actuator.DockerConfig:
		verr = c.Validate()
	case *actuator.SwarmConfig:
		verr = c.Validate(service)
	case *actuator.MarathonConfig:
		verr = c.Validate()
	case *actuator.KubernetesConfig:
		verr = c.Validate()
	}
	if verr != nil {
		return spec, ps.errAt(body, "%s: %v", what, verr)
	}
	return spec, nil
}

type lbYAML struct {
	Frontend      string        `yaml:"frontend"`
	Backend       string        `yaml:"backend"`
	HealthPath    string        `yaml:"health_path"`
	HealthTimeout time.Duration `yaml:"health_timeout"`
	StartTimeout  time.Duration `yaml:"start_timeout"`
	DrainTimeout  time.Duration `yaml:"drain_timeout"`
	ServerMaxConn int           `yaml:"server_maxconn"`
}

func (ps *parser) lbConfig(n *yaml.Node, service, what string) (*LBConfig, error) {
	var y lbYAML
	if err := ps.decodeStrict(n, &y, what+": lb"); err != nil {
		return nil, err
	}
	c := &LBConfig{Frontend: y.Frontend, Backend: y.Backend, HealthPath: y.HealthPath,
		HealthTimeout: y.HealthTimeout, StartTimeout: y.StartTimeout, DrainTimeout: y.DrainTimeout, ServerMaxConn: y.ServerMaxConn}
	if c.Frontend == "" {
		c.Frontend = service
	}
	if c.Backend == "" {
		c.Backend = service
	}
	if c.HealthPath == "" {
		c.HealthPath = "/"
	}
	if !strings.HasPrefix(c.HealthPath, "/") {
		return nil, ps.errAt(n, "%s: lb: health_path %q must start with /", what, c.HealthPath)
	}
	if c.HealthTimeout == 0 {
		c.HealthTimeout = time.Second
	}
	if c.StartTimeout == 0 {
		c.StartTimeout = 60 * time.Second
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = 30 * time.Second
	}
	if c.ServerMaxConn < 0 {
		return nil, ps.errAt(n, "%s: lb: server_maxconn %d must not be negative", what, c.ServerMaxConn)
	}
	if c.HealthTimeout < 0 || c.StartTimeout < 0 || c.DrainTimeout < 0 {
		return nil, ps.errAt(n, "%s: lb: timeouts must not be negative", what)
	}
	return c, nil
}

// HPADefault returns a copy of p that behaves as a Kubernetes
// HorizontalPodAutoscaler with its documented defaults: a 15 s sync period,
// 10 % tolerance, no scale-up stabilisation, at most max(4 pods, 100 %)
// more per 15 s, a 300 s scale-down stabilisation window, at most 100 %
// fewer per 15 s, and no fast path. Targets, bounds, actuators and load
// balancer stay as they are, so both policies can be compared on the same
// service.
func HPADefault(p *Policy) *Policy {
	c := *p
	c.Interval = 15 * time.Second
	c.Services = nil
	for _, s := range p.Services {
		h := *s
		h.Tolerance = 0.1
		h.ScaleUp = Behavior{Select: "max", Policies: []StepPolicy{
			{Pods: 4, Period: 15 * time.Second}, {Percent: 100, Period: 15 * time.Second},
		}}
		h.ScaleDown = Behavior{Stabilization: 300 * time.Second, Select: "max", Policies: []StepPolicy{
			{Percent: 100, Period: 15 * time.Second},
		}}
		h.Fast = FastPath{}
		c.Services = append(c.Services, &h)
	}
	return &c
}
