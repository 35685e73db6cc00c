package analysis

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// GeneratorSampler records the load generator's own CPU use once per
// second, beside the load it generates, so that the analysis can tell a
// saturated generator from a saturated target. It measures this process.
type GeneratorSampler struct {
	mu       sync.Mutex
	capacity float64
	lastCPU  time.Duration
	lastWall time.Time
	cpu      Series
	cap      Series
}

// NewGeneratorSampler starts measuring from now.
func NewGeneratorSampler() *GeneratorSampler {
	g := &GeneratorSampler{
		capacity: GeneratorCapacityCores(),
		cpu:      Series{Name: GeneratorCPU},
		cap:      Series{Name: GeneratorCapacity},
	}
	g.lastCPU, _ = processCPU()
	g.lastWall = time.Now()
	return g
}

// Sample records the CPU used since the previous call as the value of the
// unix second sec (call it when that second's results are emitted).
func (g *GeneratorSampler) Sample(sec int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	cpu, err := processCPU()
	now := time.Now()
	wall := now.Sub(g.lastWall)
	if err == nil && wall > 100*time.Millisecond {
		g.cpu.Points = append(g.cpu.Points, Point{T: sec, V: (cpu - g.lastCPU).Seconds() / wall.Seconds()})
		g.cap.Points = append(g.cap.Points, Point{T: sec, V: g.capacity})
	}
	if err == nil {
		g.lastCPU, g.lastWall = cpu, now
	}
}

// Series returns the samples so far: GeneratorCPU and GeneratorCapacity.
func (g *GeneratorSampler) Series() []Series {
	g.mu.Lock()
	defer g.mu.Unlock()
	return []Series{
		{Name: g.cpu.Name, Points: append([]Point(nil), g.cpu.Points...)},
		{Name: g.cap.Name, Points: append([]Point(nil), g.cap.Points...)},
	}
}

// processCPU is the user+system CPU time this process has used.
func processCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	tv := func(t syscall.Timeval) time.Duration {
		return time.Duration(t.Sec)*time.Second + time.Duration(t.Usec)*time.Microsecond
	}
	return tv(ru.Utime) + tv(ru.Stime), nil
}

// GeneratorCapacityCores is how many cores this process can use at most:
// the smallest of GOMAXPROCS, the CPUs it may run on, and its cgroup's CPU
// quota (cgroup v1 or v2, the tightest of its ancestors).
func GeneratorCapacityCores() float64 {
	c := float64(min(runtime.GOMAXPROCS(0), runtime.NumCPU()))
	if q, ok := cgroupQuotaCores("/proc/self/cgroup", "/sys/fs/cgroup"); ok {
		c = math.Min(c, q)
	}
	return c
}

// cgroupQuotaCores reads the CPU quota of the cgroup named in a
// /proc/<pid>/cgroup file, below cgroupRoot. ok is false when no quota
// applies (or none can be read).
func cgroupQuotaCores(procCgroup, cgroupRoot string) (float64, bool) {
	f, err := os.Open(procCgroup)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	best, found := math.Inf(1), false
	consider := func(dir string, read func(string) (float64, bool)) {
		// The effective limit is the tightest on the way up to the root.
		for range 64 {
			if q, ok := read(dir); ok && q < best {
				best, found = q, true
			}
			parent := filepath.Dir(dir)
			if parent == dir || !strings.HasPrefix(parent, cgroupRoot) {
				return
			}
			dir = parent
		}
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		controllers, path := parts[1], parts[2]
		switch {
		case controllers == "":
			consider(cgroupDir(cgroupRoot, "", path), readCPUMax)
		case hasController(controllers, "cpu"):
			consider(cgroupDir(cgroupRoot, "cpu", path), readCFSQuota)
		}
	}
	return best, found
}

// cgroupDir places a cgroup path under its hierarchy's mount. In a
// container with its own cgroup namespace the path is "/" and the mount is
// the container's own cgroup.
func cgroupDir(root, controller, path string) string {
	base := root
	if controller != "" {
		base = filepath.Join(root, controller)
	}
	dir := filepath.Join(base, path)
	if _, err := os.Stat(dir); err != nil {
		return base
	}
	return dir
}

func hasController(list, want string) bool {
	for _, c := range strings.Split(list, ",") {
		if c == want {
			return true
		}
	}
	return false
}

// readCFSQuota reads cgroup v1's cpu.cfs_quota_us / cpu.cfs_period_us.
func readCFSQuota(dir string) (float64, bool) {
	quota, err1 := readInt(filepath.Join(dir, "cpu.cfs_quota_us"))
	period, err2 := readInt(filepath.Join(dir, "cpu.cfs_period_us"))
	if err1 != nil || err2 != nil || quota <= 0 || period <= 0 {
		return 0, false
	}
	return float64(quota) / float64(period), true
}

// readCPUMax reads cgroup v2's cpu.max ("max 100000" or "50000 100000").
func readCPUMax(dir string) (float64, bool) {
	data, err := os.ReadFile(filepath.Join(dir, "cpu.max"))
	if err != nil {
		return 0, false
	}
	fields := strings.Fields(string(data))
	if len(fields) != 2 || fields[0] == "max" {
		return 0, false
	}
	quota, err1 := strconv.ParseInt(fields[0], 10, 64)
	period, err2 := strconv.ParseInt(fields[1], 10, 64)
	if err1 != nil || err2 != nil || quota <= 0 || period <= 0 {
		return 0, false
	}
	return float64(quota) / float64(period), true
}

func readInt(path string) (int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
}
