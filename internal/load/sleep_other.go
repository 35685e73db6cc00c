//go:build !linux

package load

import (
	"errors"
	"time"
)

type sleeper interface {
	Sleep(d time.Duration)
	Close()
}

func newSleeper() (sleeper, error) { return nil, errors.New("no timerfd on this system") }
