package lab

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"
)

// Labels on everything a lab starts in Docker. LabelLab carries the lab's
// id: cleanup removes the containers of its own lab, and of labs whose
// process is gone (brink.lab.pid) unless they were kept (brink.lab.keep).
const (
	LabelLab     = "brink.lab"
	labelPID     = "brink.lab.pid"
	labelKeep    = "brink.lab.keep"
	labelRole    = "brink.lab.role"
	labelService = "brink.service" // the monitor names containers by it
	labelAddr    = "brink.addr"    // where a replica serves: the autoscaler's Docker actuator reads it
)

// engine is the Docker Engine API, as the lab uses it.
type engine struct {
	cli *client.Client
}

// connectDocker reaches dockerd at DOCKER_HOST or the default socket.
func connectDocker(ctx context.Context) (*engine, error) {
	cli, err := client.New(client.FromEnv)
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := cli.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		cli.Close()
		return nil, fmt.Errorf("dockerd is not reachable at %s: %w", cli.DaemonHost(), err)
	}
	return &engine{cli: cli}, nil
}

func (e *engine) Close() error { return e.cli.Close() }

// contextFile is one file of an image build context.
type contextFile struct {
	name string
	mode int64
	data []byte
}

// buildImage builds tag from a Dockerfile and files, offline (FROM scratch
// needs no pull), and fails with the build's own error message.
func (e *engine) buildImage(ctx context.Context, tag string, labels map[string]string, files []contextFile) error {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data)), ModTime: time.Unix(0, 0)}); err != nil {
			return fmt.Errorf("image %s: build context: %w", tag, err)
		}
		if _, err := tw.Write(f.data); err != nil {
			return fmt.Errorf("image %s: build context: %w", tag, err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("image %s: build context: %w", tag, err)
	}
	res, err := e.cli.ImageBuild(ctx, &buf, client.ImageBuildOptions{
		Tags: []string{tag}, Dockerfile: "Dockerfile", Remove: true, ForceRemove: true, Labels: labels,
	})
	if err != nil {
		return fmt.Errorf("building image %s: %w", tag, err)
	}
	defer res.Body.Close()
	dec := json.NewDecoder(res.Body)
	var log strings.Builder
	for {
		var m jsonstream.Message
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return fmt.Errorf("building image %s: reading the build's output: %w", tag, err)
		}
		if m.Error != nil {
			return fmt.Errorf("building image %s: %s\n%s", tag, m.Error.Message, log.String())
		}
		log.WriteString(m.Stream)
	}
	if !e.imageExists(ctx, tag) {
		return fmt.Errorf("building image %s: the build ended without an image:\n%s", tag, log.String())
	}
	return nil
}

// imageExists reports whether the engine has an image by that name.
func (e *engine) imageExists(ctx context.Context, ref string) bool {
	_, err := e.cli.ImageInspect(ctx, ref)
	return err == nil
}

// containerSpec is what the lab needs to say about a container. Every one
// runs with host networking: servers bind 127.0.0.1 and nothing else.
type containerSpec struct {
	Name   string
	Image  string
	Cmd    []string
	Labels map[string]string
	Binds  []string
	CPUs   float64 // 0: no limit
	Memory int64   // bytes; 0: no limit
	// CgroupParent places the container's cgroup (cgroupfs driver), e.g.
	// /brink-lab/web; empty for Docker's default.
	CgroupParent string
}

// run creates and starts a container and returns its id.
func (e *engine) run(ctx context.Context, s containerSpec) (string, error) {
	stop := 2
	res, err := e.cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: s.Name,
		Config: &container.Config{
			Image: s.Image, Cmd: s.Cmd, Labels: s.Labels, StopTimeout: &stop,
		},
		HostConfig: &container.HostConfig{
			NetworkMode: "host",
			Binds:       s.Binds,
			Resources: container.Resources{
				NanoCPUs: int64(s.CPUs * 1e9), Memory: s.Memory, CgroupParent: s.CgroupParent,
			},
		},
	})
	if err != nil {
		return "", fmt.Errorf("creating container %s from %s: %w", s.Name, s.Image, err)
	}
	if _, err := e.cli.ContainerStart(ctx, res.ID, client.ContainerStartOptions{}); err != nil {
		_, _ = e.cli.ContainerRemove(context.WithoutCancel(ctx), res.ID, client.ContainerRemoveOptions{Force: true})
		return "", fmt.Errorf("starting container %s: %w", s.Name, err)
	}
	return res.ID, nil
}

// cgroupDriver is Docker's cgroup driver: "cgroupfs" or "systemd".
func (e *engine) cgroupDriver(ctx context.Context) (string, error) {
	res, err := e.cli.Info(ctx, client.InfoOptions{})
	if err != nil {
		return "", fmt.Errorf("docker info: %w", err)
	}
	return res.Info.CgroupDriver, nil
}

// labContainer is one container carrying the lab label.
type labContainer struct {
	ID, Name, Role, Service, Addr string
	Lab                           string // the lab's id
	OwnerPID                      int    // the lab process that started it
	Keep                          bool   // started by a lab run with --keep
	Running                       bool
}

// list returns the containers of the lab with the given id, or of every
// lab when id is empty (running or not), sorted by name.
func (e *engine) list(ctx context.Context, id string) ([]labContainer, error) {
	filter := LabelLab
	if id != "" {
		filter += "=" + id
	}
	res, err := e.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", filter)})
	if err != nil {
		return nil, fmt.Errorf("listing the lab's containers: %w", err)
	}
	out := make([]labContainer, 0, len(res.Items))
	for _, c := range res.Items {
		name := c.ID[:12]
		if len(c.Names) > 0 {
			name = strings.TrimPrefix(c.Names[0], "/")
		}
		pid, _ := strconv.Atoi(c.Labels[labelPID])
		out = append(out, labContainer{
			ID: c.ID, Name: name, Role: c.Labels[labelRole], Service: c.Labels[labelService], Addr: c.Labels[labelAddr],
			Lab: c.Labels[LabelLab], OwnerPID: pid, Keep: c.Labels[labelKeep] == "1",
			Running: c.State == container.StateRunning,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// remove force-removes a container (SIGKILL): the lab's containers hold no
// state worth a graceful stop, and cleanup must be quick.
func (e *engine) remove(ctx context.Context, id string) error {
	if _, err := e.cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("removing container %s: %w", shortID(id), err)
	}
	return nil
}

// stop stops a container gracefully (SIGTERM, SIGKILL after grace) and
// removes it.
func (e *engine) stop(ctx context.Context, id string, grace time.Duration) error {
	secs := int(grace / time.Second)
	if _, err := e.cli.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: &secs}); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("stopping container %s: %w", shortID(id), err)
	}
	return e.remove(ctx, id)
}

// serviceContainers lists the running containers that carry the service
// label brink.service=<service>, whoever started them.
func (e *engine) serviceContainers(ctx context.Context, service string) ([]string, error) {
	res, err := e.cli.ContainerList(ctx, client.ContainerListOptions{Filters: make(client.Filters).Add("label", labelService+"="+service)})
	if err != nil {
		return nil, fmt.Errorf("listing the containers of service %q: %w", service, err)
	}
	var names []string
	for _, c := range res.Items {
		name := c.ID[:12]
		if len(c.Names) > 0 {
			name = strings.TrimPrefix(c.Names[0], "/")
		}
		names = append(names, name)
	}
	sort.Strings(names)
	return names, nil
}

// removeLab removes every container of the lab with the given id.
func (e *engine) removeLab(ctx context.Context, id string) ([]string, error) {
	if id == "" {
		return nil, errors.New("removing a lab's containers: no lab id")
	}
	cs, err := e.list(ctx, id)
	if err != nil {
		return nil, err
	}
	var names []string
	var errs []error
	for _, c := range cs {
		if err := e.remove(ctx, c.ID); err != nil {
			errs = append(errs, err)
			continue
		}
		names = append(names, c.Name)
	}
	return names, errors.Join(errs...)
}

// state reports whether a container runs, and its exit code when not.
func (e *engine) state(ctx context.Context, id string) (running bool, exitCode int, err error) {
	res, err := e.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return false, 0, fmt.Errorf("inspecting container %s: %w", shortID(id), err)
	}
	st := res.Container.State
	if st == nil {
		return false, 0, nil
	}
	return st.Running, st.ExitCode, nil
}

// logTail returns the last lines a container wrote, for error messages.
func (e *engine) logTail(ctx context.Context, id string, lines int) string {
	rc, err := e.cli.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: fmt.Sprint(lines)})
	if err != nil {
		return ""
	}
	defer rc.Close()
	var out bytes.Buffer
	_, _ = stdcopy.StdCopy(&out, &out, io.LimitReader(rc, 64<<10))
	return strings.TrimSpace(out.String())
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
