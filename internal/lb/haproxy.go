package lb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// HAProxy talks to HAProxy's Runtime API on an admin-level stats socket
// (`stats socket PATH level admin`). Each command uses its own connection
// in non-interactive mode: HAProxy answers and closes.
type HAProxy struct {
	network, address string
	// Timeout bounds one command (connect, write, read).
	Timeout time.Duration
	// PollEvery is how often WaitIdle and DeleteServer look again.
	PollEvery time.Duration
}

// NewHAProxy returns a client for the socket at addr: a Unix socket path
// ("/run/haproxy/admin.sock" or "unix:/run/...") or a TCP address
// ("127.0.0.1:9999", as `stats socket ipv4@127.0.0.1:9999`).
func NewHAProxy(addr string) *HAProxy {
	h := &HAProxy{Timeout: 5 * time.Second, PollEvery: 100 * time.Millisecond}
	switch {
	case strings.HasPrefix(addr, "unix:"):
		h.network, h.address = "unix", strings.TrimPrefix(addr, "unix:")
	case strings.HasPrefix(addr, "/") || strings.HasPrefix(addr, "."):
		h.network, h.address = "unix", addr
	default:
		h.network, h.address = "tcp", addr
	}
	return h
}

// Addr is the socket address, for messages.
func (h *HAProxy) Addr() string { return h.address }

// ErrUnreachable wraps failures to reach the Runtime API socket.
var ErrUnreachable = errors.New("HAProxy Runtime API unreachable")

// Command runs one Runtime API command and returns HAProxy's answer.
func (h *HAProxy) Command(ctx context.Context, cmd string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, h.Timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, h.network, h.address)
	if err != nil {
		return "", fmt.Errorf("%w at %s: %w (is HAProxy running with `stats socket %s level admin`?)", ErrUnreachable, h.address, err, h.address)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if _, err := io.WriteString(conn, cmd+"\n"); err != nil {
		return "", fmt.Errorf("%w at %s: send %q: %w", ErrUnreachable, h.address, cmd, err)
	}
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, conn); err != nil {
		return "", fmt.Errorf("%w at %s: read answer to %q: %w", ErrUnreachable, h.address, cmd, err)
	}
	return buf.String(), nil
}

// command runs cmd and treats any answer other than the expected ones as
// HAProxy's error message.
func (h *HAProxy) command(ctx context.Context, cmd string, okAnswers ...string) error {
	out, err := h.Command(ctx, cmd)
	if err != nil {
		return err
	}
	out = strings.TrimSpace(out)
	if out == "" {
		return nil
	}
	for _, ok := range okAnswers {
		if strings.Contains(out, ok) {
			return nil
		}
	}
	return fmt.Errorf("haproxy %s: %q: %s", h.address, cmd, firstLines(out, 3))
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, " / ")
}

// Stat returns `show stat` parsed.
func (h *HAProxy) Stat(ctx context.Context) ([]StatRow, error) {
	out, err := h.Command(ctx, "show stat")
	if err != nil {
		return nil, err
	}
	rows, err := ParseStat(strings.NewReader(out))
	if err != nil {
		return nil, fmt.Errorf("haproxy %s: %w", h.address, err)
	}
	return rows, nil
}

// Servers lists a backend's servers from `show stat`.
func (h *HAProxy) Servers(ctx context.Context, backend string) ([]Server, error) {
	rows, err := h.Stat(ctx)
	if err != nil {
		return nil, err
	}
	found := false
	var out []Server
	for _, r := range rows {
		if r.Proxy() != backend {
			continue
		}
		found = true
		if r.IsServer() {
			out = append(out, serverFromRow(r))
		}
	}
	if !found {
		return nil, fmt.Errorf("haproxy %s: no backend %q (check the backend name in the policy and HAProxy's configuration)", h.address, backend)
	}
	return out, nil
}

// FrontendRequests is the frontend's req_tot: HTTP requests received.
func (h *HAProxy) FrontendRequests(ctx context.Context, frontend string) (int64, error) {
	rows, err := h.Stat(ctx)
	if err != nil {
		return 0, err
	}
	for _, r := range rows {
		if r.Proxy() == frontend && r.Service() == "FRONTEND" {
			return r.Int("req_tot"), nil
		}
	}
	return 0, fmt.Errorf("haproxy %s: no frontend %q (check the frontend name in the policy and HAProxy's configuration)", h.address, frontend)
}

func (h *HAProxy) server(ctx context.Context, backend, name string) (Server, bool, error) {
	ss, err := h.Servers(ctx, backend)
	if err != nil {
		return Server{}, false, err
	}
	for _, s := range ss {
		if s.Name == name {
			return s, true, nil
		}
	}
	return Server{}, false, nil
}

// AddServer adds backend/name at addr (HAProxy creates it in maintenance)
// and sets it ready. Adding a server that exists with the same address
// only makes it ready.
func (h *HAProxy) AddServer(ctx context.Context, backend, name, addr string) error {
	return h.AddServerWith(ctx, backend, name, addr, ServerOptions{})
}

// AddServerWith is AddServer with server settings.
func (h *HAProxy) AddServerWith(ctx context.Context, backend, name, addr string, opts ServerOptions) error {
	if err := validName(name); err != nil {
		return err
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("haproxy: server %s/%s: address %q: %w", backend, name, addr, err)
	}
	s, exists, err := h.server(ctx, backend, name)
	if err != nil {
		return err
	}
	if exists && s.Addr != addr {
		return fmt.Errorf("haproxy %s: server %s/%s already exists with address %s, not %s", h.address, backend, name, s.Addr, addr)
	}
	if !exists {
		cmd := fmt.Sprintf("add server %s/%s %s", backend, name, addr)
		if opts.MaxConn > 0 {
			cmd += fmt.Sprintf(" maxconn %d", opts.MaxConn)
		}
		if err := h.command(ctx, cmd, "New server registered"); err != nil {
			return err
		}
	}
	return h.command(ctx, fmt.Sprintf("set server %s/%s state ready", backend, name))
}

// SetServerMaxConn sets backend/name's maxconn (0: no cap) at run time;
// requests beyond it wait in the backend's queue.
func (h *HAProxy) SetServerMaxConn(ctx context.Context, backend, name string, maxConn int) error {
	if maxConn < 0 {
		return fmt.Errorf("haproxy: server %s/%s: maxconn %d must not be negative", backend, name, maxConn)
	}
	return h.command(ctx, fmt.Sprintf("set maxconn server %s/%s %d", backend, name, maxConn))
}

// Drain puts backend/name in drain state: no new sessions.
func (h *HAProxy) Drain(ctx context.Context, backend, name string) error {
	return h.command(ctx, fmt.Sprintf("set server %s/%s state drain", backend, name))
}

// WaitIdle waits until backend/name has no current session and no queue.
func (h *HAProxy) WaitIdle(ctx context.Context, backend, name string, timeout time.Duration) (bool, error) {
	deadline := time.Now().Add(timeout)
	for {
		s, exists, err := h.server(ctx, backend, name)
		if err != nil {
			return false, err
		}
		if !exists || (s.Sessions == 0 && s.Queued == 0) {
			return true, nil
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(h.PollEvery):
		}
	}
}

// DeleteServer puts backend/name in maintenance, closes what is left of
// its sessions, and deletes it. HAProxy refuses to delete a server that
// still holds connections (idle keep-alive ones included) until it has
// closed them, so the deletion is repeated for up to 10 s.
func (h *HAProxy) DeleteServer(ctx context.Context, backend, name string) error {
	_, exists, err := h.server(ctx, backend, name)
	if err != nil {
		return err
	}
	if !exists {
		return nil
	}
	if err := h.command(ctx, fmt.Sprintf("set server %s/%s state maint", backend, name)); err != nil {
		return err
	}
	if err := h.command(ctx, fmt.Sprintf("shutdown sessions server %s/%s", backend, name)); err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := h.command(ctx, fmt.Sprintf("del server %s/%s", backend, name), "Server deleted")
		if err == nil || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(h.PollEvery):
		}
	}
}

// validName keeps server names to what HAProxy and its command parser take.
func validName(name string) error {
	if name == "" {
		return errors.New("haproxy: empty server name")
	}
	for _, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.:", r)
		if !ok {
			return fmt.Errorf("haproxy: server name %q: only letters, digits and - _ . : are allowed", name)
		}
	}
	return nil
}

var _ Balancer = (*HAProxy)(nil)
