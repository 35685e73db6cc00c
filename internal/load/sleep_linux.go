package load

import (
	"fmt"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sleeper waits for short intervals precisely. Go's timers wake an idle
// process with millisecond granularity, far too coarse for 10,000
// iterations per second with sub-millisecond jitter; a timerfd read through
// Go's network poller wakes within microseconds and blocks no OS thread.
type sleeper interface {
	Sleep(d time.Duration)
	Close()
}

type timerfdSleeper struct {
	fd   int
	file *os.File
	rc   syscall.RawConn
	buf  [8]byte
	// per Sleep
	spec  unix.ItimerSpec
	armed bool
	err   error
	step  func(fd uintptr) bool
}

func newSleeper() (sleeper, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("timerfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "timerfd")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("timerfd: %w", err)
	}
	s := &timerfdSleeper{fd: fd, file: f, rc: rc}
	s.step = s.wait
	return s, nil
}

// Sleep arms the timer inside the poller's read callback, so that the
// readiness it then waits for is the expiry: one read per sleep, no
// speculative one.
func (s *timerfdSleeper) Sleep(d time.Duration) {
	if d <= 0 {
		return
	}
	s.spec = unix.ItimerSpec{Value: unix.NsecToTimespec(d.Nanoseconds())}
	s.armed, s.err = false, nil
	if err := s.rc.Read(s.step); err != nil || s.err != nil {
		time.Sleep(d)
	}
}

func (s *timerfdSleeper) wait(fd uintptr) bool {
	if !s.armed {
		s.armed = true
		if err := unix.TimerfdSettime(int(fd), 0, &s.spec, nil); err != nil {
			s.err = err
			return true
		}
		return false
	}
	_, _, errno := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&s.buf[0])), uintptr(len(s.buf)))
	return errno != syscall.EAGAIN
}

func (s *timerfdSleeper) Close() { s.file.Close() }
