package procfs

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

const statSample = `cpu  147369 464 37538 170673 661 0 679 157 0 0
cpu0 73251 229 18129 86712 125 0 217 77 0 0
cpu1 74117 234 19409 83960 536 0 461 79 0 0
intr 6851154 0 0 0 0 0
ctxt 20142511
btime 1795549300
processes 76182
procs_running 14
procs_blocked 2
softirq 123 1 2
`

func TestParseStat(t *testing.T) {
	var cpus []CPUTimes
	var ids []int
	st, err := ParseStat([]byte(statSample), func(n int, c *CPUTimes) {
		ids = append(ids, n)
		cpus = append(cpus, *c)
	})
	if err != nil {
		t.Fatal(err)
	}
	want := Stat{ContextSwitches: 20142511, Forks: 76182, Interrupts: 6851154, BootTime: 1795549300, ProcsRunning: 14, ProcsBlocked: 2}
	if st != want {
		t.Errorf("stat = %+v, want %+v", st, want)
	}
	if !reflect.DeepEqual(ids, []int{0, 1}) {
		t.Errorf("cpus = %v, want [0 1] (the aggregate line is skipped)", ids)
	}
	if cpus[1] != (CPUTimes{74117, 234, 19409, 83960, 536, 0, 461, 79}) {
		t.Errorf("cpu1 = %v", cpus[1])
	}
	// Old kernels have fewer columns (no steal); they read as 0.
	if _, err := ParseStat([]byte("cpu0 1 2 3 4\n"), func(_ int, c *CPUTimes) {
		if *c != (CPUTimes{1, 2, 3, 4}) {
			t.Errorf("short line = %v", *c)
		}
	}); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"cpu0 1 2\n", "cpux 1 2 3 4\n", "ctxt many\n"} {
		if _, err := ParseStat([]byte(bad), func(int, *CPUTimes) {}); err == nil {
			t.Errorf("ParseStat(%q): no error", bad)
		}
	}
}

func TestParseLoadAvg(t *testing.T) {
	l, err := ParseLoadAvg([]byte("13.78 8.89 4.95 19/267 11347\n"))
	if err != nil || l != (LoadAvg{13.78, 8.89, 4.95}) {
		t.Errorf("got %+v, %v", l, err)
	}
	if _, err := ParseLoadAvg([]byte("1.0 x\n")); err == nil {
		t.Error("bad loadavg: no error")
	}
}

func TestParseMeminfo(t *testing.T) {
	in := "MemTotal:       24684084 kB\nMemAvailable:   23098796 kB\nActive(anon):       1660 kB\nHugePages_Total:       0\nHugepagesize:       2048 kB\n"
	type field struct {
		name    string
		v       uint64
		hasUnit bool
	}
	var got []field
	err := ParseMeminfo([]byte(in), func(name []byte, v uint64, hasUnit bool) {
		got = append(got, field{string(name), v, hasUnit})
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []field{
		{"MemTotal", 24684084 * 1024, true},
		{"MemAvailable", 23098796 * 1024, true},
		{"Active(anon)", 1660 * 1024, true},
		{"HugePages_Total", 0, false},
		{"Hugepagesize", 2048 * 1024, true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	for _, bad := range []string{"MemTotal 1 kB\n", "MemTotal: x kB\n", "MemTotal: 1 MB\n"} {
		if err := ParseMeminfo([]byte(bad), func([]byte, uint64, bool) {}); err == nil {
			t.Errorf("ParseMeminfo(%q): no error", bad)
		}
	}
}

const netDevSample = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    3193      29    0    0    0     0          0         0     3193      29    0    0    0     0       0          0
  eth0: 496714072   18784    1    2    3     4          5         6  1326218   13174    7    8    9    10      11         12
`

func TestParseNetDev(t *testing.T) {
	got := map[string]NetDev{}
	if err := ParseNetDev([]byte(netDevSample), func(iface []byte, c *NetDev) { got[string(iface)] = *c }); err != nil {
		t.Fatal(err)
	}
	want := map[string]NetDev{
		"lo":   {3193, 29, 0, 0, 0, 0, 0, 0, 3193, 29, 0, 0, 0, 0, 0, 0},
		"eth0": {496714072, 18784, 1, 2, 3, 4, 5, 6, 1326218, 13174, 7, 8, 9, 10, 11, 12},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	if err := ParseNetDev([]byte("eth0: 1 2 3\n"), func([]byte, *NetDev) {}); err == nil {
		t.Error("short line: no error")
	}
}

func TestParseDiskStats(t *testing.T) {
	in := " 254       0 vda 58037 13167 3891490 31284 33731 53096 6010024 17448 0 10856 49723 12531 52 942776 820 4733 169\n" +
		"   8       0 sda 1 2 3 4 5 6 7 8 9 10 11\n"
	got := map[string]DiskStats{}
	if err := ParseDiskStats([]byte(in), func(dev []byte, d *DiskStats) { got[string(dev)] = *d }); err != nil {
		t.Fatal(err)
	}
	want := map[string]DiskStats{
		"vda": {Major: 254, Minor: 0, ReadsCompleted: 58037, ReadsMerged: 13167, SectorsRead: 3891490, ReadTimeMs: 31284,
			WritesCompleted: 33731, WritesMerged: 53096, SectorsWritten: 6010024, WriteTimeMs: 17448,
			IOsInProgress: 0, IOTimeMs: 10856, WeightedIOTimeMs: 49723,
			DiscardsCompleted: 12531, DiscardsMerged: 52, SectorsDiscarded: 942776, DiscardTimeMs: 820,
			FlushesCompleted: 4733, FlushTimeMs: 169, Has: 17},
		"sda": {Major: 8, Minor: 0, ReadsCompleted: 1, ReadsMerged: 2, SectorsRead: 3, ReadTimeMs: 4,
			WritesCompleted: 5, WritesMerged: 6, SectorsWritten: 7, WriteTimeMs: 8,
			IOsInProgress: 9, IOTimeMs: 10, WeightedIOTimeMs: 11, Has: 11},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if err := ParseDiskStats([]byte("8 0 sda 1 2 3\n"), func([]byte, *DiskStats) {}); err == nil {
		t.Error("short line: no error")
	}
}

func TestParseMounts(t *testing.T) {
	in := "/dev/vda / ext4 rw,relatime,discard 0 0\n" +
		"tmpfs /mnt/with\\040space tmpfs ro,nosuid 0 0\n" +
		"proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n"
	var got []Mount
	if err := ParseMounts([]byte(in), func(m Mount) { got = append(got, m) }); err != nil {
		t.Fatal(err)
	}
	want := []Mount{
		{Device: "/dev/vda", MountPoint: "/", FSType: "ext4"},
		{Device: "tmpfs", MountPoint: "/mnt/with space", FSType: "tmpfs", ReadOnly: true},
		{Device: "proc", MountPoint: "/proc", FSType: "proc"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if err := ParseMounts([]byte("/dev/vda /\n"), func(Mount) {}); err == nil {
		t.Error("short line: no error")
	}
}

func TestParsePressure(t *testing.T) {
	p, err := ParsePressure([]byte("some avg10=9.70 avg60=18.39 avg300=9.96 total=54246292\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"))
	if err != nil || p != (Pressure{SomeUs: 54246292, FullUs: 0, HasFull: true}) {
		t.Errorf("got %+v, %v", p, err)
	}
	if _, err := ParsePressure([]byte("full avg10=0 total=1\n")); err == nil {
		t.Error("no some line: no error")
	}
}

func TestParseProcStat(t *testing.T) {
	in := "11348 (a (weird) name) R 11338 11338 7401 0 -1 4194304 97 0 0 0 250 75 0 0 20 0 3 0 179604 3133440 359 18446744073709551615 0 0 0\n"
	ps, err := ParseProcStat([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := ProcStat{UTime: 250, STime: 75, Threads: 3, StartTime: 179604, RSSPages: 359}
	if ps != want {
		t.Errorf("got %+v, want %+v", ps, want)
	}
	if _, err := ParseProcStat([]byte("1 (x) R 1 2\n")); err == nil {
		t.Error("short stat: no error")
	}
}

func TestFileRereads(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	big := make([]byte, 10000) // larger than the initial buffer
	for i := range big {
		big[i] = 'a' + byte(i%26)
	}
	if err := os.WriteFile(p, big, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for range 2 {
		got, err := f.Read()
		if err != nil || string(got) != string(big) {
			t.Fatalf("read %d bytes, %v", len(got), err)
		}
	}
	if err := os.WriteFile(p, []byte("short"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := f.Read(); err != nil || string(got) != "short" {
		t.Errorf("after rewrite: %q, %v", got, err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("Open of a missing file: no error")
	}
}

func TestRealProc(t *testing.T) {
	// The parsers accept what this machine's kernel writes.
	for name, parse := range map[string]func([]byte) error{
		"stat":      func(b []byte) error { _, err := ParseStat(b, func(int, *CPUTimes) {}); return err },
		"loadavg":   func(b []byte) error { _, err := ParseLoadAvg(b); return err },
		"meminfo":   func(b []byte) error { return ParseMeminfo(b, func([]byte, uint64, bool) {}) },
		"net/dev":   func(b []byte) error { return ParseNetDev(b, func([]byte, *NetDev) {}) },
		"diskstats": func(b []byte) error { return ParseDiskStats(b, func([]byte, *DiskStats) {}) },
		"1/mounts":  func(b []byte) error { return ParseMounts(b, func(Mount) {}) },
		"self/stat": func(b []byte) error { _, err := ParseProcStat(b); return err },
	} {
		f, err := Open(filepath.Join("/proc", name))
		if err != nil {
			t.Fatal(err)
		}
		b, err := f.Read()
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if err := parse(b); err != nil {
			t.Errorf("/proc/%s: %v", name, err)
		}
	}
}

func FuzzParsers(f *testing.F) {
	for _, s := range []string{statSample, netDevSample, "13.78 8.89 4.95 19/267 11347\n",
		"MemTotal:       24684084 kB\nHugePages_Total:       0\n",
		" 254       0 vda 58037 13167 3891490 31284 33731 53096 6010024 17448 0 10856 49723 12531 52 942776 820 4733 169\n",
		"/dev/vda / ext4 rw,relatime 0 0\ntmpfs /a\\040b tmpfs ro 0 0\n",
		"some avg10=0.00 avg60=0.00 avg300=0.00 total=1\n",
		"1 (x) R 1 1 1 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 5 6 7\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ParseStat(b, func(int, *CPUTimes) {})
		ParseLoadAvg(b)
		ParseMeminfo(b, func([]byte, uint64, bool) {})
		ParseNetDev(b, func([]byte, *NetDev) {})
		ParseDiskStats(b, func([]byte, *DiskStats) {})
		ParseMounts(b, func(Mount) {})
		ParsePressure(b)
		ParseProcStat(b)
	})
}
