// Package cli is brink's command tree. Every command receives an Env instead
// of reading process globals, so the whole CLI runs in memory in tests.
package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// Version is set at build time with -ldflags "-X .../cli.Version=...".
var Version = "dev"

// Env is the process state a command may use.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	// IsTerminal reports whether Stdout is an interactive terminal (live
	// progress) or not (one plain line per second).
	IsTerminal bool
	// Signals delivers SIGINT/SIGTERM; nil means none (tests send their own).
	Signals <-chan os.Signal
}

// OSEnv is the Env of the real process.
func OSEnv() Env {
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	return Env{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		Getenv:     os.Getenv,
		IsTerminal: isTerminal(os.Stdout),
		Signals:    sig,
	}
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// commands lists every subcommand constructor. Adding a command is one line here.
var commands = []func(*Env) *cobra.Command{
	newVersionCmd,
	newHubCmd,
	newRunCmd,
	newMonitorCmd,
	newFindLimitCmd,
	newAgentCmd,
	newCompareCmd,
	newLabCmd,
}

// NewRoot builds the command tree for env.
func NewRoot(env *Env) *cobra.Command {
	root := &cobra.Command{
		Use:   "brink",
		Short: "Find the load at which a service breaks, see why, and scale before it does",
		Long: `brink load-tests a containerized web service, monitors its containers and hosts,
stores both on one time axis, finds the knee, and autoscales.

Roles:
  brink run       generate load from this machine (or across agents) and judge it
  brink monitor   collect host and container metrics (cgroups v1/v2, Docker) on one host
  brink hub       store, query and show everything; coordinate agents; autoscale
  brink agent     a load generator that takes its share of a test from the hub
  brink lab       replay the whole experiment on this machine with Docker and HAProxy

Exit codes:
  0   success (all thresholds held)
  1   runtime error
  2   usage or configuration error (bad flag, bad scenario file)
  97  run aborted (second Ctrl-C, agents lost)
  99  run finished but a threshold failed`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	root.SetIn(env.Stdin)
	for _, c := range commands {
		root.AddCommand(c(env))
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return Usagef("%v (see '%s --help')", err, c.CommandPath())
	})
	return root
}

// Main runs the CLI with args and returns the exit code.
func Main(args []string, env Env) int {
	root := NewRoot(&env)
	root.SetArgs(args)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := root.ExecuteContext(ctx)
	if err != nil && strings.HasPrefix(err.Error(), "unknown command") {
		// cobra reports unknown subcommands as plain errors; they are usage errors.
		err = WithExit(ExitUsage, err, "run 'brink --help' for the list of commands")
	}
	code, hint := exitCode(err)
	if err != nil {
		fmt.Fprintf(env.Stderr, "brink: %v\n", err)
		if hint != "" {
			fmt.Fprintf(env.Stderr, "hint: %s\n", hint)
		}
	}
	return code
}

func newVersionCmd(env *Env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print brink's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(env.Stdout, "brink", Version)
			return nil
		},
	}
}
