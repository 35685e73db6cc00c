package collector

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"syscall"
	"time"

	"github.com/brinkhq/brink/internal/monitor/metrics"
	"github.com/brinkhq/brink/internal/monitor/procfs"
)

// The file systems and mount points node_exporter skips by default:
// virtual file systems, and the per-container mounts of container engines,
// which would repeat the host's disk once per container.
var (
	fsTypeExclude     = regexp.MustCompile(`^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|erofs|sysfs|tracefs)$`)
	mountPointExclude = regexp.MustCompile(`^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)`)
)

// statfsTimeout is how long one statfs may take before its mount point is
// reported as failing (a hung network file system must not stall ticks).
const statfsTimeout = 500 * time.Millisecond

// filesystem reports size and free space of the host's mounted file
// systems: the mount table of PID 1 (the host's mount namespace), each
// mount point looked up under --path.rootfs.
type filesystem struct {
	mounts *procfs.File
	rootfs string
	host   *metrics.LabelSet
	fam    fsFamilies
	points keyed[*fsSeries]
	// stuck holds mount points whose statfs has not returned yet; they are
	// skipped until it does.
	stuck map[string]chan struct{}
}

type fsFamilies struct {
	size, free, avail, files, filesFree, readonly, deviceError *metrics.Family
}

type fsSeries struct {
	mount                                                      procfs.Mount
	skip                                                       bool
	size, free, avail, files, filesFree, readonly, deviceError *metrics.Series
}

func newFilesystem(cfg Config) (Collector, error) {
	f, err := procfs.Open(filepath.Join(cfg.ProcFS, "1", "mounts"))
	if err != nil {
		return nil, err
	}
	g := func(name, help string) *metrics.Family { return cfg.Registry.Family(name, help, metrics.Gauge) }
	return &filesystem{mounts: f, rootfs: cfg.RootFS, host: cfg.Host, stuck: map[string]chan struct{}{}, fam: fsFamilies{
		size:        g("node_filesystem_size_bytes", "Filesystem size in bytes."),
		free:        g("node_filesystem_free_bytes", "Filesystem free space in bytes."),
		avail:       g("node_filesystem_avail_bytes", "Filesystem space available to non-root users in bytes."),
		files:       g("node_filesystem_files", "Filesystem total file nodes."),
		filesFree:   g("node_filesystem_files_free", "Filesystem total free file nodes."),
		readonly:    g("node_filesystem_readonly", "Filesystem read-only status."),
		deviceError: g("node_filesystem_device_error", "Whether an error occurred while getting statistics for the given device."),
	}}, nil
}

func (c *filesystem) newSeries(m procfs.Mount) *fsSeries {
	if fsTypeExclude.MatchString(m.FSType) || mountPointExclude.MatchString(m.MountPoint) {
		return &fsSeries{skip: true}
	}
	ls := []metrics.Label{{Name: "device", Value: m.Device}, {Name: "fstype", Value: m.FSType}, {Name: "mountpoint", Value: m.MountPoint}}
	s := func(f *metrics.Family) *metrics.Series { return metrics.NewSeries(f, c.host, ls...) }
	f := &c.fam
	return &fsSeries{mount: m, size: s(f.size), free: s(f.free), avail: s(f.avail), files: s(f.files),
		filesFree: s(f.filesFree), readonly: s(f.readonly), deviceError: s(f.deviceError)}
}

type statfsResult struct {
	st  syscall.Statfs_t
	err error
}

func (c *filesystem) Update(ctx context.Context, b *metrics.Batch) error {
	data, err := c.mounts.Read()
	if err != nil {
		return err
	}
	var todo []*fsSeries
	c.points.begin()
	defer c.points.end()
	err = procfs.ParseMounts(data, func(m procfs.Mount) {
		s := c.points.getString(m.MountPoint, func(string) *fsSeries { return c.newSeries(m) })
		if s.skip || s.mount != m {
			// A mount point mounted over again: the first one is reported.
			return
		}
		for _, t := range todo {
			if t == s {
				return
			}
		}
		todo = append(todo, s)
	})
	if err != nil {
		return err
	}
	var errs []error
	for _, s := range todo {
		mp := s.mount.MountPoint
		if done, ok := c.stuck[mp]; ok {
			select {
			case <-done:
				delete(c.stuck, mp)
			default:
				b.Add(s.deviceError, 1)
				continue
			}
		}
		res := make(chan statfsResult, 1)
		done := make(chan struct{})
		path := filepath.Join(c.rootfs, mp)
		go func() {
			defer close(done)
			var r statfsResult
			r.err = syscall.Statfs(path, &r.st)
			res <- r
		}()
		timer := time.NewTimer(statfsTimeout)
		var r statfsResult
		select {
		case r = <-res:
			timer.Stop()
		case <-timer.C:
			c.stuck[mp] = done
			r.err = fmt.Errorf("statfs %s: no answer within %s", path, statfsTimeout)
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		}
		if r.err != nil {
			if !errors.Is(r.err, syscall.ENOENT) && !errors.Is(r.err, syscall.EACCES) {
				errs = append(errs, r.err)
			}
			b.Add(s.deviceError, 1)
			continue
		}
		bs := float64(r.st.Bsize)
		b.Add(s.size, float64(r.st.Blocks)*bs)
		b.Add(s.free, float64(r.st.Bfree)*bs)
		b.Add(s.avail, float64(r.st.Bavail)*bs)
		b.Add(s.files, float64(r.st.Files))
		b.Add(s.filesFree, float64(r.st.Ffree))
		ro := 0.0
		if s.mount.ReadOnly || r.st.Flags&0x1 != 0 { // ST_RDONLY
			ro = 1
		}
		b.Add(s.readonly, ro)
		b.Add(s.deviceError, 0)
	}
	return errors.Join(errs...)
}
