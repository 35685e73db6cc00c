// Package actuator changes the number of replicas of a service through its
// orchestrator: Docker (brink runs the containers itself), Swarm, Marathon
// and Kubernetes. Each actuator is one file behind the small Actuator
// interface; the autoscaler decides how many replicas, an actuator only
// carries it out and reports what exists.
package actuator

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// ReplicaState is where a replica is in its life.
type ReplicaState int

// Replica states. Only Running replicas may receive traffic; Terminating
// ones are on their way out (chosen by the orchestrator) and must be drained
// from the load balancer at once.
const (
	Starting    ReplicaState = iota // created, not yet reported running
	Running                         // running (its health is probed separately)
	Terminating                     // being stopped or already asked to stop
)

func (s ReplicaState) String() string {
	switch s {
	case Starting:
		return "starting"
	case Running:
		return "running"
	case Terminating:
		return "terminating"
	}
	return fmt.Sprintf("state(%d)", int(s))
}

// Replica is one instance of a service as its orchestrator reports it.
type Replica struct {
	ID    string       // orchestrator id: container id, task id, pod name
	Name  string       // stable, human name; also the load balancer's server name
	Addr  string       // host:port that traffic goes to ("" while unknown)
	State ReplicaState //
	// Healthy is the orchestrator's own health verdict when it has one
	// (Marathon health checks, Kubernetes readiness); nil when it has none
	// and the autoscaler must probe the replica itself.
	Healthy *bool
	Created time.Time
}

// Actuator is one service's orchestrator.
type Actuator interface {
	// Replicas lists the service's replicas now, terminating ones included.
	Replicas(ctx context.Context) ([]Replica, error)
	// SetReplicas asks for n replicas in total. It returns once the
	// orchestrator accepted the request; replicas start asynchronously.
	// When n is below the current count the orchestrator chooses which
	// replicas go, unless the actuator is also a Remover.
	SetReplicas(ctx context.Context, n int) error
}

// Remover is an Actuator that can remove chosen replicas. The autoscaler
// then drains exactly those replicas at the load balancer before removing
// them, so no request is cut off.
type Remover interface {
	Remove(ctx context.Context, replicas []Replica) error
}

// Closer is implemented by actuators holding connections.
type Closer interface {
	Close() error
}

// Spec selects an actuator kind and holds its configuration, as written in
// a policy file under a service's `actuator:` key.
type Spec struct {
	Kind       string
	Docker     *DockerConfig
	Swarm      *SwarmConfig
	Marathon   *MarathonConfig
	Kubernetes *KubernetesConfig
}

// Config returns the kind's configuration (a pointer to its struct).
func (s Spec) Config() any {
	switch s.Kind {
	case "docker":
		return s.Docker
	case "swarm":
		return s.Swarm
	case "marathon":
		return s.Marathon
	case "kubernetes":
		return s.Kubernetes
	}
	return nil
}

// Kinds are the actuator kinds a policy may name, in documentation order.
var kinds = []string{"docker", "swarm", "marathon", "kubernetes"}

// Kinds returns the actuator kinds a policy may name.
func Kinds() []string { return slices.Clone(kinds) }

// NewConfig returns an empty configuration of kind, for decoding into, and
// a Spec holding it.
func NewConfig(kind string) (Spec, any, error) {
	s := Spec{Kind: kind}
	switch kind {
	case "docker":
		s.Docker = &DockerConfig{}
	case "swarm":
		s.Swarm = &SwarmConfig{}
	case "marathon":
		s.Marathon = &MarathonConfig{}
	case "kubernetes":
		s.Kubernetes = &KubernetesConfig{}
	default:
		return Spec{}, nil, fmt.Errorf("unknown actuator %q (want one of %s)", kind, strings.Join(kinds, ", "))
	}
	return s, s.Config(), nil
}

// Factory builds the actuator of one service.
type Factory func(ctx context.Context, service string, spec Spec) (Actuator, error)

// Registry maps an actuator kind to its factory. Builtin returns the real
// ones; tests may register their own kinds.
type Registry map[string]Factory

// New builds the actuator for service from spec.
func (r Registry) New(ctx context.Context, service string, spec Spec) (Actuator, error) {
	f, ok := r[spec.Kind]
	if !ok {
		have := make([]string, 0, len(r))
		for k := range r {
			have = append(have, k)
		}
		sort.Strings(have)
		return nil, fmt.Errorf("service %q: actuator %q is not available (have: %s)", service, spec.Kind, strings.Join(have, ", "))
	}
	return f(ctx, service, spec)
}

// Options are what the built-in actuators need from the process.
type Options struct {
	DockerHost string              // Docker Engine address; "" for DOCKER_HOST or the default socket
	Getenv     func(string) string // reads credentials named in a policy (Marathon token)
}

// Builtin is the registry of brink's own actuators.
func Builtin(opts Options) Registry {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	return Registry{
		"docker": func(ctx context.Context, service string, spec Spec) (Actuator, error) {
			return NewDocker(ctx, opts.DockerHost, service, *spec.Docker)
		},
		"swarm": func(ctx context.Context, service string, spec Spec) (Actuator, error) {
			return NewSwarm(ctx, opts.DockerHost, service, *spec.Swarm)
		},
		"marathon": func(ctx context.Context, service string, spec Spec) (Actuator, error) {
			return NewMarathon(service, *spec.Marathon, nil, getenv)
		},
		"kubernetes": func(ctx context.Context, service string, spec Spec) (Actuator, error) {
			return NewKubernetesFromConfig(service, *spec.Kubernetes)
		},
	}
}

// Active returns the replicas that are not terminating.
func Active(rs []Replica) []Replica {
	out := make([]Replica, 0, len(rs))
	for _, r := range rs {
		if r.State != Terminating {
			out = append(out, r)
		}
	}
	return out
}
