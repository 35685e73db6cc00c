package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/brinkhq/brink/internal/lab"
	"github.com/brinkhq/brink/internal/target"
	"github.com/spf13/cobra"
)

func newLabCmd(env *Env) *cobra.Command {
	cfg := lab.DefaultConfig()
	var down bool
	cmd := &cobra.Command{
		Use:   "lab",
		Short: "Replay the whole experiment on this machine: a limited web app, a load balancer, overload, two replicas",
		Long: `brink lab replays brink's source experiment end to end on this machine and explains it.

It builds two FROM scratch images from this brink binary (offline) and starts, on
127.0.0.1 with host networking:
  - the hub (dashboard, store, query API) and a monitor, as containers;
  - the sample web app as a container limited like the seed's: 0.5 CPU, 256 MB,
    label brink.service=web (seed mode: one request at a time, and under overload
    it answers 200 with an error page);
  - HAProxy in front of it, limited like marathon-lb: 0.5 CPU, 128 MB, as a process
    in the cgroup brink-lab/lb, which the monitor shows as the service "lb".

Then it runs phases, each a named run in the hub, with live progress:
  normal        one replica, comfortable load; measures the CPU per request
  overload      the arrival rate ramps to 1.6x one replica's capacity: it breaks
  two-replicas  the same ramp through the load balancer to two replicas
  autoscale     the same ramp against one replica with brink's autoscaler on

and prints a comparison table (max sustained throughput, p95, p99, failures, CPU per
replica against its limit, throttling, host and load-balancer CPU), the knee and
its limiting resource, and the dashboard URL. It writes report.html and
report.json to --out.

Everything it started (containers, HAProxy, cgroups, temporary files) is removed at
the end, on failure and on Ctrl-C; --keep leaves the stack running, and
brink lab --down removes it later. It needs root, dockerd and HAProxy: on a fresh
Debian machine run bash scripts/setup.sh first. --quick takes under 2 minutes,
the full lab under 10.`,
		Example: `  sudo bin/brink lab
  sudo bin/brink lab --quick --out /tmp/lab
  sudo bin/brink lab --keep          # explore the dashboard afterwards
  sudo bin/brink lab --down          # stop a kept lab
  sudo bin/brink lab --mode well     # a well-behaved app: honest errors instead of 200 error pages`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return Usagef("unexpected argument %q: brink lab takes flags only (see brink lab --help)", args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Stdout, cfg.Stderr, cfg.IsTerminal, cfg.Version = env.Stdout, env.Stderr, env.IsTerminal, Version
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			stopSignals := cancelLabOnSignals(env, cancel)
			defer stopSignals()
			if down {
				if cmd.Flags().NFlag() > 1 {
					return Usagef("--down takes no other flag")
				}
				if err := lab.Down(ctx, cfg); err != nil {
					return WithExit(ExitError, err, "")
				}
				return nil
			}
			if err := cfg.Validate(lab.DefaultPhases()); err != nil {
				return Usagef("%v", err)
			}
			_, err := lab.Run(ctx, cfg)
			var prereq *lab.PrereqError
			switch {
			case err == nil:
				return nil
			case errors.As(err, &prereq):
				return WithExit(ExitError, err, "")
			case errors.Is(err, lab.ErrInterrupted):
				return WithExit(ExitAborted, err, "")
			case ctx.Err() != nil:
				return WithExit(ExitAborted, fmt.Errorf("%w: %w", lab.ErrInterrupted, err), "")
			}
			return WithExit(ExitError, err, "if anything was left behind, brink lab --down removes it")
		},
	}
	f := cmd.Flags()
	f.BoolVar(&cfg.Quick, "quick", false, "the short lab (under 2 minutes): shorter phases")
	f.BoolVar(&cfg.Keep, "keep", false, "leave the stack running at the end (stop it with brink lab --down)")
	f.BoolVar(&down, "down", false, "remove a lab left running with --keep (or the remains of a killed one)")
	f.StringVar(&cfg.OutDir, "out", cfg.OutDir, "directory for report.html, report.json and the phases' scenario files")
	f.StringVar(&cfg.Mode, "mode", cfg.Mode, `the sample app: "seed" (one request at a time; overload answers 200 with an error page) or "well"`)
	f.DurationVar(&cfg.CPUCost, "cpu", cfg.CPUCost, "CPU time the sample app spends per request")
	f.StringVar(&cfg.Service, "service", cfg.Service, "service name of the web app (its brink.service label)")
	f.IntVar(&cfg.PortBase, "port-base", cfg.PortBase, "first port on 127.0.0.1: load balancer; +1 hub; +2 monitor; +11.. replicas")
	f.StringSliceVar(&cfg.Phases, "phases", nil, "run only these phases, in the lab's order (normal, overload, two-replicas, autoscale)")
	f.IntVar(&cfg.GeneratorCores, "generator-cores", cfg.GeneratorCores, "cores the load generator (this process) may use, so that it cannot starve the target")
	cmd.AddCommand(newLabTargetCmd(env))
	return cmd
}

// cancelLabOnSignals cancels the lab at the first SIGINT/SIGTERM; the lab then
// stops its load and removes what it started. Later signals only say so.
func cancelLabOnSignals(env *Env, cancel context.CancelFunc) (stop func()) {
	done := make(chan struct{})
	if env.Signals == nil {
		return func() {}
	}
	go func() {
		first := true
		for {
			select {
			case <-done:
				return
			case _, ok := <-env.Signals:
				if !ok {
					return
				}
				if first {
					fmt.Fprintln(env.Stderr, "\ninterrupted: stopping the load and removing everything the lab started")
					cancel()
					first = false
				} else {
					fmt.Fprintln(env.Stderr, "still cleaning up (at most a minute); if it is left unfinished, brink lab --down removes the rest")
				}
			}
		}
	}()
	return func() { close(done) }
}

// newLabTargetCmd runs the sample web app: what the lab's web containers
// run, the same program as cmd/brink-target.
func newLabTargetCmd(env *Env) *cobra.Command {
	return &cobra.Command{
		Use:   "target [flags]",
		Short: "Run the lab's sample web app (CPU cost per request, seed mode): what the lab's web containers run",
		Long: `brink lab target serves the sample web app the lab puts in its containers: every
path answers "` + target.HelloText + `" after spending --cpu of CPU time. In seed
mode it serves one request at a time and, under overload, answers 200 with an
error page. GET /stats returns its own request counts. Flags are Go-style
(brink lab target --help lists them).`,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			var usage strings.Builder
			tcfg, addr, err := target.ParseFlags(args, &usage)
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(env.Stdout, usage.String())
				return nil
			}
			if err != nil {
				return Usagef("%v", err)
			}
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			stop := cancelLabOnSignals(&Env{Stderr: io.Discard, Signals: env.Signals}, cancel)
			defer stop()
			if err := target.Serve(ctx, addr, tcfg, env.Stderr, nil); err != nil {
				return WithExit(ExitError, err, "")
			}
			return nil
		},
	}
}
