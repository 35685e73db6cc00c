package cli

import (
	"context"
	"errors"
	"fmt"
	"github.com/brinkhq/brink/internal/autoscale"
	"github.com/brinkhq/brink/internal/autoscale/actuator"
	"github.com/brinkhq/brink/internal/findlimit"
	"github.com/brinkhq/brink/internal/hub/runs"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/alecthomas/units"
	"github.com/brinkhq/brink/internal/hub"
	"github.com/prometheus/common/model"
	"github.com/spf13/cobra"
)

func newHubCmd(env *Env) *cobra.Command {
	var (
		listen, dataDir, retention, retentionSize, tokenFile, configFile, logLevel string
		autoscaleFile, dockerHost                                                  string
		autoscaleDryRun                                                            bool
	)
	cmd := &cobra.Command{
		Use:   "hub",
		Short: "Store, query and show every host, container and test run",
		Long: `brink hub is the centre: monitors remote-write to it, 'brink run --hub URL' reports
runs to it, and its web UI shows hosts, containers and runs on one time axis.

It serves on one port:
  /                   the web UI
  /api/v1/write       Prometheus remote-write receiver (token required with --token-file)
  /api/v1/query ...   Prometheus-compatible query API (add it to Grafana as a Prometheus source)
  /api/v1/runs ...    runs, events, cluster view, export, live stream (see docs/api.md)
  /metrics            the hub's own metrics

With --autoscale FILE the hub also runs the autoscaler: every interval it reads the
policy's targets from its own store (container CPU, RPS per replica, p95, any PromQL),
decides, and acts through Docker, Swarm, Marathon or Kubernetes and HAProxy's Runtime
API; every decision is an event with its inputs (docs/autoscale.md).
--autoscale-dry-run records the decisions without acting.

SIGHUP reloads --config, the token files and the autoscale policy; SIGTERM/SIGINT shut down cleanly.`,
		Example: `  brink hub --listen 127.0.0.1:9339 --data /var/lib/brink
  brink hub --data ./data --retention 30d --retention-size 20GB --token-file /etc/brink/token
  brink hub --data ./data --autoscale deploy/autoscale/docker-haproxy.yaml --autoscale-dry-run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var ret time.Duration
			if retention != "" {
				d, err := model.ParseDuration(retention)
				if err != nil || d <= 0 {
					return Usagef("--retention %q: use a duration such as 15d, 12h or 4w", retention)
				}
				ret = time.Duration(d)
			}
			var retBytes int64
			if retentionSize != "" && retentionSize != "0" {
				b, err := units.ParseBase2Bytes(retentionSize)
				if err != nil || b <= 0 {
					return Usagef("--retention-size %q: use a size such as 512MB or 10GB", retentionSize)
				}
				retBytes = int64(b)
			}
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return Usagef("--log-level %q: use debug, info, warn or error", logLevel)
			}
			logger := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: level}))
			h, err := hub.New(hub.Options{
				DataDir: dataDir, Retention: ret, RetentionBytes: retBytes, TokenFile: tokenFile,
				ConfigFile: configFile, Version: Version, Logger: logger,
			})
			if err != nil {
				if errors.Is(err, hub.ErrConfig) {
					return WithExit(ExitUsage, err, "fix the file and start again")
				}
				return WithExit(ExitError, err, "check that --data is writable and not used by another hub")
			}
			var scaler *autoscale.Autoscaler
			if autoscaleFile != "" {
				policy, err := autoscale.LoadPolicy(autoscaleFile)
				if err != nil {
					h.Close()
					return WithExit(ExitUsage, err, "fix the policy file (reference: docs/autoscale.md)")
				}
				scaler = autoscale.New(policy,
					autoscale.NewPromQLSource(nil, h.Store()),
					actuator.Builtin(actuator.Options{DockerHost: dockerHost, Getenv: env.Getenv}),
					nil, // the policy's haproxy section names the load balancer
					autoscale.HubEvents(h.Events(), logger),
					autoscale.WithDryRun(autoscaleDryRun),
					autoscale.WithCapacity(runCapacity{h.Runs()}),
					autoscale.WithLogger(logger))
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				h.Close()
				return WithExit(ExitError, fmt.Errorf("listen on %s: %w", listen, err), "choose a free address with --listen")
			}
			fmt.Fprintf(env.Stdout, "brink hub listening on http://%s (data in %s)\n", ln.Addr(), dataDir)
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			go handleHubSignals(ctx, env, h, scaler, cancel, logger)
			scalerDone := make(chan error, 1)
			if scaler != nil {
				go func() {
					err := scaler.Run(ctx)
					if err != nil {
						logger.Error("autoscaler stopped", "err", err)
						cancel()
					}
					scalerDone <- err
				}()
			} else {
				scalerDone <- nil
			}
			if err := h.Run(ctx, ln); err != nil {
				return err
			}
			if err := <-scalerDone; err != nil {
				return WithExit(ExitUsage, err, "fix the policy file (reference: docs/autoscale.md)")
			}
			fmt.Fprintln(env.Stdout, "brink hub stopped")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:9339", "address to serve the UI and every API on")
	f.StringVar(&dataDir, "data", "brink-data", "directory for the time-series store, runs and events")
	f.StringVar(&retention, "retention", "15d", "drop samples older than this")
	f.StringVar(&retentionSize, "retention-size", "0", "cap the store's size on disk (e.g. 10GB); 0 for no cap")
	f.StringVar(&tokenFile, "token-file", "", "file with the token writers must send (one per line; re-read on SIGHUP)")
	f.StringVar(&configFile, "config", "", "YAML file for settings flags do not cover (reloaded on SIGHUP; see docs/hub.md)")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&autoscaleFile, "autoscale", "", "autoscale policy YAML: scale services from the hub's measurements (reloaded on SIGHUP and when it changes)")
	f.BoolVar(&autoscaleDryRun, "autoscale-dry-run", false, "record autoscale decisions as events without acting on any orchestrator or load balancer")
	f.StringVar(&dockerHost, "docker-host", "", "Docker Engine address for docker and swarm actuators (default: DOCKER_HOST or the local socket)")
	return cmd
}

// handleHubSignals stops the hub on SIGINT/SIGTERM (from env) and reloads
// its configuration on SIGHUP.
func handleHubSignals(ctx context.Context, env *Env, h *hub.Hub, scaler *autoscale.Autoscaler, stop context.CancelFunc, logger *slog.Logger) {
	hup := make(chan os.Signal, 1)
	if env.Signals != nil {
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if err := h.Reload(); err == nil {
				logger.Info("configuration reloaded")
			}
			if scaler != nil {
				scaler.Reload()
			}
		case sig, ok := <-env.Signals:
			if !ok {
				return
			}
			logger.Info("shutting down", "signal", sig.String())
			stop()
			return
		}
	}
}

// runCapacity reads the per-replica capacity that `brink find-limit --hub`
// recorded in a run's labels, for policies with `capacity: from-run RUN`.
type runCapacity struct{ runs *runs.Registry }

func (c runCapacity) Capacity(_ context.Context, run string) (float64, error) {
	v, err := c.runs.Get(run)
	if err != nil {
		return 0, err
	}
	return findlimit.CapacityFromLabels(v.Labels)
}
