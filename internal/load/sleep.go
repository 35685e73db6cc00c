package load

import "time"

// timerSleeper waits with a Go timer.
type timerSleeper struct{ t *time.Timer }

func newTimerSleeper() sleeper {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &timerSleeper{t: t}
}

func (s *timerSleeper) Sleep(d time.Duration) {
	s.t.Reset(d)
	<-s.t.C
}

func (s *timerSleeper) Close() { s.t.Stop() }
