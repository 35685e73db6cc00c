package cgroup

import (
	"fmt"
	"math"
)

// Has is a set of flags saying which parts of Stats were read.
type Has uint32

// The parts of Stats.
const (
	HasCPU           Has = 1 << iota // CPUUsageNs
	HasCPUUserSystem                 // CPUUserNs, CPUSystemNs
	HasCFS                           // CFSPeriods, CFSThrottledPeriods, CFSThrottledNs
	HasCPUQuota                      // CPUQuotaUs, CPUPeriodUs
	HasCPUShares                     // CPUShares
	HasMemory                        // MemUsage, MemWorkingSet, MemRSS, MemCache, MemMappedFile, MemInactiveFile
	HasMemSwap                       // MemSwap
	HasMemMaxUsage                   // MemMaxUsage
	HasMemLimit                      // MemLimit
	HasMemFailcnt                    // MemFailcnt
	HasMemOOM                        // MemOOMKills
	HasIO                            // IO
	HasThreads                       // Threads
	HasThreadsMax                    // ThreadsMax
	HasProcesses                     // Processes, FirstPID
	HasPSICPU                        // PSI[PSICPU]
	HasPSIMemory                     // PSI[PSIMemory]
	HasPSIIO                         // PSI[PSIIO]
)

// PSI resources, indexes into Stats.PSI.
const (
	PSICPU = iota
	PSIMemory
	PSIIO
)

// Pressure is one resource's cumulative stall time in microseconds:
// Some is time at least one task waited, Full time all non-idle tasks did.
type Pressure struct {
	SomeUs, FullUs uint64
	HasFull        bool
}

// DeviceIO is a cgroup's block IO on one device.
type DeviceIO struct {
	Major, Minor          uint32
	ReadBytes, WriteBytes uint64
	Reads, Writes         uint64
}

// Stats is one reading of a cgroup. Limits that are not set read as
// CPUQuotaUs = -1, MemLimit = 0 and ThreadsMax = 0.
type Stats struct {
	Has Has

	CPUUsageNs, CPUUserNs, CPUSystemNs uint64
	CFSPeriods, CFSThrottledPeriods    uint64
	CFSThrottledNs                     uint64
	CPUQuotaUs                         int64
	CPUPeriodUs                        uint64
	CPUShares                          uint64

	// MemWorkingSet is usage minus inactive file pages (never below 0):
	// what docker stats shows and what the kernel cannot reclaim easily.
	MemUsage, MemWorkingSet, MemInactiveFile uint64
	MemRSS, MemCache, MemMappedFile          uint64
	MemSwap, MemMaxUsage, MemLimit           uint64
	MemFailcnt, MemOOMKills                  uint64

	IO []DeviceIO

	Threads, ThreadsMax, Processes uint64
	// FirstPID is a process in the cgroup (0 when it has none).
	FirstPID int

	PSI [3]Pressure
}

// limitParts are the parts of Stats that hold limits.
const limitParts = HasCPUQuota | HasCPUShares | HasMemLimit | HasThreadsMax

// userHZ is the unit of cpuacct.stat: clock ticks of 1/100 s on every
// architecture Linux exports to user space.
const userHZ = 100

// unlimitedV1 is the smallest value cgroup v1 reports for "no memory
// limit" (the page-rounded maximum of a signed 64-bit counter).
const unlimitedV1 = math.MaxInt64 &^ (1<<16 - 1)

// Read fills s with the cgroup's current statistics, reusing s.IO. It
// returns ErrGone once the cgroup has been removed. A file whose content
// does not parse is reported as an error naming the file, after the other
// files have been read.
func (r *Reader) Read(s *Stats, buf *Buffer) error {
	// Limits change only when someone updates them (docker update); they
	// are re-read every LimitsEvery reads and kept from s in between.
	limits := r.reads%max(r.LimitsEvery, 1) == 0
	r.reads++
	prev := *s
	io := s.IO[:0]
	*s = Stats{IO: io, CPUQuotaUs: -1}
	if !limits {
		s.Has = prev.Has & limitParts
		s.CPUQuotaUs, s.CPUPeriodUs, s.CPUShares = prev.CPUQuotaUs, prev.CPUPeriodUs, prev.CPUShares
		s.MemLimit, s.ThreadsMax = prev.MemLimit, prev.ThreadsMax
	}
	r.limits = limits
	var firstErr error
	fail := func(what string, err error) {
		if firstErr == nil {
			firstErr = fmt.Errorf("%s/%s: %w", r.Dir, what, err)
		}
	}
	var err error
	if r.version == V2 {
		err = r.readV2(s, buf, fail)
	} else {
		err = r.readV1(s, buf, fail)
	}
	if err != nil {
		return err
	}
	if err := r.readCommon(s, buf, fail); err != nil {
		return err
	}
	if s.Has&HasMemory != 0 {
		s.MemWorkingSet = 0
		if s.MemUsage > s.MemInactiveFile {
			s.MemWorkingSet = s.MemUsage - s.MemInactiveFile
		}
	}
	return firstErr
}

// value reads a single-number file.
func (r *Reader) value(id fileID, buf *Buffer, name string, fail func(string, error)) (uint64, bool, error) {
	b, ok, err := r.read(id, buf, fail)
	if !ok || err != nil {
		return 0, false, err
	}
	v, perr := parseUint(b)
	if perr != nil {
		fail(name, perr)
		return 0, false, nil
	}
	return v, true, nil
}

// readLimit reads a limit file on the reads that refresh limits.
func (r *Reader) readLimit(id fileID, buf *Buffer, fail func(string, error)) ([]byte, bool, error) {
	if !r.limits {
		return nil, false, nil
	}
	return r.read(id, buf, fail)
}

// limitValue is value for a limit file.
func (r *Reader) limitValue(id fileID, buf *Buffer, name string, fail func(string, error)) (uint64, bool, error) {
	if !r.limits {
		return 0, false, nil
	}
	return r.value(id, buf, name, fail)
}

func (r *Reader) readV1(s *Stats, buf *Buffer, fail func(string, error)) error {
	v, ok, err := r.value(fCPUAcctUsage, buf, "cpuacct.usage", fail)
	if err != nil {
		return err
	}
	if ok {
		s.CPUUsageNs = v
		s.Has |= HasCPU
	}
	b, ok, err := r.read(fCPUAcctStat, buf, fail)
	if err != nil {
		return err
	}
	if ok {
		eachField(b, func(k []byte, v uint64) {
			switch string(k) {
			case "user":
				s.CPUUserNs = v * (1e9 / userHZ)
			case "system":
				s.CPUSystemNs = v * (1e9 / userHZ)
			}
		})
		s.Has |= HasCPUUserSystem
	}
	b, ok, err = r.read(fCPUStatV1, buf, fail)
	if err != nil {
		return err
	}
	if ok {
		eachField(b, func(k []byte, v uint64) {
			switch string(k) {
			case "nr_periods":
				s.CFSPeriods = v
			case "nr_throttled":
				s.CFSThrottledPeriods = v
			case "throttled_time":
				s.CFSThrottledNs = v
			}
		})
		s.Has |= HasCFS
	}
	b, ok, err = r.readLimit(fCPUQuota, buf, fail)
	if err != nil {
		return err
	}
	if ok {
		q, perr := parseInt(b)
		if perr != nil {
			fail("cpu.cfs_quota_us", perr)
		} else {
			p, pok, err := r.value(fCPUPeriod, buf, "cpu.cfs_period_us", fail)
			if err != nil {
				return err
			}
			if pok {
				s.CPUQuotaUs, s.CPUPeriodUs = q, p
				if q < 0 {
					s.CPUQuotaUs = -1
				}
				s.Has |= HasCPUQuota
			}
		}
	}
	if v, ok, err = r.limitValue(fCPUShares, buf, "cpu.shares", fail); err != nil {
		return err
	} else if ok {
		s.CPUShares = v
		s.Has |= HasCPUShares
	}

	if v, ok, err = r.value(fMemUsage, buf, "memory.usage_in_bytes", fail); err != nil {
		return err
	} else if ok {
		s.MemUsage = v
		b, sok, err := r.read(fMemStatV1, buf, fail)
		if err != nil {
			return err
		}
		if sok {
			// The total_ fields include child cgroups, like usage_in_bytes.
			eachField(b, func(k []byte, v uint64) {
				switch string(k) {
				case "total_inactive_file":
					s.MemInactiveFile = v
				case "total_rss":
					s.MemRSS = v
				case "total_cache":
					s.MemCache = v
				case "total_mapped_file":
					s.MemMappedFile = v
				case "total_swap":
					s.MemSwap = v
					s.Has |= HasMemSwap
				}
			})
			s.Has |= HasMemory
		}
	}
	if v, ok, err = r.limitValue(fMemLimit, buf, "memory.limit_in_bytes", fail); err != nil {
		return err
	} else if ok {
		if v >= unlimitedV1 {
			v = 0
		}
		s.MemLimit = v
		s.Has |= HasMemLimit
	}
	if v, ok, err = r.value(fMemFailcnt, buf, "memory.failcnt", fail); err != nil {
		return err
	} else if ok {
		s.MemFailcnt = v
		s.Has |= HasMemFailcnt
	}
	if v, ok, err = r.value(fMemMaxUsage, buf, "memory.max_usage_in_bytes", fail); err != nil {
		return err
	} else if ok {
		s.MemMaxUsage = v
		s.Has |= HasMemMaxUsage
	}
	if b, ok, err = r.read(fMemOOMControl, buf, fail); err != nil {
		return err
	} else if ok {
		eachField(b, func(k []byte, v uint64) {
			if string(k) == "oom_kill" { // Linux 4.13 and later
				s.MemOOMKills = v
				s.Has |= HasMemOOM
			}
		})
	}

	if b, ok, err = r.read(fBlkioBytes, buf, fail); err != nil {
		return err
	} else if ok {
		var perr error
		if s.IO, perr = parseBlkioV1(b, s.IO, false); perr != nil {
			fail("blkio.throttle.io_service_bytes_recursive", perr)
		} else {
			s.Has |= HasIO
		}
	}
	if b, ok, err = r.read(fBlkioOps, buf, fail); err != nil {
		return err
	} else if ok {
		var perr error
		if s.IO, perr = parseBlkioV1(b, s.IO, true); perr != nil {
			fail("blkio.throttle.io_serviced_recursive", perr)
		}
	}
	return nil
}

func (r *Reader) readV2(s *Stats, buf *Buffer, fail func(string, error)) error {
	b, ok, err := r.read(fCPUStatV2, buf, fail)
	if err != nil {
		return err
	}
	if ok {
		eachField(b, func(k []byte, v uint64) {
			switch string(k) {
			case "usage_usec":
				s.CPUUsageNs = v * 1000
				s.Has |= HasCPU
			case "user_usec":
				s.CPUUserNs = v * 1000
				s.Has |= HasCPUUserSystem
			case "system_usec":
				s.CPUSystemNs = v * 1000
			case "nr_periods":
				s.CFSPeriods = v
				s.Has |= HasCFS
			case "nr_throttled":
				s.CFSThrottledPeriods = v
			case "throttled_usec":
				s.CFSThrottledNs = v * 1000
			}
		})
	}
	if b, ok, err = r.readLimit(fCPUMax, buf, fail); err != nil {
		return err
	} else if ok {
		q, p, perr := parseCPUMax(b)
		if perr != nil {
			fail("cpu.max", perr)
		} else {
			s.CPUQuotaUs, s.CPUPeriodUs = q, p
			s.Has |= HasCPUQuota
		}
	}
	v, ok, err := r.limitValue(fCPUWeight, buf, "cpu.weight", fail)
	if err != nil {
		return err
	}
	if ok && v >= 1 && v <= 10000 {
		// The inverse of the runc/systemd mapping of v1 shares
		// [2, 262144] onto v2 weights [1, 10000], as cAdvisor reports it.
		s.CPUShares = 2 + ((v-1)*262142)/9999
		s.Has |= HasCPUShares
	}

	if v, ok, err = r.value(fMemCurrent, buf, "memory.current", fail); err != nil {
		return err
	} else if ok {
		s.MemUsage = v
		b, sok, err := r.read(fMemStatV2, buf, fail)
		if err != nil {
			return err
		}
		if sok {
			eachField(b, func(k []byte, v uint64) {
				switch string(k) {
				case "inactive_file":
					s.MemInactiveFile = v
				case "anon":
					s.MemRSS = v
				case "file":
					s.MemCache = v
				case "file_mapped":
					s.MemMappedFile = v
				}
			})
			s.Has |= HasMemory
		}
	}
	if b, ok, err = r.readLimit(fMemMax, buf, fail); err != nil {
		return err
	} else if ok {
		v, unlimited, perr := parseLimit(b)
		if perr != nil {
			fail("memory.max", perr)
		} else {
			if unlimited {
				v = 0
			}
			s.MemLimit = v
			s.Has |= HasMemLimit
		}
	}
	if b, ok, err = r.read(fMemEvents, buf, fail); err != nil {
		return err
	} else if ok {
		eachField(b, func(k []byte, v uint64) {
			switch string(k) {
			case "max": // times usage hit memory.max, v1's failcnt
				s.MemFailcnt = v
				s.Has |= HasMemFailcnt
			case "oom_kill":
				s.MemOOMKills = v
				s.Has |= HasMemOOM
			}
		})
	}
	if v, ok, err = r.value(fMemPeak, buf, "memory.peak", fail); err != nil {
		return err
	} else if ok {
		s.MemMaxUsage = v
		s.Has |= HasMemMaxUsage
	}
	if v, ok, err = r.value(fMemSwapCurrent, buf, "memory.swap.current", fail); err != nil {
		return err
	} else if ok {
		s.MemSwap = v
		s.Has |= HasMemSwap
	}
	if b, ok, err = r.read(fIOStat, buf, fail); err != nil {
		return err
	} else if ok {
		var perr error
		if s.IO, perr = parseIOStatV2(b, s.IO); perr != nil {
			fail("io.stat", perr)
		} else {
			s.Has |= HasIO
		}
	}
	return nil
}

func (r *Reader) readCommon(s *Stats, buf *Buffer, fail func(string, error)) error {
	v, ok, err := r.value(fPidsCurrent, buf, "pids.current", fail)
	if err != nil {
		return err
	}
	if ok {
		s.Threads = v
		s.Has |= HasThreads
	}
	b, ok, err := r.readLimit(fPidsMax, buf, fail)
	if err != nil {
		return err
	}
	if ok {
		v, unlimited, perr := parseLimit(b)
		if perr != nil {
			fail("pids.max", perr)
		} else {
			if unlimited {
				v = 0
			}
			s.ThreadsMax = v
			s.Has |= HasThreadsMax
		}
	}
	if b, ok, err = r.read(fProcs, buf, fail); err != nil {
		return err
	} else if ok {
		s.Processes = countLines(b)
		s.FirstPID, _ = firstPID(b)
		s.Has |= HasProcesses
	}
	for i, id := range [3]fileID{fCPUPressure, fMemPressure, fIOPressure} {
		b, ok, err := r.read(id, buf, fail)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		some, full, hasFull, perr := parsePSI(b)
		if perr != nil {
			fail(r.names[id], perr)
			continue
		}
		s.PSI[i] = Pressure{SomeUs: some, FullUs: full, HasFull: hasFull}
		s.Has |= HasPSICPU << i
	}
	return nil
}
