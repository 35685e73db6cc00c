package docker_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/brinkhq/brink/internal/monitor/docker"
	"github.com/brinkhq/brink/internal/monitor/internal/testenv"
)

// find returns the watched container with the given ID.
func find(w *docker.Watcher, id string) *docker.Container {
	for _, c := range w.Containers(nil) {
		if c.ID == id {
			return c
		}
	}
	return nil
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The watcher follows the real engine: a container started after it
// connected is inspected once (name, image, labels, wanted environment,
// PID, network mode), a rename is followed, a stop removes it.
func TestWatcherFollowsEngine(t *testing.T) {
	testenv.RequireDocker(t)
	img := testenv.BuildWorkload(t, "")
	w, err := docker.New(docker.Config{
		Host:    "unix:///var/run/docker.sock",
		WantEnv: func(k string) bool { return k == "MARATHON_APP_ID" },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != context.Canceled {
			t.Errorf("Run returned %v, want context.Canceled", err)
		}
	}()
	waitFor(t, "the connection", func() bool { return w.Stats().Connected })

	name := fmt.Sprintf("brink-watch-%d", os.Getpid())
	v0 := w.Version()
	id := testenv.Run(t, "", "--name", name, "--label", "team=shop", "-e", "MARATHON_APP_ID=/shop/web", "-e", "SECRET=x", img, "idle", "-max", "2m")
	waitFor(t, "the start event", func() bool { return find(w, id) != nil })
	if w.Version() == v0 {
		t.Error("Version did not change when a container started")
	}
	c := find(w, id)
	if c.Name != name || c.Image != testenv.WorkloadImage || c.Labels["team"] != "shop" || c.Pid <= 0 || c.NetworkMode != "host" || c.StartedAt.IsZero() {
		t.Errorf("inspected container = %+v", c)
	}
	if len(c.Env) != 1 || c.Env["MARATHON_APP_ID"] != "/shop/web" {
		t.Errorf("env = %v, want only the wanted MARATHON_APP_ID", c.Env)
	}

	testenv.Docker(t, "", "rename", name, name+"-renamed")
	waitFor(t, "the rename", func() bool { c := find(w, id); return c != nil && c.Name == name+"-renamed" })

	testenv.Docker(t, "", "stop", "-t", "1", id)
	waitFor(t, "the stop", func() bool { return find(w, id) == nil })
	if st := w.Stats(); st.Events == 0 || st.Connects != 1 || st.InspectErrors != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestNewRejectsBadHost(t *testing.T) {
	if _, err := docker.New(docker.Config{Host: "not a url"}); err == nil {
		t.Error("a malformed host was accepted")
	}
}
