package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/brinkhq/brink/internal/lb"
)

// State is what a running (or kept) lab records in its own directory
// below the state directory (<state dir>/<id>/state.json), so that a later
// `brink lab --down` or `brink lab` finds and removes it.
type State struct {
	ID         string    `json:"id"`
	OwnerPID   int       `json:"owner_pid"`
	Kept       bool      `json:"kept"`
	Started    time.Time `json:"started"`
	Ports      Ports     `json:"ports"`
	Service    string    `json:"service"`
	HAProxyPID int       `json:"haproxy_pid,omitempty"`
}

const stateFile = "state.json"

func readState(dir string) (*State, error) {
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, err
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, stateFile), err)
	}
	return &s, nil
}

func (s *State) write(dir string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, stateFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("writing the lab's state: %w", err)
	}
	return os.Rename(tmp, filepath.Join(dir, stateFile))
}

// Stack is the lab's running system: hub, monitor, web replicas, HAProxy.
type Stack struct {
	cfg     Config
	dir     string // this lab's directory: <state dir>/<id>
	eng     *engine
	img     images
	ports   Ports
	layout  cgroupLayout
	lbGroup *limitGroup
	haproxy *haproxyProcess
	// cgroupParents is set when Docker's cgroupfs driver lets the lab put
	// its containers below brink-lab, in the lab's weighted group.
	cgroupParents bool
	// ownCgroups is where this process was before it moved into
	// brink-lab/generator; nil while it has not moved.
	ownCgroups map[string]string
	hostname   string
	state      State
	log        io.Writer
	http       *http.Client
}

// HubURL is the hub's base URL: the dashboard.
func (s *Stack) HubURL() string { return "http://" + loopback(s.ports.Hub) }

// MonitorURL is the monitor's base URL.
func (s *Stack) MonitorURL() string { return "http://" + loopback(s.ports.Monitor) }

// ServiceURL is the web service's URL: HAProxy's frontend.
func (s *Stack) ServiceURL() string { return "http://" + loopback(s.ports.LB) + "/" }

// Balancer is HAProxy's Runtime API.
func (s *Stack) Balancer() lb.Balancer { return s.haproxy.api }

// Service is the web app's service name.
func (s *Stack) Service() string { return s.cfg.Service }

// Hostname is the host label the monitor reports this machine under.
func (s *Stack) Hostname() string { return s.hostname }

// saveState records the stack for cleanup by a later process.
func (s *Stack) saveState() error { return s.state.write(s.dir) }

// newLabID names a lab: its start time and process, unique on a machine.
func newLabID(started time.Time, pid int) string {
	return started.UTC().Format("20060102-150405") + "-" + strconv.Itoa(pid)
}

// up starts the hub, the monitor, one web replica and HAProxy, in that
// order, each checked before the next starts.
func (s *Stack) up(ctx context.Context, haproxyBin string) error {
	if err := os.MkdirAll(filepath.Join(s.dir, "hub"), 0o755); err != nil {
		return fmt.Errorf("creating the lab's state directory: %w", err)
	}
	if err := s.saveState(); err != nil {
		return err
	}
	step := func(name, url, note string, start time.Time) {
		fmt.Fprintf(s.log, "  %-10s %-28s %-22s ready in %s\n", name, url, note, time.Since(start).Round(100*time.Millisecond))
	}
	if err := s.layout.createLabRoot(s.state.ID); err != nil {
		return err
	}
	if driver, err := s.eng.cgroupDriver(ctx); err != nil {
		return err
	} else if driver == "cgroupfs" {
		s.cgroupParents = true
	} else {
		fmt.Fprintf(s.log, "  note: Docker's %s cgroup driver keeps the containers outside the lab's weighted cgroup; on a busy host they compete with everything else\n", driver)
	}

	t := time.Now()
	hub, err := s.eng.run(ctx, containerSpec{
		Name: s.containerName("hub"), Image: s.img.Brink, Labels: s.labels("hub", ""),
		Cmd:          []string{"hub", "--listen", loopback(s.ports.Hub), "--data", "/data", "--log-level", "warn"},
		Binds:        []string{filepath.Join(s.dir, "hub") + ":/data"},
		CgroupParent: s.cgroupParent(infraCgroup),
	})
	if err != nil {
		return err
	}
	if err := s.waitHTTP(ctx, hub, s.HubURL()+"/api/v1/status", 30*time.Second); err != nil {
		return fmt.Errorf("the hub: %w", err)
	}
	step("hub", s.HubURL(), "dashboard", t)
	if !s.dashboardBuilt(ctx) {
		fmt.Fprintf(s.log, "  note: this brink binary was built without its web UI (make build builds both): the dashboard pages say so; the API and the report work\n")
	}

	t = time.Now()
	mon, err := s.eng.run(ctx, containerSpec{
		Name: s.containerName("monitor"), Image: s.img.Brink, Labels: s.labels("monitor", ""),
		Cmd: []string{"monitor", "--listen", loopback(s.ports.Monitor), "--interval", "1s",
			"--remote-write", s.HubURL() + "/api/v1/write",
			"--path.procfs", "/rootfs/proc", "--path.rootfs", "/rootfs",
			"--cgroup-include", "/" + instanceCgroup(s.state.ID) + "/" + lbCgroup,
			"--cgroup-include", "/" + instanceCgroup(s.state.ID) + "/" + generatorCgroup,
			"--hostname", s.hostname, "--log-level", "warn"},
		// cAdvisor's mounts, read-only where it can be.
		Binds:        []string{"/:/rootfs:ro", "/sys:/sys:ro", "/var/run:/var/run", "/var/lib/docker:/var/lib/docker:ro"},
		CgroupParent: s.cgroupParent(infraCgroup),
	})
	if err != nil {
		return err
	}
	if err := s.waitHTTP(ctx, mon, s.MonitorURL()+"/-/healthy", 30*time.Second); err != nil {
		return fmt.Errorf("the monitor: %w", err)
	}
	step("monitor", s.MonitorURL(), "every 1 s", t)

	t = time.Now()
	if _, err := s.startReplica(ctx, 1); err != nil {
		return err
	}
	step(s.cfg.Service+"-1", "http://"+loopback(s.ports.Replicas[0]), fmt.Sprintf("%.1f CPU, %s", s.cfg.ReplicaCPUs, formatMiB(s.cfg.ReplicaMemory)), t)

	t = time.Now()
	if s.lbGroup, err = s.layout.createLimitGroup(s.state.ID, lbCgroup, s.cfg.LBCPUs, s.cfg.LBMemory); err != nil {
		return err
	}
	cfg := lb.Config{
		Socket:  s.haproxySocket(),
		MaxConn: haproxyMaxConn(),
		// Requests queue rather than fail while a replica is saturated,
		// as with marathon-lb's defaults; the client's timeout decides.
		ServerTimeout: 60 * time.Second, ClientTimeout: 60 * time.Second,
		Services: []lb.ServiceConfig{{
			Name: s.cfg.Service, Bind: loopback(s.ports.LB),
			Servers: []lb.ServerAddr{{Name: s.replicaName(1), Addr: loopback(s.ports.Replicas[0])}},
		}},
	}
	if s.haproxy, err = startHAProxy(ctx, haproxyBin, s.dir, cfg, s.lbGroup); err != nil {
		return err
	}
	s.state.HAProxyPID = s.haproxy.PID()
	if err := s.saveState(); err != nil {
		return err
	}
	if err := s.waitHTTP(ctx, "", s.ServiceURL()+"healthz", 15*time.Second); err != nil {
		return fmt.Errorf("HAProxy's frontend: %w", err)
	}
	step(LBService, s.ServiceURL(), fmt.Sprintf("%.1f CPU, %s", s.cfg.LBCPUs, formatMiB(s.cfg.LBMemory)), t)
	return s.joinGenerator()
}

// dashboardBuilt reports whether the hub serves its web UI (a binary
// built without it answers 503 on the UI's pages).
func (s *Stack) dashboardBuilt(ctx context.Context) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.HubURL()+"/", nil)
	if err != nil {
		return false
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// cgroupParent is a container's --cgroup-parent below brink-lab, when the
// driver allows it.
func (s *Stack) cgroupParent(group string) string {
	if !s.cgroupParents {
		return ""
	}
	return "/" + instanceCgroup(s.state.ID) + "/" + group
}

// haproxySocket is HAProxy's Runtime API socket.
func (s *Stack) haproxySocket() string { return filepath.Join(s.dir, "haproxy.sock") }

// containerName names the lab's hub and monitor after the service, so that
// labs of different services can run side by side.
func (s *Stack) containerName(role string) string { return "brink-lab-" + s.cfg.Service + "-" + role }

// joinGenerator moves this process, the load generator, into
// brink-lab/generator: limited to its cores like a container, weighed with
// the rest of the lab on a busy host, and reported by the monitor as the
// service "generator".
func (s *Stack) joinGenerator() error {
	own, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return fmt.Errorf("reading this process's cgroups: %w", err)
	}
	g, err := s.layout.createLimitGroup(s.state.ID, generatorCgroup, float64(s.cfg.GeneratorCores), 0)
	if err != nil {
		return err
	}
	s.ownCgroups = s.layout.ownCgroups(own)
	if err := g.add(os.Getpid()); err != nil {
		s.leaveGenerator()
		return err
	}
	fmt.Fprintf(s.log, "  %-10s %-28s %-22s\n", generatorCgroup, "this process", fmt.Sprintf("%d CPU", s.cfg.GeneratorCores))
	return nil
}

// leaveGenerator moves this process back to where it was.
func (s *Stack) leaveGenerator() error {
	if s.ownCgroups == nil {
		return nil
	}
	err := s.layout.moveTo(os.Getpid(), s.ownCgroups)
	if err == nil {
		s.ownCgroups = nil
	}
	return err
}

// haproxyMaxConn is as many connections as the process may hold open file
// descriptors for (HAProxy needs about two per connection, and refuses to
// start when the limit cannot be raised that far), at most 10,000.
func haproxyMaxConn() int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Max > 1<<30 {
		return 10000
	}
	return int(min(10000, max(256, (int64(lim.Max)-100)/2)))
}

func formatMiB(b int64) string { return strconv.FormatInt(b>>20, 10) + " MB" }

func (s *Stack) labels(role, addr string) map[string]string {
	l := map[string]string{LabelLab: s.state.ID, labelPID: strconv.Itoa(s.state.OwnerPID), labelKeep: "0", labelRole: role}
	if s.cfg.Keep {
		l[labelKeep] = "1"
	}
	if role == roleWeb {
		l[labelService] = s.cfg.Service
		l[labelAddr] = addr
	}
	return l
}

const roleWeb = "web"

// replicaName names replica i's container and its server in HAProxy
// alike, as the autoscaler's Docker actuator does, so that the autoscaler
// recognises the lab's own replicas in the backend.
func (s *Stack) replicaName(i int) string {
	return "brink-lab-" + s.cfg.Service + "-" + strconv.Itoa(i)
}

// startReplica starts web replica i (1-based) on its port and waits until it
// answers.
func (s *Stack) startReplica(ctx context.Context, i int) (string, error) {
	addr := loopback(s.ports.Replicas[i-1])
	id, err := s.eng.run(ctx, containerSpec{
		Name: s.replicaName(i), Image: s.img.Target, Labels: s.labels(roleWeb, addr),
		Cmd:  []string{"--listen", addr, "--mode", s.cfg.Mode, "--cpu", s.cfg.CPUCost.String()},
		CPUs: s.cfg.ReplicaCPUs, Memory: s.cfg.ReplicaMemory, CgroupParent: s.cgroupParent(webCgroup),
	})
	if err != nil {
		return "", err
	}
	if err := s.waitHTTP(ctx, id, "http://"+addr+"/healthz", 20*time.Second); err != nil {
		return "", fmt.Errorf("replica %s: %w", s.replicaName(i), err)
	}
	return addr, nil
}

// Replicas lists the web app's running replicas: the lab's own and any an
// autoscaler started (they carry the lab label too).
func (s *Stack) Replicas(ctx context.Context) ([]labContainer, error) {
	cs, err := s.eng.list(ctx, s.state.ID)
	if err != nil {
		return nil, err
	}
	var out []labContainer
	for _, c := range cs {
		if c.Service == s.cfg.Service && c.Addr != "" && c.Running {
			out = append(out, c)
		}
	}
	return out, nil
}

// ScaleTo runs exactly n web replicas behind HAProxy: new ones join the
// backend once they answer; extra ones are drained, deleted from the
// backend, then stopped. It reports whether the replicas changed.
func (s *Stack) ScaleTo(ctx context.Context, n int) (changed bool, err error) {
	if n < 1 || n > MaxReplicas {
		return false, fmt.Errorf("replicas %d: the lab runs 1 to %d", n, MaxReplicas)
	}
	current, err := s.Replicas(ctx)
	if err != nil {
		return false, err
	}
	changed = len(current) != n
	used := map[string]bool{}
	for _, c := range current {
		used[c.Addr] = true
	}
	for i := 1; len(current) < n && i <= MaxReplicas; i++ {
		addr := loopback(s.ports.Replicas[i-1])
		if used[addr] {
			continue
		}
		if _, err := s.startReplica(ctx, i); err != nil {
			return changed, err
		}
		if err := s.haproxy.api.AddServer(ctx, s.cfg.Service, s.replicaName(i), addr); err != nil {
			return changed, fmt.Errorf("adding %s to HAProxy: %w", s.replicaName(i), err)
		}
		used[addr] = true
		current = append(current, labContainer{Addr: addr})
		fmt.Fprintf(s.log, "  started %s at %s and added it to the load balancer\n", s.replicaName(i), addr)
	}
	if len(current) <= n {
		return changed, nil
	}
	servers, err := s.haproxy.api.Servers(ctx, s.cfg.Service)
	if err != nil {
		return changed, err
	}
	byAddr := map[string]string{}
	for _, sv := range servers {
		byAddr[sv.Addr] = sv.Name
	}
	// Newest names last: remove from the end.
	slices.SortFunc(current, func(a, b labContainer) int { return strings.Compare(a.Name, b.Name) })
	for _, c := range current[n:] {
		if name, ok := byAddr[c.Addr]; ok {
			if err := s.haproxy.api.Drain(ctx, s.cfg.Service, name); err != nil {
				return changed, err
			}
			if _, err := s.haproxy.api.WaitIdle(ctx, s.cfg.Service, name, 5*time.Second); err != nil {
				return changed, err
			}
			if err := s.haproxy.api.DeleteServer(ctx, s.cfg.Service, name); err != nil {
				return changed, err
			}
		}
		if err := s.eng.stop(ctx, c.ID, 2*time.Second); err != nil {
			return changed, err
		}
		fmt.Fprintf(s.log, "  drained and stopped %s\n", c.Name)
	}
	return changed, nil
}

// waitHTTP waits until url answers 200, failing early (with the
// container's last log lines) if the container stops.
func (s *Stack) waitHTTP(ctx context.Context, containerID, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := s.http.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		last = err
		if containerID != "" {
			if running, code, serr := s.eng.state(ctx, containerID); serr == nil && !running {
				return fmt.Errorf("its container exited with code %d before %s answered:\n%s", code, url, s.eng.logTail(context.WithoutCancel(ctx), containerID, 15))
			}
		}
		if time.Now().After(deadline) {
			msg := fmt.Sprintf("%s did not answer 200 within %s: %v", url, timeout, last)
			if containerID != "" {
				msg += "\n" + s.eng.logTail(context.WithoutCancel(ctx), containerID, 15)
			}
			return errors.New(msg)
		}
		if !sleepCtx(ctx, 100*time.Millisecond) {
			return ctx.Err()
		}
	}
}

// down removes everything the stack started: HAProxy, its containers, its
// cgroups and its directory.
func (s *Stack) down(ctx context.Context) error {
	var errs []error
	// Out of brink-lab first: cleanup removes its cgroups.
	if err := s.leaveGenerator(); err != nil {
		errs = append(errs, err)
	}
	if s.haproxy != nil {
		if err := s.haproxy.stop(3 * time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := removeLab(ctx, s.eng, s.layout, s.state.ID, &s.state, s.dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// removeLab removes one lab's remains, whether this process started them
// or an earlier one: its containers, a recorded HAProxy, the processes and
// directories of its cgroups, and its directory (dir, when known). It
// returns the names of the containers it removed.
func removeLab(ctx context.Context, eng *engine, layout cgroupLayout, id string, st *State, dir string) ([]string, error) {
	var errs []error
	var removed []string
	if eng != nil {
		names, err := eng.removeLab(ctx, id)
		if err != nil {
			errs = append(errs, err)
		}
		removed = names
	}
	if st != nil {
		if err := stopPID(ctx, st.HAProxyPID, 3*time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	if err := removeCgroups(ctx, layout.instanceCgroupDirs(id), 3*time.Second); err != nil {
		errs = append(errs, err)
	}
	layout.removeRootIfUnused()
	if dir != "" {
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, fmt.Errorf("removing %s: %w", dir, err))
		}
		// The state directory itself goes with its last lab.
		_ = os.Remove(filepath.Dir(dir))
	}
	return removed, errors.Join(errs...)
}
