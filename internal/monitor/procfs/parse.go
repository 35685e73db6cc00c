package procfs

import (
	"bytes"
	"fmt"
	"math"
	"strconv"

	"github.com/brinkhq/brink/internal/monitor/internal/decimal"
)

var errSyntax = decimal.ErrSyntax

// UserHZ is the unit of the CPU times in /proc/stat and /proc/<pid>/stat.
const UserHZ = 100

func nextLine(b []byte) (line, rest []byte) {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i], b[i+1:]
	}
	return b, nil
}

// nextField returns the next whitespace-separated field of b.
func nextField(b []byte) (field, rest []byte) {
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	j := i
	for j < len(b) && b[j] != ' ' && b[j] != '\t' {
		j++
	}
	return b[i:j], b[j:]
}

func parseUint(b []byte) (uint64, error) { return decimal.ParseUint(b) }

// CPUModes are the columns of a cpu line in /proc/stat, in order.
var CPUModes = [...]string{"user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"}

// CPUTimes is one CPU's time per mode in USER_HZ ticks, indexed like
// CPUModes. Guest time is already included in user and nice.
type CPUTimes [len(CPUModes)]uint64

// Stat is the host-wide part of /proc/stat.
type Stat struct {
	ContextSwitches, Forks, Interrupts uint64
	BootTime                           uint64
	ProcsRunning, ProcsBlocked         uint64
}

// ParseStat parses /proc/stat, calling cpu for each "cpuN" line (cpu is the
// N) and returning the other counters.
func ParseStat(b []byte, cpu func(n int, t *CPUTimes)) (Stat, error) {
	var st Stat
	var t CPUTimes
	for len(b) > 0 {
		var line []byte
		line, b = nextLine(b)
		key, rest := nextField(line)
		switch {
		case len(key) > 3 && string(key[:3]) == "cpu":
			n, err := parseUint(key[3:])
			if err != nil || n > math.MaxInt32 {
				return st, fmt.Errorf("/proc/stat line %q: %w", line, errSyntax)
			}
			t = CPUTimes{}
			for i := range t {
				var f []byte
				f, rest = nextField(rest)
				if len(f) == 0 {
					if i < 4 { // user, nice, system and idle always exist
						return st, fmt.Errorf("/proc/stat line %q is short: %w", line, errSyntax)
					}
					break
				}
				v, err := parseUint(f)
				if err != nil {
					return st, fmt.Errorf("/proc/stat line %q: %w", line, err)
				}
				t[i] = v
			}
			cpu(int(n), &t)
		case string(key) == "ctxt", string(key) == "btime", string(key) == "processes",
			string(key) == "procs_running", string(key) == "procs_blocked", string(key) == "intr":
			f, _ := nextField(rest)
			v, err := parseUint(f)
			if err != nil {
				return st, fmt.Errorf("/proc/stat line %.40q: %w", line, err)
			}
			switch string(key) {
			case "ctxt":
				st.ContextSwitches = v
			case "btime":
				st.BootTime = v
			case "processes":
				st.Forks = v
			case "procs_running":
				st.ProcsRunning = v
			case "procs_blocked":
				st.ProcsBlocked = v
			case "intr":
				st.Interrupts = v
			}
		}
	}
	return st, nil
}

// LoadAvg is /proc/loadavg's three averages.
type LoadAvg struct{ Load1, Load5, Load15 float64 }

// ParseLoadAvg parses /proc/loadavg ("0.12 0.34 0.56 1/234 5678").
func ParseLoadAvg(b []byte) (LoadAvg, error) {
	var v [3]float64
	rest := b
	for i := range v {
		var f []byte
		f, rest = nextField(rest)
		x, err := strconv.ParseFloat(string(bytes.TrimSpace(f)), 64)
		if err != nil {
			return LoadAvg{}, fmt.Errorf("/proc/loadavg %q: %w", b, errSyntax)
		}
		v[i] = x
	}
	return LoadAvg{v[0], v[1], v[2]}, nil
}

// ParseMeminfo parses /proc/meminfo, calling fn with each field's name
// ("MemTotal", "Active(anon)") and value, in bytes when the line has a kB
// unit (hasUnit) and as a plain count otherwise (HugePages_Total).
func ParseMeminfo(b []byte, fn func(name []byte, v uint64, hasUnit bool)) error {
	for len(b) > 0 {
		var line []byte
		line, b = nextLine(b)
		if len(line) == 0 {
			continue
		}
		name, rest, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			return fmt.Errorf("/proc/meminfo line %q: %w", line, errSyntax)
		}
		f, rest := nextField(rest)
		v, err := parseUint(f)
		if err != nil {
			return fmt.Errorf("/proc/meminfo line %q: %w", line, err)
		}
		unit, _ := nextField(rest)
		switch string(unit) {
		case "kB":
			fn(name, v*1024, true)
		case "":
			fn(name, v, false)
		default:
			return fmt.Errorf("/proc/meminfo line %q: unknown unit: %w", line, errSyntax)
		}
	}
	return nil
}

// NetDevFields are the 16 counters of a /proc/net/dev line, in order, as
// node_exporter names them.
var NetDevFields = [...]string{
	"receive_bytes", "receive_packets", "receive_errs", "receive_drop",
	"receive_fifo", "receive_frame", "receive_compressed", "receive_multicast",
	"transmit_bytes", "transmit_packets", "transmit_errs", "transmit_drop",
	"transmit_fifo", "transmit_colls", "transmit_carrier", "transmit_compressed",
}

// NetDev is one interface's counters, indexed like NetDevFields.
type NetDev [len(NetDevFields)]uint64

// ParseNetDev parses /proc/net/dev (or /proc/<pid>/net/dev), calling fn
// for every interface.
func ParseNetDev(b []byte, fn func(iface []byte, c *NetDev)) error {
	var c NetDev
	for len(b) > 0 {
		var line []byte
		line, b = nextLine(b)
		name, rest, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			continue // the two header lines
		}
		name = bytes.TrimSpace(name)
		if len(name) == 0 {
			return fmt.Errorf("/proc/net/dev line %q: empty interface name: %w", line, errSyntax)
		}
		for i := range c {
			var f []byte
			f, rest = nextField(rest)
			v, err := parseUint(f)
			if err != nil {
				return fmt.Errorf("/proc/net/dev line %q: %w", line, err)
			}
			c[i] = v
		}
		fn(name, &c)
	}
	return nil
}

// DiskStats is one line of /proc/diskstats. Times are in milliseconds,
// sectors are 512 bytes. Has tells how many statistics fields the kernel
// provided (11 before 4.18, 15 with discards, 17 with flushes).
type DiskStats struct {
	Major, Minor                                  uint64
	ReadsCompleted, ReadsMerged, SectorsRead      uint64
	ReadTimeMs                                    uint64
	WritesCompleted, WritesMerged, SectorsWritten uint64
	WriteTimeMs                                   uint64
	IOsInProgress, IOTimeMs, WeightedIOTimeMs     uint64
	DiscardsCompleted, DiscardsMerged             uint64
	SectorsDiscarded, DiscardTimeMs               uint64
	FlushesCompleted, FlushTimeMs                 uint64
	Has                                           int
}

// ParseDiskStats parses /proc/diskstats, calling fn for every device.
func ParseDiskStats(b []byte, fn func(dev []byte, d *DiskStats)) error {
	var d DiskStats
	for len(b) > 0 {
		var line []byte
		line, b = nextLine(b)
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var vals [19]uint64
		var name []byte
		n := 0
		rest := line
		for i := 0; ; i++ {
			var f []byte
			f, rest = nextField(rest)
			if len(f) == 0 {
				break
			}
			if i == 2 {
				name = f
				continue
			}
			if n == len(vals) {
				break
			}
			v, err := parseUint(f)
			if err != nil {
				return fmt.Errorf("/proc/diskstats line %q: %w", line, err)
			}
			vals[n] = v
			n++
		}
		if n < 2+11 || len(name) == 0 {
			return fmt.Errorf("/proc/diskstats line %q is short: %w", line, errSyntax)
		}
		d = DiskStats{
			Major: vals[0], Minor: vals[1],
			ReadsCompleted: vals[2], ReadsMerged: vals[3], SectorsRead: vals[4], ReadTimeMs: vals[5],
			WritesCompleted: vals[6], WritesMerged: vals[7], SectorsWritten: vals[8], WriteTimeMs: vals[9],
			IOsInProgress: vals[10], IOTimeMs: vals[11], WeightedIOTimeMs: vals[12],
			DiscardsCompleted: vals[13], DiscardsMerged: vals[14], SectorsDiscarded: vals[15], DiscardTimeMs: vals[16],
			FlushesCompleted: vals[17], FlushTimeMs: vals[18],
			Has: n - 2,
		}
		fn(name, &d)
	}
	return nil
}

// Mount is one line of a mounts table.
type Mount struct {
	Device, MountPoint, FSType string
	ReadOnly                   bool
}

// ParseMounts parses /proc/<pid>/mounts ("dev mountpoint fstype opts 0 0"),
// undoing the octal escapes (\040 for a space) in device and mount point.
func ParseMounts(b []byte, fn func(m Mount)) error {
	for len(b) > 0 {
		var line []byte
		line, b = nextLine(b)
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		dev, rest := nextField(line)
		mp, rest := nextField(rest)
		fstype, rest := nextField(rest)
		opts, _ := nextField(rest)
		if len(opts) == 0 {
			return fmt.Errorf("mounts line %q is short: %w", line, errSyntax)
		}
		ro := false
		for o := opts; len(o) > 0; {
			var opt []byte
			opt, o, _ = bytes.Cut(o, []byte{','})
			if string(opt) == "ro" {
				ro = true
			}
		}
		fn(Mount{Device: unescapeOctal(dev), MountPoint: unescapeOctal(mp), FSType: string(fstype), ReadOnly: ro})
	}
	return nil
}

func unescapeOctal(b []byte) string {
	if bytes.IndexByte(b, '\\') < 0 {
		return string(b)
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] == '\\' && i+3 < len(b) && isOctal(b[i+1]) && isOctal(b[i+2]) && isOctal(b[i+3]) {
			out = append(out, (b[i+1]-'0')<<6|(b[i+2]-'0')<<3|(b[i+3]-'0'))
			i += 3
			continue
		}
		out = append(out, b[i])
	}
	return string(out)
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// Pressure is a PSI file's cumulative stall totals in microseconds.
type Pressure struct {
	SomeUs, FullUs uint64
	HasFull        bool
}

// ParsePressure parses /proc/pressure/{cpu,memory,io}.
func ParsePressure(b []byte) (Pressure, error) {
	var p Pressure
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
			return p, fmt.Errorf("pressure line %q has no total: %w", line, errSyntax)
		}
		v, err := parseUint(bytes.TrimSpace(rest[i+len("total="):]))
		if err != nil {
			return p, err
		}
		switch string(kind) {
		case "some":
			p.SomeUs, hasSome = v, true
		case "full":
			p.FullUs, p.HasFull = v, true
		}
	}
	if !hasSome {
		return p, fmt.Errorf("pressure file has no \"some\" line: %w", errSyntax)
	}
	return p, nil
}

// ProcStat is what the monitor needs from /proc/<pid>/stat.
type ProcStat struct {
	UTime, STime uint64 // USER_HZ ticks
	Threads      uint64
	StartTime    uint64 // USER_HZ ticks after boot
	RSSPages     uint64
}

// ParseProcStat parses /proc/<pid>/stat. The command name in parentheses
// may contain spaces and parentheses, so fields are counted from the last
// ')'.
func ParseProcStat(b []byte) (ProcStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return ProcStat{}, fmt.Errorf("stat %.40q: no command name: %w", b, errSyntax)
	}
	rest := b[i+1:]
	// Fields after the name start at field 3 (state).
	var ps ProcStat
	for field := 3; field <= 24; field++ {
		var f []byte
		f, rest = nextField(rest)
		if len(f) == 0 {
			return ProcStat{}, fmt.Errorf("stat is short (field %d): %w", field, errSyntax)
		}
		var dst *uint64
		switch field {
		case 14:
			dst = &ps.UTime
		case 15:
			dst = &ps.STime
		case 20:
			dst = &ps.Threads
		case 22:
			dst = &ps.StartTime
		case 24:
			dst = &ps.RSSPages
		default:
			continue
		}
		v, err := parseUint(bytes.TrimSpace(f))
		if err != nil {
			return ProcStat{}, fmt.Errorf("stat field %d: %w", field, err)
		}
		*dst = v
	}
	return ps, nil
}
