package target

import (
	"fmt"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// busyWork burns a given amount of CPU time with a loop calibrated against
// the thread's own CPU clock, so that a target in a CPU-limited container
// spends the same CPU per request and simply takes longer in wall time,
// as a real application would.
type busyWork struct {
	perMicrosecond float64 // loop rounds per µs of CPU
}

const calibrationRounds = 2_000_000

func calibrate() (*busyWork, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b := &busyWork{}
	best := time.Duration(1<<63 - 1)
	var x uint64
	for i := 0; i < 5; i++ {
		t0, err := threadCPU()
		if err != nil {
			return nil, err
		}
		x = spin(calibrationRounds, x)
		t1, err := threadCPU()
		if err != nil {
			return nil, err
		}
		best = min(best, t1-t0)
	}
	if best <= 0 {
		return nil, fmt.Errorf("calibrating CPU cost: the thread CPU clock did not advance")
	}
	b.perMicrosecond = calibrationRounds / float64(best.Microseconds()+1)
	return b, nil
}

func threadCPU() (time.Duration, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0, fmt.Errorf("reading the thread CPU clock: %w", err)
	}
	return time.Duration(ts.Nano()), nil
}

// spend burns about d of CPU time.
func (b *busyWork) spend(d time.Duration) {
	rounds := int(b.perMicrosecond * float64(d.Microseconds()))
	// spin is not inlined, so its loop cannot be optimized away.
	spin(rounds, uint64(rounds))
}

//go:noinline
func spin(n int, x uint64) uint64 {
	x |= 1
	for i := 0; i < n; i++ {
		// xorshift64
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	return x
}
