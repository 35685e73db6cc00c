// Package testimage builds FROM scratch Docker images of Go programs for
// the autoscaler's tests with a real dockerd. Nothing is pulled: the
// program is built statically and copied into an empty image.
package testimage

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// RequireDocker stops the test when dockerd is not reachable: a skip with
// -short, otherwise a failure saying what to run.
func RequireDocker(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("real dockerd test skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		t.Fatalf("dockerd is not reachable (%v: %s): run bash scripts/setup.sh (or bash scripts/dockerd.sh)", err, out)
	}
}

// Build compiles the Go package pkg (an import path or ./dir relative to
// the module root) and builds image tag with the binary as entrypoint
// /app. Extra arguments go after the entrypoint as the image's CMD.
func Build(t testing.TB, pkg, tag string) {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", filepath.Join(dir, "app"), pkg)
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	df := "FROM scratch\nCOPY app /app\nENTRYPOINT [\"/app\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	db := exec.CommandContext(ctx, "docker", "build", "-q", "-t", tag, dir)
	db.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	if out, err := db.CombinedOutput(); err != nil {
		t.Fatalf("docker build %s: %v\n%s", tag, err, out)
	}
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the test's directory")
		}
		dir = parent
	}
}
