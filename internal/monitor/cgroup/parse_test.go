package cgroup

import (
	"errors"
	"reflect"
	"testing"
)

func TestParseUint(t *testing.T) {
	tests := []struct {
		in      string
		want    uint64
		wantErr bool
	}{
		{"0\n", 0, false},
		{"  123456789 \n", 123456789, false},
		{"18446744073709551615", 18446744073709551615, false},
		{"18446744073709551616", 0, true},
		{"", 0, true},
		{"-1", 0, true},
		{"12a", 0, true},
		{"max", 0, true},
	}
	for _, tt := range tests {
		got, err := parseUint([]byte(tt.in))
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseUint(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseInt(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{"-1\n", -1, false},
		{"50000\n", 50000, false},
		{"9223372036854775807", 9223372036854775807, false},
		{"9223372036854775808", 0, true},
		{"-", 0, true},
	}
	for _, tt := range tests {
		got, err := parseInt([]byte(tt.in))
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseInt(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseLimit(t *testing.T) {
	tests := []struct {
		in            string
		want          uint64
		wantUnlimited bool
		wantErr       bool
	}{
		{"max\n", 0, true, false},
		{"268435456\n", 268435456, false, false},
		{"unlimited", 0, false, true},
	}
	for _, tt := range tests {
		got, unl, err := parseLimit([]byte(tt.in))
		if (err != nil) != tt.wantErr || got != tt.want || unl != tt.wantUnlimited {
			t.Errorf("parseLimit(%q) = %d, %v, %v", tt.in, got, unl, err)
		}
	}
}

func TestParseCPUMax(t *testing.T) {
	tests := []struct {
		in      string
		quota   int64
		period  uint64
		wantErr bool
	}{
		{"max 100000\n", -1, 100000, false},
		{"50000 100000\n", 50000, 100000, false},
		{"50000", 0, 0, true},
		{"x 100000", 0, 0, true},
		{"50000 y", 0, 0, true},
	}
	for _, tt := range tests {
		q, p, err := parseCPUMax([]byte(tt.in))
		if (err != nil) != tt.wantErr || q != tt.quota || p != tt.period {
			t.Errorf("parseCPUMax(%q) = %d, %d, %v", tt.in, q, p, err)
		}
	}
}

func TestParsePSI(t *testing.T) {
	tests := []struct {
		name             string
		in               string
		some, full       uint64
		hasFull, wantErr bool
	}{
		{"both", "some avg10=0.00 avg60=0.00 avg300=0.00 total=2685\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=1232\n", 2685, 1232, true, false},
		{"some only", "some avg10=1.50 avg60=0.00 avg300=0.00 total=77\n", 77, 0, false, false},
		{"no total", "some avg10=0.00\n", 0, 0, false, true},
		{"no some", "full avg10=0.00 avg60=0.00 avg300=0.00 total=1\n", 0, 0, false, true},
		{"bad number", "some avg10=0.00 total=1x\n", 0, 0, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			some, full, hasFull, err := parsePSI([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err == nil && (some != tt.some || full != tt.full || hasFull != tt.hasFull) {
				t.Errorf("got %d %d %v, want %d %d %v", some, full, hasFull, tt.some, tt.full, tt.hasFull)
			}
		})
	}
}

func TestEachField(t *testing.T) {
	in := "cache 0\nrss 105963520\nbogus\n\ntotal_inactive_file 4096\nhierarchical_memory_limit 268435456\nnot_a_number x\n"
	got := map[string]uint64{}
	eachField([]byte(in), func(k []byte, v uint64) { got[string(k)] = v })
	want := map[string]uint64{"cache": 0, "rss": 105963520, "total_inactive_file": 4096, "hierarchical_memory_limit": 268435456}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestCountLinesAndFirstPID(t *testing.T) {
	tests := []struct {
		in    string
		lines uint64
		pid   int
		ok    bool
	}{
		{"", 0, 0, false},
		{"42\n", 1, 42, true},
		{"42\n43\n44\n", 3, 42, true},
		{"\n\n", 0, 0, false},
	}
	for _, tt := range tests {
		if n := countLines([]byte(tt.in)); n != tt.lines {
			t.Errorf("countLines(%q) = %d, want %d", tt.in, n, tt.lines)
		}
		pid, ok := firstPID([]byte(tt.in))
		if pid != tt.pid || ok != tt.ok {
			t.Errorf("firstPID(%q) = %d, %v", tt.in, pid, ok)
		}
	}
}

func TestParseBlkioV1(t *testing.T) {
	bytesIn := "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Async 12288\n8:0 Discard 0\n8:0 Total 12288\n254:0 Read 1\n254:0 Write 2\nTotal 12291\n"
	opsIn := "8:0 Read 1\n8:0 Write 2\n8:0 Total 3\nTotal 3\n"
	io, err := parseBlkioV1([]byte(bytesIn), nil, false)
	if err != nil {
		t.Fatal(err)
	}
	io, err = parseBlkioV1([]byte(opsIn), io, true)
	if err != nil {
		t.Fatal(err)
	}
	want := []DeviceIO{
		{Major: 8, Minor: 0, ReadBytes: 4096, WriteBytes: 8192, Reads: 1, Writes: 2},
		{Major: 254, Minor: 0, ReadBytes: 1, WriteBytes: 2},
	}
	if !reflect.DeepEqual(io, want) {
		t.Errorf("got %+v, want %+v", io, want)
	}
	if io, err := parseBlkioV1([]byte("Total 0\n"), nil, false); err != nil || len(io) != 0 {
		t.Errorf("idle cgroup: %v, %v", io, err)
	}
	if _, err := parseBlkioV1([]byte("8:x Read 1\n"), nil, false); !errors.Is(err, errSyntax) {
		t.Errorf("bad device: err = %v", err)
	}
}

func TestParseIOStatV2(t *testing.T) {
	in := "8:0 rbytes=1048576 wbytes=2097152 rios=10 wios=20 dbytes=0 dios=0\n253:1 rbytes=5 wbytes=6 rios=7 wios=8 dbytes=0 dios=0\n"
	io, err := parseIOStatV2([]byte(in), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []DeviceIO{
		{Major: 8, Minor: 0, ReadBytes: 1048576, WriteBytes: 2097152, Reads: 10, Writes: 20},
		{Major: 253, Minor: 1, ReadBytes: 5, WriteBytes: 6, Reads: 7, Writes: 8},
	}
	if !reflect.DeepEqual(io, want) {
		t.Errorf("got %+v, want %+v", io, want)
	}
	if _, err := parseIOStatV2([]byte("8:0 rbytes=x\n"), nil); err == nil {
		t.Error("bad value: no error")
	}
}

func TestParseProcCgroup(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Paths
	}{
		{
			name: "v1 separate cpu and cpuacct, hybrid unified",
			in: "9:name=systemd:/docker/abc\n8:pids:/docker/abc\n7:blkio:/docker/abc\n4:memory:/process_api/x\n" +
				"2:cpuacct:/docker/abc\n1:cpu:/docker/abc\n0::/docker/abc\n",
			want: Paths{CPU: "/docker/abc", CPUAcct: "/docker/abc", Memory: "/process_api/x", Blkio: "/docker/abc", Pids: "/docker/abc", Unified: "/docker/abc"},
		},
		{
			name: "v1 combined cpu,cpuacct",
			in:   "4:cpu,cpuacct:/system.slice/docker-abc.scope\n3:memory:/system.slice/docker-abc.scope\n",
			want: Paths{CPU: "/system.slice/docker-abc.scope", CPUAcct: "/system.slice/docker-abc.scope", Memory: "/system.slice/docker-abc.scope"},
		},
		{
			name: "v2",
			in:   "0::/kubepods/pod1/abc\n",
			want: Paths{Unified: "/kubepods/pod1/abc"},
		},
		{
			name: "garbage",
			in:   "nonsense\n1:cpu\n",
			want: Paths{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParseProcCgroup([]byte(tt.in)); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// The parsers run on files the kernel writes, but a monitor reading a
// foreign /proc or /sys (a container's view, a fixture tree) must never
// crash on what it finds there.
func FuzzParsers(f *testing.F) {
	for _, s := range []string{
		"some avg10=0.00 avg60=0.00 avg300=0.00 total=2685\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=1232\n",
		"8:0 Read 4096\n8:0 Write 8192\nTotal 12288\n",
		"8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0\n",
		"max 100000\n", "50000 100000\n", "123\n", "-1\n", "max\n",
		"4:cpu,cpuacct:/docker/abc\n0::/x\n",
		"nr_periods 4\nnr_throttled 1\nthrottled_time 37546000\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		parseUint(b)
		parseInt(b)
		parseLimit(b)
		parseCPUMax(b)
		parsePSI(b)
		parseBlkioV1(b, nil, false)
		parseBlkioV1(b, nil, true)
		parseIOStatV2(b, nil)
		ParseProcCgroup(b)
		countLines(b)
		firstPID(b)
		eachField(b, func([]byte, uint64) {})
	})
}
