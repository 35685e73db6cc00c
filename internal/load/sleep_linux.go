package load

import (
	"fmt"
	"os"
	"time"

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
	buf  [8]byte
}

func newSleeper() (sleeper, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("timerfd_create: %w", err)
	}
	return &timerfdSleeper{fd: fd, file: os.NewFile(uintptr(fd), "timerfd")}, nil
}

func (s *timerfdSleeper) Sleep(d time.Duration) {
	if d <= 0 {
		return
	}
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(d.Nanoseconds())}
	if err := unix.TimerfdSettime(s.fd, 0, &spec, nil); err != nil {
		time.Sleep(d)
		return
	}
	if _, err := s.file.Read(s.buf[:]); err != nil {
		time.Sleep(d)
	}
}

func (s *timerfdSleeper) Close() { s.file.Close() }
