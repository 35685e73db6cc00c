package lab

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// SetupCommand is what a user runs to install and start everything the lab
// needs on a fresh Debian machine.
const SetupCommand = "bash scripts/setup.sh"

// Problem is one missing prerequisite and what to do about it.
type Problem struct {
	What string
	Fix  string
}

// PrereqError lists every missing prerequisite at once, so that a user
// fixes them in one go.
type PrereqError struct{ Problems []Problem }

func (e *PrereqError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "the lab cannot start (%d problem", len(e.Problems))
	if len(e.Problems) > 1 {
		b.WriteString("s")
	}
	b.WriteString("):")
	for _, p := range e.Problems {
		fmt.Fprintf(&b, "\n  - %s\n    fix: %s", p.What, p.Fix)
	}
	return b.String()
}

// checks are the inputs of checkPrereqs, replaceable in tests.
type checks struct {
	euid       int
	cgroupRoot string
	haproxy    string // binary name or path
	exe        string
	ports      Ports
	service    string
	docker     func(ctx context.Context) (*engine, error)
}

// minHAProxy is the first HAProxy with dynamic servers (`add server` on the
// Runtime API), which the lab uses to add and remove replicas without
// reloads.
var minHAProxy = [2]int{2, 5}

// checkPrereqs checks everything before anything starts. It returns the
// connected engine and the resolved HAProxy path when every check passed.
func checkPrereqs(ctx context.Context, c checks) (*engine, string, error) {
	var problems []Problem
	if c.euid != 0 {
		problems = append(problems, Problem{
			What: "brink lab runs containers and puts HAProxy in a cgroup of its own, which needs root",
			Fix:  "run it as root (sudo bin/brink lab)",
		})
	}
	if _, err := detectCgroups(c.cgroupRoot); err != nil {
		problems = append(problems, Problem{What: err.Error(), Fix: "the lab needs cgroups v1 (cpu, cpuacct, memory) or v2 mounted at " + c.cgroupRoot})
	}
	eng, err := c.docker(ctx)
	if err != nil {
		problems = append(problems, Problem{What: err.Error(), Fix: "run " + SetupCommand + " (it installs Docker and starts dockerd), or start dockerd"})
	} else if names, err := eng.serviceContainers(ctx, c.service); err != nil {
		problems = append(problems, Problem{What: err.Error(), Fix: "check that dockerd answers (docker ps)"})
	} else if len(names) > 0 {
		// The monitor names containers by this label: foreign ones would
		// count as the lab's replicas and skew every figure.
		problems = append(problems, Problem{
			What: fmt.Sprintf("containers the lab did not start carry the label %s=%s (%s): they would count as the lab's replicas",
				labelService, c.service, strings.Join(names, ", ")),
			Fix: "stop them, or give the lab another service name with --service",
		})
	}
	haproxy, err := exec.LookPath(c.haproxy)
	if err != nil {
		problems = append(problems, Problem{What: "HAProxy is not installed (no " + c.haproxy + " in PATH)", Fix: "run " + SetupCommand + " (or apt-get install haproxy)"})
	} else if v, err := haproxyVersion(ctx, haproxy); err != nil {
		problems = append(problems, Problem{What: err.Error(), Fix: "run " + SetupCommand + " to install Debian's HAProxy"})
	} else if v[0] < minHAProxy[0] || v[0] == minHAProxy[0] && v[1] < minHAProxy[1] {
		problems = append(problems, Problem{
			What: fmt.Sprintf("HAProxy %d.%d at %s cannot add servers at run time (needs %d.%d or later)", v[0], v[1], haproxy, minHAProxy[0], minHAProxy[1]),
			Fix:  "run " + SetupCommand + " to install Debian 12's HAProxy 2.6",
		})
	}
	if err := checkStatic(c.exe); err != nil {
		problems = append(problems, Problem{
			What: err.Error(),
			Fix:  "build brink statically and run that binary: make build && bin/brink lab (or CGO_ENABLED=0 go build -o bin/brink ./cmd/brink)",
		})
	}
	for _, np := range c.ports.All() {
		if err := portFree(np.Port); err != nil {
			problems = append(problems, Problem{
				What: fmt.Sprintf("port %s (%s) is in use: %v", loopback(np.Port), np.Role, err),
				Fix:  "stop what listens there, or move the lab's ports with --port-base (it uses the base and the 14 ports above it)",
			})
		}
	}
	if len(problems) > 0 {
		if eng != nil {
			eng.Close()
		}
		return nil, "", &PrereqError{Problems: problems}
	}
	return eng, haproxy, nil
}

// portFree reports whether something could listen on 127.0.0.1:port.
func portFree(port int) error {
	l, err := net.Listen("tcp", loopback(port))
	if err != nil {
		return err
	}
	return l.Close()
}

var haproxyVersionRe = regexp.MustCompile(`(?i)HA-?Proxy version (\d+)\.(\d+)`)

// haproxyVersion runs `haproxy -v` and returns major and minor.
func haproxyVersion(ctx context.Context, bin string) ([2]int, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "-v").CombinedOutput()
	if err != nil {
		return [2]int{}, fmt.Errorf("%s -v failed: %w: %s", bin, err, strings.TrimSpace(string(out)))
	}
	m := haproxyVersionRe.FindSubmatch(out)
	if m == nil {
		return [2]int{}, fmt.Errorf("%s -v: no version in %q", bin, firstLine(string(out)))
	}
	major, _ := strconv.Atoi(string(m[1]))
	minor, _ := strconv.Atoi(string(m[2]))
	return [2]int{major, minor}, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
