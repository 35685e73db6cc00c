package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cgroupRootName is the cgroup every lab on the machine lives under, in
// each hierarchy: /sys/fs/cgroup/<controller>/brink-lab on cgroup v1,
// /sys/fs/cgroup/brink-lab on v2. Each lab has its own group below it,
// brink-lab/<lab id>: HAProxy in .../lb and the load generator (the lab
// process) in .../generator, which the monitor reports as raw cgroups named
// by their last path element (so HAProxy shows up as the service "lb", like
// a container would), and with Docker's cgroupfs driver the containers
// (.../web/<container id>, .../infra/<container id>).
const cgroupRootName = "brink-lab"

// Raw cgroups the lab creates under brink-lab.
const (
	lbCgroup        = LBService
	generatorCgroup = "generator"
	webCgroup       = "web"   // docker --cgroup-parent of the replicas
	infraCgroup     = "infra" // docker --cgroup-parent of the hub and the monitor
)

// The lab's share of the CPU when the host is busy with other work:
// brink-lab weighs as much as 64 ordinary processes (cgroup v1 cpu.shares,
// v2 cpu.weight), so that on a shared machine — a CI runner with a build
// beside it has a load of 20 — the replicas still get the CPU their quota
// allows, as on the seed's dedicated VMs, while the quotas keep the lab
// itself from taking more.
const (
	labCPUShares = 64 * 1024
	labCPUWeight = 64 * 100
)

// cgroupLayout is where this host mounts its cgroup hierarchies.
type cgroupLayout struct {
	root string
	v2   bool
	// dirs are the v1 hierarchies the lab writes to (cpu, cpuacct,
	// memory), resolved and without duplicates (cpu and cpuacct are often
	// one mount); on v2 only the unified root.
	dirs []string
}

// v1Controllers are the hierarchies a limited process joins on cgroup v1:
// the CPU quota (cpu), its accounting (cpuacct) and the memory limit.
var v1Controllers = []string{"cpu", "cpuacct", "memory"}

// detectCgroups finds the hierarchies under root (/sys/fs/cgroup).
func detectCgroups(root string) (cgroupLayout, error) {
	if isFile(filepath.Join(root, "cgroup.controllers")) {
		return cgroupLayout{root: root, v2: true, dirs: []string{root}}, nil
	}
	l := cgroupLayout{root: root}
	for _, c := range v1Controllers {
		dir, err := filepath.EvalSymlinks(filepath.Join(root, c))
		if err != nil {
			return cgroupLayout{}, fmt.Errorf("cgroup v1 controller %q is not mounted under %s: %w", c, root, err)
		}
		if !slices.Contains(l.dirs, dir) {
			l.dirs = append(l.dirs, dir)
		}
	}
	return l, nil
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// limitGroup is one cgroup of a lab, brink-lab/<lab id>/<name>, that holds
// processes under a CPU quota and a memory limit, as Docker limits a
// container.
type limitGroup struct {
	layout cgroupLayout
	rel    string // brink-lab/<lab id>/<name>
}

// cfsPeriod is the CFS period the quota is expressed in, Docker's default.
const cfsPeriod = 100_000 // µs

// instanceCgroup is a lab's own group below brink-lab.
func instanceCgroup(id string) string { return filepath.Join(cgroupRootName, id) }

// createLabRoot makes brink-lab (with the labs' CPU weight) and the lab's
// own group below it, in every hierarchy.
func (l cgroupLayout) createLabRoot(id string) error {
	for _, h := range l.dirs {
		root := filepath.Join(h, cgroupRootName)
		dir := filepath.Join(h, instanceCgroup(id))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("creating cgroup %s: %w (brink lab must run as root)", dir, err)
		}
		if l.v2 {
			// Controllers must be enabled on the way down before the
			// groups below have their limit files.
			for _, d := range []string{h, root, dir} {
				if err := enableV2Controllers(d, "cpu", "memory"); err != nil {
					return err
				}
			}
			if err := writeCgroupFile(root, "cpu.weight", strconv.Itoa(labCPUWeight)); err != nil {
				return err
			}
		} else if isFile(filepath.Join(root, "cpu.shares")) {
			if err := writeCgroupFile(root, "cpu.shares", strconv.Itoa(labCPUShares)); err != nil {
				return err
			}
		}
	}
	return nil
}

func writeCgroupFile(dir, name, value string) error {
	if err := os.WriteFile(filepath.Join(dir, name), []byte(value), 0o644); err != nil {
		return fmt.Errorf("setting %s of cgroup %s: %w", name, dir, err)
	}
	return nil
}

// createLimitGroup makes brink-lab/<id>/<name> in every hierarchy with the
// given CPU limit (cores) and memory limit (bytes; 0 for none).
func (l cgroupLayout) createLimitGroup(id, name string, cpus float64, memory int64) (*limitGroup, error) {
	g := &limitGroup{layout: l, rel: filepath.Join(instanceCgroup(id), name)}
	if err := l.createLabRoot(id); err != nil {
		return g, err
	}
	quota := int64(cpus * cfsPeriod)
	for _, h := range l.dirs {
		dir := filepath.Join(h, g.rel)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return g, fmt.Errorf("creating cgroup %s: %w (brink lab must run as root)", dir, err)
		}
		var writes [][2]string
		switch {
		case l.v2:
			writes = append(writes, [2]string{"cpu.max", fmt.Sprintf("%d %d", quota, cfsPeriod)})
			if memory > 0 {
				writes = append(writes, [2]string{"memory.max", strconv.FormatInt(memory, 10)})
			}
		default:
			if isFile(filepath.Join(dir, "cpu.cfs_quota_us")) {
				writes = append(writes, [2]string{"cpu.cfs_period_us", strconv.Itoa(cfsPeriod)}, [2]string{"cpu.cfs_quota_us", strconv.FormatInt(quota, 10)})
			}
			if memory > 0 && isFile(filepath.Join(dir, "memory.limit_in_bytes")) {
				writes = append(writes, [2]string{"memory.limit_in_bytes", strconv.FormatInt(memory, 10)})
			}
		}
		for _, w := range writes {
			if err := writeCgroupFile(dir, w[0], w[1]); err != nil {
				return g, err
			}
		}
	}
	return g, nil
}

// enableV2Controllers adds controllers to dir's cgroup.subtree_control
// unless they are there already.
func enableV2Controllers(dir string, controllers ...string) error {
	path := filepath.Join(dir, "cgroup.subtree_control")
	have, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	enabled := strings.Fields(string(have))
	var add []string
	for _, c := range controllers {
		if !slices.Contains(enabled, c) {
			add = append(add, "+"+c)
		}
	}
	if len(add) == 0 {
		return nil
	}
	if err := os.WriteFile(path, []byte(strings.Join(add, " ")), 0o644); err != nil {
		return fmt.Errorf("enabling %s in %s: %w", strings.Join(add, " "), path, err)
	}
	return nil
}

// dirs are the group's directories, one per hierarchy.
func (g *limitGroup) dirs() []string {
	out := make([]string, 0, len(g.layout.dirs))
	for _, h := range g.layout.dirs {
		out = append(out, filepath.Join(h, g.rel))
	}
	return out
}

// add moves a process (all its threads) into the group in every hierarchy.
func (g *limitGroup) add(pid int) error {
	for _, d := range g.dirs() {
		if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
			return fmt.Errorf("moving process %d into cgroup %s: %w", pid, d, err)
		}
	}
	return nil
}

// readPIDs lists the processes in a cgroup directory.
func readPIDs(dir string) ([]int, error) {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if p, err := strconv.Atoi(f); err == nil && p > 0 {
			pids = append(pids, p)
		}
	}
	return pids, nil
}

// hierarchies lists every mounted hierarchy under the root: on v1 not
// only the three the lab writes to, since Docker creates a container's
// parent groups (brink-lab/web) in all of them.
func (l cgroupLayout) hierarchies() []string {
	if l.v2 {
		return []string{l.root}
	}
	out := slices.Clone(l.dirs)
	entries, err := os.ReadDir(l.root)
	if err != nil {
		return out
	}
	for _, e := range entries {
		dir, err := filepath.EvalSymlinks(filepath.Join(l.root, e.Name()))
		if err != nil || slices.Contains(out, dir) || !isFile(filepath.Join(dir, "cgroup.procs")) {
			continue
		}
		out = append(out, dir)
	}
	return out
}

// instanceCgroupDirs lists a lab's cgroups (brink-lab/<id> and everything
// below it) in every hierarchy, children before their parents: what its
// cleanup removes. Docker creates a container's parent groups
// (brink-lab/<id>/web) in every hierarchy, not only in the three the lab
// writes to.
func (l cgroupLayout) instanceCgroupDirs(id string) []string {
	var out []string
	var walk func(dir string)
	walk = func(dir string) {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return
		}
		for _, e := range entries {
			if e.IsDir() {
				walk(filepath.Join(dir, e.Name()))
			}
		}
		out = append(out, dir)
	}
	for _, h := range l.hierarchies() {
		if dir := filepath.Join(h, instanceCgroup(id)); isDir(dir) {
			walk(dir)
		}
	}
	return out
}

// instanceIDs lists the labs that have a group below brink-lab in any
// hierarchy.
func (l cgroupLayout) instanceIDs() []string {
	var ids []string
	for _, h := range l.hierarchies() {
		entries, err := os.ReadDir(filepath.Join(h, cgroupRootName))
		if err != nil {
			continue
		}
		for _, e := range entries {
			if e.IsDir() && !slices.Contains(ids, e.Name()) {
				ids = append(ids, e.Name())
			}
		}
	}
	slices.Sort(ids)
	return ids
}

// removeRootIfUnused removes brink-lab itself where no lab has a group
// below it any more; where another lab runs, it stays.
func (l cgroupLayout) removeRootIfUnused() {
	for _, h := range l.hierarchies() {
		_ = syscall.Rmdir(filepath.Join(h, cgroupRootName))
	}
}

// hasProcesses reports whether any of the directories holds a process.
func hasProcesses(dirs []string) bool {
	for _, d := range dirs {
		if pids, _ := readPIDs(d); len(pids) > 0 {
			return true
		}
	}
	return false
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// ownCgroups is where a process sits in each of the layout's hierarchies,
// read from its /proc/<pid>/cgroup file, so that it can be moved back.
func (l cgroupLayout) ownCgroups(procCgroup []byte) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(procCgroup)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, h := range l.dirs {
			if l.v2 && parts[1] == "" || !l.v2 && sameControllers(parts[1], filepath.Base(h)) {
				out[h] = parts[2]
			}
		}
	}
	return out
}

func sameControllers(a, b string) bool {
	x, y := strings.Split(a, ","), strings.Split(b, ",")
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

// moveTo puts a process back where ownCgroups found it (the hierarchy's
// root where it was not found).
func (l cgroupLayout) moveTo(pid int, where map[string]string) error {
	var errs []error
	for _, h := range l.dirs {
		dir := filepath.Join(h, filepath.Clean("/"+where[h]))
		if err := writeCgroupFile(dir, "cgroup.procs", strconv.Itoa(pid)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// removeCgroups stops every process left in the given cgroup directories
// (SIGTERM, then SIGKILL after grace) and removes the directories, which
// must be listed children first.
func removeCgroups(ctx context.Context, dirs []string, grace time.Duration) error {
	var errs []error
	for _, d := range dirs {
		if _, err := os.Stat(d); errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err := emptyCgroup(ctx, d, grace); err != nil {
			errs = append(errs, err)
			continue
		}
		// A cgroup that just lost its last process can refuse removal for
		// a moment (EBUSY) until the kernel has finished with it.
		var err error
		for try := 0; try < 50; try++ {
			if err = syscall.Rmdir(d); err == nil || errors.Is(err, syscall.ENOENT) {
				err = nil
				break
			}
			if !errors.Is(err, syscall.EBUSY) {
				break
			}
			if !sleepCtx(ctx, 20*time.Millisecond) {
				break
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("removing cgroup %s: %w", d, err))
		}
	}
	return errors.Join(errs...)
}

// othersIn lists the processes in a cgroup directory except this one: the
// lab never signals itself (it leaves its own cgroup before removing it).
func othersIn(dir string) ([]int, error) {
	pids, err := readPIDs(dir)
	return slices.DeleteFunc(pids, func(p int) bool { return p == os.Getpid() }), err
}

// emptyCgroup ends the processes in dir: SIGTERM, then SIGKILL after grace.
func emptyCgroup(ctx context.Context, dir string, grace time.Duration) error {
	pids, err := othersIn(dir)
	if err != nil || len(pids) == 0 {
		return nil // a parent directory without cgroup.procs, or nothing left
	}
	for _, p := range pids {
		_ = syscall.Kill(p, syscall.SIGTERM)
	}
	deadline := time.Now().Add(grace)
	killed := false
	for {
		pids, err = othersIn(dir)
		if err != nil || len(pids) == 0 {
			return nil
		}
		if !killed && time.Now().After(deadline) {
			for _, p := range pids {
				_ = syscall.Kill(p, syscall.SIGKILL)
			}
			killed = true
			deadline = time.Now().Add(5 * time.Second)
		} else if killed && time.Now().After(deadline) {
			return fmt.Errorf("cgroup %s: processes %v survived SIGKILL", dir, pids)
		}
		if !sleepCtx(ctx, 50*time.Millisecond) {
			return fmt.Errorf("cgroup %s: %w", dir, ctx.Err())
		}
	}
}

// sleepCtx waits d unless ctx ends first; it reports whether it waited.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
