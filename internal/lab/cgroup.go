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

// cgroupRootName is the cgroup every process the lab limits lives under,
// in each hierarchy: /sys/fs/cgroup/<controller>/brink-lab/<name> on
// cgroup v1, /sys/fs/cgroup/brink-lab/<name> on v2. The monitor is told to
// report /brink-lab/* and names each by its last path element, so HAProxy
// in /brink-lab/lb shows up as the service "lb", like a container would.
const cgroupRootName = "brink-lab"

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

// limitGroup is one cgroup under brink-lab that holds processes under a CPU
// quota and a memory limit, as Docker limits a container.
type limitGroup struct {
	layout cgroupLayout
	name   string
}

// cfsPeriod is the CFS period the quota is expressed in, Docker's default.
const cfsPeriod = 100_000 // µs

// createLimitGroup makes brink-lab/<name> in every hierarchy with the given
// CPU limit (cores) and memory limit (bytes).
func (l cgroupLayout) createLimitGroup(name string, cpus float64, memory int64) (*limitGroup, error) {
	g := &limitGroup{layout: l, name: name}
	quota := int64(cpus * cfsPeriod)
	for _, h := range l.dirs {
		parent := filepath.Join(h, cgroupRootName)
		if err := os.MkdirAll(filepath.Join(parent, name), 0o755); err != nil {
			return g, fmt.Errorf("creating cgroup %s: %w (brink lab must run as root)", filepath.Join(parent, name), err)
		}
		dir := filepath.Join(parent, name)
		var writes [][2]string
		if l.v2 {
			// Controllers must be enabled on the way down before the
			// group's own limit files exist.
			for _, d := range []string{h, parent} {
				if err := enableV2Controllers(d, "cpu", "memory"); err != nil {
					return g, err
				}
			}
			writes = [][2]string{{"cpu.max", fmt.Sprintf("%d %d", quota, cfsPeriod)}, {"memory.max", strconv.FormatInt(memory, 10)}}
		} else {
			if isFile(filepath.Join(dir, "cpu.cfs_quota_us")) {
				writes = append(writes, [2]string{"cpu.cfs_period_us", strconv.Itoa(cfsPeriod)}, [2]string{"cpu.cfs_quota_us", strconv.FormatInt(quota, 10)})
			}
			if isFile(filepath.Join(dir, "memory.limit_in_bytes")) {
				writes = append(writes, [2]string{"memory.limit_in_bytes", strconv.FormatInt(memory, 10)})
			}
		}
		for _, w := range writes {
			if err := os.WriteFile(filepath.Join(dir, w[0]), []byte(w[1]), 0o644); err != nil {
				return g, fmt.Errorf("setting %s of cgroup %s: %w", w[0], dir, err)
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
		out = append(out, filepath.Join(h, cgroupRootName, g.name))
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

// labCgroupDirs lists every cgroup the lab may have created on this host,
// deepest first (children before brink-lab itself), whether or not this
// process created them: what `brink lab --down` removes.
func (l cgroupLayout) labCgroupDirs() []string {
	var out []string
	for _, h := range l.dirs {
		parent := filepath.Join(h, cgroupRootName)
		entries, err := os.ReadDir(parent)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if e.IsDir() {
				out = append(out, filepath.Join(parent, e.Name()))
			}
		}
		out = append(out, parent)
	}
	return out
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

// emptyCgroup ends the processes in dir: SIGTERM, then SIGKILL after grace.
func emptyCgroup(ctx context.Context, dir string, grace time.Duration) error {
	pids, err := readPIDs(dir)
	if err != nil || len(pids) == 0 {
		return nil // a parent directory without cgroup.procs, or nothing left
	}
	for _, p := range pids {
		_ = syscall.Kill(p, syscall.SIGTERM)
	}
	deadline := time.Now().Add(grace)
	killed := false
	for {
		pids, err = readPIDs(dir)
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
