// Command brink finds the load at which a containerized service breaks,
// shows why, and scales it out before it gets there.
package main

import (
	"os"

	"github.com/brinkhq/brink/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], cli.OSEnv()))
}
