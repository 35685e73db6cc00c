package lb

import (
	"bytes"
	"fmt"
	"net"
	"strings"
	"time"
)

// Config is HAProxy's initial configuration as brink writes it: one
// frontend and one backend per service, an admin Runtime API socket so that
// servers can be added and removed without reloads, and optionally a stats
// listener with HAProxy's Prometheus exporter for the monitor's `lb`
// service.
type Config struct {
	Socket    string // admin Runtime API socket path
	MaxConn   int    // global maxconn; default 4096 (HAProxy needs about two descriptors per connection)
	StatsBind string // "127.0.0.1:8404" serves /metrics and /stats; "" for none
	// Timeouts; defaults connect 2s, client 60s, server 60s, queue 30s.
	ConnectTimeout, ClientTimeout, ServerTimeout, QueueTimeout time.Duration
	Services                                                   []ServiceConfig
}

// ServiceConfig is one service's frontend and backend.
type ServiceConfig struct {
	Name    string // frontend name; the backend's too unless Backend is set
	Bind    string // 127.0.0.1:PORT
	Backend string
	// Balance is a dynamic-capable algorithm (servers can be added at run
	// time only with these): roundrobin (default), leastconn, first, random.
	Balance string
	// ServerMaxConn limits concurrent requests per server; beyond it requests
	// wait in HAProxy's queue instead of piling onto a saturated replica.
	ServerMaxConn int
	Servers       []ServerAddr // servers present from the start
}

// ServerAddr is a named server address.
type ServerAddr struct{ Name, Addr string }

func (s ServiceConfig) backend() string {
	if s.Backend != "" {
		return s.Backend
	}
	return s.Name
}

// Validate checks names and addresses, so nothing can break out of a line
// of the configuration.
func (c *Config) Validate() error {
	if c.Socket == "" || strings.ContainsAny(c.Socket, " \t\n\"'") {
		return fmt.Errorf("haproxy config: socket path %q must be non-empty and have no spaces or quotes", c.Socket)
	}
	if c.StatsBind != "" {
		if _, _, err := net.SplitHostPort(c.StatsBind); err != nil {
			return fmt.Errorf("haproxy config: stats bind %q: %w", c.StatsBind, err)
		}
	}
	if len(c.Services) == 0 {
		return fmt.Errorf("haproxy config: no service")
	}
	seen := map[string]bool{}
	for _, s := range c.Services {
		for _, n := range []string{s.Name, s.backend()} {
			if err := validName(n); err != nil {
				return fmt.Errorf("haproxy config: service %q: %w", s.Name, err)
			}
		}
		if seen[s.Name] || seen[s.backend()] && s.backend() != s.Name {
			return fmt.Errorf("haproxy config: proxy name %q used twice", s.Name)
		}
		seen[s.Name], seen[s.backend()] = true, true
		if _, _, err := net.SplitHostPort(s.Bind); err != nil {
			return fmt.Errorf("haproxy config: service %q: bind %q: %w", s.Name, s.Bind, err)
		}
		switch s.Balance {
		case "", "roundrobin", "leastconn", "first", "random":
		default:
			return fmt.Errorf("haproxy config: service %q: balance %q cannot take servers at run time; use roundrobin, leastconn, first or random", s.Name, s.Balance)
		}
		for _, sv := range s.Servers {
			if err := validName(sv.Name); err != nil {
				return fmt.Errorf("haproxy config: service %q: %w", s.Name, err)
			}
			if _, _, err := net.SplitHostPort(sv.Addr); err != nil || strings.ContainsAny(sv.Addr, " \t\n") {
				return fmt.Errorf("haproxy config: service %q: server %s address %q is not host:port", s.Name, sv.Name, sv.Addr)
			}
		}
	}
	return nil
}

func seconds(d, def time.Duration) string {
	if d == 0 {
		d = def
	}
	return fmt.Sprintf("%dms", d.Milliseconds())
}

// Render writes the configuration file's text.
func (c Config) Render() ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	maxconn := c.MaxConn
	if maxconn == 0 {
		maxconn = 4096
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Written by brink. Servers are added and removed at run time through the\n")
	fmt.Fprintf(&b, "# Runtime API socket below; HAProxy is never reloaded for that.\n")
	fmt.Fprintf(&b, "global\n")
	fmt.Fprintf(&b, "    maxconn %d\n", maxconn)
	fmt.Fprintf(&b, "    stats socket %s mode 600 level admin\n", c.Socket)
	fmt.Fprintf(&b, "    stats timeout 30s\n\n")
	fmt.Fprintf(&b, "defaults\n")
	fmt.Fprintf(&b, "    mode http\n")
	fmt.Fprintf(&b, "    option http-keep-alive\n")
	fmt.Fprintf(&b, "    timeout connect %s\n", seconds(c.ConnectTimeout, 2*time.Second))
	fmt.Fprintf(&b, "    timeout client %s\n", seconds(c.ClientTimeout, 60*time.Second))
	fmt.Fprintf(&b, "    timeout server %s\n", seconds(c.ServerTimeout, 60*time.Second))
	fmt.Fprintf(&b, "    timeout queue %s\n", seconds(c.QueueTimeout, 30*time.Second))
	fmt.Fprintf(&b, "    # A replica that went away between two decisions must not fail a request:\n")
	fmt.Fprintf(&b, "    # connection failures and empty answers are retried on another server.\n")
	fmt.Fprintf(&b, "    retries 3\n")
	fmt.Fprintf(&b, "    option redispatch 1\n")
	fmt.Fprintf(&b, "    retry-on conn-failure empty-response\n")
	if c.StatsBind != "" {
		fmt.Fprintf(&b, "\nfrontend stats\n")
		fmt.Fprintf(&b, "    bind %s\n", c.StatsBind)
		fmt.Fprintf(&b, "    http-request use-service prometheus-exporter if { path /metrics }\n")
		fmt.Fprintf(&b, "    stats enable\n")
		fmt.Fprintf(&b, "    stats uri /stats\n")
	}
	for _, s := range c.Services {
		balance := s.Balance
		if balance == "" {
			balance = "roundrobin"
		}
		fmt.Fprintf(&b, "\nfrontend %s\n", s.Name)
		fmt.Fprintf(&b, "    bind %s\n", s.Bind)
		fmt.Fprintf(&b, "    default_backend %s\n", s.backend())
		fmt.Fprintf(&b, "\nbackend %s\n", s.backend())
		fmt.Fprintf(&b, "    balance %s\n", balance)
		if s.ServerMaxConn > 0 {
			fmt.Fprintf(&b, "    default-server maxconn %d\n", s.ServerMaxConn)
		}
		for _, sv := range s.Servers {
			fmt.Fprintf(&b, "    server %s %s\n", sv.Name, sv.Addr)
		}
	}
	return b.Bytes(), nil
}
