package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/brinkhq/brink/internal/analysis"
	"github.com/brinkhq/brink/internal/compare"
)

func newCompareCmd(env *Env) *cobra.Command {
	var (
		hubURL, htmlPath, lbService string
		asJSON                      bool
		labels                      []string
	)
	cmd := &cobra.Command{
		Use:   "compare RUN_A RUN_B [RUN...]",
		Short: "Compare runs side by side: throughput, latency, errors, CPU per replica",
		Long: `brink compare puts runs side by side, each against the first: max sustained throughput,
p50/p95/p99 latency, error rate, the knee, and where the monitor's series exist, CPU per
replica against its limit, throttling, host CPU and load-balancer CPU; with the difference
and percent change of each figure, and the saturation analysis of each run.

A run is a JSON file (brink run --out json=PATH, or a recording with resource series as
brink lab writes), or with --hub a run id in that hub (resource series included).

--html writes a self-contained report with the runs' charts overlaid on time since each
run's start; --json prints the comparison as JSON instead of a table.`,
		Example: `  brink compare one-replica.json two-replicas.json
  brink compare --hub http://127.0.0.1:9339 r-20261124-190000-a1b2 r-20261124-191500-c3d4 --html cmp.html
  brink compare a.json b.json --label before --label after --json`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) < 2 {
				return Usagef("give at least two runs to compare: JSON files, or run ids with --hub URL")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(labels) > 0 && len(labels) != len(args) {
				return Usagef("--label given %d times for %d runs: give one per run, in order", len(labels), len(args))
			}
			runs, err := loadRuns(cmd.Context(), hubURL, lbService, args)
			if err != nil {
				return err
			}
			for i, l := range labels {
				runs[i].Label = l
			}
			c := compare.Compare(runs)
			if htmlPath != "" {
				if err := c.WriteHTML(htmlPath); err != nil {
					return WithExit(ExitError, err, "")
				}
			}
			if asJSON {
				return c.WriteJSON(env.Stdout)
			}
			if err := c.WriteText(env.Stdout); err != nil {
				return err
			}
			if htmlPath != "" {
				fmt.Fprintf(env.Stdout, "\nHTML report: %s\n", htmlPath)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&hubURL, "hub", "", "read the runs from this brink hub (arguments are run ids)")
	fl.StringVar(&lbService, "lb-service", analysis.DefaultLBService, "the load balancer's service name in the hub")
	fl.StringVar(&htmlPath, "html", "", "write a self-contained HTML report to PATH")
	fl.BoolVar(&asJSON, "json", false, "print the comparison as JSON")
	fl.StringArrayVar(&labels, "label", nil, "name the runs in the table, one per run in order (default: the run's name or file)")
	return cmd
}

// loadRuns reads each argument: a file, or with a hub a run id (a path
// that exists as a file is still read from disk).
func loadRuns(ctx context.Context, hubURL, lbService string, args []string) ([]*compare.Run, error) {
	var hub *analysis.Hub
	if hubURL != "" {
		hub = analysis.NewHub(hubURL)
	}
	var runs []*compare.Run
	for _, a := range args {
		var r *compare.Run
		var err error
		_, statErr := os.Stat(a)
		switch {
		case statErr == nil || hub == nil:
			r, err = compare.FromFile(a)
			if err != nil {
				hint := "give files written by brink run --out json=PATH or brink lab"
				if errors.Is(err, os.ErrNotExist) {
					hint = "no such file; to compare runs stored in a hub, add --hub URL and give run ids"
				}
				return nil, WithExit(ExitUsage, err, hint)
			}
		default:
			r, err = compare.FromHub(ctx, hub, a, lbService)
			if err != nil {
				if errors.Is(err, analysis.ErrRunNotFound) {
					return nil, WithExit(ExitUsage, err, "list the hub's runs at "+strings.TrimRight(hubURL, "/")+"/api/v1/runs")
				}
				return nil, WithExit(ExitError, err, "")
			}
		}
		runs = append(runs, r)
	}
	return runs, nil
}
