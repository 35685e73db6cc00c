package agent

import (
	"runtime"
	"sync"
	"syscall"
	"time"
)

// cpuMeter measures the process's CPU use between samples, as a fraction
// of the cores the Go runtime may use (GOMAXPROCS follows cgroup limits).
type cpuMeter struct {
	mu       sync.Mutex
	lastCPU  time.Duration
	lastWall time.Time
}

func newCPUMeter() *cpuMeter {
	m := &cpuMeter{lastWall: time.Now()}
	m.lastCPU = processCPU()
	return m
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (m *cpuMeter) sample() float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	now, cpu := time.Now(), processCPU()
	wall := now.Sub(m.lastWall)
	used := cpu - m.lastCPU
	m.lastWall, m.lastCPU = now, cpu
	if wall <= 0 {
		return 0
	}
	return min(float64(used)/float64(wall)/float64(runtime.GOMAXPROCS(0)), 1)
}
