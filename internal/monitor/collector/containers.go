package collector

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/brinkhq/brink/internal/monitor/cgroup"
	"github.com/brinkhq/brink/internal/monitor/docker"
	"github.com/brinkhq/brink/internal/monitor/metrics"
	"github.com/brinkhq/brink/internal/monitor/naming"
	"github.com/brinkhq/brink/internal/monitor/procfs"
)

// Network modes of a container, the value of container_network_mode's
// mode label.
const (
	// NetPrivate: the container has its own network namespace; its
	// counters are reported per interface.
	NetPrivate = "private"
	// NetHost: the container shares the host's network namespace; its
	// traffic is in the host's node_network_* counters and is not repeated.
	NetHost = "host"
	// NetContainer: the container shares another container's namespace,
	// whose counters are reported under that container.
	NetContainer = "container"
	// NetNone: only a loopback device.
	NetNone = "none"
	// NetUnknown: the namespace could not be compared with the host's.
	NetUnknown = "unknown"
)

// EngineSource is a container engine's view of its running containers.
type EngineSource interface {
	Version() uint64
	Containers(dst []*docker.Container) []*docker.Container
}

// ContainersConfig configures the container collector.
type ContainersConfig struct {
	ProcFS, SysFS string
	Layout        cgroup.Layout
	Registry      *metrics.Registry
	// Hostname is the value of the host label.
	Hostname string
	// Engine is Docker, or nil to watch raw cgroups only.
	Engine EngineSource
	// CgroupPatterns select raw cgroups to report besides the engine's
	// containers ("/system.slice/*.service", "/mesos/*").
	CgroupPatterns []string
	Exports        naming.Exports
	// NetworkExclude matches the interfaces of a container's own network
	// namespace not to report (cAdvisor skips loopback).
	NetworkExclude *regexp.Regexp
	Logger         *slog.Logger
}

// Info identifies one reported container.
type Info struct {
	// ID is the engine's container ID, or the cgroup path of a raw cgroup.
	ID          string
	Name        string
	Image       string
	Service     string
	Rule        naming.Rule
	Cgroup      string
	NetworkMode string
	Pid         int
	StartedAt   time.Time
	// Source is "docker" or "cgroup".
	Source string
	// Labels is the label set of the container's series.
	Labels *metrics.LabelSet
}

// Containers collects every container's cgroup statistics and network
// counters.
type Containers struct {
	cfg        ContainersConfig
	fam        containerFamilies
	hostNetNS  string
	buf        cgroup.Buffer
	tracked    map[string]*tracked
	order      []*tracked
	infos      []Info
	infosDirty bool

	engineVersion uint64
	engineSynced  bool
	engineList    []*docker.Container
	// retry holds engine containers whose cgroup could not be opened yet,
	// with the attempts left.
	retry map[string]int

	blockDevices map[[2]uint32]string
}

type tracked struct {
	key    string
	info   Info
	reader *cgroup.Reader
	stats  cgroup.Stats
	s      containerSeries
	io     map[[2]uint32]*[4]*metrics.Series
	net    *procfs.File
	ifaces keyed[*[len(netFields)]*metrics.Series]
}

// netFields are the /proc/net/dev columns cAdvisor reports per container.
var netFields = [...]struct {
	column int
	name   string
	help   string
}{
	{0, "container_network_receive_bytes_total", "Cumulative count of bytes received"},
	{1, "container_network_receive_packets_total", "Cumulative count of packets received"},
	{2, "container_network_receive_errors_total", "Cumulative count of errors encountered while receiving"},
	{3, "container_network_receive_packets_dropped_total", "Cumulative count of packets dropped while receiving"},
	{8, "container_network_transmit_bytes_total", "Cumulative count of bytes transmitted"},
	{9, "container_network_transmit_packets_total", "Cumulative count of packets transmitted"},
	{10, "container_network_transmit_errors_total", "Cumulative count of errors encountered while transmitting"},
	{11, "container_network_transmit_packets_dropped_total", "Cumulative count of packets dropped while transmitting"},
}

type containerFamilies struct {
	cpuUsage, cpuUser, cpuSystem                  *metrics.Family
	cfsPeriods, cfsThrottled, cfsThrottledSeconds *metrics.Family
	quota, period, shares, limitCores             *metrics.Family
	memUsage, memWorkingSet, memRSS, memCache     *metrics.Family
	memMapped, memSwap, memMaxUsage, memFailcnt   *metrics.Family
	oom, memLimit                                 *metrics.Family
	ioReadBytes, ioWriteBytes, ioReads, ioWrites  *metrics.Family
	threads, threadsMax, processes                *metrics.Family
	psiWaiting, psiStalled                        [3]*metrics.Family
	net                                           [len(netFields)]*metrics.Family
	netMode, lastSeen, startTime                  *metrics.Family
}

type containerSeries struct {
	cpuUsage, cpuUser, cpuSystem                  *metrics.Series
	cfsPeriods, cfsThrottled, cfsThrottledSeconds *metrics.Series
	quota, period, shares, limitCores             *metrics.Series
	memUsage, memWorkingSet, memRSS, memCache     *metrics.Series
	memMapped, memSwap, memMaxUsage, memFailcnt   *metrics.Series
	oom, memLimit                                 *metrics.Series
	threads, threadsMax, processes                *metrics.Series
	psiWaiting, psiStalled                        [3]*metrics.Series
	netMode, lastSeen, startTime                  *metrics.Series
}

// NewContainers builds the container collector and registers its families.
func NewContainers(cfg ContainersConfig) (*Containers, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	for _, p := range cfg.CgroupPatterns {
		if err := cgroup.ValidatePattern(p); err != nil {
			return nil, err
		}
	}
	r := cfg.Registry
	c := func(name, help string) *metrics.Family { return r.Family(name, help, metrics.Counter) }
	g := func(name, help string) *metrics.Family { return r.Family(name, help, metrics.Gauge) }
	f := containerFamilies{
		cpuUsage:            c("container_cpu_usage_seconds_total", "Cumulative cpu time consumed in seconds."),
		cpuUser:             c("container_cpu_user_seconds_total", "Cumulative user cpu time consumed in seconds."),
		cpuSystem:           c("container_cpu_system_seconds_total", "Cumulative system cpu time consumed in seconds."),
		cfsPeriods:          c("container_cpu_cfs_periods_total", "Number of elapsed enforcement period intervals."),
		cfsThrottled:        c("container_cpu_cfs_throttled_periods_total", "Number of throttled period intervals."),
		cfsThrottledSeconds: c("container_cpu_cfs_throttled_seconds_total", "Total time duration the container has been throttled."),
		quota:               g("container_spec_cpu_quota", "CPU quota of the container (microseconds per period); absent when unlimited."),
		period:              g("container_spec_cpu_period", "CPU period of the container."),
		shares:              g("container_spec_cpu_shares", "CPU share of the container."),
		limitCores:          g("container_spec_cpu_limit_cores", "CPU limit of the container in cores (quota / period); absent when unlimited."),
		memUsage:            g("container_memory_usage_bytes", "Current memory usage in bytes, including all memory regardless of when it was accessed"),
		memWorkingSet:       g("container_memory_working_set_bytes", "Current working set in bytes (usage minus inactive file cache, as docker stats reports)."),
		memRSS:              g("container_memory_rss", "Size of RSS in bytes."),
		memCache:            g("container_memory_cache", "Number of bytes of page cache memory."),
		memMapped:           g("container_memory_mapped_file", "Size of memory mapped files in bytes."),
		memSwap:             g("container_memory_swap", "Container swap usage in bytes."),
		memMaxUsage:         g("container_memory_max_usage_bytes", "Maximum memory usage recorded in bytes"),
		memFailcnt:          c("container_memory_failcnt", "Number of memory usage hits limits"),
		oom:                 c("container_oom_events_total", "Count of out of memory events observed for the container"),
		memLimit:            g("container_spec_memory_limit_bytes", "Memory limit for the container; 0 when unlimited."),
		ioReadBytes:         c("container_fs_reads_bytes_total", "Cumulative count of bytes read"),
		ioWriteBytes:        c("container_fs_writes_bytes_total", "Cumulative count of bytes written"),
		ioReads:             c("container_fs_reads_total", "Cumulative count of reads completed"),
		ioWrites:            c("container_fs_writes_total", "Cumulative count of writes completed"),
		threads:             g("container_threads", "Number of threads running inside the container"),
		threadsMax:          g("container_threads_max", "Maximum number of threads allowed inside the container, infinity if value is zero"),
		processes:           g("container_processes", "Number of processes running inside the container."),
		netMode:             g("container_network_mode", "The container's network namespace: private (own counters reported), host (shares the host's; see node_network_*), container (shares another container's), none, unknown."),
		lastSeen:            g("container_last_seen", "Last time a container was seen by the exporter"),
		startTime:           g("container_start_time_seconds", "Start time of the container since unix epoch in seconds."),
	}
	for i, res := range []string{"cpu", "memory", "io"} {
		f.psiWaiting[i] = c("container_pressure_"+res+"_waiting_seconds_total", "Total time duration tasks in the container have waited due to "+res+" congestion.")
		f.psiStalled[i] = c("container_pressure_"+res+"_stalled_seconds_total", "Total time duration no tasks in the container could make progress due to "+res+" congestion.")
	}
	for i, nf := range netFields {
		f.net[i] = c(nf.name, nf.help)
	}
	col := &Containers{
		cfg:          cfg,
		fam:          f,
		tracked:      map[string]*tracked{},
		retry:        map[string]int{},
		blockDevices: map[[2]uint32]string{},
		infosDirty:   true,
	}
	// The host's network namespace is PID 1's. Where PID 1's namespace
	// links cannot be read (an init more privileged than the monitor), the
	// monitor's own is used: it runs on the host or with host networking,
	// as every deployment file sets up.
	var err error
	if col.hostNetNS, err = os.Readlink(filepath.Join(cfg.ProcFS, "1", "ns", "net")); err != nil {
		col.hostNetNS, _ = os.Readlink("/proc/self/ns/net")
	}
	return col, nil
}

// Update reconciles the container set with the engine and the cgroup tree
// and appends every container's samples.
func (c *Containers) Update(ctx context.Context, b *metrics.Batch) error {
	var errs []error
	c.syncEngine()
	if len(c.cfg.CgroupPatterns) > 0 {
		if err := c.syncCgroups(); err != nil {
			errs = append(errs, err)
		}
	}
	now := float64(b.Time().UnixNano()) / 1e9
	var gone []*tracked
	for _, t := range c.order {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		err := t.reader.Read(&t.stats, &c.buf)
		if errors.Is(err, cgroup.ErrGone) {
			gone = append(gone, t)
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("container %s: %w", t.info.Name, err))
		}
		c.emit(b, t, now)
		if t.net != nil {
			if err := c.emitNetwork(b, t); err != nil {
				errs = append(errs, fmt.Errorf("container %s network: %w", t.info.Name, err))
			}
		}
	}
	for _, t := range gone {
		c.untrack(t.key)
	}
	return errors.Join(errs...)
}

// Infos returns the reported containers, sorted by name. The slice is
// rebuilt only when the set changes and must not be modified.
func (c *Containers) Infos() []Info {
	if c.infosDirty {
		infos := make([]Info, len(c.order))
		for i, t := range c.order {
			infos[i] = t.info
		}
		c.infos = infos
		c.infosDirty = false
	}
	return c.infos
}

// Close releases every container's files.
func (c *Containers) Close() {
	for key := range c.tracked {
		c.untrack(key)
	}
}

const engineOpenAttempts = 5

// limitsEvery is how many ticks a container's limits (CPU quota and
// shares, memory and PID limits) are kept before they are read again:
// they only change when someone updates them, and skipping their five
// files on the other ticks cuts the per-container reads by a quarter.
const limitsEvery = 10

// syncEngine tracks new engine containers and drops stopped ones.
func (c *Containers) syncEngine() {
	if c.cfg.Engine == nil {
		return
	}
	v := c.cfg.Engine.Version()
	if c.engineSynced && v == c.engineVersion && len(c.retry) == 0 {
		return
	}
	c.engineVersion, c.engineSynced = v, true
	c.engineList = c.cfg.Engine.Containers(c.engineList[:0])
	running := make(map[string]bool, len(c.engineList))
	for _, ec := range c.engineList {
		key := "docker:" + ec.ID
		running[key] = true
		if t, ok := c.tracked[key]; ok {
			if t.info.Pid == ec.Pid && t.info.Name == ec.Name {
				continue
			}
			c.untrack(key) // restarted or renamed: identity changed
		}
		if err := c.trackEngine(key, ec); err != nil {
			left, seen := c.retry[key]
			if !seen {
				left = engineOpenAttempts
			}
			if left--; left <= 0 {
				delete(c.retry, key)
				c.cfg.Logger.Warn("container not monitored: its cgroup cannot be opened", "container", ec.Name, "id", ec.ID, "err", err)
				continue
			}
			c.retry[key] = left
			continue
		}
		delete(c.retry, key)
	}
	for key, t := range c.tracked {
		if t.info.Source == "docker" && !running[key] {
			c.untrack(key)
		}
	}
	for key := range c.retry {
		if !running[key] {
			delete(c.retry, key)
		}
	}
}

// trackEngine starts reporting an engine container.
func (c *Containers) trackEngine(key string, ec *docker.Container) error {
	paths, err := c.containerPaths(ec)
	if err != nil {
		return err
	}
	r, err := cgroup.Open(c.cfg.Layout, paths)
	if err != nil {
		return err
	}
	cgPath := paths.Primary(c.cfg.Layout)
	in := naming.Input{Name: ec.Name, CgroupPath: cgPath, Labels: ec.Labels, Env: ec.Env}
	service, rule := naming.Service(in)
	info := Info{
		ID: ec.ID, Name: ec.Name, Image: ec.Image, Service: service, Rule: rule,
		Cgroup: cgPath, Pid: ec.Pid, StartedAt: ec.StartedAt, Source: "docker",
		NetworkMode: engineNetworkMode(ec.NetworkMode),
	}
	return c.track(key, info, r, in)
}

func engineNetworkMode(mode string) string {
	switch {
	case mode == "host":
		return NetHost
	case mode == "none":
		return NetNone
	case strings.HasPrefix(mode, "container:"):
		return NetContainer
	}
	return NetPrivate
}

// containerPaths finds an engine container's cgroup: from its main
// process's /proc/<pid>/cgroup, or, when that path does not exist in this
// view of the hierarchy (a private cgroup namespace), by its ID.
func (c *Containers) containerPaths(ec *docker.Container) (cgroup.Paths, error) {
	b, err := os.ReadFile(filepath.Join(c.cfg.ProcFS, strconv.Itoa(ec.Pid), "cgroup"))
	if err == nil {
		p := cgroup.ParseProcCgroup(b)
		if prim := p.Primary(c.cfg.Layout); prim != "" && dirExists(filepath.Join(c.cfg.Layout.Primary(), prim)) {
			return p, nil
		}
	}
	if found, ok := cgroup.FindContainer(c.cfg.Layout, ec.ID, 4); ok {
		return cgroup.SamePaths(found), nil
	}
	if err != nil {
		return cgroup.Paths{}, fmt.Errorf("reading the cgroup of pid %d: %w", ec.Pid, err)
	}
	return cgroup.Paths{}, fmt.Errorf("no cgroup found for container %s under %s", ec.ID, c.cfg.Layout.Primary())
}

func dirExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// syncCgroups tracks raw cgroups matching the patterns and drops the ones
// that disappeared.
func (c *Containers) syncCgroups() error {
	paths, err := cgroup.Glob(c.cfg.Layout, c.cfg.CgroupPatterns)
	if err != nil {
		return err
	}
	owned := map[string]bool{}
	for _, t := range c.tracked {
		if t.info.Source == "docker" {
			owned[t.info.Cgroup] = true
		}
	}
	present := make(map[string]bool, len(paths))
	for _, p := range paths {
		if owned[p] {
			continue
		}
		key := "cgroup:" + p
		present[key] = true
		if _, ok := c.tracked[key]; ok {
			continue
		}
		if err := c.trackCgroup(key, p); err != nil && !errors.Is(err, os.ErrNotExist) {
			c.cfg.Logger.Warn("cgroup not monitored", "cgroup", p, "err", err)
		}
	}
	for key, t := range c.tracked {
		if t.info.Source == "cgroup" && !present[key] {
			c.untrack(key)
		}
	}
	return nil
}

// trackCgroup starts reporting a raw cgroup (a systemd service, a Mesos
// containerizer container). Its environment, read once from one of its
// processes, names it like an engine container (MARATHON_APP_ID).
func (c *Containers) trackCgroup(key, p string) error {
	r, err := cgroup.Open(c.cfg.Layout, cgroup.SamePaths(p))
	if err != nil {
		return err
	}
	var st cgroup.Stats
	if err := r.Read(&st, &c.buf); errors.Is(err, cgroup.ErrGone) {
		r.Close()
		return os.ErrNotExist
	}
	name := path.Base(p)
	in := naming.Input{Name: name, CgroupPath: p}
	mode := NetUnknown
	if st.FirstPID > 0 {
		in.Env = c.processEnv(st.FirstPID)
		mode = c.netnsMode(st.FirstPID)
	}
	service, rule := naming.Service(in)
	info := Info{
		ID: p, Name: name, Service: service, Rule: rule, Cgroup: p,
		Pid: st.FirstPID, Source: "cgroup", NetworkMode: mode,
	}
	if err := c.track(key, info, r, in); err != nil {
		return err
	}
	// The limits read here are kept until the reader refreshes them.
	c.tracked[key].stats = st
	return nil
}

// processEnv reads the variables naming needs from /proc/<pid>/environ.
func (c *Containers) processEnv(pid int) map[string]string {
	b, err := os.ReadFile(filepath.Join(c.cfg.ProcFS, strconv.Itoa(pid), "environ"))
	if err != nil {
		return nil
	}
	var env []string
	for _, kv := range bytes.Split(b, []byte{0}) {
		if len(kv) > 0 {
			env = append(env, string(kv))
		}
	}
	return naming.ParseEnv(env, c.cfg.Exports.WantedEnv)
}

// netnsMode compares a process's network namespace with the host's.
func (c *Containers) netnsMode(pid int) string {
	ns, err := os.Readlink(filepath.Join(c.cfg.ProcFS, strconv.Itoa(pid), "ns", "net"))
	if err != nil || c.hostNetNS == "" {
		return NetUnknown
	}
	if ns == c.hostNetNS {
		return NetHost
	}
	return NetPrivate
}

// track builds a container's labels and series and starts reporting it.
func (c *Containers) track(key string, info Info, r *cgroup.Reader, in naming.Input) error {
	labels := []metrics.Label{
		{Name: "container", Value: info.Name},
		{Name: "host", Value: c.cfg.Hostname},
		{Name: "id", Value: info.Cgroup},
		{Name: "image", Value: info.Image},
		{Name: "name", Value: info.Name},
		{Name: "service", Value: info.Service},
	}
	labels = append(labels, c.cfg.Exports.Export(in)...)
	ls, err := metrics.NewLabelSet(labels...)
	if err != nil {
		r.Close()
		return fmt.Errorf("labels of %s: %w", info.Name, err)
	}
	info.Labels = ls
	r.LimitsEvery = limitsEvery
	t := &tracked{key: key, info: info, reader: r, io: map[[2]uint32]*[4]*metrics.Series{}}
	f := &c.fam
	s := func(fam *metrics.Family) *metrics.Series { return metrics.NewSeries(fam, ls) }
	t.s = containerSeries{
		cpuUsage: s(f.cpuUsage), cpuUser: s(f.cpuUser), cpuSystem: s(f.cpuSystem),
		cfsPeriods: s(f.cfsPeriods), cfsThrottled: s(f.cfsThrottled), cfsThrottledSeconds: s(f.cfsThrottledSeconds),
		quota: s(f.quota), period: s(f.period), shares: s(f.shares), limitCores: s(f.limitCores),
		memUsage: s(f.memUsage), memWorkingSet: s(f.memWorkingSet), memRSS: s(f.memRSS), memCache: s(f.memCache),
		memMapped: s(f.memMapped), memSwap: s(f.memSwap), memMaxUsage: s(f.memMaxUsage), memFailcnt: s(f.memFailcnt),
		oom: s(f.oom), memLimit: s(f.memLimit),
		threads: s(f.threads), threadsMax: s(f.threadsMax), processes: s(f.processes),
		netMode:  metrics.NewSeries(f.netMode, ls, metrics.Label{Name: "mode", Value: info.NetworkMode}),
		lastSeen: s(f.lastSeen), startTime: s(f.startTime),
	}
	for i := range t.s.psiWaiting {
		t.s.psiWaiting[i] = s(f.psiWaiting[i])
		t.s.psiStalled[i] = s(f.psiStalled[i])
	}
	if info.NetworkMode == NetPrivate && info.Pid > 0 {
		if nf, err := procfs.Open(filepath.Join(c.cfg.ProcFS, strconv.Itoa(info.Pid), "net", "dev")); err == nil {
			t.net = nf
		}
	}
	c.tracked[key] = t
	c.reorder()
	return nil
}

func (c *Containers) untrack(key string) {
	t, ok := c.tracked[key]
	if !ok {
		return
	}
	t.reader.Close()
	if t.net != nil {
		t.net.Close()
	}
	delete(c.tracked, key)
	c.reorder()
}

func (c *Containers) reorder() {
	c.order = c.order[:0]
	for _, t := range c.tracked {
		c.order = append(c.order, t)
	}
	sort.Slice(c.order, func(i, j int) bool {
		a, b := c.order[i], c.order[j]
		if a.info.Name != b.info.Name {
			return a.info.Name < b.info.Name
		}
		return a.key < b.key
	})
	c.infosDirty = true
}

// emit appends one container's cgroup samples.
func (c *Containers) emit(b *metrics.Batch, t *tracked, now float64) {
	st, s := &t.stats, &t.s
	has := st.Has
	if has&cgroup.HasCPU != 0 {
		b.Add(s.cpuUsage, float64(st.CPUUsageNs)/1e9)
	}
	if has&cgroup.HasCPUUserSystem != 0 {
		b.Add(s.cpuUser, float64(st.CPUUserNs)/1e9)
		b.Add(s.cpuSystem, float64(st.CPUSystemNs)/1e9)
	}
	if has&cgroup.HasCFS != 0 {
		b.Add(s.cfsPeriods, float64(st.CFSPeriods))
		b.Add(s.cfsThrottled, float64(st.CFSThrottledPeriods))
		b.Add(s.cfsThrottledSeconds, float64(st.CFSThrottledNs)/1e9)
	}
	if has&cgroup.HasCPUQuota != 0 {
		b.Add(s.period, float64(st.CPUPeriodUs))
		if st.CPUQuotaUs > 0 {
			b.Add(s.quota, float64(st.CPUQuotaUs))
			if st.CPUPeriodUs > 0 {
				b.Add(s.limitCores, float64(st.CPUQuotaUs)/float64(st.CPUPeriodUs))
			}
		}
	}
	if has&cgroup.HasCPUShares != 0 {
		b.Add(s.shares, float64(st.CPUShares))
	}
	if has&cgroup.HasMemory != 0 {
		b.Add(s.memUsage, float64(st.MemUsage))
		b.Add(s.memWorkingSet, float64(st.MemWorkingSet))
		b.Add(s.memRSS, float64(st.MemRSS))
		b.Add(s.memCache, float64(st.MemCache))
		b.Add(s.memMapped, float64(st.MemMappedFile))
	}
	if has&cgroup.HasMemSwap != 0 {
		b.Add(s.memSwap, float64(st.MemSwap))
	}
	if has&cgroup.HasMemMaxUsage != 0 {
		b.Add(s.memMaxUsage, float64(st.MemMaxUsage))
	}
	if has&cgroup.HasMemFailcnt != 0 {
		b.Add(s.memFailcnt, float64(st.MemFailcnt))
	}
	if has&cgroup.HasMemOOM != 0 {
		b.Add(s.oom, float64(st.MemOOMKills))
	}
	if has&cgroup.HasMemLimit != 0 {
		b.Add(s.memLimit, float64(st.MemLimit))
	}
	if has&cgroup.HasIO != 0 {
		for i := range st.IO {
			d := &st.IO[i]
			io := c.ioSeries(t, d.Major, d.Minor)
			b.Add(io[0], float64(d.ReadBytes))
			b.Add(io[1], float64(d.WriteBytes))
			b.Add(io[2], float64(d.Reads))
			b.Add(io[3], float64(d.Writes))
		}
	}
	if has&cgroup.HasThreads != 0 {
		b.Add(s.threads, float64(st.Threads))
	}
	if has&cgroup.HasThreadsMax != 0 {
		b.Add(s.threadsMax, float64(st.ThreadsMax))
	}
	if has&cgroup.HasProcesses != 0 {
		b.Add(s.processes, float64(st.Processes))
	}
	for i := range st.PSI {
		if has&(cgroup.HasPSICPU<<i) == 0 {
			continue
		}
		b.Add(s.psiWaiting[i], float64(st.PSI[i].SomeUs)/1e6)
		if st.PSI[i].HasFull {
			b.Add(s.psiStalled[i], float64(st.PSI[i].FullUs)/1e6)
		}
	}
	b.Add(s.netMode, 1)
	b.Add(s.lastSeen, now)
	if !t.info.StartedAt.IsZero() {
		b.Add(s.startTime, float64(t.info.StartedAt.UnixNano())/1e9)
	}
}

// ioSeries returns the block IO series of one device of a container.
func (c *Containers) ioSeries(t *tracked, major, minor uint32) *[4]*metrics.Series {
	k := [2]uint32{major, minor}
	if s, ok := t.io[k]; ok {
		return s
	}
	dev := metrics.Label{Name: "device", Value: c.blockDevice(major, minor)}
	f := &c.fam
	s := &[4]*metrics.Series{
		metrics.NewSeries(f.ioReadBytes, t.info.Labels, dev),
		metrics.NewSeries(f.ioWriteBytes, t.info.Labels, dev),
		metrics.NewSeries(f.ioReads, t.info.Labels, dev),
		metrics.NewSeries(f.ioWrites, t.info.Labels, dev),
	}
	t.io[k] = s
	return s
}

// blockDevice names a block device "/dev/<name>" as cAdvisor does, from
// /sys/dev/block/<major>:<minor>/uevent, or "<major>:<minor>" when the
// device is unknown.
func (c *Containers) blockDevice(major, minor uint32) string {
	k := [2]uint32{major, minor}
	if name, ok := c.blockDevices[k]; ok {
		return name
	}
	name := fmt.Sprintf("%d:%d", major, minor)
	if b, err := os.ReadFile(filepath.Join(c.cfg.SysFS, "dev", "block", name, "uevent")); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "DEVNAME="); ok && v != "" {
				name = "/dev/" + v
			}
		}
	}
	c.blockDevices[k] = name
	return name
}

// emitNetwork appends the counters of a container's own network namespace.
func (c *Containers) emitNetwork(b *metrics.Batch, t *tracked) error {
	data, err := t.net.Read()
	if err != nil {
		// The process is gone; the cgroup read will notice the container
		// is gone too, or the engine will report its restart.
		t.net.Close()
		t.net = nil
		return err
	}
	t.ifaces.begin()
	defer t.ifaces.end()
	return procfs.ParseNetDev(data, func(iface []byte, v *procfs.NetDev) {
		if c.cfg.NetworkExclude != nil && c.cfg.NetworkExclude.Match(iface) {
			return
		}
		s := t.ifaces.get(iface, func(name string) *[len(netFields)]*metrics.Series {
			var s [len(netFields)]*metrics.Series
			for i := range netFields {
				s[i] = metrics.NewSeries(c.fam.net[i], t.info.Labels, metrics.Label{Name: "interface", Value: name})
			}
			return &s
		})
		for i, nf := range netFields {
			b.Add(s[i], float64(v[nf.column]))
		}
	})
}
