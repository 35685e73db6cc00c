package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/brinkhq/brink/internal/agent"
)

// hubTokenEnv holds the hub's token when no token file is given.
const hubTokenEnv = "BRINK_HUB_TOKEN"

// drainTimeout bounds how long a stopping agent waits to deliver the
// seconds of the run in progress.
const drainTimeout = 30 * time.Second

func newAgentCmd(env *Env) *cobra.Command {
	var (
		hubURL, tokenFile, name, workDir, logLevel string
		labels                                     []string
	)
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Generate load as one of the hub's agents",
		Long: `brink agent dials out to a brink hub and waits for work: when a distributed run
starts ('brink run scenario.yaml --hub URL --agents N'), the hub gives each agent its
share of the load, the scenario and its data files, and a common start instant.

The agent needs no inbound port and no configuration on the hub. It keeps the link
alive with heartbeats and dials again with backoff when it drops. While the hub is
unreachable the agent keeps generating its share, buffers its per-second results and
resends them once the link is back; the hub counts each second once.

Labels (--labels zone=eu,size=large) let runs pick agents with --agent-selector.

SIGINT/SIGTERM: the run in progress is stopped gracefully and its results delivered
(up to 30s), then the agent exits. A second signal exits at once.`,
		Example: `  brink agent --hub http://hub.example:9339 --token-file /etc/brink/token
  brink agent --hub http://127.0.0.1:9339 --name gen-1 --labels zone=eu,size=large`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return Usagef("--log-level %q: use debug, info, warn or error", logLevel)
			}
			if hubURL == "" {
				return Usagef("--hub is required: the URL of the brink hub, e.g. http://127.0.0.1:9339")
			}
			lbls, err := parseLabels(labels)
			if err != nil {
				return err
			}
			token, err := readToken(env, tokenFile)
			if err != nil {
				return err
			}
			logger := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: level}))
			a, err := agent.New(agent.Options{
				HubURL: hubURL, Token: token, Name: name, Labels: lbls, Version: Version, Logger: logger, WorkDir: workDir,
			})
			if err != nil {
				return Usagef("%v", err)
			}
			fmt.Fprintf(env.Stdout, "brink agent %s linking to %s\n", a.Name(), hubURL)
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			go agentSignals(ctx, env, a, cancel, logger)
			if err := a.Run(ctx); err != nil {
				if errors.Is(err, agent.ErrRefused) {
					return WithExit(ExitUsage, err, "")
				}
				return err
			}
			fmt.Fprintln(env.Stdout, "brink agent stopped")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&hubURL, "hub", "", "URL of the brink hub to take work from")
	f.StringVar(&tokenFile, "token-file", "", "file holding the hub's token (default: $"+hubTokenEnv+")")
	f.StringVar(&name, "name", "", "this agent's name, unique among the hub's agents (default: the host name)")
	f.StringSliceVar(&labels, "labels", nil, "labels for --agent-selector, e.g. zone=eu,size=large")
	f.StringVar(&workDir, "work-dir", "", "where a run's scenario and data files are written (default: the temporary directory)")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
}

// agentSignals drains the run in progress on the first signal, then stops
// the agent; a second signal stops it at once.
func agentSignals(ctx context.Context, env *Env, a *agent.Agent, stop context.CancelFunc, logger *slog.Logger) {
	if env.Signals == nil {
		return
	}
	select {
	case <-ctx.Done():
		return
	case <-env.Signals:
	}
	logger.Info("stopping: delivering the run in progress first (signal again to exit at once)")
	drainCtx, cancel := context.WithTimeout(ctx, drainTimeout)
	defer cancel()
	drained := make(chan error, 1)
	go func() { drained <- a.Drain(drainCtx) }()
	select {
	case err := <-drained:
		if err != nil {
			logger.Warn("exiting before the hub had every second", "err", err)
		}
	case <-env.Signals:
	case <-ctx.Done():
	}
	stop()
}

// parseLabels reads k=v pairs.
func parseLabels(pairs []string) (map[string]string, error) {
	out := map[string]string{}
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || strings.ContainsAny(k, ", ") {
			return nil, Usagef("label %q: expected key=value, e.g. zone=eu", p)
		}
		out[k] = v
	}
	return out, nil
}

func formatLabels(m map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ",")
}

// readToken reads the hub's token from a file, or from the environment.
func readToken(env *Env, path string) (string, error) {
	if path == "" {
		return strings.TrimSpace(env.Getenv(hubTokenEnv)), nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", Usagef("--token-file: %v", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "#") {
			return t, nil
		}
	}
	return "", Usagef("--token-file %s holds no token: put the hub's token on one line", path)
}
