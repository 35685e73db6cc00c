package cgroup

import (
	"bytes"
	"fmt"
	"math"

	"github.com/brinkhq/brink/internal/monitor/internal/decimal"
)

// The parsers below work on the raw bytes of one cgroup file without
// allocating: they run for every container every tick.

var errSyntax = decimal.ErrSyntax

// parseUint parses a decimal unsigned integer surrounded by optional
// whitespace ("12345\n").
func parseUint(b []byte) (uint64, error) {
	return decimal.ParseUint(bytes.TrimSpace(b))
}

// parseInt parses a decimal integer that may be negative ("-1" is cgroup
// v1's "no CFS quota").
func parseInt(b []byte) (int64, error) {
	b = bytes.TrimSpace(b)
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	u, err := parseUint(b)
	if err != nil {
		return 0, err
	}
	if u > math.MaxInt64 {
		return 0, fmt.Errorf("%q overflows: %w", b, errSyntax)
	}
	if neg {
		return -int64(u), nil
	}
	return int64(u), nil
}

// parseLimit parses a cgroup v2 limit: a number or "max" (unlimited).
func parseLimit(b []byte) (v uint64, unlimited bool, err error) {
	b = bytes.TrimSpace(b)
	if string(b) == "max" {
		return 0, true, nil
	}
	v, err = parseUint(b)
	return v, false, err
}

// eachField calls fn for every "key value" line (memory.stat, cpu.stat,
// cpuacct.stat, memory.events, memory.oom_control). Lines that do not
// have exactly that shape are skipped: kernels add fields over time.
func eachField(b []byte, fn func(key []byte, value uint64)) {
	for len(b) > 0 {
		var line []byte
		line, b = nextLine(b)
		sp := bytes.IndexByte(line, ' ')
		if sp <= 0 {
			continue
		}
		v, err := parseUint(line[sp+1:])
		if err != nil {
			continue
		}
		fn(line[:sp], v)
	}
}

func nextLine(b []byte) (line, rest []byte) {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i], b[i+1:]
	}
	return b, nil
}

// countLines counts non-empty lines (cgroup.procs: one PID per line).
func countLines(b []byte) uint64 {
	var n uint64
	for len(b) > 0 {
		var line []byte
		line, b = nextLine(b)
		if len(bytes.TrimSpace(line)) > 0 {
			n++
		}
	}
	return n
}

// firstPID returns the first PID listed in a cgroup.procs file.
func firstPID(b []byte) (int, bool) {
	line, _ := nextLine(b)
	v, err := parseUint(line)
	if err != nil || v == 0 || v > math.MaxInt32 {
		return 0, false
	}
	return int(v), true
}

// parsePSI parses a pressure file ("some avg10=0.00 avg60=0.00 avg300=0.00
// total=123\nfull ...") and returns the cumulative stall totals in
// microseconds. A file without a "full" line (cpu.pressure on old kernels)
// reports full = 0 and hasFull = false.
func parsePSI(b []byte) (some, full uint64, hasFull bool, err error) {
	hasSome := false
	for len(b) > 0 {
		var line []byte
		line, b = nextLine(b)
		kind, rest, ok := bytes.Cut(line, []byte{' '})
		if !ok {
			continue
		}
		i := bytes.Index(rest, []byte("total="))
		if i < 0 {
			return 0, 0, false, fmt.Errorf("pressure line %q has no total: %w", line, errSyntax)
		}
		v, perr := parseUint(rest[i+len("total="):])
		if perr != nil {
			return 0, 0, false, perr
		}
		switch string(kind) {
		case "some":
			some, hasSome = v, true
		case "full":
			full, hasFull = v, true
		}
	}
	if !hasSome {
		return 0, 0, false, fmt.Errorf("pressure file has no \"some\" line: %w", errSyntax)
	}
	return some, full, hasFull, nil
}

// parseCPUMax parses cgroup v2 cpu.max ("max 100000" or "50000 100000").
// quota is -1 when unlimited, as in cgroup v1.
func parseCPUMax(b []byte) (quota int64, period uint64, err error) {
	q, p, ok := bytes.Cut(bytes.TrimSpace(b), []byte{' '})
	if !ok {
		return 0, 0, fmt.Errorf("cpu.max %q: %w", b, errSyntax)
	}
	if period, err = parseUint(p); err != nil {
		return 0, 0, err
	}
	if string(q) == "max" {
		return -1, period, nil
	}
	qu, err := parseUint(q)
	if err != nil {
		return 0, 0, err
	}
	if qu > math.MaxInt64 {
		return 0, 0, fmt.Errorf("cpu.max quota %q overflows: %w", q, errSyntax)
	}
	return int64(qu), period, nil
}

// parseDevice parses "8:16" into major and minor numbers.
func parseDevice(b []byte) (major, minor uint32, err error) {
	ma, mi, ok := bytes.Cut(b, []byte{':'})
	if !ok {
		return 0, 0, fmt.Errorf("device %q: %w", b, errSyntax)
	}
	a, err := parseUint(ma)
	if err != nil || a > math.MaxUint32 {
		return 0, 0, fmt.Errorf("device %q: %w", b, errSyntax)
	}
	c, err := parseUint(mi)
	if err != nil || c > math.MaxUint32 {
		return 0, 0, fmt.Errorf("device %q: %w", b, errSyntax)
	}
	return uint32(a), uint32(c), nil
}

// deviceIO returns the entry for major:minor in io, appending one if needed.
func deviceIO(io []DeviceIO, major, minor uint32) ([]DeviceIO, *DeviceIO) {
	for i := range io {
		if io[i].Major == major && io[i].Minor == minor {
			return io, &io[i]
		}
	}
	io = append(io, DeviceIO{Major: major, Minor: minor})
	return io, &io[len(io)-1]
}

// parseBlkioV1 parses blkio.throttle.io_service_bytes(_recursive) or
// io_serviced(_recursive) ("8:0 Read 4096\n...\nTotal 4096") into io: bytes
// when ops is false, operation counts when it is true.
func parseBlkioV1(b []byte, io []DeviceIO, ops bool) ([]DeviceIO, error) {
	for len(b) > 0 {
		var line []byte
		line, b = nextLine(b)
		dev, rest, ok := bytes.Cut(line, []byte{' '})
		if !ok || string(dev) == "Total" {
			continue
		}
		op, val, ok := bytes.Cut(rest, []byte{' '})
		if !ok {
			return io, fmt.Errorf("blkio line %q: %w", line, errSyntax)
		}
		isRead, isWrite := string(op) == "Read", string(op) == "Write"
		if !isRead && !isWrite {
			continue
		}
		major, minor, err := parseDevice(dev)
		if err != nil {
			return io, err
		}
		v, err := parseUint(val)
		if err != nil {
			return io, err
		}
		var d *DeviceIO
		io, d = deviceIO(io, major, minor)
		switch {
		case isRead && !ops:
			d.ReadBytes = v
		case isWrite && !ops:
			d.WriteBytes = v
		case isRead:
			d.Reads = v
		default:
			d.Writes = v
		}
	}
	return io, nil
}

// parseIOStatV2 parses cgroup v2 io.stat
// ("8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0").
func parseIOStatV2(b []byte, io []DeviceIO) ([]DeviceIO, error) {
	for len(b) > 0 {
		var line []byte
		line, b = nextLine(b)
		dev, rest, ok := bytes.Cut(line, []byte{' '})
		if !ok {
			continue
		}
		major, minor, err := parseDevice(dev)
		if err != nil {
			return io, err
		}
		var d *DeviceIO
		io, d = deviceIO(io, major, minor)
		for len(rest) > 0 {
			var kv []byte
			kv, rest, _ = bytes.Cut(rest, []byte{' '})
			k, v, ok := bytes.Cut(kv, []byte{'='})
			if !ok {
				continue
			}
			n, err := parseUint(v)
			if err != nil {
				return io, err
			}
			switch string(k) {
			case "rbytes":
				d.ReadBytes = n
			case "wbytes":
				d.WriteBytes = n
			case "rios":
				d.Reads = n
			case "wios":
				d.Writes = n
			}
		}
	}
	return io, nil
}

// ParseProcCgroup parses /proc/<pid>/cgroup
// ("4:memory:/docker/<id>", "0::/docker/<id>") into the process's cgroup
// in every hierarchy.
func ParseProcCgroup(b []byte) Paths {
	var p Paths
	for len(b) > 0 {
		var line []byte
		line, b = nextLine(b)
		_, rest, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			continue
		}
		controllers, path, ok := bytes.Cut(rest, []byte{':'})
		if !ok || len(path) == 0 {
			continue
		}
		if len(controllers) == 0 {
			p.Unified = string(path)
			continue
		}
		for len(controllers) > 0 {
			var c []byte
			c, controllers, _ = bytes.Cut(controllers, []byte{','})
			switch string(c) {
			case "cpu":
				p.CPU = string(path)
			case "cpuacct":
				p.CPUAcct = string(path)
			case "memory":
				p.Memory = string(path)
			case "blkio":
				p.Blkio = string(path)
			case "pids":
				p.Pids = string(path)
			}
		}
	}
	return p
}
