package actuator

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// Labels brink puts on the containers it creates. brink.service is also the
// label `brink monitor` names containers by, so replicas appear under their
// service at once.
const (
	LabelService = "brink.service"
	LabelAddr    = "brink.addr"    // host:port the replica serves on
	LabelManager = "brink.managed" // "autoscale" on replicas created by the Docker actuator
)

// DockerConfig is the template replicas are created from. Every replica
// runs with host networking on a port of its own; "{{port}}" in Command and
// Env values is replaced by that port, and the port is also passed in the
// environment variable PortEnv.
type DockerConfig struct {
	Image       string            `yaml:"image"`
	CPUs        float64           `yaml:"cpus"`         // CPU limit in cores (docker --cpus); 0 = none
	Memory      string            `yaml:"memory"`       // memory limit (docker --memory, e.g. 256m); "" = none
	Env         map[string]string `yaml:"env"`          // extra environment
	Labels      map[string]string `yaml:"labels"`       // extra labels
	Command     []string          `yaml:"command"`      // overrides the image's command
	PortEnv     string            `yaml:"port_env"`     // default PORT
	Host        string            `yaml:"host"`         // address replicas bind and are reached on; default 127.0.0.1
	NamePrefix  string            `yaml:"name_prefix"`  // default "<service>-"
	StopTimeout time.Duration     `yaml:"stop_timeout"` // SIGTERM → SIGKILL grace; default 10s
	// CgroupParent is docker --cgroup-parent: the cgroup the replicas'
	// cgroups are created under, so that they share its CPU weight with
	// replicas started by other means (with Docker's cgroupfs driver a
	// path such as /brink-lab/<id>/web; with the systemd driver a slice,
	// e.g. web.slice). Empty: Docker's default.
	CgroupParent string `yaml:"cgroup_parent"`
	// Ports is the range replica ports are drawn from, "LOW-HIGH". The
	// default, 20000-32767, lies below Linux's ephemeral range, so the
	// outgoing connections of a busy load balancer or load generator cannot
	// take a port between its choice and the replica's bind.
	Ports string `yaml:"ports"`
}

// Validate checks the template and fills defaults.
func (c *DockerConfig) Validate() error {
	if c.Image == "" {
		return errors.New("docker: image is required")
	}
	if c.CPUs < 0 {
		return fmt.Errorf("docker: cpus %v must not be negative", c.CPUs)
	}
	if c.Memory != "" {
		if _, err := units.RAMInBytes(c.Memory); err != nil {
			return fmt.Errorf("docker: memory %q: %w (write e.g. 256m or 1g)", c.Memory, err)
		}
	}
	if c.PortEnv == "" {
		c.PortEnv = "PORT"
	}
	if c.Host == "" {
		c.Host = "127.0.0.1"
	}
	if net.ParseIP(c.Host) == nil {
		return fmt.Errorf("docker: host %q is not an IP address", c.Host)
	}
	if c.StopTimeout == 0 {
		c.StopTimeout = 10 * time.Second
	}
	if c.Ports == "" {
		c.Ports = "20000-32767"
	}
	if _, _, err := c.portRange(); err != nil {
		return err
	}
	return nil
}

func (c *DockerConfig) portRange() (int, int, error) {
	lo, hi, ok := strings.Cut(c.Ports, "-")
	l, err1 := strconv.Atoi(strings.TrimSpace(lo))
	h, err2 := strconv.Atoi(strings.TrimSpace(hi))
	if !ok || err1 != nil || err2 != nil || l < 1 || h > 65535 || l > h {
		return 0, 0, fmt.Errorf("docker: ports %q must be a range such as 20000-32767", c.Ports)
	}
	return l, h, nil
}

// Docker runs a service's replicas as containers on one Docker Engine. It is
// the only actuator that starts containers itself, so it chooses which
// replicas go when scaling in (newest first) and lets them be drained first.
type Docker struct {
	cli     *client.Client
	service string
	cfg     DockerConfig
}

// NewDocker connects to the Engine at host ("" for DOCKER_HOST or the
// default socket).
func NewDocker(ctx context.Context, host, service string, cfg DockerConfig) (*Docker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("service %q: %w", service, err)
	}
	if cfg.NamePrefix == "" {
		cfg.NamePrefix = service + "-"
	}
	opts := []client.Opt{client.FromEnv}
	if host != "" {
		opts = append(opts, client.WithHost(host))
	}
	cli, err := client.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("docker actuator for %q: %w", service, err)
	}
	if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		cli.Close()
		return nil, fmt.Errorf("docker actuator for %q: Docker Engine at %s does not answer: %w (start it with: bash scripts/dockerd.sh)", service, cli.DaemonHost(), err)
	}
	return &Docker{cli: cli, service: service, cfg: cfg}, nil
}

// Close releases the Engine connection.
func (d *Docker) Close() error { return d.cli.Close() }

// Replicas lists the service's containers: every container labelled
// brink.service=<service> that says where it serves (brink.addr).
func (d *Docker) Replicas(ctx context.Context) ([]Replica, error) {
	res, err := d.cli.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", LabelService+"="+d.service),
	})
	if err != nil {
		return nil, fmt.Errorf("docker: list replicas of %q: %w", d.service, err)
	}
	out := make([]Replica, 0, len(res.Items))
	for _, c := range res.Items {
		addr := c.Labels[LabelAddr]
		if addr == "" {
			continue
		}
		name := c.ID[:12]
		if len(c.Names) > 0 {
			name = strings.TrimPrefix(c.Names[0], "/")
		}
		out = append(out, Replica{
			ID: c.ID, Name: name, Addr: addr,
			State:   dockerState(c.State),
			Created: time.Unix(c.Created, 0),
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func dockerState(s container.ContainerState) ReplicaState {
	switch s {
	case container.StateRunning:
		return Running
	case container.StateCreated, container.StateRestarting:
		return Starting
	}
	return Terminating
}

// SetReplicas creates or removes containers until n are active. Removal
// here takes the newest replicas without draining; the autoscaler drains
// through Remove instead.
func (d *Docker) SetReplicas(ctx context.Context, n int) error {
	if err := d.Prune(ctx); err != nil {
		return err
	}
	all, err := d.Replicas(ctx)
	if err != nil {
		return err
	}
	active := Active(all)
	switch {
	case n > len(active):
		return d.create(ctx, all, n-len(active))
	case n < len(active):
		sort.Slice(active, func(i, j int) bool { return active[i].Created.After(active[j].Created) })
		return d.Remove(ctx, active[:len(active)-n])
	}
	return nil
}

func (d *Docker) create(ctx context.Context, existing []Replica, count int) error {
	usedNames := map[string]bool{}
	usedPorts := map[string]bool{}
	for _, r := range existing {
		usedNames[r.Name] = true
		usedPorts[r.Addr] = true
	}
	var memory int64
	if d.cfg.Memory != "" {
		memory, _ = units.RAMInBytes(d.cfg.Memory) // validated in NewDocker
	}
	// Names and ports are chosen first, one by one; the containers are
	// then created and started together, so that adding three replicas
	// takes about as long as adding one.
	type replica struct {
		name string
		port int
	}
	var todo []replica
	var errs []error
	for i := 0; i < count; i++ {
		name := d.nextName(usedNames)
		usedNames[name] = true
		port, err := d.pickPort(usedPorts)
		if err != nil {
			errs = append(errs, err)
			break
		}
		usedPorts[net.JoinHostPort(d.cfg.Host, strconv.Itoa(port))] = true
		todo = append(todo, replica{name, port})
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, r := range todo {
		wg.Add(1)
		go func() {
			defer wg.Done()
			addr := net.JoinHostPort(d.cfg.Host, strconv.Itoa(r.port))
			if err := d.start(ctx, r.name, r.port, addr, memory); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (d *Docker) nextName(used map[string]bool) string {
	for i := 1; ; i++ {
		name := d.cfg.NamePrefix + strconv.Itoa(i)
		if !used[name] {
			return name
		}
	}
}

// pickPort draws ports from the range until one is neither a replica's
// nor bound by anyone on the host.
func (d *Docker) pickPort(used map[string]bool) (int, error) {
	lo, hi, _ := d.cfg.portRange() // validated in NewDocker
	for try := 0; try < 64; try++ {
		p := lo + rand.IntN(hi-lo+1)
		addr := net.JoinHostPort(d.cfg.Host, strconv.Itoa(p))
		if used[addr] {
			continue
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		l.Close()
		return p, nil
	}
	return 0, fmt.Errorf("docker: no free port in %s on %s after 64 tries (set ports: to a wider range)", d.cfg.Ports, d.cfg.Host)
}

func (d *Docker) start(ctx context.Context, name string, port int, addr string, memory int64) error {
	expand := func(s string) string { return strings.ReplaceAll(s, "{{port}}", strconv.Itoa(port)) }
	env := []string{d.cfg.PortEnv + "=" + strconv.Itoa(port)}
	keys := make([]string, 0, len(d.cfg.Env))
	for k := range d.cfg.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+expand(d.cfg.Env[k]))
	}
	labels := map[string]string{}
	for k, v := range d.cfg.Labels {
		labels[k] = v
	}
	labels[LabelService] = d.service
	labels[LabelAddr] = addr
	labels[LabelManager] = "autoscale"
	var cmd []string
	for _, a := range d.cfg.Command {
		cmd = append(cmd, expand(a))
	}
	stop := int(d.cfg.StopTimeout / time.Second)
	res, err := d.cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: name,
		Config: &container.Config{
			Image: d.cfg.Image, Env: env, Labels: labels, Cmd: cmd, StopTimeout: &stop,
		},
		HostConfig: &container.HostConfig{
			NetworkMode: "host",
			Resources: container.Resources{NanoCPUs: int64(d.cfg.CPUs * 1e9), Memory: memory,
				CgroupParent: d.cfg.CgroupParent},
		},
	})
	if err != nil {
		return fmt.Errorf("docker: create replica %s of %q from image %s: %w", name, d.service, d.cfg.Image, err)
	}
	if _, err := d.cli.ContainerStart(ctx, res.ID, client.ContainerStartOptions{}); err != nil {
		// Leave nothing half-made behind.
		_, _ = d.cli.ContainerRemove(context.WithoutCancel(ctx), res.ID, client.ContainerRemoveOptions{Force: true})
		return fmt.Errorf("docker: start replica %s of %q: %w", name, d.service, err)
	}
	return nil
}

// Remove stops the replicas (SIGTERM, then SIGKILL after StopTimeout) and
// removes their containers.
func (d *Docker) Remove(ctx context.Context, replicas []Replica) error {
	var errs []error
	for _, r := range replicas {
		timeout := int(d.cfg.StopTimeout / time.Second)
		if _, err := d.cli.ContainerStop(ctx, r.ID, client.ContainerStopOptions{Timeout: &timeout}); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("docker: stop replica %s of %q: %w", r.Name, d.service, err))
			continue
		}
		if _, err := d.cli.ContainerRemove(ctx, r.ID, client.ContainerRemoveOptions{Force: true}); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("docker: remove replica %s of %q: %w", r.Name, d.service, err))
		}
	}
	return errors.Join(errs...)
}

// Prune removes the service's exited containers that this actuator created
// (brink.managed=autoscale), so that crashed replicas do not pile up and
// their names and ports are free again. Containers made by others stay.
func (d *Docker) Prune(ctx context.Context) error {
	res, err := d.cli.ContainerList(ctx, client.ContainerListOptions{
		All: true,
		Filters: make(client.Filters).Add("label", LabelService+"="+d.service).
			Add("label", LabelManager+"=autoscale").Add("status", "exited", "dead"),
	})
	if err != nil {
		return fmt.Errorf("docker: list exited replicas of %q: %w", d.service, err)
	}
	var errs []error
	for _, c := range res.Items {
		if _, err := d.cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true}); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("docker: remove exited replica %s of %q: %w", c.ID[:12], d.service, err))
		}
	}
	return errors.Join(errs...)
}

func isNotFound(err error) bool { return errdefs.IsNotFound(err) }
