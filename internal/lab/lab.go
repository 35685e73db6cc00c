// Package lab replays brink's source experiment on one machine: a web
// container limited to 0.5 CPU and 256 MB behind a load balancer limited to
// 0.5 CPU and 128 MB, loaded until it breaks, then run as two replicas,
// then (when the autoscaler is available) scaled automatically — with the
// hub storing everything, a monitor watching every container and the host,
// and a report that explains what broke and why.
//
// Everything runs on 127.0.0.1 with host networking: the hub and the
// monitor as containers of a FROM scratch image of the running brink
// binary, the sample web app as containers of a second one, and HAProxy as
// a process in a cgroup of its own (brink-lab/lb) so that it is limited
// and measured like a container. Every container carries the label
// brink.lab; cleanup removes them all, the cgroups and the state directory,
// on success, failure and interruption alike.
package lab

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/brinkhq/brink/internal/target"
)

// Config is one lab's settings. Zero fields take the defaults of
// DefaultConfig.
type Config struct {
	// Quick runs the short version (CI): every phase shorter, the
	// autoscale phase left out.
	Quick bool
	// Keep leaves the stack running at the end for exploration.
	Keep bool
	// OutDir receives report.html, report.json and the phases' files.
	OutDir string
	// Mode is the sample app's behaviour: target.ModeSeed (one request
	// at a time; overload answers 200 with an error page) or
	// target.ModeWell.
	Mode string
	// CPUCost is the CPU time the sample app spends per request.
	CPUCost time.Duration
	// Service names the web app's service (the brink.service label).
	Service string
	// PortBase is the first of the lab's ports on 127.0.0.1 (see Ports).
	PortBase int
	// Limits, as the seed's Marathon apps had them.
	ReplicaCPUs   float64
	ReplicaMemory int64
	LBCPUs        float64
	LBMemory      int64
	// GeneratorCores bounds the load generator (this process) so that it
	// cannot starve the target on a small machine; the analysis knows the
	// bound and reports a generator at it as the limit, never the target.
	GeneratorCores int
	// Phases selects phases by name; empty runs every phase of the mode
	// (quick or full).
	Phases []string
	// Executable is the static brink binary put into the images; empty
	// means this process's own.
	Executable string
	// StateDir holds one directory per lab (<id>): its state, HAProxy's
	// files and the hub's data; `brink lab --down` looks there.
	StateDir string
	// CgroupRoot is where cgroups are mounted (/sys/fs/cgroup).
	CgroupRoot string
	// HAProxy is the haproxy binary (looked up in PATH when empty).
	HAProxy string
	// Version is brink's version, for the report.
	Version string

	Stdout, Stderr io.Writer
	// IsTerminal makes progress rewrite one line per phase in place.
	IsTerminal bool
}

// Defaults.
const (
	DefaultPortBase = 18080
	DefaultService  = "web"
	DefaultOutDir   = "brink-lab-report"
	DefaultCPUCost  = time.Millisecond
	// MaxReplicas bounds how many web replicas the lab (and its
	// autoscaler) may run, so that their ports can be checked up front.
	MaxReplicas = 4
	// LBService is the service name the monitor gives HAProxy's cgroup.
	LBService = "lb"
)

// DefaultConfig is the seed's set-up.
func DefaultConfig() Config {
	return Config{
		OutDir:         DefaultOutDir,
		Mode:           target.ModeSeed,
		CPUCost:        DefaultCPUCost,
		Service:        DefaultService,
		PortBase:       DefaultPortBase,
		ReplicaCPUs:    0.5,
		ReplicaMemory:  256 << 20,
		LBCPUs:         0.5,
		LBMemory:       128 << 20,
		GeneratorCores: 1,
		StateDir:       filepath.Join(os.TempDir(), "brink-lab"),
		CgroupRoot:     "/sys/fs/cgroup",
		Stdout:         io.Discard,
		Stderr:         io.Discard,
	}
}

// withDefaults fills zero fields from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.OutDir == "" {
		c.OutDir = d.OutDir
	}
	if c.Mode == "" {
		c.Mode = d.Mode
	}
	if c.CPUCost == 0 {
		c.CPUCost = d.CPUCost
	}
	if c.Service == "" {
		c.Service = d.Service
	}
	if c.PortBase == 0 {
		c.PortBase = d.PortBase
	}
	if c.ReplicaCPUs == 0 {
		c.ReplicaCPUs = d.ReplicaCPUs
	}
	if c.ReplicaMemory == 0 {
		c.ReplicaMemory = d.ReplicaMemory
	}
	if c.LBCPUs == 0 {
		c.LBCPUs = d.LBCPUs
	}
	if c.LBMemory == 0 {
		c.LBMemory = d.LBMemory
	}
	if c.GeneratorCores == 0 {
		c.GeneratorCores = d.GeneratorCores
	}
	if c.StateDir == "" {
		c.StateDir = d.StateDir
	}
	if c.CgroupRoot == "" {
		c.CgroupRoot = d.CgroupRoot
	}
	if c.Stdout == nil {
		c.Stdout = d.Stdout
	}
	if c.Stderr == nil {
		c.Stderr = d.Stderr
	}
	return c
}

// serviceName keeps service names to what HAProxy, Docker names and PromQL
// selectors take without escaping.
var serviceName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,30}$`)

// Validate checks the settings a user can give.
func (c Config) Validate(phases []Phase) error {
	if c.Mode != target.ModeSeed && c.Mode != target.ModeWell {
		return fmt.Errorf("mode %q: use %q (the seed's single-threaded app) or %q", c.Mode, target.ModeSeed, target.ModeWell)
	}
	if c.CPUCost < 50*time.Microsecond || c.CPUCost > 100*time.Millisecond {
		return fmt.Errorf("CPU cost %s: use between 50µs and 100ms per request", c.CPUCost)
	}
	if !serviceName.MatchString(c.Service) {
		return fmt.Errorf("service %q: use lower-case letters, digits and dashes, starting with a letter (at most 31)", c.Service)
	}
	if c.Service == LBService {
		return fmt.Errorf("service %q is the load balancer's name: choose another", c.Service)
	}
	if last := c.PortBase + portSpan; c.PortBase < 1024 || last > 65535 {
		return fmt.Errorf("port base %d: the lab uses %d..%d, which must lie within 1024..65535", c.PortBase, c.PortBase, last)
	}
	if c.GeneratorCores < 1 {
		return fmt.Errorf("generator cores %d: use at least 1", c.GeneratorCores)
	}
	known := map[string]bool{}
	for _, p := range phases {
		known[p.Name] = true
	}
	for _, n := range c.Phases {
		if !known[n] {
			names := make([]string, 0, len(phases))
			for _, p := range phases {
				names = append(names, p.Name)
			}
			return fmt.Errorf("phase %q: the lab's phases are %v", n, names)
		}
	}
	return nil
}

// Ports are the lab's addresses on 127.0.0.1, all derived from one base so
// that one flag moves them together.
type Ports struct {
	LB       int // HAProxy's frontend: the service's URL
	Hub      int // the hub: UI and API
	Monitor  int // the monitor's /metrics and /api/v1/containers
	Replicas []int
}

// portSpan is how far above the base the lab's ports reach.
const portSpan = 10 + MaxReplicas

// PortsFrom lays the ports out from base: base the load balancer, base+1
// the hub, base+2 the monitor, base+11.. the replicas.
func PortsFrom(base int) Ports {
	p := Ports{LB: base, Hub: base + 1, Monitor: base + 2}
	for i := 1; i <= MaxReplicas; i++ {
		p.Replicas = append(p.Replicas, base+10+i)
	}
	return p
}

// All lists every port with what it is for, in order.
func (p Ports) All() []NamedPort {
	out := []NamedPort{{"load balancer", p.LB}, {"hub", p.Hub}, {"monitor", p.Monitor}}
	for i, r := range p.Replicas {
		out = append(out, NamedPort{fmt.Sprintf("replica %d", i+1), r})
	}
	return out
}

// NamedPort is a port and its role, for messages.
type NamedPort struct {
	Role string
	Port int
}

func loopback(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }
