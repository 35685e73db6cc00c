package lab

import (
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
)

// images are the lab's two FROM scratch images, built from the brink binary
// that runs the lab: one runs brink itself (hub, monitor), the other the
// sample web app (`brink lab target`), so nothing is pulled and nothing
// but this binary is needed.
type images struct {
	Brink  string
	Target string
}

// Image names; the tag is the binary's content hash, so a rebuilt binary
// gets fresh images and an unchanged one reuses them.
const (
	brinkImageName  = "brink-lab/brink"
	targetImageName = "brink-lab/target"
)

// ErrDynamicBinary means the binary cannot run in a FROM scratch image.
var ErrDynamicBinary = errors.New("dynamically linked")

// checkStatic tells whether the ELF file at path can run without a C
// library: a dynamically linked executable names an interpreter
// (PT_INTERP) or needs shared libraries.
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("reading %s as an executable: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is %w (it needs the C library, which a FROM scratch image has not)", path, ErrDynamicBinary)
		}
	}
	if libs, err := f.ImportedLibraries(); err == nil && len(libs) > 0 {
		return fmt.Errorf("%s is %w against %v", path, ErrDynamicBinary, libs)
	}
	return nil
}

// fileDigest is the hex SHA-256 of a file.
func fileDigest(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// brinkDockerfile is the whole recipe of the brink image: the static
// binary and nothing else.
const brinkDockerfile = "FROM scratch\nCOPY brink /brink\nENTRYPOINT [\"/brink\"]\n"

// targetDockerfile makes the sample app's image from the brink image (a
// local image: nothing is pulled).
func targetDockerfile(brinkImage string) string {
	return "FROM " + brinkImage + "\nENTRYPOINT [\"/brink\", \"lab\", \"target\"]\n"
}

// buildImages builds (or reuses) the lab's images from the executable at
// exe. log receives one line per image.
func buildImages(ctx context.Context, e *engine, exe string, log io.Writer) (images, error) {
	if err := checkStatic(exe); err != nil {
		return images{}, err
	}
	digest, err := fileDigest(exe)
	if err != nil {
		return images{}, err
	}
	tag := digest[:12]
	img := images{Brink: brinkImageName + ":" + tag, Target: targetImageName + ":" + tag}
	labels := map[string]string{LabelLab + ".image": "1"}
	if e.imageExists(ctx, img.Brink) {
		fmt.Fprintf(log, "  image %-30s brink (hub, monitor), up to date\n", img.Brink)
	} else {
		binary, err := os.ReadFile(exe)
		if err != nil {
			return images{}, fmt.Errorf("reading %s: %w", exe, err)
		}
		files := []contextFile{
			{name: "Dockerfile", mode: 0o644, data: []byte(brinkDockerfile)},
			{name: "brink", mode: 0o755, data: binary},
		}
		if err := e.buildImage(ctx, img.Brink, labels, files); err != nil {
			return images{}, err
		}
		fmt.Fprintf(log, "  image %-30s brink (hub, monitor), built FROM scratch (%d MB)\n", img.Brink, len(binary)>>20)
	}
	if e.imageExists(ctx, img.Target) {
		fmt.Fprintf(log, "  image %-30s sample web app, up to date\n", img.Target)
		return img, nil
	}
	// The same binary with another entrypoint: a layer on the first image,
	// so the binary is not sent to dockerd twice.
	files := []contextFile{{name: "Dockerfile", mode: 0o644, data: []byte(targetDockerfile(img.Brink))}}
	if err := e.buildImage(ctx, img.Target, labels, files); err != nil {
		return images{}, err
	}
	fmt.Fprintf(log, "  image %-30s sample web app (brink lab target), built on it\n", img.Target)
	return img, nil
}
