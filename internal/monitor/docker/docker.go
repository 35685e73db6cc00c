// Package docker follows the containers running on one Docker Engine. It
// lists them once, inspects each container once when it starts (name,
// image, labels, the few environment variables naming needs, PID, network
// mode) and then follows the engine's event stream, so a new container is
// known as soon as it starts and nothing is polled. When the engine goes
// away (restarted, upgraded) the watcher reconnects with backoff and lists
// again.
package docker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"
)

// Container is a running container as the engine describes it.
type Container struct {
	ID     string
	Name   string
	Image  string
	Labels map[string]string
	// Env holds only the variables WantEnv asked for.
	Env         map[string]string
	Pid         int
	NetworkMode string
	StartedAt   time.Time
}

// Config configures a Watcher.
type Config struct {
	// Host is the engine's address (unix:///var/run/docker.sock).
	Host string
	// WantEnv says which environment variables to keep from inspect.
	WantEnv func(key string) bool
	Logger  *slog.Logger
	// RequestTimeout bounds each list and inspect call (default 10 s).
	RequestTimeout time.Duration
	// MaxBackoff bounds the wait between reconnection attempts (default 5 s).
	MaxBackoff time.Duration
}

// Watcher keeps the set of running containers of one engine.
type Watcher struct {
	cfg Config
	cli *client.Client

	mu         sync.Mutex
	containers map[string]*Container
	version    atomic.Uint64

	connected     atomic.Bool
	connects      atomic.Uint64
	events        atomic.Uint64
	inspectErrors atomic.Uint64
}

// Stats describes the watcher's connection.
type Stats struct {
	Connected     bool
	Connects      uint64 // successful connections (1 + reconnections)
	Events        uint64 // container events received
	InspectErrors uint64
}

// New creates a watcher for the engine at cfg.Host. It does not connect.
func New(cfg Config) (*Watcher, error) {
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 5 * time.Second
	}
	if cfg.WantEnv == nil {
		cfg.WantEnv = func(string) bool { return false }
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cli, err := client.New(client.WithHost(cfg.Host))
	if err != nil {
		return nil, fmt.Errorf("docker host %q: %w (want e.g. unix:///var/run/docker.sock)", cfg.Host, err)
	}
	return &Watcher{cfg: cfg, cli: cli, containers: map[string]*Container{}}, nil
}

// Version changes whenever the set of containers changes.
func (w *Watcher) Version() uint64 { return w.version.Load() }

// Containers appends the running containers to dst. The containers must
// not be modified.
func (w *Watcher) Containers(dst []*Container) []*Container {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, c := range w.containers {
		dst = append(dst, c)
	}
	return dst
}

// Stats returns the connection statistics.
func (w *Watcher) Stats() Stats {
	return Stats{
		Connected:     w.connected.Load(),
		Connects:      w.connects.Load(),
		Events:        w.events.Load(),
		InspectErrors: w.inspectErrors.Load(),
	}
}

// Run follows the engine until ctx ends, reconnecting whenever the
// connection breaks. It returns ctx's error.
func (w *Watcher) Run(ctx context.Context) error {
	defer w.cli.Close()
	backoff := 100 * time.Millisecond
	lastErr := ""
	for ctx.Err() == nil {
		start, connects := time.Now(), w.connects.Load()
		err := w.session(ctx)
		w.connected.Store(false)
		if w.connects.Load() != connects {
			lastErr = "" // it was connected: losing it is news again
		}
		if ctx.Err() != nil {
			break
		}
		if time.Since(start) > 30*time.Second {
			backoff = 100 * time.Millisecond
		}
		// The same failure again (no engine on this host) is logged once,
		// not every few seconds.
		level := slog.LevelWarn
		if err.Error() == lastErr {
			level = slog.LevelDebug
		}
		lastErr = err.Error()
		w.cfg.Logger.Log(ctx, level, "docker engine not reachable; retrying (use --docker-host \"\" on hosts without Docker)", "host", w.cfg.Host, "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, w.cfg.MaxBackoff)
	}
	return ctx.Err()
}

// session subscribes to events, lists the running containers and then
// applies events until the stream breaks.
func (w *Watcher) session(ctx context.Context) error {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Subscribe before listing so that a container starting in between is
	// seen by one or the other (or both, which is harmless).
	stream := w.cli.Events(sctx, client.EventsListOptions{Filters: make(client.Filters).Add("type", string(events.ContainerEventType))})
	select {
	case err := <-stream.Err:
		return fmt.Errorf("subscribing to events: %w", err)
	default:
	}
	if err := w.resync(sctx); err != nil {
		return err
	}
	w.connected.Store(true)
	w.connects.Add(1)
	w.cfg.Logger.Info("following docker engine", "host", w.cfg.Host, "containers", w.count())
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-stream.Err:
			if err == nil {
				err = errors.New("event stream closed")
			}
			return err
		case m := <-stream.Messages:
			w.events.Add(1)
			w.apply(sctx, m)
		}
	}
}

func (w *Watcher) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.containers)
}

// resync replaces the container set with the engine's running containers.
// Containers already known with the same start time are not inspected
// again.
func (w *Watcher) resync(ctx context.Context) error {
	lctx, cancel := context.WithTimeout(ctx, w.cfg.RequestTimeout)
	list, err := w.cli.ContainerList(lctx, client.ContainerListOptions{})
	cancel()
	if err != nil {
		return fmt.Errorf("listing containers: %w", err)
	}
	fresh := make(map[string]*Container, len(list.Items))
	for _, s := range list.Items {
		c, err := w.inspect(ctx, s.ID)
		if err != nil {
			w.inspectErrors.Add(1)
			w.cfg.Logger.Warn("inspecting container", "id", s.ID, "err", err)
			continue
		}
		if c != nil {
			fresh[c.ID] = c
		}
	}
	w.mu.Lock()
	w.containers = fresh
	w.mu.Unlock()
	w.version.Add(1)
	return nil
}

// apply updates the container set for one event.
func (w *Watcher) apply(ctx context.Context, m events.Message) {
	id := m.Actor.ID
	if id == "" {
		return
	}
	switch m.Action {
	case events.ActionStart, events.ActionRename, events.ActionUnPause:
		c, err := w.inspect(ctx, id)
		if err != nil {
			w.inspectErrors.Add(1)
			w.cfg.Logger.Warn("inspecting container", "id", id, "event", string(m.Action), "err", err)
			return
		}
		w.mu.Lock()
		if c == nil {
			delete(w.containers, id)
		} else {
			w.containers[id] = c
		}
		w.mu.Unlock()
		w.version.Add(1)
	case events.ActionDie, events.ActionStop, events.ActionDestroy:
		w.mu.Lock()
		_, ok := w.containers[id]
		delete(w.containers, id)
		w.mu.Unlock()
		if ok {
			w.version.Add(1)
		}
	}
}

// inspect returns the container, or nil when it is not running.
func (w *Watcher) inspect(ctx context.Context, id string) (*Container, error) {
	ictx, cancel := context.WithTimeout(ctx, w.cfg.RequestTimeout)
	defer cancel()
	res, err := w.cli.ContainerInspect(ictx, id, client.ContainerInspectOptions{})
	if err != nil {
		return nil, err
	}
	return FromInspect(res.Container, w.cfg.WantEnv), nil
}

// FromInspect converts an inspect response into a Container, keeping the
// environment variables wantEnv asks for. It returns nil for a container
// that is not running.
func FromInspect(in container.InspectResponse, wantEnv func(string) bool) *Container {
	if in.State == nil || !in.State.Running || in.State.Pid <= 0 {
		return nil
	}
	c := &Container{
		ID:   in.ID,
		Name: strings.TrimPrefix(in.Name, "/"),
		Pid:  in.State.Pid,
	}
	if t, err := time.Parse(time.RFC3339Nano, in.State.StartedAt); err == nil {
		c.StartedAt = t
	}
	if in.HostConfig != nil {
		c.NetworkMode = string(in.HostConfig.NetworkMode)
	}
	if in.Config != nil {
		c.Image = in.Config.Image
		c.Labels = in.Config.Labels
		for _, kv := range in.Config.Env {
			k, v, _ := strings.Cut(kv, "=")
			if wantEnv(k) {
				if c.Env == nil {
					c.Env = map[string]string{}
				}
				c.Env[k] = v
			}
		}
	}
	if c.Image == "" {
		c.Image = in.Image
	}
	return c
}
