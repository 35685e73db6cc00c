package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/alecthomas/units"
	"github.com/brinkhq/brink/internal/monitor"
	"github.com/brinkhq/brink/internal/monitor/collector"
	"github.com/brinkhq/brink/internal/monitor/naming"
	"github.com/brinkhq/brink/internal/remotewrite"
	"github.com/spf13/cobra"
)

// remoteWriteTokenEnv holds the remote-write bearer token when no token
// file is given.
const remoteWriteTokenEnv = "BRINK_REMOTE_WRITE_TOKEN"

func newMonitorCmd(env *Env) *cobra.Command {
	var (
		listen, remoteWrite, tokenFile, bufferDir, bufferMax  string
		procfs, sysfs, rootfs, dockerHost, hostname, logLevel string
		networkExclude                                        string
		interval, tsTolerance                                 time.Duration
		collectors, cgroupInclude, exportLabels, exportEnv    []string
		noTimestamps                                          bool
	)
	defaults := naming.DefaultExports()
	cmd := &cobra.Command{
		Use:   "monitor",
		Short: "Collect host and container metrics (cgroups v1/v2, Docker) on this host",
		Long: `brink monitor samples this host and every container on it at a fixed interval and
serves the samples with cAdvisor's and node_exporter's metric names, so existing
dashboards work unchanged.

Containers are Docker's (followed through the event stream, named by service:
brink.service label, Marathon app id, Swarm or Compose service, Kubernetes pod,
Mesos container id, else the container name) and raw cgroups matched by
--cgroup-include (systemd services, Mesos containerizer containers).

It serves on --listen:
  /metrics             Prometheus text format; every sample carries its sampling time
  /api/v1/containers   JSON: the host and every container with exact current values
  /-/healthy           liveness

With --remote-write it also pushes every tick (Prometheus remote-write 1.0) to the
hub or any compatible backend. While the receiver is down, requests wait in
--buffer-dir (bounded by --buffer-max-bytes, oldest dropped first and counted) and
are resent in order once it answers again.

In a container, mount the host's / at /rootfs, /sys, /var/run and /var/lib/docker
(read-only where possible) and use --path.procfs=/rootfs/proc --path.rootfs=/rootfs
(see deploy/monitor/ and docs/monitor.md).`,
		Example: `  brink monitor
  brink monitor --listen 127.0.0.1:9338 --interval 1s --remote-write http://127.0.0.1:9339/api/v1/write
  brink monitor --path.procfs /rootfs/proc --path.rootfs /rootfs --buffer-dir /var/lib/brink-monitor`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if interval < 10*time.Millisecond {
				return Usagef("--interval %s: use at least 10ms (e.g. 1s)", interval)
			}
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return Usagef("--log-level %q: use debug, info, warn or error", logLevel)
			}
			logger := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: level}))
			known := map[string]bool{}
			for _, n := range collector.HostNames() {
				known[n] = true
			}
			for _, c := range collectors {
				if !known[c] {
					return Usagef("--collectors: unknown collector %q (known: %s)", c, strings.Join(collector.HostNames(), ","))
				}
			}
			var exclude *regexp.Regexp
			if networkExclude != "" {
				re, err := regexp.Compile(networkExclude)
				if err != nil {
					return Usagef("--network-exclude %q: %v", networkExclude, err)
				}
				exclude = re
			}
			cfg := monitor.Config{
				Listen: listen, Interval: interval, TimestampTolerance: tsTolerance,
				ProcFS: procfs, SysFS: sysfs, RootFS: rootfs,
				DockerHost: dockerHost, Hostname: hostname,
				Collectors: collectors, CgroupPatterns: cgroupInclude,
				Exports:        naming.Exports{Labels: exportLabels, Env: exportEnv},
				NetworkExclude: exclude, NoTimestamps: noTimestamps,
				Version: Version, Logger: logger,
			}
			if remoteWrite != "" {
				max, err := units.ParseBase2Bytes(bufferMax)
				if err != nil || max <= 0 {
					return Usagef("--buffer-max-bytes %q: use a size such as 256MiB or 1GiB", bufferMax)
				}
				cfg.RemoteWrite = &remotewrite.Config{
					URL: remoteWrite, TokenFile: tokenFile, Token: env.Getenv(remoteWriteTokenEnv),
					BufferDir: bufferDir, BufferMaxBytes: int64(max),
				}
			} else if tokenFile != "" || bufferDir != "" {
				return Usagef("--remote-write-token-file and --buffer-dir need --remote-write URL")
			}
			m, err := monitor.New(cfg)
			if err != nil {
				if strings.Contains(err.Error(), "remote-write URL") || strings.Contains(err.Error(), "cgroup pattern") {
					return Usagef("%v", err)
				}
				return WithExit(ExitError, err, "check --path.procfs, --path.sysfs and the remote-write settings; run as root to read every cgroup")
			}
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			go func() {
				select {
				case <-ctx.Done():
				case sig, ok := <-env.Signals:
					if ok {
						logger.Info("shutting down", "signal", sig.String())
					}
					cancel()
				}
			}()
			go func() {
				select {
				case <-ctx.Done():
				case <-m.Listening():
					if addr := m.Addr(); addr != nil {
						fmt.Fprintf(env.Stdout, "brink monitor serving http://%s/metrics every %s\n", addr, interval)
					}
				}
			}()
			if err := m.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
				return WithExit(ExitError, err, "")
			}
			return nil
		},
	}
	dockerDefault := "unix:///var/run/docker.sock"
	if h := env.Getenv("DOCKER_HOST"); h != "" {
		dockerDefault = h
	}
	defaultHostname, _ := os.Hostname()
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:9338", "address to serve /metrics and /api/v1/containers on; empty serves nothing")
	f.DurationVar(&interval, "interval", time.Second, "sampling interval; ticks are aligned to the wall clock and never back off")
	f.DurationVar(&tsTolerance, "timestamp-tolerance", 5*time.Millisecond, "stamp a tick that starts this close to its scheduled instant with that instant (halves storage per sample); 0 stamps real wake-up times")
	f.StringVar(&remoteWrite, "remote-write", "", "push every tick to this Prometheus remote-write URL (e.g. http://hub:9339/api/v1/write)")
	f.StringVar(&tokenFile, "remote-write-token-file", "", "file with the bearer token for --remote-write (or set "+remoteWriteTokenEnv+")")
	f.StringVar(&bufferDir, "buffer-dir", "", "directory where remote writes wait while the receiver is down (default: memory only, lost on exit)")
	f.StringVar(&bufferMax, "buffer-max-bytes", "256MiB", "bound of the remote-write buffer; the oldest requests are dropped (and counted) beyond it")
	f.StringVar(&procfs, "path.procfs", "/proc", "where the host's /proc is mounted")
	f.StringVar(&sysfs, "path.sysfs", "/sys", "where the host's /sys is mounted")
	f.StringVar(&rootfs, "path.rootfs", "/", "where the host's / is mounted (file system usage)")
	f.StringVar(&dockerHost, "docker-host", dockerDefault, "Docker Engine address; empty to watch raw cgroups only")
	f.StringVar(&hostname, "hostname", defaultHostname, "value of the host label")
	f.StringSliceVar(&collectors, "collectors", collector.HostNames(), "host collectors to run")
	f.StringSliceVar(&cgroupInclude, "cgroup-include", monitor.DefaultCgroupPatterns, "raw cgroups (not Docker's) to report as containers; patterns like /system.slice/*.service")
	f.StringSliceVar(&exportLabels, "export-labels", defaults.Labels, "container labels exported as container_label_<key> (allow-list)")
	f.StringSliceVar(&exportEnv, "export-env", defaults.Env, "container environment variables exported as container_env_<key> (allow-list)")
	f.StringVar(&networkExclude, "network-exclude", "^lo$", "regular expression of container network interfaces not to report")
	f.BoolVar(&noTimestamps, "no-timestamps", false, "leave sample timestamps out of /metrics (the scraper then stamps samples itself)")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
}
