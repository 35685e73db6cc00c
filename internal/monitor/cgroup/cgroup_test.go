package cgroup

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// writeTree creates files (path relative to root → content) and symlinks
// (content starting with "->").
func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := cutPrefix(content, "->"); ok {
			if err := os.Symlink(target, full); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func cutPrefix(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && s[:len(prefix)] == prefix {
		return s[len(prefix):], true
	}
	return "", false
}

const memStatV1 = `cache 4096
rss 105963520
mapped_file 0
swap 0
inactive_file 0
total_cache 8192
total_rss 105963520
total_mapped_file 4096
total_swap 0
total_inactive_file 8192
total_active_file 0
`

// v1Container is one container's files in v1 hierarchies, keyed by the
// hierarchy directory name.
func v1Container(cpuDir, cpuacctDir, dir string) map[string]string {
	return map[string]string{
		cpuacctDir + "/" + dir + "/cpuacct.usage":                     "1500000000\n",
		cpuacctDir + "/" + dir + "/cpuacct.stat":                      "user 100\nsystem 50\n",
		cpuDir + "/" + dir + "/cpu.stat":                              "nr_periods 40\nnr_throttled 10\nthrottled_time 37546000\nnr_bursts 0\nburst_time 0\n",
		cpuDir + "/" + dir + "/cpu.cfs_quota_us":                      "50000\n",
		cpuDir + "/" + dir + "/cpu.cfs_period_us":                     "100000\n",
		cpuDir + "/" + dir + "/cpu.shares":                            "1024\n",
		"memory/" + dir + "/memory.usage_in_bytes":                    "106860544\n",
		"memory/" + dir + "/memory.stat":                              memStatV1,
		"memory/" + dir + "/memory.limit_in_bytes":                    "268435456\n",
		"memory/" + dir + "/memory.failcnt":                           "3\n",
		"memory/" + dir + "/memory.max_usage_in_bytes":                "110000000\n",
		"memory/" + dir + "/memory.oom_control":                       "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n",
		"blkio/" + dir + "/blkio.throttle.io_service_bytes_recursive": "8:0 Read 4096\n8:0 Write 8192\n8:0 Total 12288\nTotal 12288\n",
		"blkio/" + dir + "/blkio.throttle.io_serviced_recursive":      "8:0 Read 1\n8:0 Write 2\n8:0 Total 3\nTotal 3\n",
		"pids/" + dir + "/pids.current":                               "7\n",
		"pids/" + dir + "/pids.max":                                   "max\n",
		cpuacctDir + "/" + dir + "/cgroup.procs":                      "4242\n4243\n",
	}
}

func v1Roots(cpuDir, cpuacctDir string) map[string]string {
	return map[string]string{
		cpuDir + "/cpu.shares":                  "1024\n",
		cpuacctDir + "/cpuacct.usage":           "1\n",
		"memory/memory.usage_in_bytes":          "1\n",
		"blkio/blkio.throttle.io_service_bytes": "Total 0\n",
		"pids/pids.max":                         "max\n",
	}
}

var wantV1 = Stats{
	Has: HasCPU | HasCPUUserSystem | HasCFS | HasCPUQuota | HasCPUShares | HasMemory | HasMemSwap | HasMemMaxUsage |
		HasMemLimit | HasMemFailcnt | HasMemOOM | HasIO | HasThreads | HasThreadsMax | HasProcesses,
	CPUUsageNs: 1500000000, CPUUserNs: 1000000000, CPUSystemNs: 500000000,
	CFSPeriods: 40, CFSThrottledPeriods: 10, CFSThrottledNs: 37546000,
	CPUQuotaUs: 50000, CPUPeriodUs: 100000, CPUShares: 1024,
	MemUsage: 106860544, MemWorkingSet: 106860544 - 8192, MemInactiveFile: 8192,
	MemRSS: 105963520, MemCache: 8192, MemMappedFile: 4096,
	MemMaxUsage: 110000000, MemLimit: 268435456, MemFailcnt: 3, MemOOMKills: 1,
	IO:      []DeviceIO{{Major: 8, Minor: 0, ReadBytes: 4096, WriteBytes: 8192, Reads: 1, Writes: 2}},
	Threads: 7, ThreadsMax: 0, Processes: 2, FirstPID: 4242,
}

func TestReaderV1(t *testing.T) {
	tests := []struct {
		name       string
		files      map[string]string
		wantLayout func(root string) Layout
		want       Stats
	}{
		{
			name:  "separate cpu and cpuacct mounts",
			files: merge(v1Roots("cpu", "cpuacct"), v1Container("cpu", "cpuacct", "docker/abc")),
			wantLayout: func(root string) Layout {
				return Layout{Version: V1, CPU: root + "/cpu", CPUAcct: root + "/cpuacct", Memory: root + "/memory", Blkio: root + "/blkio", Pids: root + "/pids"}
			},
			want: wantV1,
		},
		{
			name:  "combined cpu,cpuacct mount without symlinks",
			files: merge(v1Roots("cpu,cpuacct", "cpu,cpuacct"), v1Container("cpu,cpuacct", "cpu,cpuacct", "docker/abc")),
			wantLayout: func(root string) Layout {
				return Layout{Version: V1, CPU: root + "/cpu,cpuacct", CPUAcct: root + "/cpu,cpuacct", Memory: root + "/memory", Blkio: root + "/blkio", Pids: root + "/pids"}
			},
			want: wantV1,
		},
		{
			name: "combined mount with the usual symlinks, hybrid unified hierarchy with PSI",
			files: merge(v1Roots("cpu,cpuacct", "cpu,cpuacct"), v1Container("cpu,cpuacct", "cpu,cpuacct", "docker/abc"), map[string]string{
				"cpu":                                "->cpu,cpuacct",
				"cpuacct":                            "->cpu,cpuacct",
				"unified/cgroup.controllers":         "",
				"unified/docker/abc/cgroup.procs":    "4242\n4243\n",
				"unified/docker/abc/cpu.pressure":    "some avg10=0.00 avg60=0.00 avg300=0.00 total=2685\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=1232\n",
				"unified/docker/abc/memory.pressure": "some avg10=0.00 avg60=0.00 avg300=0.00 total=5\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=4\n",
				"unified/docker/abc/io.pressure":     "some avg10=0.00 avg60=0.00 avg300=0.00 total=3\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=2\n",
			}),
			wantLayout: func(root string) Layout {
				return Layout{Version: V1, CPU: root + "/cpu", CPUAcct: root + "/cpuacct", Memory: root + "/memory", Blkio: root + "/blkio", Pids: root + "/pids", Unified: root + "/unified"}
			},
			want: func() Stats {
				s := wantV1
				s.Has |= HasPSICPU | HasPSIMemory | HasPSIIO
				s.PSI = [3]Pressure{{2685, 1232, true}, {5, 4, true}, {3, 2, true}}
				return s
			}(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sysfs := t.TempDir()
			root := filepath.Join(sysfs, "fs", "cgroup")
			writeTree(t, root, tt.files)
			l, err := Detect(sysfs)
			if err != nil {
				t.Fatal(err)
			}
			if want := tt.wantLayout(root); l != want {
				t.Fatalf("layout = %+v\nwant     %+v", l, want)
			}
			r, err := Open(l, SamePaths("/docker/abc"))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			var st Stats
			var buf Buffer
			if err := r.Read(&st, &buf); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(st, tt.want) {
				t.Errorf("stats = %+v\nwant    %+v", st, tt.want)
			}
		})
	}
}

const memStatV2 = `anon 104857600
file 2097152
kernel 319488
kernel_stack 65536
pagetables 262144
shmem 0
file_mapped 1048576
file_dirty 0
inactive_anon 104857600
active_anon 0
inactive_file 1048576
active_file 1048576
unevictable 0
pgfault 26974
`

func TestReaderV2(t *testing.T) {
	dir := "system.slice/docker-abc.scope/"
	files := map[string]string{
		"cgroup.controllers":                      "cpuset cpu io memory pids\n",
		dir + "cgroup.procs":                      "4242\n",
		dir + "cpu.stat":                          "usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\nnr_periods 40\nnr_throttled 10\nthrottled_usec 37546\nnr_bursts 0\nburst_usec 0\n",
		dir + "cpu.max":                           "50000 100000\n",
		dir + "cpu.weight":                        "100\n",
		dir + "memory.current":                    "108003328\n",
		dir + "memory.stat":                       memStatV2,
		dir + "memory.max":                        "268435456\n",
		dir + "memory.events":                     "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n",
		dir + "memory.peak":                       "110000000\n",
		dir + "memory.swap.current":               "0\n",
		dir + "io.stat":                           "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n",
		dir + "pids.current":                      "9\n",
		dir + "pids.max":                          "4096\n",
		dir + "cpu.pressure":                      "some avg10=0.00 avg60=0.00 avg300=0.00 total=100\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=50\n",
		dir + "memory.pressure":                   "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
		dir + "io.pressure":                       "some avg10=0.00 avg60=0.00 avg300=0.00 total=7\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=6\n",
		"system.slice/empty.service/cgroup.procs": "",
	}
	sysfs := t.TempDir()
	root := filepath.Join(sysfs, "fs", "cgroup")
	writeTree(t, root, files)
	l, err := Detect(sysfs)
	if err != nil {
		t.Fatal(err)
	}
	if l != (Layout{Version: V2, Unified: root}) {
		t.Fatalf("layout = %+v", l)
	}
	r, err := Open(l, SamePaths("/system.slice/docker-abc.scope"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var st Stats
	var buf Buffer
	if err := r.Read(&st, &buf); err != nil {
		t.Fatal(err)
	}
	want := Stats{
		Has: HasCPU | HasCPUUserSystem | HasCFS | HasCPUQuota | HasCPUShares | HasMemory | HasMemSwap | HasMemMaxUsage |
			HasMemLimit | HasMemFailcnt | HasMemOOM | HasIO | HasThreads | HasThreadsMax | HasProcesses |
			HasPSICPU | HasPSIMemory | HasPSIIO,
		CPUUsageNs: 1500000000, CPUUserNs: 1000000000, CPUSystemNs: 500000000,
		CFSPeriods: 40, CFSThrottledPeriods: 10, CFSThrottledNs: 37546000,
		CPUQuotaUs: 50000, CPUPeriodUs: 100000, CPUShares: 2 + (99*262142)/9999,
		MemUsage: 108003328, MemWorkingSet: 108003328 - 1048576, MemInactiveFile: 1048576,
		MemRSS: 104857600, MemCache: 2097152, MemMappedFile: 1048576,
		MemMaxUsage: 110000000, MemLimit: 268435456, MemFailcnt: 12, MemOOMKills: 1,
		IO:      []DeviceIO{{Major: 8, Minor: 0, ReadBytes: 4096, WriteBytes: 8192, Reads: 1, Writes: 2}},
		Threads: 9, ThreadsMax: 4096, Processes: 1, FirstPID: 4242,
		PSI: [3]Pressure{{100, 50, true}, {0, 0, true}, {7, 6, true}},
	}
	if !reflect.DeepEqual(st, want) {
		t.Errorf("stats = %+v\nwant    %+v", st, want)
	}
	// cpu.weight 100 (the v2 default) reads as 2597 shares: cAdvisor's
	// mapping of weights [1, 10000] onto shares [2, 262144].
	if st.CPUShares != 2597 {
		t.Errorf("cpu.weight 100 → shares %d, want 2597 as cAdvisor reports", st.CPUShares)
	}

	// A cgroup whose controllers are not enabled has only cgroup.procs:
	// everything else is absent, not zero.
	r2, err := Open(l, SamePaths("/system.slice/empty.service"))
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if err := r2.Read(&st, &buf); err != nil {
		t.Fatal(err)
	}
	if st.Has != HasProcesses || st.Processes != 0 || st.CPUQuotaUs != -1 {
		t.Errorf("empty cgroup: %+v", st)
	}

	if _, err := Open(l, SamePaths("/nope")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing cgroup: err = %v, want ErrNotExist", err)
	}
}

func TestReadReportsUnparsableFile(t *testing.T) {
	sysfs := t.TempDir()
	root := filepath.Join(sysfs, "fs", "cgroup")
	writeTree(t, root, map[string]string{
		"cgroup.controllers": "",
		"x/cgroup.procs":     "1\n",
		"x/memory.current":   "garbage\n",
		"x/pids.current":     "3\n",
	})
	l, err := Detect(sysfs)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(l, SamePaths("/x"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var st Stats
	err = r.Read(&st, &Buffer{})
	if err == nil || !errors.Is(err, errSyntax) {
		t.Fatalf("err = %v, want a syntax error naming memory.current", err)
	}
	if st.Has&HasThreads == 0 || st.Threads != 3 {
		t.Errorf("the other files must still be read: %+v", st)
	}
}

func TestDetectFails(t *testing.T) {
	if _, err := Detect(t.TempDir()); err == nil {
		t.Error("empty sysfs: no error")
	}
}

func TestGlobAndFindContainer(t *testing.T) {
	sysfs := t.TempDir()
	root := filepath.Join(sysfs, "fs", "cgroup")
	writeTree(t, root, map[string]string{
		"cgroup.controllers":                                      "",
		"system.slice/nginx.service/cgroup.procs":                 "",
		"system.slice/docker.service/cgroup.procs":                "",
		"system.slice/docker-0123abc.scope/cgroup.procs":          "",
		"system.slice/session.slice/cgroup.procs":                 "",
		"mesos/1b2c3d4e-0000-4000-8000-00000000abcd/cgroup.procs": "",
		"kubepods/burstable/pod1/cafe42/cgroup.procs":             "",
		"system.slice/notadir.service":                            "",
	})
	l, err := Detect(sysfs)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Glob(l, []string{"/system.slice/*.service", "/mesos/*", "/system.slice/nginx.service"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/mesos/1b2c3d4e-0000-4000-8000-00000000abcd", "/system.slice/docker.service", "/system.slice/nginx.service"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Glob = %v, want %v", got, want)
	}
	for id, want := range map[string]string{
		"0123abc": "/system.slice/docker-0123abc.scope",
		"cafe42":  "/kubepods/burstable/pod1/cafe42",
	} {
		if p, ok := FindContainer(l, id, 4); !ok || p != want {
			t.Errorf("FindContainer(%s) = %q, %v; want %q", id, p, ok, want)
		}
	}
	if _, ok := FindContainer(l, "feedbeef", 4); ok {
		t.Error("FindContainer found a container that does not exist")
	}
	for _, p := range []string{"system.slice/*", "/[", ""} {
		if ValidatePattern(p) == nil {
			t.Errorf("ValidatePattern(%q) accepted", p)
		}
	}
}

func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func TestLimitsEvery(t *testing.T) {
	sysfs := t.TempDir()
	root := filepath.Join(sysfs, "fs", "cgroup")
	writeTree(t, root, map[string]string{
		"cgroup.controllers": "",
		"x/cgroup.procs":     "1\n",
		"x/cpu.max":          "50000 100000\n",
		"x/cpu.stat":         "usage_usec 10\n",
		"x/memory.max":       "1000\n",
	})
	l, err := Detect(sysfs)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(l, SamePaths("/x"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.LimitsEvery = 3
	var st Stats
	var buf Buffer
	read := func() {
		t.Helper()
		if err := r.Read(&st, &buf); err != nil {
			t.Fatal(err)
		}
	}
	read()
	writeFile := func(name, content string) {
		if err := os.WriteFile(filepath.Join(root, "x", name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeFile("cpu.max", "max 100000\n")
	writeFile("memory.max", "max\n")
	writeFile("cpu.stat", "usage_usec 20\n")
	for i := 1; i <= 2; i++ {
		read()
		if st.CPUQuotaUs != 50000 || st.MemLimit != 1000 || st.Has&(HasCPUQuota|HasMemLimit) != HasCPUQuota|HasMemLimit {
			t.Fatalf("read %d: limits not kept between refreshes: %+v", i, st)
		}
		if st.CPUUsageNs != 20000 {
			t.Fatalf("read %d: usage %d, want 20000: usage is read every time", i, st.CPUUsageNs)
		}
	}
	read()
	if st.CPUQuotaUs != -1 || st.MemLimit != 0 {
		t.Errorf("third read must refresh limits: %+v", st)
	}
}
