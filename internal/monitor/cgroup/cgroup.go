// Package cgroup reads container resource usage from the cgroup file
// system, v1 (one hierarchy per controller, separate or combined like
// cpu,cpuacct) and v2 (one unified hierarchy).
//
// A Reader opens a cgroup's files once and re-reads them with pread at
// offset 0, which makes the kernel regenerate the content: one system call
// per file per tick instead of open, read and close. The descriptors do not
// keep the cgroup alive; once it is removed, reads fail with ENODEV and the
// Reader reports ErrGone.
package cgroup

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
)

// Version is the cgroup version of a host.
type Version int

// The cgroup versions.
const (
	V1 Version = 1
	V2 Version = 2
)

// Layout says where a host's cgroup hierarchies are mounted.
type Layout struct {
	Version Version
	// CPU, CPUAcct, Memory, Blkio and Pids are the v1 controller
	// hierarchies' root directories; empty when not mounted (and on v2).
	CPU, CPUAcct, Memory, Blkio, Pids string
	// Unified is the cgroup2 root: the only hierarchy on v2; on a hybrid v1
	// host, the extra unified hierarchy whose files carry PSI.
	Unified string
}

// Detect finds the hierarchies under sysfs/fs/cgroup.
func Detect(sysfs string) (Layout, error) {
	root := filepath.Join(sysfs, "fs", "cgroup")
	if isFile(filepath.Join(root, "cgroup.controllers")) {
		return Layout{Version: V2, Unified: root}, nil
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return Layout{}, fmt.Errorf("reading cgroup mounts: %w (is --path.sysfs right?)", err)
	}
	l := Layout{Version: V1}
	find := func(controller, marker string) string {
		// Prefer the directory named after the controller (often a symlink
		// to a combined mount such as cpu,cpuacct), then any combined one.
		if dir := filepath.Join(root, controller); isFile(filepath.Join(dir, marker)) {
			return dir
		}
		for _, e := range entries {
			for _, c := range strings.Split(e.Name(), ",") {
				if c == controller {
					if dir := filepath.Join(root, e.Name()); isFile(filepath.Join(dir, marker)) {
						return dir
					}
				}
			}
		}
		return ""
	}
	l.CPU = find("cpu", "cpu.shares")
	l.CPUAcct = find("cpuacct", "cpuacct.usage")
	l.Memory = find("memory", "memory.usage_in_bytes")
	l.Blkio = find("blkio", "blkio.throttle.io_service_bytes")
	l.Pids = find("pids", "pids.max")
	if dir := filepath.Join(root, "unified"); isFile(filepath.Join(dir, "cgroup.controllers")) {
		l.Unified = dir
	}
	if l.CPUAcct == "" && l.CPU == "" && l.Memory == "" {
		return Layout{}, fmt.Errorf("no cgroup v1 cpu, cpuacct or memory hierarchy and no cgroup v2 under %s (is --path.sysfs right?)", root)
	}
	return l, nil
}

// Primary is the hierarchy in which cgroups are discovered and named: the
// unified one on v2, cpuacct (or cpu, or memory) on v1.
func (l Layout) Primary() string {
	switch {
	case l.Version == V2:
		return l.Unified
	case l.CPUAcct != "":
		return l.CPUAcct
	case l.CPU != "":
		return l.CPU
	}
	return l.Memory
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// Paths locates one cgroup in each hierarchy as a path relative to the
// hierarchy's root ("/docker/<id>"). Empty fields mean "same as Primary".
type Paths struct {
	CPU, CPUAcct, Memory, Blkio, Pids, Unified string
}

// SamePaths is the cgroup at p in every hierarchy, which is how container
// engines create them.
func SamePaths(p string) Paths {
	return Paths{CPU: p, CPUAcct: p, Memory: p, Blkio: p, Pids: p, Unified: p}
}

// Primary returns the path in the layout's primary hierarchy.
func (p Paths) Primary(l Layout) string {
	switch {
	case l.Version == V2:
		return p.Unified
	case l.CPUAcct != "":
		return p.CPUAcct
	case l.CPU != "":
		return p.CPU
	}
	return p.Memory
}

// fileID names one cgroup file the Reader keeps open.
type fileID int

const (
	// cgroup v1
	fCPUAcctUsage fileID = iota
	fCPUAcctStat
	fCPUStatV1
	fCPUQuota
	fCPUPeriod
	fCPUShares
	fMemUsage
	fMemStatV1
	fMemLimit
	fMemFailcnt
	fMemMaxUsage
	fMemOOMControl
	fBlkioBytes
	fBlkioOps
	// cgroup v2
	fCPUStatV2
	fCPUMax
	fCPUWeight
	fMemCurrent
	fMemStatV2
	fMemMax
	fMemEvents
	fMemPeak
	fMemSwapCurrent
	fIOStat
	// both
	fPidsCurrent
	fPidsMax
	fProcs
	fCPUPressure
	fMemPressure
	fIOPressure
	numFiles
)

type hierarchy int

const (
	hCPU hierarchy = iota
	hCPUAcct
	hMemory
	hBlkio
	hPids
	hUnified
	hPrimary
)

type fileSpec struct {
	id   fileID
	h    hierarchy
	name string
}

var v1Files = [...]fileSpec{
	{fCPUAcctUsage, hCPUAcct, "cpuacct.usage"},
	{fCPUAcctStat, hCPUAcct, "cpuacct.stat"},
	{fCPUStatV1, hCPU, "cpu.stat"},
	{fCPUQuota, hCPU, "cpu.cfs_quota_us"},
	{fCPUPeriod, hCPU, "cpu.cfs_period_us"},
	{fCPUShares, hCPU, "cpu.shares"},
	{fMemUsage, hMemory, "memory.usage_in_bytes"},
	{fMemStatV1, hMemory, "memory.stat"},
	{fMemLimit, hMemory, "memory.limit_in_bytes"},
	{fMemFailcnt, hMemory, "memory.failcnt"},
	{fMemMaxUsage, hMemory, "memory.max_usage_in_bytes"},
	{fMemOOMControl, hMemory, "memory.oom_control"},
	{fBlkioBytes, hBlkio, "blkio.throttle.io_service_bytes_recursive"},
	{fBlkioOps, hBlkio, "blkio.throttle.io_serviced_recursive"},
	{fPidsCurrent, hPids, "pids.current"},
	{fPidsMax, hPids, "pids.max"},
	{fProcs, hPrimary, "cgroup.procs"},
	// On a hybrid host the unified hierarchy mirrors the v1 tree and
	// carries the pressure (PSI) files.
	{fCPUPressure, hUnified, "cpu.pressure"},
	{fMemPressure, hUnified, "memory.pressure"},
	{fIOPressure, hUnified, "io.pressure"},
}

var v2Files = [...]fileSpec{
	{fCPUStatV2, hUnified, "cpu.stat"},
	{fCPUMax, hUnified, "cpu.max"},
	{fCPUWeight, hUnified, "cpu.weight"},
	{fMemCurrent, hUnified, "memory.current"},
	{fMemStatV2, hUnified, "memory.stat"},
	{fMemMax, hUnified, "memory.max"},
	{fMemEvents, hUnified, "memory.events"},
	{fMemPeak, hUnified, "memory.peak"},
	{fMemSwapCurrent, hUnified, "memory.swap.current"},
	{fIOStat, hUnified, "io.stat"},
	{fPidsCurrent, hUnified, "pids.current"},
	{fPidsMax, hUnified, "pids.max"},
	{fProcs, hUnified, "cgroup.procs"},
	{fCPUPressure, hUnified, "cpu.pressure"},
	{fMemPressure, hUnified, "memory.pressure"},
	{fIOPressure, hUnified, "io.pressure"},
}

// ErrGone means the cgroup was removed (its container stopped).
var ErrGone = errors.New("cgroup removed")

// Reader reads one cgroup's statistics. It is not safe for concurrent use.
type Reader struct {
	version Version
	fds     [numFiles]int
	names   [numFiles]string
	// Dir is the cgroup's directory in the primary hierarchy.
	Dir string
	// LimitsEvery makes Read re-read limits (CPU quota, period and shares,
	// memory and PID limits) only every LimitsEvery reads; 0 or 1 reads
	// them every time.
	LimitsEvery int
	reads       int
	limits      bool
}

// Open opens the statistics files of the cgroup at paths. Files the kernel
// does not provide (a controller not mounted, memory.peak before Linux
// 5.19) are skipped; their metrics are then absent. Open fails with an
// error wrapping os.ErrNotExist when the cgroup does not exist.
func Open(l Layout, paths Paths) (*Reader, error) {
	r := &Reader{version: l.Version}
	for i := range r.fds {
		r.fds[i] = -1
	}
	primary := paths.Primary(l)
	if primary == "" {
		return nil, fmt.Errorf("no cgroup path in the primary hierarchy: %w", os.ErrNotExist)
	}
	r.Dir = filepath.Join(l.Primary(), path.Clean("/"+primary))
	if fi, err := os.Stat(r.Dir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("cgroup %s: %w", r.Dir, os.ErrNotExist)
	}
	specs := v1Files[:]
	if l.Version == V2 {
		specs = v2Files[:]
	}
	for _, s := range specs {
		root, rel := l.root(s.h), paths.rel(s.h, primary)
		if root == "" || rel == "" {
			continue
		}
		fd, err := syscall.Open(filepath.Join(root, path.Clean("/"+rel), s.name), syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != nil {
			continue
		}
		r.fds[s.id] = fd
		r.names[s.id] = s.name
	}
	if r.fds[fProcs] < 0 {
		r.Close()
		return nil, fmt.Errorf("cgroup %s has no cgroup.procs: %w", r.Dir, os.ErrNotExist)
	}
	return r, nil
}

func (l Layout) root(h hierarchy) string {
	switch h {
	case hCPU:
		return l.CPU
	case hCPUAcct:
		return l.CPUAcct
	case hMemory:
		return l.Memory
	case hBlkio:
		return l.Blkio
	case hPids:
		return l.Pids
	case hUnified:
		return l.Unified
	}
	return l.Primary()
}

func (p Paths) rel(h hierarchy, primary string) string {
	var v string
	switch h {
	case hCPU:
		v = p.CPU
	case hCPUAcct:
		v = p.CPUAcct
	case hMemory:
		v = p.Memory
	case hBlkio:
		v = p.Blkio
	case hPids:
		v = p.Pids
	case hUnified:
		v = p.Unified
	}
	if v == "" {
		return primary
	}
	return v
}

// Close releases the Reader's file descriptors.
func (r *Reader) Close() {
	for i, fd := range r.fds {
		if fd >= 0 {
			syscall.Close(fd)
			r.fds[i] = -1
		}
	}
}

// Buffer is scratch space for Read, shared by all Readers of one collector.
type Buffer struct{ b []byte }

// read reads file id into buf, growing it for large files (cgroup.procs of
// a busy cgroup). ok is false when the file is not open. The only error
// returned is ErrGone; a file that fails otherwise (pressure files on a
// kernel booted with psi=0 fail with EOPNOTSUPP) is reported through fail
// and closed, so it is not retried every tick.
func (r *Reader) read(id fileID, buf *Buffer, fail func(string, error)) (data []byte, ok bool, err error) {
	fd := r.fds[id]
	if fd < 0 {
		return nil, false, nil
	}
	if buf.b == nil {
		buf.b = make([]byte, 16<<10)
	}
	for {
		n, err := syscall.Pread(fd, buf.b, 0)
		if err != nil {
			if errors.Is(err, syscall.ENODEV) || errors.Is(err, syscall.ENOENT) {
				return nil, true, ErrGone
			}
			syscall.Close(fd)
			r.fds[id] = -1
			if !errors.Is(err, syscall.EOPNOTSUPP) {
				fail(r.names[id], err)
			}
			return nil, false, nil
		}
		if n < len(buf.b) || len(buf.b) >= maxFileSize {
			return buf.b[:n], true, nil
		}
		buf.b = make([]byte, 2*len(buf.b))
	}
}

// maxFileSize bounds how much of one cgroup file is read (a cgroup.procs
// with a hundred thousand PIDs).
const maxFileSize = 1 << 20
