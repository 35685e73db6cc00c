// Package procfs parses the /proc files the monitor reads every tick:
// stat, loadavg, meminfo, net/dev, diskstats, mounts, pressure and a
// process's stat. The parsers work on raw bytes and call back per record
// instead of building maps, so a tick allocates next to nothing.
package procfs

import (
	"errors"
	"fmt"
	"syscall"
)

// File is a /proc or /sys file kept open and re-read with pread at offset
// 0, which makes the kernel regenerate its content: one system call per
// read instead of three.
type File struct {
	path string
	fd   int
	buf  []byte
}

// maxSize bounds one read (a mounts table or diskstats of a huge host).
const maxSize = 4 << 20

// Open opens path for repeated reads.
func Open(path string) (*File, error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return &File{path: path, fd: fd, buf: make([]byte, 4096)}, nil
}

// Path is the file's path.
func (f *File) Path() string { return f.path }

// Read returns the file's current content. The slice is valid until the
// next Read.
func (f *File) Read() ([]byte, error) {
	if f.fd < 0 {
		return nil, fmt.Errorf("read %s: %w", f.path, errors.ErrUnsupported)
	}
	for {
		n, err := syscall.Pread(f.fd, f.buf, 0)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", f.path, err)
		}
		if n < len(f.buf) || len(f.buf) >= maxSize {
			return f.buf[:n], nil
		}
		f.buf = make([]byte, 2*len(f.buf))
	}
}

// Close releases the file.
func (f *File) Close() error {
	if f.fd < 0 {
		return nil
	}
	err := syscall.Close(f.fd)
	f.fd = -1
	return err
}
