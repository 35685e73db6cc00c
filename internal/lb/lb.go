// Package lb drives the load balancer in front of a service's replicas.
// HAProxy is driven through its Runtime API (the admin stats socket):
// servers are added, set ready, drained and deleted while HAProxy runs, with
// no reload, so no connection is dropped. brink also writes HAProxy's
// initial configuration (config.go) and reads its statistics (stat.go).
package lb

import (
	"context"
	"time"
)

// Server is one backend server as the load balancer reports it.
type Server struct {
	Backend  string
	Name     string
	Addr     string // host:port
	Status   string // HAProxy's status column: UP, DOWN, MAINT, DRAIN, no check, ...
	Sessions int64  // current sessions (scur)
	Queued   int64  // requests queued for this server (qcur)
	Total    int64  // sessions since start (stot)
	MaxConn  int64  // concurrent session cap (slim), 0 for none
}

// ServerOptions are settings of a server added at run time.
type ServerOptions struct {
	// MaxConn caps the server's concurrent connections; requests beyond it
	// wait in the backend's queue and go to whichever server frees a slot
	// first, a new one included. 0 for no cap. Servers added at run time do
	// not inherit the backend's default-server settings, so set it here.
	MaxConn int
}

// Balancer is what the autoscaler needs from a load balancer.
type Balancer interface {
	// Servers lists a backend's servers.
	Servers(ctx context.Context, backend string) ([]Server, error)
	// AddServerWith adds a server with opts and makes it ready to take
	// traffic.
	AddServerWith(ctx context.Context, backend, name, addr string, opts ServerOptions) error
	// Drain stops sending new sessions to a server; current ones finish.
	Drain(ctx context.Context, backend, name string) error
	// WaitIdle waits until a server has no sessions and no queue, for at
	// most timeout; idle reports whether it got there.
	WaitIdle(ctx context.Context, backend, name string, timeout time.Duration) (idle bool, err error)
	// DeleteServer takes a server out of the backend for good.
	DeleteServer(ctx context.Context, backend, name string) error
	// SetServerMaxConn changes a server's cap on concurrent connections
	// (0: none) while it serves.
	SetServerMaxConn(ctx context.Context, backend, name string, maxConn int) error
	// FrontendRequests is the number of requests a frontend has received
	// since the load balancer started (a counter): the offered load, even
	// when the replicas cannot keep up.
	FrontendRequests(ctx context.Context, frontend string) (int64, error)
}
