package actuator

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// SwarmConfig points at an existing Swarm service. With host networking
// several replicas on one node cannot share a port, so each task listens on
// PortBase + its slot number: create the service with an environment
// variable such as SLOT={{.Task.Slot}} and let the program add it to the
// base port (brink's sample target does with --port-base).
type SwarmConfig struct {
	Service  string `yaml:"service"`   // Swarm service name; default: the brink service name
	PortBase int    `yaml:"port_base"` // task in slot k serves on PortBase+k
	Host     string `yaml:"host"`      // address tasks are reached on; default 127.0.0.1
}

// Validate checks the configuration and fills defaults.
func (c *SwarmConfig) Validate(service string) error {
	if c.Service == "" {
		c.Service = service
	}
	if c.PortBase <= 0 || c.PortBase > 65000 {
		return fmt.Errorf("swarm: port_base %d must be between 1 and 65000", c.PortBase)
	}
	if c.Host == "" {
		c.Host = "127.0.0.1"
	}
	return nil
}

// Swarm scales a Swarm service (`docker service scale`) through the Engine
// API. Swarm chooses which tasks stop when scaling in; the autoscaler sees
// them as terminating (desired state shutdown) and drains them at once, so
// the program should keep serving for a moment after SIGTERM.
type Swarm struct {
	cli     *client.Client
	service string
	cfg     SwarmConfig
}

// NewSwarm connects to the Engine at host ("" for the environment's).
func NewSwarm(ctx context.Context, host, service string, cfg SwarmConfig) (*Swarm, error) {
	if err := cfg.Validate(service); err != nil {
		return nil, fmt.Errorf("service %q: %w", service, err)
	}
	opts := []client.Opt{client.FromEnv}
	if host != "" {
		opts = append(opts, client.WithHost(host))
	}
	cli, err := client.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("swarm actuator for %q: %w", service, err)
	}
	if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		cli.Close()
		return nil, fmt.Errorf("swarm actuator for %q: Docker Engine at %s does not answer: %w", service, cli.DaemonHost(), err)
	}
	return &Swarm{cli: cli, service: service, cfg: cfg}, nil
}

// Close releases the Engine connection.
func (s *Swarm) Close() error { return s.cli.Close() }

// Replicas lists the service's tasks that are not finished.
func (s *Swarm) Replicas(ctx context.Context) ([]Replica, error) {
	res, err := s.cli.TaskList(ctx, client.TaskListOptions{
		Filters: make(client.Filters).Add("service", s.cfg.Service),
	})
	if err != nil {
		return nil, fmt.Errorf("swarm: list tasks of service %q: %w", s.cfg.Service, err)
	}
	var out []Replica
	for _, t := range res.Items {
		st, alive := swarmState(t)
		if !alive {
			continue
		}
		out = append(out, Replica{
			ID:      t.ID,
			Name:    s.cfg.Service + "." + strconv.Itoa(t.Slot),
			Addr:    net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.PortBase+t.Slot)),
			State:   st,
			Created: t.CreatedAt,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// swarmState maps a task to a replica state; alive is false for tasks that
// have ended and only remain in the service's history.
func swarmState(t swarm.Task) (state ReplicaState, alive bool) {
	switch t.Status.State {
	case swarm.TaskStateComplete, swarm.TaskStateShutdown, swarm.TaskStateFailed,
		swarm.TaskStateRejected, swarm.TaskStateRemove, swarm.TaskStateOrphaned:
		return Terminating, false
	}
	if t.DesiredState != swarm.TaskStateRunning && t.DesiredState != swarm.TaskStateReady && t.DesiredState != "" {
		return Terminating, true
	}
	if t.Status.State == swarm.TaskStateRunning {
		return Running, true
	}
	return Starting, true
}

// SetReplicas updates the service's replica count. A concurrent update of
// the service (version conflict) is retried with the new version.
func (s *Swarm) SetReplicas(ctx context.Context, n int) error {
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		res, err := s.cli.ServiceInspect(ctx, s.cfg.Service, client.ServiceInspectOptions{})
		if err != nil {
			return fmt.Errorf("swarm: inspect service %q: %w (is this node a swarm manager and the service created?)", s.cfg.Service, err)
		}
		svc := res.Service
		if svc.Spec.Mode.Replicated == nil {
			return fmt.Errorf("swarm: service %q is not in replicated mode; only replicated services can be scaled", s.cfg.Service)
		}
		replicas := uint64(n)
		spec := svc.Spec
		spec.Mode.Replicated.Replicas = &replicas
		_, err = s.cli.ServiceUpdate(ctx, svc.ID, client.ServiceUpdateOptions{Version: svc.Version, Spec: spec})
		if err == nil {
			return nil
		}
		lastErr = err
		if !strings.Contains(err.Error(), "out of sequence") {
			return fmt.Errorf("swarm: scale service %q to %d: %w", s.cfg.Service, n, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("swarm: scale service %q to %d: %w", s.cfg.Service, n, errors.Join(lastErr, errors.New("the service kept changing under us (5 version conflicts)")))
}
