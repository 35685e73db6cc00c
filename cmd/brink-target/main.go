// Command brink-target is a sample web app for load tests: configurable CPU
// cost, latency, failures, stalls, and a seed mode that answers 200 with an
// error page under overload.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/brinkhq/brink/internal/target"
)

func main() {
	cfg, addr, err := target.ParseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "brink-target:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := target.Serve(ctx, addr, cfg, os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "brink-target:", err)
		os.Exit(1)
	}
}
