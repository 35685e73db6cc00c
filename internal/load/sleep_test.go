package load

import (
	"testing"
	"time"
)

func TestSleepers(t *testing.T) {
	fd, err := newSleeper()
	if err != nil {
		t.Fatalf("timerfd sleeper: %v", err)
	}
	for name, s := range map[string]sleeper{"timerfd": fd, "timer": newTimerSleeper()} {
		for _, d := range []time.Duration{200 * time.Microsecond, 5 * time.Millisecond, 0, -time.Millisecond} {
			start := time.Now()
			s.Sleep(d)
			if got := time.Since(start); got < d {
				t.Errorf("%s: Sleep(%v) returned after %v", name, d, got)
			}
		}
		s.Close()
	}
}
